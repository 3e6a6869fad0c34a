"""Voice stories, run inside a network namespace by tests/test_voice.py.

    ip netns exec NS python -m tests.voice_driver STORY

Starts `session-server serve` as the README says (it starts Janus itself,
offering media on the namespace's veth end `v0`), sets a group up from a
facilitator connection as the console would, opens the real participant page
in headless Chromium with fake microphones, presses "Join voice", and reads
`getStats()`: who hears whom is whose inbound audio energy grows. Prints one
JSON object with what it saw; the test asserts on it.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from protocol import commands as c
from protocol.frames import Ack
from server import tokens
from server.client import SessionClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required"]
NAMES = {"p1": "Alex", "p2": "Blake", "p3": "Casey", "p4": "Drew"}
ROOM = "voice-group"
WINDOW = 1.5          # seconds over which "hears" is judged: 75 Opus packets, against a threshold of 10


async def in_call(page, expr: str):
    """`expr` over the page's call `v` (null when it is in none), read from the page's own
    voice module: the shipped page puts nothing on `window` for tests."""
    return await page.evaluate("async () => { const v = (await import('/static/js/voice_ui.js')).voiceInCall(); "
                               f"return {expr}; }}")


class Story:
    def __init__(self, wd: str):
        self.wd = wd
        self.secret_file = os.path.join(wd, "secret")
        self.secret = tokens.load_secret(self.secret_file)
        self.port = 0
        self.proc = None
        self.pages: dict[str, object] = {}
        self.page_log: dict[str, list[str]] = {}
        self.out: dict = {}
        self.media_args = ["--media-interfaces", "v0"]     # the server starts its own Janus

    def token(self, role, pid, name):
        return tokens.sign(self.secret, tokens.Claims(room=ROOM, role=role, id=pid, name=name,
                                                      exp=time.time() + 3600))

    def start_server(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--db", os.path.join(self.wd, "record.db"), "--secret-file", self.secret_file,
             *self.media_args,
             # Chromium's fake microphone beeps briefly once a second: quieter on average than speech
             "--talk-level", "70", "--talk-packets", "10"], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=open(os.path.join(self.wd, "server.log"), "wb"), text=True)
        line = self.proc.stdout.readline()
        if "session server on" not in line:
            raise RuntimeError(f"the server did not start: {line!r}")
        self.port = int(line.split("ws://127.0.0.1:")[1].split()[0])

    async def facilitator(self, people):
        f = SessionClient(f"ws://127.0.0.1:{self.port}", self.token("facilitator", "f1", "Dana"))
        await f.connect()
        roster = [c.RosterEntry(id=p, name=NAMES[p]) for p in people]
        for cmd in (c.Configure(title="Voice group", roster=roster, auto_admit=True), c.Open()):
            r = await f.command(cmd)
            assert isinstance(r, Ack), r
        return f

    async def open_page(self, browser, pid, role="participant", path="/"):
        ctx = await browser.new_context(viewport={"width": 390, "height": 844})
        page = await ctx.new_page()
        # what the page itself reported, kept to say why a page did not come up
        seen = self.page_log.setdefault(pid, [])
        page.on("pageerror", lambda e: seen.append(f"error: {e}"))
        page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("requestfailed", lambda r: seen.append(f"failed: {r.url.split('#')[0]} {r.failure}"))
        tok = self.token(role, pid, NAMES.get(pid, "Dana"))
        await page.goto(f"http://127.0.0.1:{self.port}{path}#t={tok}")
        self.pages[pid] = page
        return page

    async def join_voice(self, pid, listen=None):
        page = self.pages[pid]
        if listen is not None:
            await page.fill("#listen-room", str(listen))
        try:
            await page.wait_for_selector("#voice-btn:not([disabled])", timeout=20000)
        except Exception as exc:       # noqa: BLE001 - say whose page, and what it said
            state = await page.inner_text("#voice-state") if await page.query_selector("#voice-state") else "?"
            conn = await page.evaluate("document.querySelector('#conn')?.dataset.state || '?'")
            raise RuntimeError(f"{pid}'s voice button never enabled (voice: {state!r}, connection: {conn}): "
                               f"{type(exc).__name__}; the page said {self.page_log.get(pid, [])[-8:]}") from None
        await page.click("#voice-btn")
        # polled with evaluate: the page's CSP (rightly) forbids the eval that wait_for_function uses
        deadline = time.monotonic() + 20
        while not await in_call(page, "!!(v && v.myId)"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{pid} could not join voice: {await page.inner_text('#voice-state')}")
            await asyncio.sleep(0.1)

    async def energies(self) -> dict:
        """person -> {feed person -> (energy, packets)}, summed per feed."""
        out = {}
        for pid, page in self.pages.items():
            e = await in_call(page, "v ? v.energy() : null")
            out[pid] = {str(k).split("~")[0]: (v["energy"], v["packets"]) for k, v in (e or {}).items()}
        return out

    async def heard(self, window=WINDOW) -> dict:
        """Who heard whom over the window: their audio packets and energy both grew."""
        a = await self.energies()
        await asyncio.sleep(window)
        b = await self.energies()
        got = {}
        for pid in b:
            got[pid] = sorted(f for f, (en, pk) in b[pid].items()
                              if pk > a[pid].get(f, (0, 0))[1] + 10 and en > a[pid].get(f, (0, 0))[0] + 1e-4)
        return got

    async def settle(self, want: dict, timeout=20.0) -> dict:
        """Waits until who-hears-whom is `want` (media takes a second or two to flow)."""
        deadline = time.monotonic() + timeout
        got = {}
        while time.monotonic() < deadline:
            got = await self.heard(1.0)
            if all(got.get(k) == v for k, v in want.items()):
                return await self.heard()      # and it holds over a full window
        return got

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def group_story(st: Story, browser) -> None:
    """Four in a room; a mute that holds; breakouts of two; a removal."""
    people = ["p1", "p2", "p3", "p4"]
    f = await st.facilitator(people)
    for p in people:
        await st.open_page(browser, p)
    for p in people:
        await st.join_voice(p)
    everyone = {p: sorted(q for q in people if q != p) for p in people}
    st.out["room_of_four"] = await st.settle(everyone)
    # a facilitator mutes p2: nobody hears p2, and the page says so
    r = await f.command(c.MuteMic(target="p2"))
    assert isinstance(r, Ack), r
    muted = {p: sorted(q for q in people if q not in (p, "p2")) for p in people}
    st.out["p2_muted"] = await st.settle(muted)
    st.out["p2_page_says"] = await st.pages["p2"].inner_text("#voice-state")
    # p2 turning their own microphone back on cannot undo it
    await in_call(st.pages["p2"], "v.setMuted(false)")
    st.out["p2_muted_after_own_unmute"] = await st.heard()
    r = await f.command(c.UnmuteMic(target="p2"))
    assert isinstance(r, Ack), r
    st.out["p2_unmuted"] = await st.settle(everyone)
    # the floor held: only the speaker is heard
    for cmd in (c.HoldFloor(on=True), c.CallOn(target="p3")):
        r = await f.command(cmd)
        assert isinstance(r, Ack), r
    st.out["floor_held"] = await st.settle({p: ["p3"] if p != "p3" else [] for p in people})
    r = await f.command(c.HoldFloor(on=False))
    assert isinstance(r, Ack), r
    st.out["floor_open"] = await st.settle(everyone)
    await f.sync()
    st.out["talking_events"] = sum(1 for e in f.events if type(e.ev).__name__ == "VoiceTalking")
    # breakouts of two: each hears only their partner
    r = await f.command(c.BreakoutsPlan(size=2, seed=4))
    assert isinstance(r, Ack), r
    r = await f.command(c.BreakoutsOpen(minutes=10))
    assert isinstance(r, Ack), r
    await f.sync()
    rooms = f.welcome.state.rooms if f.welcome and f.welcome.state else []
    for ev in f.events:
        if type(ev.ev).__name__ == "BreakoutsOpened":
            rooms = ev.ev.rooms
    st.out["pods"] = rooms
    pods = {p: sorted(q for pod in rooms if p in pod for q in pod if q != p) for p in people}
    st.out["in_pods"] = await st.settle(pods)
    r = await f.command(c.BreakoutsClose())
    assert isinstance(r, Ack), r
    st.out["back_together"] = await st.settle(everyone)
    st.out["states_back"] = {p: [await st.pages[p].inner_text("#voice-state"), await in_call(
        st.pages[p], "v ? [v.peers().map(x => x.id), [...v.subscribed], v.pcSub && v.pcSub.connectionState, "
        "v.pcPub && v.pcPub.connectionState, v.gen] : null")] for p in people}
    # a removed participant hears nobody and is heard by nobody
    r = await f.command(c.Remove(target="p4", reason="story"))
    assert isinstance(r, Ack), r
    rest = {p: sorted(q for q in people if q not in (p, "p4")) for p in people if p != "p4"}
    got = await st.settle(rest)
    st.out["after_removal"] = got
    st.out["p4_voice_gone"] = await in_call(st.pages["p4"], "v == null")
    await f.close()


async def listen_story(st: Story, browser) -> None:
    """Staff listening in to a pod hear it and are not heard."""
    people = ["p1", "p2", "p3"]
    f = await st.facilitator(people)
    for p in people:
        await st.open_page(browser, p)
    for p in people:
        await st.join_voice(p)
    r = await f.command(c.BreakoutsPlan(rooms=2, seed=1))
    assert isinstance(r, Ack), r
    r = await f.command(c.BreakoutsOpen(minutes=10))
    assert isinstance(r, Ack), r
    await f.sync()
    rooms = [ev.ev.rooms for ev in f.events if type(ev.ev).__name__ == "BreakoutsOpened"][-1]
    st.out["pods"] = rooms
    pod1 = rooms[0]
    await st.open_page(browser, "f1", role="facilitator", path="/staff")
    await st.join_voice("f1", listen=1)
    want = {p: sorted(q for pod in rooms if p in pod for q in pod if q != p) for p in people}
    want["f1"] = sorted(pod1)
    st.out["listening"] = await st.settle(want)
    st.out["pod_told"] = [type(e.ev).__name__ for e in f.events if type(e.ev).__name__ == "VoiceJoined"]
    await f.close()


async def recover_story(st: Story, browser) -> None:
    """The server restarts under a call: the pages come back into voice on their own."""
    people = ["p1", "p2"]
    f = await st.facilitator(people)
    for p in people:
        await st.open_page(browser, p)
    for p in people:
        await st.join_voice(p)
    both = {"p1": ["p2"], "p2": ["p1"]}
    st.out["before"] = await st.settle(both)
    await f.close()
    st.stop()
    t0 = time.monotonic()
    st.start_server()
    f = SessionClient(f"ws://127.0.0.1:{st.port}", st.token("facilitator", "f1", "Dana"))
    await f.connect()
    st.out["after"] = await st.settle(both, timeout=40)
    st.out["recovered_s"] = round(time.monotonic() - t0, 1)
    st.out["voice_state"] = {p: await st.pages[p].inner_text("#voice-state") for p in people}
    await f.close()


async def external_story(st: Story, browser) -> None:
    """A Janus that already runs: `serve --janus URL --janus-secrets FILE` uses it.

    The secrets file names a dead API address on purpose, so voice works only if
    --janus overrides it."""
    from server.media.janus import JanusProcess, write_config
    st.stop()
    cfg = write_config(os.path.join(st.wd, "own-janus"), interfaces="v0")
    janus = await JanusProcess(cfg).start()
    try:
        secrets_file = os.path.join(st.wd, "janus-secrets.json")
        with open(secrets_file, "w", opener=lambda p, fl: os.open(p, fl, 0o600)) as fh:
            json.dump({"url": "ws://127.0.0.1:9", "admin_url": cfg.admin_url, "admin_secret": cfg.admin_secret,
                       "room_key": cfg.room_key}, fh)
        st.media_args = ["--janus", cfg.url, "--janus-secrets", secrets_file]
        st.start_server()
        st.out["server_children"] = _children(st.proc.pid)
        people = ["p1", "p2"]
        f = await st.facilitator(people)
        for p in people:
            await st.open_page(browser, p)
        for p in people:
            await st.join_voice(p)
        st.out["heard"] = await st.settle({"p1": ["p2"], "p2": ["p1"]})
        await f.close()
        st.stop()
        st.out["janus_alive_after_server"] = janus.proc.poll() is None   # not ours to stop
    finally:
        janus.stop()


def _children(pid: int) -> list[str]:
    """The names of a process's children (from /proc): which Janus the server started, if any."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    with open(f"/proc/{d}/comm") as fh:
                        out.append(fh.read().strip())
            except (OSError, IndexError, ValueError):
                pass
    return out


async def main(story: str) -> int:
    from playwright.async_api import async_playwright
    wd = tempfile.mkdtemp(prefix="voice-")
    st = Story(wd)
    st.start_server()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            try:
                await {"group": group_story, "listen": listen_story, "recover": recover_story,
                        "external": external_story}[story](st, browser)
            finally:
                await browser.close()
    except Exception as exc:      # noqa: BLE001 - reported to the test with what was seen so far
        st.out["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        st.stop()
        try:
            with open(os.path.join(wd, "server.log")) as f:
                text = f.read()
                st.out["server_log_tail"] = text[-1500:]
                st.out["voice_refusals"] = [ln.split("refused: ", 1)[1] for ln in text.splitlines()
                                            if "voice request refused" in ln]
        except OSError:
            pass
    print(json.dumps(st.out))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
