"""The console's survey keys: the survey screen (S), and asking or closing the survey from anywhere."""
from __future__ import annotations

from protocol import commands as c


def close_question(s) -> str:
    """The close's confirmation; it offers the survey when the session has one not yet asked."""
    q = "Close the session for everyone? Attendance becomes final."
    if s is not None and s.survey_enabled and s.survey is None:
        q += " The satisfaction survey has not been asked yet: No, then S and o, asks it first."
    return q


class SurveyActions:
    def action_survey(self) -> None:
        from facilitator.screens.survey import SurveyScreen
        self.push_screen(SurveyScreen(self.room))

    def action_toggle_survey(self) -> None:
        s = self.room
        if s is None:
            return
        if not s.survey_enabled:
            self.notify("This session has no survey: its program turns it on (survey = true).",
                        severity="warning", timeout=6)
            return
        self.act(c.SurveyClose() if s.survey is not None and s.survey.state == "open" else c.SurveyOpen())
