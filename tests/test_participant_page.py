"""The participant page, as a participant meets it: in a real headless browser.

Debian's chromium, driven by Playwright for Python, opens a join link served
by a real EmbeddedServer on loopback; a scripted facilitator (SessionClient)
runs the group. Each stage leaves a screenshot in artifacts/screenshots/.
The HTTP side (headers, 404s, links) is tested without a browser.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from protocol import commands as c
from server import tokens
from server.app import EmbeddedServer
from server.client import SessionClient
from server.engine.views import participant_view
from server.web import content_security_policy
from server.web.links import invite_link, page_url, token_from_link, websocket_url

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
SECRET = b"s" * 32
ROOM = "tue-evening"
AGREEMENT = ("What is shared here stays here.\nWe listen without interrupting.\n"
             "We speak for ourselves, and we may pass.")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}


# --- the browser, installed when it can be -------------------------------------

def _chromium() -> str | None:
    for p in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if p and os.access(p, os.X_OK):
            return p
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium and Playwright, which ./run-tests installs (.ci/install-browser): a test
    installs nothing itself, and a missing browser fails the page's tests rather than skipping them."""
    path = _chromium()
    if path is None:
        pytest.fail("chromium is not installed: ./run-tests installs it (.ci/install-browser)")
    if not _has_playwright():
        pytest.fail("playwright for Python is not installed: ./run-tests installs it (pip install -e '.[test]')")
    return path


def _has_playwright() -> bool:
    try:
        import playwright.async_api  # noqa: F401
        return True
    except ImportError:
        return False


# --- a server and a scripted facilitator -----------------------------------------

# `server`: a real server on loopback, from conftest.py


async def eventually(check, timeout: float = 10.0, what: str = "condition"):
    """Polls an (async or plain) check until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def ok(client: SessionClient, cmd):
    r = await client.command(cmd)
    assert type(r).__name__ == "Ack", r
    return r


async def facilitator(srv: EmbeddedServer, **config) -> SessionClient:
    fac = SessionClient(srv.url, srv.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await ok(fac, c.Configure(title="Tuesday evening group", agreement=AGREEMENT, agenda=[
        c.AgendaItem("Check-in", 15), c.AgendaItem("Relapse prevention", 30), c.AgendaItem("Wrap-up", 10)],
        **config))
    await ok(fac, c.Open())
    return fac


def has_event(client: SessionClient, typ: str, **fields) -> bool:
    for f in client.events:
        ev = f.ev
        if type(ev).__struct_config__.tag == typ and all(getattr(ev, k) == v for k, v in fields.items()):
            return True
    return False


def http_get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# --- HTTP: the page, its files, its headers ----------------------------------------

async def test_page_and_static_files_carry_strict_security_headers(server):
    base = server.http_url
    for path in ("/", "/join"):
        status, headers, body = await asyncio.to_thread(http_get, base + path)
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert b'<script type="module" src="/static/js/main.js">' in body
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "style-src 'self'" in csp
        host = urlsplit(base).netloc
        assert f"connect-src 'self' wss://{host} ws://{host}" in csp
        assert "frame-ancestors 'none'" in csp
        # no inline script or style in the page itself
        assert b"<script>" not in body and b"<style" not in body and b" style=" not in body
        assert b"onclick" not in body.lower()

    for path, ctype in (("/static/style.css", "text/css"), ("/static/js/main.js", "text/javascript"),
                        ("/static/js/link.js", "text/javascript"), ("/static/icon.svg", "image/svg+xml")):
        status, headers, body = await asyncio.to_thread(http_get, base + path)
        assert status == 200, path
        assert headers["Content-Type"].startswith(ctype)
        assert headers["X-Content-Type-Options"] == "nosniff"
        text = body.decode().replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in text and "https://" not in text, f"{path} names another host"


async def test_anything_else_is_not_found(server):
    for path in ("/favicon.ico", "/static/", "/static/../server/tokens.py", "/static/js/../../web/__init__.py",
                 "/static/%2e%2e/__init__.py", "/admin", "/static/index.html", "/join/x", "/static/js"):
        status, headers, _ = await asyncio.to_thread(http_get, server.http_url + path)
        assert status == 404, path
        assert headers["X-Content-Type-Options"] == "nosniff"


async def test_only_get_and_head_are_answered(server):
    import http.client

    def ask(method):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request(method, "/")
        r = conn.getresponse()
        return r.status, r.getheader("Allow"), r.getheader("Content-Length"), r.read()

    status, _, length, body = await asyncio.to_thread(ask, "HEAD")
    assert status == 200 and body == b"" and int(length) > 500
    status, allow, _, _ = await asyncio.to_thread(ask, "POST")
    assert status == 405 and allow == "GET, HEAD"


async def test_websocket_from_another_origin_is_refused(server):
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus
    with pytest.raises(InvalidStatus) as exc:
        async with connect(server.url, origin="http://evil.example"):
            pass
    assert exc.value.response.status_code == 403
    async with connect(server.url, origin=server.http_url):
        pass


def test_csp_never_copies_a_strange_host_header():
    assert "evil" not in content_security_policy("x; script-src evil", tls=False)
    assert content_security_policy("[::1]:8443", tls=True).count("wss://[::1]:8443") == 1
    assert "ws://" not in content_security_policy("example.org", tls=True)


def test_invite_link_carries_a_participant_token_in_the_fragment():
    link = invite_link(SECRET, ROOM, "Alex", "p1", "ws://127.0.0.1:8765", 3600)
    assert link.startswith("http://127.0.0.1:8765/#t=")
    claims = tokens.verify(SECRET, token_from_link(link), time.time())
    assert (claims.room, claims.role, claims.id, claims.name) == (ROOM, "participant", "p1", "Alex")
    assert 3500 < claims.exp - time.time() <= 3600
    # without an id, one is made from the name; https stays https, a path is kept
    link2 = invite_link(SECRET, ROOM, "Sam Lee", None, "https://group.example/clinic", 60)
    assert link2.startswith("https://group.example/clinic/#t=")
    assert tokens.verify(SECRET, token_from_link(link2), time.time()).id.startswith("sam-lee-")
    assert page_url("wss://h:1") == "https://h:1/"
    assert websocket_url("https://h:1/#t=abc") == "wss://h:1/"
    with pytest.raises(ValueError):
        invite_link(SECRET, ROOM, " ", None, "http://h", 60)
    with pytest.raises(ValueError):
        page_url("ftp://h")


# --- in the browser -------------------------------------------------------------------

@pytest.fixture
async def browser(chromium_path):
    from playwright.async_api import async_playwright
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


class Watch:
    """Everything the page asks of the network, and anything it complains about."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.sockets: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("websocket", lambda ws: self.sockets.append(ws.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", self._console)

    def _console(self, m) -> None:
        # the browser logs each failed reconnect while the network is cut: expected
        if m.type == "error" and "ERR_INTERNET_DISCONNECTED" not in m.text:
            self.errors.append(m.text)


async def until(page, expr: str, timeout: float = 10000) -> None:
    """Waits until a JS expression holds. (Playwright's wait_for_function evaluates
    strings in the page, which the page's CSP rightly forbids.)"""
    deadline = time.monotonic() + timeout / 1000
    while not await page.evaluate(expr):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expr}")
        await asyncio.sleep(0.05)


async def shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


class Frames:
    """What the server sent the page, read off its websocket: the shipped page exposes
    no test hook, so the test folds these frames itself with the page's own fold."""

    def __init__(self, page):
        self.frames: list[dict] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if isinstance(payload, str):
            self.frames.append(json.loads(payload))

    def events(self) -> list[int]:
        return [f["seq"] for f in self.frames if f["t"] == "event"]

    def welcomes(self) -> list[dict]:
        return [{"seq": f["seq"], "resumed": f["resumed"], "fresh": bool(f.get("state"))}
                for f in self.frames if f["t"] == "welcome"]


# The page's own fold (mirror.js, the module main.js imports) over the frames it was
# sent, with link.js's rule for repeats: an event at or below the known seq is dropped.
FOLD = """async (frames) => {
  const m = await import('/static/js/mirror.js');
  let s = null, last = null;
  for (const f of frames) {
    if (f.t === 'welcome') {
      if (!f.resumed && f.state) s = m.fromView(f.state, f.you);
      if (!f.resumed) last = f.seq;
    } else if (f.t === 'event') {
      if (last !== null && f.seq <= last) continue;
      last = f.seq;
      if (s) m.apply(s, f);
    } else if (f.t === 'pong' && last !== null && f.seq > last) last = f.seq;
  }
  return JSON.parse(JSON.stringify(s));
}"""


async def page_state(page, frames: Frames) -> dict:
    return await page.evaluate(FOLD, frames.frames)


def same_view(page_view: dict, server_view) -> list[str]:
    """Where the page's picture of the room differs from what the server would show."""
    sv = json.loads(__import__("msgspec").json.encode(server_view))
    diffs = []
    for key in ("status", "queue", "queue_mode", "speaker", "turn_ends", "go_around", "breakouts", "my_room",
                "round", "breakouts_ends", "agenda_index", "agenda_started", "phase", "agreed"):
        if page_view.get(key) != sv.get(key):
            diffs.append(f"{key}: page {page_view.get(key)!r} server {sv.get(key)!r}")
    if sorted(page_view["room_members"]) != sorted(sv["room_members"]):
        diffs.append(f"room_members: page {page_view['room_members']} server {sv['room_members']}")
    if [(p["id"], p["role"]) for p in page_view["present"]] != [(p["id"], p["role"]) for p in sv["present"]]:
        diffs.append(f"present: page {page_view['present']} server {sv['present']}")
    said = lambda bs: [(b["text"], b["seq"]) for b in bs]
    if said(page_view["broadcasts"]) != said(sv["broadcasts"]):
        diffs.append(f"broadcasts: page {page_view['broadcasts']} server {sv['broadcasts']}")
    strip = lambda polls: sorted((p["id"], p["state"], p["results"], p["total"],
                                  p["mine"] if not p["anonymous"] else None) for p in polls)
    if strip(page_view["polls"]) != strip(sv["polls"]):
        diffs.append(f"polls: page {strip(page_view['polls'])} server {strip(sv['polls'])}")
    tkeys = lambda ts: {k: (t["state"], t["ends_at"], round(t["remaining"], 3)) for k, t in ts.items()}
    if tkeys(page_view["timers"]) != tkeys(sv["timers"]):
        diffs.append(f"timers: page {page_view['timers']} server {sv['timers']}")
    chat = lambda cs: [(x["by"], x["to"], x["text"], x["room"], x.get("round"), x.get("seq")) for x in cs]
    # The server's snapshot keeps each line its person could hear when it was said
    # (breakout rooms they were in, after the rooms close too), as the page does live.
    if chat(page_view["chat"]) != chat(sv["chat"]):
        diffs.append(f"chat: page {chat(page_view['chat'])} server {chat(sv['chat'])}")
    helps = lambda hs: [(h["help_id"], h["acknowledged_by"]) for h in hs]
    if helps(page_view["my_help"]) != helps(sv["my_help"]):
        diffs.append("my_help differs")
    return diffs


async def test_a_participant_joins_through_a_link_and_takes_part(server, browser):
    """The whole story: link, agreement, location, waiting room, admission, hand,
    vote, breakout and back, a network cut, and nothing missing or repeated."""
    fac = await facilitator(server)
    host = server.hub.rooms[ROOM]
    # a second participant, on the terminal protocol, so the group is a group
    sam = SessionClient(server.url, server.token(ROOM, "participant", "p2", "Sam"), name="sam")
    await sam.connect()
    await ok(sam, c.AcceptAgreement())
    await ok(sam, c.ShareLocation(location="Home"))
    await ok(fac, c.Admit(target="p2"))

    link = invite_link(server.secret, ROOM, "Alex", "p1", server.http_url, 3600)
    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    watch = Watch(page)
    frames = Frames(page)

    # 1. the group agreement, read and accepted by keyboard alone
    await page.goto(link)
    await page.wait_for_selector("#stage-agreement:not([hidden])")
    assert "#t=" not in page.url, "the token must leave the address bar"
    assert AGREEMENT.splitlines()[0] in await page.inner_text("#agreement-text")
    await shot(page, "01-agreement")
    for _ in range(6):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "agree-box":
            break
    assert await page.evaluate("document.activeElement.id") == "agree-box"
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Accept and continue"
    await page.keyboard.press("Enter")

    # 2. where am I: focus lands in the field; Enter sends it
    await page.wait_for_selector("#stage-location:not([hidden])")
    assert await page.evaluate("document.activeElement.id") == "loc-input"
    await shot(page, "02-location")
    await page.keyboard.type("At home, 12 Elm Street, Springfield")
    await page.keyboard.press("Enter")

    # 3. the waiting room
    await page.wait_for_selector("#stage-waiting:not([hidden])")
    assert "waiting room" in (await page.inner_text("#wait-h")).lower()
    await shot(page, "03-waiting")
    m = await eventually(lambda: host.visible.members.get("p1"), what="p1 known")
    await eventually(lambda: m.agreed and m.location == "At home, 12 Elm Street, Springfield"
                     and m.status == "waiting", what="p1 agreed, checked in and waiting")

    # 4. admitted by the facilitator: the room
    await ok(fac, c.Admit(target="p1"))
    await page.wait_for_selector("#stage-room:not([hidden])")
    await until(page, "document.querySelector('#people').textContent.includes('Sam')")
    assert "Alex (you)" in await page.inner_text("#people")
    assert "Check-in" in await page.inner_text("#agenda")
    # staff who come and go after the welcome: listed with their role, then gone
    obs = SessionClient(server.url, server.token(ROOM, "observer", "o1", "Robin"), name="obs")
    await obs.connect()
    await until(page, "document.querySelector('#people').textContent.includes('Robin observer')")
    await obs.close()
    await until(page, "!document.querySelector('#people').textContent.includes('Robin')")
    await shot(page, "04-admitted")

    # 5. hands: Sam first, then Alex, who is second in line; then Alex speaks
    await ok(sam, c.RaiseHand())
    await page.click("#hand-btn")
    await eventually(lambda: host.visible.queue == ["p2", "p1"], what="queue p2, p1")
    await until(page, "document.querySelector('#queue-place').textContent.includes('2nd in line')")
    assert await page.get_attribute("#hand-btn", "aria-pressed") == "true"
    await shot(page, "05-hand-raised")
    await ok(fac, c.NextSpeaker())
    await until(page, "document.querySelector('#speaker').textContent === 'Sam is speaking.'")
    assert "You are next" in await page.inner_text("#queue-place")
    await ok(fac, c.NextSpeaker())
    await until(page, "document.querySelector('#speaker').textContent === 'You have the floor.'")

    # 6. polls: a single choice, a 0-10 scale, a PHQ-2; results shared
    await ok(fac, c.EndTurn())
    await ok(fac, c.PollCreate(id="arrive", question="How are you arriving today?", kind="single",
                               options=["Calm", "Tired", "Anxious", "Hopeful"]))
    await ok(fac, c.PollCreate(id="mood", question="Your mood right now, 0 to 10", kind="scale", min=0, max=10,
                               anonymous=True))
    await ok(fac, c.PollCreate(id="phq", kind="phq2"))
    for pid in ("arrive", "mood", "phq"):
        await ok(fac, c.PollOpen(id=pid))
    await page.wait_for_selector("form[data-poll='phq']")
    # the questionnaire's words are the server's (server/engine/polls.py), not a copy in the page
    phq = await page.inner_text("form[data-poll='phq']")
    assert "how often have you been bothered by the following?" in phq
    assert "1. Little interest or pleasure in doing things" in phq and "2. Feeling down, depressed or hopeless" in phq
    await page.check("form[data-poll='arrive'] label:text-is('Hopeful')")
    await page.click("form[data-poll='arrive'] button[type=submit]")
    await page.check("form[data-poll='mood'] input[value='7']")
    await page.click("form[data-poll='mood'] button[type=submit]")
    await page.check("form[data-poll='phq'] input[name$='-a0'][value='1']")
    await page.check("form[data-poll='phq'] input[name$='-a1'][value='0']")
    await page.click("form[data-poll='phq'] button[type=submit]")
    await eventually(lambda: host.visible.polls["arrive"].answers.get("p1") == ["Hopeful"], what="vote counted")
    await eventually(lambda: host.visible.polls["mood"].tally == {"7": 1}, what="anonymous ballot counted")
    await eventually(lambda: host.visible.polls["phq"].scores.get("p1") == [1, 0], what="phq-2 answered")
    await ok(sam, c.Vote(id="arrive", choice="Tired"))
    await ok(fac, c.PollClose(id="arrive"))
    await ok(fac, c.PollShare(id="arrive"))
    await page.wait_for_selector("form[data-poll='arrive'] .results:not([hidden])")
    results = await page.inner_text("form[data-poll='arrive'] .results")
    assert "2 answers" in results and "Hopeful" in results
    assert "anonymous answer is in" in await page.inner_text("form[data-poll='mood'] .poll-status")
    await shot(page, "06-polls")

    # 7. agenda and timers count down from their deadlines
    await ok(fac, c.AgendaNext())
    await ok(fac, c.TimerStart(id="reflect", seconds=300, label="Quiet reflection"))
    await page.wait_for_selector("[data-timer='reflect']")
    first = await page.inner_text("[data-timer='reflect'] .clock")
    await page.wait_for_timeout(2200)
    second = await page.inner_text("[data-timer='reflect'] .clock")
    assert first.startswith("4:5") or first == "5:00", first
    assert second != first, "the countdown must move by itself"
    assert "Relapse prevention" in await page.inner_text("#agenda li[aria-current=step]")

    # 8. a breakout room with Sam, a broadcast, chat inside the room, then back
    await ok(fac, c.BreakoutsPlan(rooms=1))
    await ok(fac, c.BreakoutsOpen(minutes=10))
    await page.wait_for_selector("#breakout:not([hidden])")
    assert "Sam" in await page.inner_text("#breakout-who")
    await ok(fac, c.BreakoutsBroadcast(text="Five minutes to share one coping skill each."))
    await ok(sam, c.Chat(text="I go for a walk when cravings hit."))
    await page.fill("#chat-input", "Breathing exercises help me.")
    await page.press("#chat-input", "Enter")
    await until(page, "document.querySelector('#chat-log').textContent.includes('Breathing exercises')")
    await until(page, "document.querySelector('#broadcasts').textContent.includes('coping skill')")
    assert "breakout room 1" in await page.inner_text("#chat-log")
    await shot(page, "07-breakout")
    await ok(fac, c.BreakoutsClose())
    await page.wait_for_selector("#breakout", state="hidden")
    await shot(page, "08-back-in-main-room")

    # 9. the network goes away for a few seconds while the room goes on
    seen_before = len(frames.events())
    await ctx.set_offline(True)
    host.conns["p1"].ws.transport.abort()
    await eventually(lambda: host.visible.members["p1"].status == "dropped", what="p1 dropped")
    missed = ["While you were away: we started the topic.", "Welcome back when you can."]
    await ok(fac, c.Chat(text=missed[0]))
    await ok(sam, c.Chat(text=missed[1]))
    await ok(sam, c.RaiseHand())
    await ok(fac, c.TimerStart(id="break", seconds=600, label="Break"))
    await ok(fac, c.PollShare(id="mood"))
    await until(page, "document.querySelector('#conn').dataset.state !== 'online'", timeout=15000)
    await asyncio.sleep(2)
    await shot(page, "09-offline", full_page=False)   # the status floats over the viewport
    for text in missed:
        assert text not in await page.inner_text("#chat-log")
    await ctx.set_offline(False)
    await until(page, "document.querySelector('#conn').dataset.state === 'online'", timeout=30000)
    await eventually(lambda: host.visible.members["p1"].status == "present", what="p1 back")
    for text in missed:
        await until(page, f"document.querySelector('#chat-log').textContent.includes({json.dumps(text)})")
    await page.wait_for_selector("[data-timer='break']")
    await page.wait_for_selector("form[data-poll='mood'] .results:not([hidden])")
    await shot(page, "10-reconnected")

    # nothing missing, nothing twice
    seqs = frames.events()
    welcomes = frames.welcomes()
    assert welcomes[-1]["resumed"], f"the page should have resumed, not started afresh: {welcomes}"
    assert len(seqs) > seen_before
    assert seqs == sorted(set(seqs)), "an event was sent twice or out of order"
    lines = await page.locator("#chat-log .chat-text").all_inner_texts()
    assert len(lines) == len(set(lines)), f"a chat line repeats: {lines}"
    await ok(fac, c.Chat(text="sync"))   # a barrier: everything before it has reached the page
    await until(page, "document.querySelector('#chat-log').textContent.includes('sync')")
    diffs = same_view(await page_state(page, frames), participant_view(host.visible, "p1"))
    assert not diffs, diffs

    # 10. a go-around: "pass" on one's own turn
    await ok(fac, c.GoAround(seconds=90, order=["p1", "p2"]))
    await page.wait_for_selector("#pass-btn:not([hidden])")
    await until(page, "document.querySelector('#turn-clock').textContent.includes('Your turn')")
    await shot(page, "11-go-around-turn")
    await page.click("#pass-btn")
    await until(page, "document.querySelector('#speaker').textContent === 'Sam is speaking.'")
    assert has_event(fac, "turn_ended", person="p1", passed=True)

    # 11. a private call for help, and its answer
    await page.fill("#help-input", "I am feeling overwhelmed")
    await page.click("#help-form button")
    await eventually(lambda: has_event(fac, "help_requested", person="p1"), what="help reaches staff")
    assert not has_event(sam, "help_requested"), "help is private"
    hid = next(f.ev.help_id for f in fac.events if type(f.ev).__struct_config__.tag == "help_requested")
    await ok(fac, c.HelpAcknowledge(help_id=hid))
    await until(page, "document.querySelector('#help-status').textContent.includes('has seen')")
    await shot(page, "12-help-answered")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await shot(page, "12b-desktop-room")
    await page.set_viewport_size(PHONE)

    # nothing went anywhere but this server; the page never complained
    origin = urlsplit(server.http_url).netloc
    assert all(urlsplit(u).netloc == origin for u in watch.requests + watch.sockets), watch.requests
    assert not watch.errors, watch.errors

    # the session ends: the page says so and stops
    await ok(fac, c.Close())
    await page.wait_for_selector("#stage-end:not([hidden])")
    assert "ended" in (await page.inner_text("#end-h")).lower()
    await shot(page, "13-ended")
    await ctx.close()
    await sam.close()
    await fac.close()


async def test_the_page_loads_nothing_from_another_host(server, browser):
    await facilitator(server)
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    watch = Watch(page)
    responses = []
    page.on("response", lambda r: responses.append((r.url, r.status)))
    await page.goto(invite_link(server.secret, ROOM, "Jo", "p3", server.http_url, 600))
    await page.wait_for_selector("#stage-agreement:not([hidden])")
    await page.wait_for_load_state("networkidle")
    await shot(page, "00-desktop-agreement")
    origin = urlsplit(server.http_url).netloc
    kinds = {urlsplit(u).path for u in watch.requests}
    assert {"/", "/static/style.css", "/static/js/main.js", "/static/js/mirror.js", "/static/js/link.js",
            "/static/js/polls.js", "/static/js/dom.js"} <= kinds
    assert [u for u in watch.requests + watch.sockets if urlsplit(u).netloc != origin] == []
    assert all(status in (200, 304) for _, status in responses), responses
    assert not watch.errors, watch.errors
    await ctx.close()


async def test_a_bad_link_and_a_missing_token_are_explained(server, browser):
    await facilitator(server)
    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    await page.goto(server.http_url + "/")
    await page.wait_for_selector("#stage-end:not([hidden])")
    assert "personal link" in (await page.inner_text("#end-h")).lower()
    expired = tokens.sign(server.secret, tokens.Claims(room=ROOM, role="participant", id="p9", name="Old",
                                                 exp=time.time() - 10))
    await page.goto(server.http_url + "/#t=" + expired)
    await page.reload()
    await page.wait_for_selector("#stage-end:not([hidden])")
    assert "cannot be used" in await page.inner_text("#end-h")
    await shot(page, "14-expired-link")
    await ctx.close()


async def test_a_page_opened_before_the_session_waits_and_then_joins(server, browser):
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await ok(fac, c.Configure(title="Thursday group"))    # no agreement: straight to the location
    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    await page.goto(invite_link(server.secret, ROOM, "Kim", "p4", server.http_url, 600))
    await until(page, "document.querySelector('#conn').dataset.state === 'not-open'")
    assert "not started" in await page.inner_text("#start-h")
    await ok(fac, c.Open())
    await page.wait_for_selector("#stage-location:not([hidden])", timeout=30000)
    await ctx.close()
    await fac.close()


async def test_on_a_server_without_voice_the_page_says_so_and_stops_trying(server, browser):
    """`serve --no-media`: a tap on Join voice must not leave "trying again…" for ever.
    The relay closes with 1008 "voice is not available on this server" (docs/protocol.md)."""
    assert server.media is None
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await ok(fac, c.Configure(title="Thursday group", roster=[c.RosterEntry(id="p9", name="Ray")]))
    await ok(fac, c.Open())
    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    watch = Watch(page)
    await page.goto(invite_link(server.secret, ROOM, "Ray", "p9", server.http_url, 600))
    await eventually(lambda: has_event(fac, "participant_waiting", person="p9"), what="p9 waiting")
    await ok(fac, c.Admit(target="p9"))
    await page.wait_for_selector("#voice-card button:not([disabled])", timeout=15000)
    await page.get_by_role("button", name="Join voice").click()
    await until(page, "document.querySelector('#voice-state').textContent.includes('not offered')")
    assert await page.get_by_role("button", name="Join voice").is_disabled()
    await asyncio.sleep(3.5)      # the page retries every one to three seconds when voice is only late
    assert "not offered in this session" in await page.inner_text("#voice-state")
    assert len([u for u in watch.sockets if "/media" in u]) == 1, watch.sockets
    await shot(page, "voice-not-offered")
    await ctx.close()
    await fac.close()
