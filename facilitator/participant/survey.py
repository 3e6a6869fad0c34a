"""The satisfaction survey in the terminal client: a row of 1-5 per item, a comment, Send.

The wording is the server's (the view's `survey`, from `survey_opened`). Keys: Tab
moves between items, the arrow keys choose a rating (Enter or Space), Tab to the
comment and to Send. Once sent, the card says only that they answered.
"""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from protocol import commands as c
from protocol.frames import Error
from protocol.state import SurveyView

LOWEST, HIGHEST = 1, 5


class SurveyCard(Vertical):
    DEFAULT_CSS = """
    SurveyCard { display: none; }
    SurveyCard RadioSet { layout: horizontal; width: auto; height: auto; }
    SurveyCard .form { height: auto; }
    """

    def __init__(self, **kw):
        super().__init__(classes="card", id="survey-card", **kw)
        self.built = False

    def compose(self) -> ComposeResult:
        yield Label("Before you go: a short survey", classes="h3")
        yield Vertical(classes="form")
        yield Static("", markup=False, id="survey-status")

    def show(self, sv: SurveyView | None) -> None:
        self.display = sv is not None and (sv.state == "open" or sv.answered)
        status = self.query_one("#survey-status", Static)
        form = self.query_one(".form", Vertical)
        if sv is None or sv.answered or sv.state != "open":
            if self.built:
                form.remove_children()
                self.built = False
            status.update("Thank you: your answers were sent to the facilitators." if sv and sv.answered
                          else "")
            return
        if not self.built:
            self.built = True
            widgets = [Static("How was today's group? Your answers go to the facilitators only. "
                              f"{LOWEST} = {sv.low}, {HIGHEST} = {sv.high}.", markup=False, classes="small")]
            for i, item in enumerate(sv.items):
                widgets.append(Label(f"{i + 1}. {item}", markup=False))
                widgets.append(RadioSet(*[RadioButton(str(v)) for v in range(LOWEST, HIGHEST + 1)],
                                        id=f"survey-r{i}", classes="rating"))
            widgets.append(Label(sv.comment, markup=False))
            widgets.append(Input(placeholder="Your comment (optional)", id="survey-comment", max_length=1000))
            widgets.append(Button("Send my answers", id="survey-send", variant="primary"))
            form.mount_all(widgets)
            status.update("")

    def read(self, sv: SurveyView) -> c.SurveyAnswer | str:
        ratings = []
        for i in range(len(sv.items)):
            k = self.query_one(f"#survey-r{i}", RadioSet).pressed_index
            if k < 0:
                return f"Please rate item {i + 1}."
            ratings.append(LOWEST + k)
        return c.SurveyAnswer(ratings=ratings, comment=self.query_one("#survey-comment", Input).value.strip())

    @on(Button.Pressed, "#survey-send")
    async def send(self) -> None:
        sv = self.app.mirror.view.survey
        if sv is None:
            return
        got = self.read(sv)
        status = self.query_one("#survey-status", Static)
        if isinstance(got, str):
            status.update(got)
            return
        status.update("Sending…")
        r = await self.app.link.send(got)
        if isinstance(r, Error) and r.code != "conflict":
            status.update(f"Not sent: {r.message}")
            return
        if not isinstance(r, Error):
            sv.answered = True          # the view's own survey_answered says the same when it comes
        self.show(sv)
