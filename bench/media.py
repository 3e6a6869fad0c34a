"""python -m bench.media [--pages N] [--seconds S]: Janus's CPU and memory per publisher.

Voice costs what Janus costs, so this measures Janus itself, not the pages: the
server is started as the README says (it starts Janus as its child), N headless
Chromium pages with fake devices join voice, and Janus's own /proc (found as
the server's child process) is read while everyone hears everyone: first audio
only, then audio with 320x240 video. Idle Janus is measured first and taken
off, so the figures are per publisher. Each page publishes one stream and
subscribes to the N-1 others, so "per publisher" includes its share of the
forwarding, which grows with the room (see docs/performance.md).

It needs root for a network namespace (Janus offers no ICE candidates on
loopback; tests/netns.py); it runs itself again inside one. Two cores hold
about four Chromium pages; Chromium, not Janus, is what limits N here.
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
FRAMES = """async () => {
  const pc = window.voice && window.voice.pcSub;
  if (!pc) return 0;
  let n = 0;
  (await pc.getStats()).forEach(r => { if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0; });
  return n;
}"""


def children(pid: int) -> dict[int, str]:
    """pid -> name of a process's children, from /proc."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                with open(f"/proc/{d}/comm") as f:
                    out[int(d)] = f.read().strip()
        except (OSError, IndexError, ValueError):
            pass
    return out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK       # utime + stime


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def sample(pid: int, seconds: float) -> dict:
    """Janus's CPU (% of one core) over the window, and its resident memory at the end."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    c1, t1 = cpu_seconds(pid), time.monotonic()
    return {"cpu_pct": round(100 * (c1 - c0) / (t1 - t0), 2), "rss_mib": round(rss_mib(pid), 1)}


async def inside(pages: int, seconds: float) -> dict:
    from playwright.async_api import async_playwright

    from tests.voice_driver import ARGS, NAMES, Story
    people = list(NAMES)[:pages]
    st = Story(tempfile.mkdtemp(prefix="bench-media-"))
    st.start_server()
    out: dict = {"pages": pages, "window_s": seconds}
    try:
        janus = next((p for p, name in children(st.proc.pid).items() if name == "janus"), None)
        if janus is None:
            return {"error": "the server started no janus (is it installed?)"}
        f = await st.facilitator(people)
        await asyncio.sleep(1.0)
        out["idle"] = await sample(janus, seconds)
        everyone = {p: sorted(q for q in people if q != p) for p in people}
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            try:
                for video in (False, True):
                    key = "audio_video_320x240" if video else "audio"
                    for p in people:
                        page = await st.open_page(browser, p)
                        if video:
                            await page.check("#camera-box")
                    for p in people:
                        await st.join_voice(p)
                    heard = await st.settle(everyone, timeout=30)
                    if heard != everyone:
                        out[key] = {"error": f"not everyone heard everyone: {heard}"}
                        continue
                    m = await sample(janus, seconds)
                    # honest about what flowed: video frames the pages decoded (0 for audio only)
                    m["video_frames_decoded"] = sum([await page.evaluate(FRAMES) for page in st.pages.values()])
                    m["load_1min"] = round(os.getloadavg()[0], 2)
                    m["per_publisher"] = {
                        "cpu_pct_of_core": round((m["cpu_pct"] - out["idle"]["cpu_pct"]) / pages, 2),
                        "rss_mib": round((m["rss_mib"] - out["idle"]["rss_mib"]) / pages, 1)}
                    out[key] = m
                    for page in list(st.pages.values()):
                        await page.context.close()
                    st.pages.clear()
                    await asyncio.sleep(2.0)      # Janus lets the old handles go
            finally:
                await browser.close()
        await f.close()
    finally:
        st.stop()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=4, help="Chromium pages in one room (default 4: two cores)")
    ap.add_argument("--seconds", type=float, default=10.0, help="the measuring window (default 10)")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.inside:
        print(json.dumps(asyncio.run(inside(a.pages, a.seconds))))
        return 0
    sys.path.insert(0, ROOT)
    from tests.netns import NamespaceUnavailable, namespace
    try:
        with namespace() as ns:
            env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
            r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "bench.media", "--inside",
                                "--pages", str(a.pages), "--seconds", str(a.seconds)],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    except NamespaceUnavailable as exc:
        print(json.dumps({"skipped": str(exc)}))
        return 0
    lines = r.stdout.strip().splitlines()
    print(lines[-1] if lines else json.dumps({"error": r.stderr[-2000:]}))
    return 0 if r.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
