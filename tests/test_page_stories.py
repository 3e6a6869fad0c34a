"""Issue 14's participant-page stories, on the real path (real server, real page, headless Chromium)."""
from __future__ import annotations

from protocol import commands as c
from server.client import SessionClient
from server.web.links import invite_link
from tests.test_participant_page import (   # noqa: F401 - fixtures
    PHONE, ROOM, Watch, browser, chromium_path, eventually, facilitator, has_event, ok, shot, until,
)


async def storage(page) -> dict:
    return await page.evaluate("Object.fromEntries(Object.entries(sessionStorage))")


async def to_waiting(page, link):
    page.on("dialog", lambda d: __import__("asyncio").ensure_future(d.accept()))
    await page.goto(link)
    await page.wait_for_selector("#stage-agreement:not([hidden])")
    await page.check("#agree-box")
    await page.click("#agree-form button[type=submit]")
    await page.fill("#loc-input", "At home")
    await page.press("#loc-input", "Enter")
    await page.wait_for_selector("#stage-waiting:not([hidden])")


async def test_called_on_while_scrolled_down_and_the_smaller_things(server, browser):
    fac = await facilitator(server)
    host = server.hub.rooms[ROOM]
    sam = SessionClient(server.url, server.token(ROOM, "participant", "p2", "Sam"), name="sam")
    await sam.connect()
    await ok(sam, c.AcceptAgreement())
    await ok(sam, c.ShareLocation(location="Home"))
    await ok(fac, c.Admit(target="p2"))
    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    watch = Watch(page)
    link = invite_link(server.secret, ROOM, "Alex", "p1", server.http_url, 3600)
    await to_waiting(page, link)

    # the link's token is out of the address bar, and the history entry's title is neutral
    assert "#t=" not in page.url and await page.title() == "Group session"
    # the link was exchanged: what the tab keeps is a device credential, not the link
    await until(page, "JSON.parse(sessionStorage.getItem('group-pass') || '{}').device === true")
    kept = await storage(page)
    assert link.split("#t=")[1] not in str(kept)

    # help from the waiting room
    await page.fill("#wait-help-input", "I am not sure I can do this tonight")
    await page.click("#wait-help-form button")
    await eventually(lambda: has_event(fac, "help_requested", person="p1"), what="help from the door")
    await until(page, "document.querySelector('#wait-help-status').textContent.includes('privately')")
    hid = next(f.ev.help_id for f in fac.events if type(f.ev).__struct_config__.tag == "help_requested")
    await ok(fac, c.HelpAcknowledge(help_id=hid))
    await until(page, "document.querySelector('#wait-help-status').textContent.includes('has seen')")
    await shot(page, "story-waiting-help")

    # the same link in a second tab is refused clearly, and the first tab stays in
    tab2 = await ctx.new_page()
    await tab2.goto(link)
    await tab2.wait_for_selector("#stage-end:not([hidden])")
    assert "already open" in await tab2.inner_text("#end-h")
    await tab2.close()
    assert host.conns["p1"] is not None

    await ok(fac, c.Admit(target="p1"))
    await page.wait_for_selector("#stage-room:not([hidden])")
    for i in range(15):
        await ok(sam, c.Chat(text=f"Message {i}: a long line of chat so that the page grows past a phone's screen."))
    await until(page, "document.querySelector('#chat-log').textContent.includes('Message 14')")
    await ok(sam, c.RaiseHand())
    await page.click("#hand-btn")
    await eventually(lambda: host.visible.queue == ["p2", "p1"], what="hands")
    await page.locator("#leave-btn").scroll_into_view_if_needed()
    assert await page.evaluate("window.scrollY") > 300

    # called on while scrolled down: a banner in view, and the title says so
    await ok(fac, c.CallOn(target="p1"))
    await page.wait_for_selector("#alert-banner:not([hidden])")
    assert await page.evaluate("window.scrollY") > 300, "the page must not jump; the banner comes to the person"
    box = await page.locator("#alert-banner").bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], box
    assert "your turn" in (await page.title()).lower()
    await shot(page, "story-called-on-390", full_page=False)
    await page.click("#alert-go")
    await page.wait_for_selector("#alert-banner", state="hidden")
    assert await page.title() == "Group session"

    # the speaker can say "I'm finished"
    await page.click("#done-btn")
    await eventually(lambda: has_event(fac, "turn_ended", person="p1"), what="the speaker ended the turn")

    # a notice can be dismissed
    await until(page, "!document.querySelector('#notice').hidden")
    await page.click("#notice-close")
    await page.wait_for_selector("#notice", state="hidden")

    # a timer's start is announced
    await ok(fac, c.TimerStart(id="quiet", seconds=120, label="Quiet reflection"))
    await until(page, "document.querySelector('#announcer').textContent.includes('Quiet reflection started')")

    # a closed poll's shared results keep the person's own answer, and it is not announced again
    await ok(fac, c.PollCreate(id="arrive", question="How are you arriving?", kind="single",
                               options=["Calm", "Tired"]))
    await ok(fac, c.PollOpen(id="arrive"))
    await page.wait_for_selector("form[data-poll='arrive']")
    await page.check("form[data-poll='arrive'] label:text-is('Tired')")
    await page.click("form[data-poll='arrive'] button[type=submit]")
    await eventually(lambda: host.visible.polls["arrive"].answers.get("p1") == ["Tired"], what="vote")
    await ok(fac, c.PollClose(id="arrive"))
    await page.wait_for_timeout(300)
    await ok(fac, c.PollShare(id="arrive"))
    await page.wait_for_selector("form[data-poll='arrive'] .results:not([hidden])")
    assert "Your answer: Tired" in await page.inner_text("form[data-poll='arrive'] .poll-status")
    assert await page.is_checked("form[data-poll='arrive'] input[value='Tired']")
    assert "A new question" not in await page.inner_text("#announcer")

    # in a breakout room the main room's hand does not say "You are next"
    await page.click("#hand-btn")
    await eventually(lambda: "p1" in host.visible.queue, what="hand up again")
    await ok(fac, c.BreakoutsPlan(rooms=1))
    await ok(fac, c.BreakoutsOpen(minutes=10))
    await page.wait_for_selector("#breakout:not([hidden])")
    place = await page.inner_text("#queue-place")
    assert "next" not in place and "main room" in place, place
    await page.wait_for_selector("#alert-banner:not([hidden])")
    await shot(page, "story-breakout-390", full_page=False)
    await page.set_viewport_size({"width": 1280, "height": 800})
    await shot(page, "story-breakout-1280", full_page=False)
    await page.set_viewport_size({"width": 320, "height": 700})
    await ok(fac, c.BreakoutsClose())

    # leaving is final: a reload does not go back in, and nothing that opens the group is kept
    await page.click("#leave-btn")
    await page.wait_for_selector("#stage-end:not([hidden])")
    assert "left" in (await page.inner_text("#end-h")).lower()
    assert "group-pass" not in await storage(page)
    await page.reload()
    await page.wait_for_selector("#stage-end:not([hidden])")
    assert "left" in (await page.inner_text("#end-h")).lower()
    assert await page.inner_text("#conn") == "Not connected"
    await page.wait_for_timeout(500)
    assert host.visible.members["p1"].status == "left"
    await shot(page, "story-left-320", full_page=False)
    assert not watch.errors, watch.errors
    await ctx.close()
    await sam.close()
    await fac.close()


async def test_the_end_of_the_session_clears_the_device(server, browser):
    fac = await facilitator(server)
    ctx = await browser.new_context(viewport={"width": 320, "height": 640})
    page = await ctx.new_page()
    watch = Watch(page)
    await to_waiting(page, invite_link(server.secret, ROOM, "Kim", "p3", server.http_url, 3600))
    await ok(fac, c.Admit(target="p3"))
    await page.wait_for_selector("#stage-room:not([hidden])")
    await until(page, "!!sessionStorage.getItem('group-pass')")
    # the reconnect status wraps at 320 px instead of clipping or covering the title
    await ctx.set_offline(True)
    await until(page, "document.querySelector('#conn').dataset.state === 'reconnecting'", timeout=10000)
    conn = await page.locator("#conn").bounding_box()
    title = await page.locator("#title").bounding_box()
    assert conn["x"] >= 0 and conn["x"] + conn["width"] <= 320, conn
    assert conn["y"] >= title["y"] + title["height"] - 1 or conn["x"] >= title["x"] + title["width"], (conn, title)
    await shot(page, "story-reconnecting-320", full_page=False)
    await ctx.set_offline(False)
    await until(page, "document.querySelector('#conn').dataset.state === 'online'", timeout=10000)
    assert not watch.errors, watch.errors
    await ok(fac, c.Close())
    await page.wait_for_selector("#stage-end:not([hidden])")
    assert await storage(page) == {}
    await ctx.close()
    await fac.close()


RECORD_LIVE = """() => {
  window.__heard = [];
  // what each live region is given to say, in order (this test's own probe, not the page's)
  for (const id of ['conn', 'announcer', 'urgent']) {
    const node = document.getElementById(id);
    new MutationObserver(() => {
      const t = node.textContent.trim();
      if (t) window.__heard.push([id, t]);
    }).observe(node, {childList: true, subtree: true, characterData: true});
  }
}"""


async def test_live_regions_say_each_thing_once(server, browser):
    fac = SessionClient(server.url, server.token(ROOM, "facilitator", "f1", "Dana"), name="fac")
    await fac.connect()
    await ok(fac, c.Configure(title="Thursday group"))
    sam = SessionClient(server.url, server.token(ROOM, "participant", "p2", "Sam"), name="sam")
    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    await page.goto(invite_link(server.secret, ROOM, "Kim", "p4", server.http_url, 600))
    await until(page, "document.querySelector('#conn').dataset.state === 'not-open'")
    await page.evaluate(RECORD_LIVE)
    await page.wait_for_timeout(6000)        # several refused retries
    heard = await page.evaluate("window.__heard")
    assert heard == [], f"the waiting page kept re-announcing: {heard}"
    await ok(fac, c.Open())
    await page.wait_for_selector("#stage-location:not([hidden])", timeout=15000)
    await page.fill("#loc-input", "Home")
    await page.press("#loc-input", "Enter")
    await page.wait_for_selector("#stage-waiting:not([hidden])")
    await ok(fac, c.Admit(target="p4"))
    await sam.connect()
    await ok(sam, c.ShareLocation(location="Home"))
    await ok(fac, c.Admit(target="p2"))
    await page.wait_for_selector("#stage-room:not([hidden])")
    await until(page, "document.querySelector('#people').textContent.includes('Sam')")
    await page.evaluate("window.__heard = []")
    # two speakers in a row, and a timer
    await ok(fac, c.CallOn(target="p2"))
    await ok(fac, c.EndTurn())
    await ok(fac, c.CallOn(target="p2"))
    await ok(fac, c.EndTurn())
    await ok(fac, c.TimerStart(id="t", seconds=300, label="Stretch break"))
    await page.wait_for_timeout(800)
    heard = [t for _, t in await page.evaluate("window.__heard")]
    assert not any("Nobody is speaking" in t for t in heard), heard
    assert any(t == "Sam is speaking." for t in heard), heard
    assert any(t.startswith("Stretch break started") for t in heard), heard
    assert await page.get_attribute("#speaker", "aria-live") is None
    await ctx.close()
    await sam.close()
    await fac.close()
