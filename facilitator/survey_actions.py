"""The console's survey keys: the survey screen (S), and asking or closing the survey from anywhere."""
from __future__ import annotations

from protocol import commands as c


class SurveyActions:
    def action_survey(self) -> None:
        from facilitator.screens.survey import SurveyScreen
        self.push_screen(SurveyScreen())

    def action_toggle_survey(self) -> None:
        s = self.room
        if s is None:
            return
        if not s.survey_enabled:
            self.notify("This session has no survey: its program turns it on (survey = true).",
                        severity="warning", timeout=6)
            return
        self.act(c.SurveyClose() if s.survey is not None and s.survey.state == "open" else c.SurveyOpen())
