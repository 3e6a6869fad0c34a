"""`session-server serve`'s voice flags, read into MediaOptions: our own Janus when it is
installed, one that already runs (--janus-secrets, --janus), or none (--no-media)."""
from __future__ import annotations

import os
import sys


def from_args(a, db: str, die):
    """Voice: our own Janus when it is installed, one that runs (--janus-secrets), or none."""
    from server.media import MediaOptions
    from server.media.janus import janus_binary
    from server.record import is_postgres
    if a.no_media:
        return None
    if a.janus and not a.janus_secrets:
        die("--janus URL needs --janus-secrets FILE: the admin secret and room key that open it")
    if a.janus_secrets:
        if not os.path.isfile(a.janus_secrets):
            die(f"no such file: {a.janus_secrets}")
        if a.janus and not a.janus.startswith(("ws://", "wss://")):
            die(f"--janus takes the websocket address of Janus's API (ws://host:port), not {a.janus}")
        return MediaOptions(folder="", janus_secrets=a.janus_secrets, janus_url=a.janus or "",
                            talk_level=a.talk_level, talk_packets=a.talk_packets)
    if janus_binary() is None:
        print("session-server: voice is off: Janus is not installed (apt-get install janus), "
              "or pass --janus-secrets for one that runs", file=sys.stderr)
        return None
    from server.app import default_paths
    base = os.path.dirname(default_paths()[0]) if is_postgres(db) else os.path.dirname(os.path.abspath(db))
    return MediaOptions(folder=os.path.join(base, "media"), interfaces=a.media_interfaces or "",
                        public_ip=a.media_public_ip or "", stun=a.stun or "", talk_level=a.talk_level,
                        talk_packets=a.talk_packets)
