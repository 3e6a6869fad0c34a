"""Keyboard alone, and the page at 200 % zoom (a 1280×800 screen shows 640×400 CSS pixels)."""
from __future__ import annotations

from protocol import commands as c
from server.web.links import invite_link
from tests.test_participant_page import (   # noqa: F401 - fixtures
    ROOM, browser, chromium_path, eventually, facilitator, has_event, ok, shot, until,
)

ZOOM_200 = {"width": 640, "height": 400}


async def tab_to(page, selector: str, limit: int = 40) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement && document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def no_sideways_scroll(page) -> None:
    w = await page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert w[0] <= w[1], f"the page scrolls sideways: {w}"


async def test_keyboard_only_at_200_percent_zoom(server, browser):
    fac = await facilitator(server)
    host = server.hub.rooms[ROOM]
    ctx = await browser.new_context(viewport=ZOOM_200, device_scale_factor=2)
    page = await ctx.new_page()
    page.on("dialog", lambda d: __import__("asyncio").ensure_future(d.accept()))
    await page.goto(invite_link(server.secret, ROOM, "Alex", "p1", server.http_url, 3600))
    await page.wait_for_selector("#stage-agreement:not([hidden])")
    await no_sideways_scroll(page)
    await tab_to(page, "#agree-box")
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#stage-location:not([hidden])")
    await page.keyboard.type("At home")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#stage-waiting:not([hidden])")
    await no_sideways_scroll(page)
    await ok(fac, c.Admit(target="p1"))
    await page.wait_for_selector("#stage-room:not([hidden])")
    for i in range(12):
        await ok(fac, c.Chat(text=f"Line {i} so that the chat scrolls."))
    await until(page, "document.querySelector('#chat-log').textContent.includes('Line 11')")
    await no_sideways_scroll(page)

    # the hand, by keyboard
    await tab_to(page, "#hand-btn")
    await page.keyboard.press("Enter")
    await eventually(lambda: host.visible.queue == ["p1"], what="hand raised by keyboard")
    # the chat's scrolling box takes focus, so arrow keys can scroll it
    await tab_to(page, "#chat-scroll")
    before = await page.evaluate("document.querySelector('#chat-scroll').scrollTop")
    await page.keyboard.press("PageUp")
    await until(page, f"document.querySelector('#chat-scroll').scrollTop < {before}", timeout=3000)
    await tab_to(page, "#chat-input")
    await page.keyboard.type("Hello from the keyboard")
    await page.keyboard.press("Enter")
    await eventually(lambda: any(
        getattr(f.ev, "text", "") == "Hello from the keyboard" for f in fac.events), what="chat by keyboard")

    # called on: the banner's "Show me" is reachable and takes the person to the speaking card
    await ok(fac, c.NextSpeaker())
    await page.wait_for_selector("#alert-banner:not([hidden])")
    box = await page.locator("#alert-banner").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= ZOOM_200["height"], box
    await shot(page, "zoom200-called-on", full_page=False)
    await page.focus("body")
    await tab_to(page, "#alert-go")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#alert-banner", state="hidden")
    assert await page.evaluate("document.activeElement.id") == "speak-h"
    await tab_to(page, "#done-btn")
    await page.keyboard.press("Enter")
    await eventually(lambda: host.visible.speaker is None, what="turn ended by keyboard")
    await shot(page, "zoom200-room", full_page=False)
    await ctx.close()
    await fac.close()
