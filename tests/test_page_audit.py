"""The participant page passes an axe-core audit in every state a participant meets.

axe-core comes from npm (`./run-tests` installs it into .cache/axe through
.ci/install-browser); the test injects it into the real page, served by a real
server, in headless Chromium, and reads nothing but the DOM. The counts per
state are written to artifacts/axe.json, and the test fails on any violation.
"""
from __future__ import annotations

import asyncio
import json

import pytest

from protocol import commands as c
from server.client import SessionClient
from server.web.links import invite_link
from tests.test_participant_page import (   # noqa: F401 - fixtures
    PHONE, ROOM, ROOT, SHOTS, browser, chromium_path, eventually, facilitator, ok, shot, until,
)

AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_path():
    """axe-core from npm, which ./run-tests installs (.ci/install-browser); missing, the audit fails."""
    if not AXE.exists():
        pytest.fail(f"axe-core is not in {AXE}: ./run-tests installs it (.ci/install-browser: "
                    "npm install --no-save --prefix .cache/axe axe-core@4)")
    return AXE


async def audit(page, axe) -> list[dict]:
    """axe-core's violations on the page as it is now (WCAG 2.x A/AA and best practices)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(axe))
    result = await page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
                                       targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return result


async def join_and_wait(ctx, link):
    page = await ctx.new_page()
    page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await page.goto(link)
    await page.wait_for_selector("#stage-agreement:not([hidden])")
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_every_state_of_the_page_passes_axe(server, browser, axe_path, scheme):
    fac = await facilitator(server, survey=True)
    host = server.hub.rooms[ROOM]
    sam = SessionClient(server.url, server.token(ROOM, "participant", "p2", "Sam"), name="sam")
    await sam.connect()
    await ok(sam, c.AcceptAgreement())
    await ok(sam, c.ShareLocation(location="Home"))
    await ok(fac, c.Admit(target="p2"))
    # bypass_csp: only so that the test can inject axe-core; the page's own code runs as shipped
    ctx = await browser.new_context(viewport=PHONE, bypass_csp=True, color_scheme=scheme)
    counts: dict[str, list[dict]] = {}

    async def check(state: str, page) -> None:
        await page.wait_for_timeout(300)     # let transitions and live regions settle
        counts[state] = await audit(page, axe_path)
        await shot(page, f"axe-{scheme}-{state}", full_page=False)

    page = await join_and_wait(ctx, invite_link(server.secret, ROOM, "Alex", "p1", server.http_url, 3600))
    await check("agreement", page)
    await page.check("#agree-box")
    await page.click("#agree-form button[type=submit]")
    await page.wait_for_selector("#stage-location:not([hidden])")
    await page.fill("#loc-input", "At home")
    await page.press("#loc-input", "Enter")
    await page.wait_for_selector("#stage-waiting:not([hidden])")
    await check("waiting", page)

    await ok(fac, c.Admit(target="p1"))
    await page.wait_for_selector("#stage-room:not([hidden])")
    await ok(fac, c.Chat(text="Welcome, everyone."))
    for i in range(12):     # enough lines for the chat to scroll
        await ok(sam, c.Chat(text=f"Line {i} of a long evening's chat, long enough to wrap on a phone."))
    await ok(sam, c.Chat(text="Hi all."))
    await until(page, "document.querySelector('#chat-log').textContent.includes('Hi all.')")
    await check("room", page)

    await page.click("#hand-btn")
    await eventually(lambda: host.visible.queue == ["p1"], what="p1's hand up")
    await ok(fac, c.NextSpeaker())
    await until(page, "document.querySelector('#speaker').textContent.includes('You')")
    await check("speaking", page)
    await ok(fac, c.EndTurn())

    await ok(fac, c.PollCreate(id="arrive", question="How are you arriving today?", kind="single",
                               options=["Calm", "Tired", "Anxious", "Hopeful"]))
    await ok(fac, c.PollCreate(id="mood", question="Your mood right now, 0 to 10", kind="scale",
                               min=0, max=10, anonymous=True))
    await ok(fac, c.PollOpen(id="arrive"))
    await ok(fac, c.PollOpen(id="mood"))
    await page.wait_for_selector("form[data-poll='mood']")
    await check("poll-open", page)

    await page.check("form[data-poll='arrive'] label:text-is('Calm')")
    await page.click("form[data-poll='arrive'] button[type=submit]")
    await eventually(lambda: host.visible.polls["arrive"].answers.get("p1") == ["Calm"], what="vote")
    await ok(fac, c.PollClose(id="arrive"))
    await ok(fac, c.PollShare(id="arrive"))
    await page.wait_for_selector("form[data-poll='arrive'] .results:not([hidden])")
    await check("results-shared", page)

    await ok(fac, c.SurveyOpen())
    await page.wait_for_selector("#survey-card:not([hidden]) form.survey")
    await check("survey-open", page)
    for i, v in enumerate((4, 5, 3)):
        await page.check(f"#survey-r{i}-{v}")
    await page.click("form.survey button[type=submit]")
    await until(page, "document.querySelector('#survey-card').textContent.includes('Thank you')")
    await check("survey-answered", page)

    await ok(fac, c.BreakoutsPlan(rooms=1))
    await ok(fac, c.BreakoutsOpen(minutes=10))
    await page.wait_for_selector("#breakout:not([hidden])")
    await ok(fac, c.BreakoutsBroadcast(text="Share one coping skill each."))
    await until(page, "document.querySelector('#broadcasts').textContent.includes('coping')")
    await check("breakout", page)
    await ok(fac, c.BreakoutsClose())
    await page.wait_for_selector("#breakout", state="hidden")

    await ctx.set_offline(True)
    host.conns["p1"].ws.transport.abort()
    await until(page, "['reconnecting', 'offline'].includes(document.querySelector('#conn').dataset.state)",
                timeout=30000)
    await check("reconnecting", page)
    await ctx.set_offline(False)
    await until(page, "document.querySelector('#conn').dataset.state === 'online'", timeout=30000)

    await page.click("#leave-btn")
    await page.wait_for_selector("#stage-end:not([hidden])")
    await check("left", page)

    # a second participant on the page, in the room when the session ends
    page2 = await join_and_wait(ctx, invite_link(server.secret, ROOM, "Kim", "p3", server.http_url, 3600))
    await page2.check("#agree-box")
    await page2.click("#agree-form button[type=submit]")
    await page2.fill("#loc-input", "At work")
    await page2.press("#loc-input", "Enter")
    await page2.wait_for_selector("#stage-waiting:not([hidden])")
    await ok(fac, c.Admit(target="p3"))
    await page2.wait_for_selector("#stage-room:not([hidden])")
    await ok(fac, c.Close())
    await page2.wait_for_selector("#stage-end:not([hidden])")
    await check("ended", page2)

    await ctx.close()
    await sam.close()
    await fac.close()
    summary = {state: {"violations": sum(v["nodes"] for v in vs), "rules": vs} for state, vs in counts.items()}
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / f"axe-{scheme}.json").write_text(json.dumps(summary, indent=2))
    print("axe-core violations per state:",
          {s: [f"{v['id']}×{v['nodes']}" for v in vs] for s, vs in counts.items()})
    bad = {s: vs for s, vs in counts.items() if vs}
    assert not bad, json.dumps(bad, indent=1)
