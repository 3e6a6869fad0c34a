"""Voice and video, carried by Janus (Debian's `janus`, VideoRoom as the SFU); see docs/media.md."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass


@dataclass
class MediaOptions:
    folder: str                   # where our Janus's configuration and secrets live (mode 0700/0600)
    interfaces: str = ""          # ICE: the interfaces Janus offers (its ice_enforce_list)
    public_ip: str = ""           # ICE: a 1:1 NAT mapping, on a cloud machine
    stun: str = ""                # host:port
    janus_secrets: str = ""       # use a Janus that already runs: the JSON file with its URLs and secrets
    janus_url: str = ""           # ... and its API's address, when it is not the file's `url`
    # talking is detected by Janus from the audio-level header: average level (-dBov; speech clears 55)
    # over this many packets (20 ms each)
    talk_level: int = 55
    talk_packets: int = 25


async def start_media(opts: MediaOptions):
    """Starts our Janus (or reaches the given one) and the rooms manager; (process or None, rooms)."""
    from server.media.janus import JanusConfig, JanusProcess, write_config
    from server.media.rooms import MediaRooms
    proc = None
    if opts.janus_secrets:
        with open(opts.janus_secrets) as f:
            d = json.load(f)
        # --janus URL names the API; the secrets (and the admin API's address) stay in the file
        cfg = JanusConfig(url=opts.janus_url or d["url"], admin_url=d["admin_url"],
                          admin_secret=d["admin_secret"], room_key=d["room_key"])
    else:
        cfg = write_config(os.path.join(opts.folder, "janus"), interfaces=opts.interfaces,
                           nat_1_1=opts.public_ip, stun=opts.stun)
        proc = await JanusProcess(cfg).start()
    try:
        rooms = await MediaRooms(cfg, talk_level=opts.talk_level, talk_packets=opts.talk_packets).start()
    except Exception:
        if proc is not None:
            proc.stop()
        raise
    return proc, rooms
