"""The page notices a dead link within seconds and comes back within seconds.

Measured on the real path: a real server, the real page in headless Chromium.
A phone that loses its network does not close its websocket: nothing arrives,
nothing fails. Chromium's offline emulation does just that to an open socket,
so only the page's own pings can tell. A server that goes away and comes back
on the same port and record is the other half: how long after it is back
until the page is in the room again. The times are printed and written to
artifacts/connection.json.
"""
from __future__ import annotations

import json
import secrets
import time

from protocol import commands as c
from server.app import EmbeddedServer
from server.web.links import invite_link
from tests.test_participant_page import (   # noqa: F401 - fixtures
    PHONE, ROOM, ROOT, browser, chromium_path, eventually, facilitator, ok, shot, until,
)

DETECT_WITHIN = 6.0      # seconds from the network going to the page saying so
RECOVER_WITHIN = 4.5     # seconds from the server being back to the page being back


async def conn_state(page) -> str:
    return await page.evaluate("document.querySelector('#conn').dataset.state")


async def wait_state(page, pred, timeout: float) -> float:
    t0 = time.monotonic()
    while not pred(await conn_state(page)):
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"the page still says {await conn_state(page)!r} after {timeout} s")
        await page.wait_for_timeout(50)
    return time.monotonic() - t0


async def into_the_room(server, browser, person="p1", name="Alex"):
    fac = await facilitator(server)
    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    await page.goto(invite_link(server.secret, ROOM, name, person, server.http_url, 3600))
    await page.wait_for_selector("#stage-agreement:not([hidden])")
    await page.check("#agree-box")
    await page.click("#agree-form button[type=submit]")
    await page.fill("#loc-input", "At home")
    await page.press("#loc-input", "Enter")
    await page.wait_for_selector("#stage-waiting:not([hidden])")
    await ok(fac, c.Admit(target=person))
    await page.wait_for_selector("#stage-room:not([hidden])")
    await wait_state(page, lambda s: s == "online", 10)
    return fac, ctx, page


def _note(key: str, value: float) -> None:
    path = ROOT / "artifacts" / "connection.json"
    path.parent.mkdir(exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = round(value, 2)
    path.write_text(json.dumps(data, indent=2))
    print(f"{key}: {value:.2f} s")


async def test_a_phone_that_loses_its_network_is_told_within_seconds(server, browser):
    fac, ctx, page = await into_the_room(server, browser)
    await page.wait_for_timeout(1000)       # the page has settled into its rhythm of pings
    await ctx.set_offline(True)
    took = await wait_state(page, lambda s: s != "online", 40)
    _note("detect_offline", took)
    await page.wait_for_timeout(500)
    await shot(page, "conn-offline-390", full_page=False)
    # a hand raised while offline says it is on its way, and goes through once back
    await page.click("#hand-btn")
    await until(page, "document.querySelector('#hand-btn').textContent.includes('Sending')")
    await page.fill("#chat-input", "Typed on the bus")
    await page.press("#chat-input", "Enter")
    await until(page, "document.querySelector('#chat-sending').textContent.includes('Sending your message')")
    await shot(page, "conn-offline-sending-390", full_page=False)
    await ctx.set_offline(False)
    back = await wait_state(page, lambda s: s == "online", 20)
    _note("recover_after_network", back)
    host = server.hub.rooms[ROOM]
    await eventually(lambda: host.visible.queue == ["p1"], what="the hand raised offline arrives")
    await until(page, "document.querySelector('#hand-btn').textContent === 'Lower my hand'")
    await until(page, "document.querySelector('#chat-log').textContent.includes('Typed on the bus')")
    assert await page.inner_text("#chat-sending") == ""
    assert took <= DETECT_WITHIN, f"a dead link took {took:.1f} s to notice"
    await ctx.close()
    await fac.close()


async def test_the_page_is_back_within_seconds_of_the_server(tmp_path, browser):
    db, secret = str(tmp_path / "record.db"), secrets.token_bytes(32)
    srv = await EmbeddedServer(db, secret).start()
    port = srv.port
    fac, ctx, page = await into_the_room(srv, browser)
    await fac.close()
    await srv.stop()
    await wait_state(page, lambda s: s != "online", 10)
    await page.wait_for_timeout(12000)      # long enough for any growing backoff to grow
    srv = await EmbeddedServer(db, secret, port=port).start()
    try:
        t0 = time.monotonic()
        await wait_state(page, lambda s: s == "online", 30)
        took = time.monotonic() - t0
        _note("recover_after_server_restart", took)
        await page.wait_for_selector("#stage-room:not([hidden])")
        assert took <= RECOVER_WITHIN, f"the page took {took:.1f} s to come back"
    finally:
        await ctx.close()
        await srv.stop()


async def test_a_page_whose_code_failed_to_load_loads_itself_again(server, browser):
    """The network changes while the page loads and one of its modules fails: without
    js/loading.js the page says "Connecting…" for ever. It loads itself again and joins;
    when the code never loads, it says so instead of "Connecting…"."""
    await facilitator(server)
    link = invite_link(server.secret, ROOM, "Alex", "p1", server.http_url, 3600)
    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    failed = []

    async def once(route):
        if not failed:
            failed.append(route.request.url)
            await route.abort("addressunreachable")
        else:
            await route.continue_()
    await page.route("**/static/js/room.js", once)
    await page.goto(link)
    await page.wait_for_selector("#stage-agreement:not([hidden])", timeout=15000)
    assert failed, "the module was never asked for"
    await wait_state(page, lambda s: s == "online", 10)
    assert "Agree" in await page.inner_text("#stage-agreement") or await page.is_visible("#agree-box")
    await ctx.close()

    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    await page.route("**/static/js/room.js", lambda route: route.abort("addressunreachable"))
    await page.goto(link)
    deadline = time.monotonic() + 20
    while "did not load" not in await page.inner_text("#start-h"):
        assert time.monotonic() < deadline, await page.inner_text("#stage-start")
        await page.wait_for_timeout(200)
    assert "open your join link again" in await page.inner_text("#start-msg")
    assert await conn_state(page) == "final"
    await ctx.close()
