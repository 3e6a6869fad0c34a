"""The end-of-session survey on the participant page, at 390 px, in headless Chromium.

The wording on the page is the server's (it came in `survey_opened`); a participant
answers with the keyboard alone, and afterwards the page says only that they answered:
their ratings and comment went to the facilitators and never come back to the page.
"""
from __future__ import annotations

from protocol import commands as c
from server.client import SessionClient
from server.engine import survey as engine_survey
from server.web.links import invite_link
from tests.test_participant_page import (   # noqa: F401 - fixtures
    PHONE, ROOM, browser, chromium_path, eventually, facilitator, ok, shot, until,
)


async def test_a_participant_answers_the_survey_on_a_phone_with_the_keyboard(server, browser):
    fac = await facilitator(server, survey=True)
    host = server.hub.rooms[ROOM]
    sam = SessionClient(server.url, server.token(ROOM, "participant", "p2", "Sam"), name="sam")
    await sam.connect()
    await ok(sam, c.AcceptAgreement())
    await ok(sam, c.ShareLocation(location="Home"))
    await ok(fac, c.Admit(target="p2"))

    ctx = await browser.new_context(viewport=PHONE)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(invite_link(server.secret, ROOM, "Alex", "p1", server.http_url, 3600))
    await page.check("#agree-box")
    await page.click("#agree-form button[type=submit]")
    await page.fill("#loc-input", "At home")
    await page.press("#loc-input", "Enter")
    await page.wait_for_selector("#stage-waiting:not([hidden])")
    await ok(fac, c.Admit(target="p1"))
    await page.wait_for_selector("#stage-room:not([hidden])")
    assert await page.is_hidden("#survey-card")

    await ok(fac, c.SurveyOpen())
    await page.wait_for_selector("#survey-card:not([hidden]) form.survey")
    # the items as the engine words them, one fieldset (with its legend) per item
    legends = await page.locator("#survey-card legend").all_inner_texts()
    assert legends == [f"{i}. {t}" for i, t in enumerate(engine_survey.ITEMS, 1)]
    assert engine_survey.LOW in await page.inner_text("#survey-card")
    await page.locator("#survey-card").scroll_into_view_if_needed()
    await shot(page, "survey-01-open-390", full_page=False)
    # nothing wider than the phone
    assert await page.evaluate("document.documentElement.scrollWidth <= 390")

    # the banner stays while the survey's heading is out of sight (scrolled away under it)...
    await page.evaluate("window.scrollTo(0, document.querySelector('#survey-h').getBoundingClientRect()"
                        ".bottom + window.scrollY + 10)")
    assert await page.is_visible("#alert-banner")
    # keyboard only: focus the first rating of item 1, arrow keys move along the radios
    await page.focus("#survey-r0-1")
    await page.keyboard.press("ArrowRight")       # 2
    # ...and goes as soon as the participant works in the survey, sooner than "seen" (1.2 s in view)
    await page.wait_for_selector("#alert-banner", state="hidden", timeout=1000)
    await page.keyboard.press("ArrowRight")       # 3
    await page.keyboard.press("ArrowRight")       # 4
    await page.keyboard.press("Tab")              # to item 2 (no choice yet: its first radio)
    await page.keyboard.press("Space")            # 1
    await page.keyboard.press("ArrowRight")       # 2
    await page.keyboard.press("Enter")            # submit, with item 3 unrated: refused on the page
    await until(page, "document.querySelector('#survey-card .poll-status').textContent.includes('item 3')")
    assert "p1" not in host.visible.survey.ratings
    await page.focus("#survey-r2-5")
    await page.keyboard.press("Space")            # 5
    await page.keyboard.press("Tab")
    await page.keyboard.type("More time for practice, please.")
    await shot(page, "survey-02-filled-390", full_page=False)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await eventually(lambda: host.visible.survey.ratings.get("p1") == [4, 2, 5], what="p1's answers")
    assert host.visible.survey.comments["p1"] == "More time for practice, please."

    await until(page, "document.querySelector('#survey-card').textContent.includes('Thank you')")
    await until(page, "document.querySelector('#alert-banner').hidden")     # the call to answer is over
    await shot(page, "survey-03-answered-390", full_page=False)
    text = await page.inner_text("#survey-card")
    assert "More time for practice" not in text and not await page.locator("form.survey").count()

    # another participant's answer never reaches this page, and the facilitator sees both
    await ok(sam, c.SurveyAnswer(ratings=[1, 1, 1], comment="Sam's own words"))
    await eventually(lambda: "p2" in host.visible.survey.ratings, what="p2's answers")
    await ok(fac, c.SurveyClose())
    await page.wait_for_timeout(300)
    assert "Sam's own words" not in await page.content()
    assert await page.is_visible("#survey-card")          # still thanks them after the close
    # a reload (the tab's own credential, a fresh welcome) brings back the thanks, not the form, and
    # not their words or anyone else's
    await page.reload()
    await page.wait_for_selector("#stage-room:not([hidden])")
    await until(page, "document.querySelector('#survey-card').textContent.includes('Thank you')")
    assert not await page.locator("form.survey").count()
    content = await page.content()
    assert "More time for practice" not in content and "Sam's own words" not in content
    assert await page.is_hidden("#alert-banner")
    assert not errors, errors
    # Sam, who is not the facilitator, got only his own receipt, with nothing in it
    got = [f.ev for f in sam.events if type(f.ev).__name__ == "SurveyAnswered"]
    assert [(g.person, g.ratings, g.comment) for g in got] == [("p2", [], "")]
    await ctx.close()
    await sam.close()
    await fac.close()
