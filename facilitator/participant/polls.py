"""Questions for the participant: one box per poll or questionnaire, and shared results."""
from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Label, RadioButton, RadioSet, Static

from protocol import commands as c
from protocol.state import PollView



class Choice(RadioButton):
    """A radio button whose label wraps. Textual's keeps one line and ends a long option
    with "…" ("Calling a sponsor or a …" at 40 columns): every word of an option shows here."""
    DEFAULT_CSS = "Choice { width: 100%; height: auto; text-wrap: wrap; text-overflow: fold; }"

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, self.render().get_height(self.styles, width))


class Tick(Checkbox):
    """A checkbox whose label wraps, for "choose all that apply" (a SelectionList keeps one
    line per option and ends a long one with "…")."""
    DEFAULT_CSS = "Tick { width: 100%; height: auto; text-wrap: wrap; text-overflow: fold; }"

    def __init__(self, label: Content, value: str):
        super().__init__(label, classes="tick")
        self.option = value

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, self.render().get_height(self.styles, width))


def _wid(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def questionnaire_parts(p: PollView) -> tuple[str, list[str]]:
    """A questionnaire's intro and items, as the server words them in its question
    ("… the following? (1) …; (2) …"): the wording is the engine's alone."""
    m = re.search(r"^(.*?)\s*\(1\)\s*(.+?);?\s*\(2\)\s*(.+)$", p.question or "")
    if m:
        return m.group(1), [m.group(2).rstrip(";"), m.group(3)]
    return p.question, []



class PollBox(Vertical):
    """One question: built once, then only updated, so a choice in progress survives."""

    def __init__(self, poll: PollView):
        super().__init__(id=f"poll-{_wid(poll.id)}", classes="poll")
        self.poll_id = poll.id
        self.kind = poll.kind
        self.first = poll

    def compose(self) -> ComposeResult:
        p = self.first
        q = questionnaire_parts(p)[0] if p.kind in ("phq2", "gad2") else p.question
        yield Label(q, classes="question", markup=False)
        if p.anonymous:
            yield Static("Anonymous: nobody, not even the facilitators, can see your answer.", classes="small")
        if p.kind == "single":
            yield RadioSet(*[Choice(Content(o)) for o in p.options], classes="answer")
        elif p.kind == "multi":
            with Vertical(classes="answer ticks"):
                for o in p.options:
                    yield Tick(Content(o), o)
        elif p.kind == "scale":
            yield RadioSet(*[RadioButton(str(v)) for v in range(p.min, p.max + 1)], classes="answer scale")
        else:
            for i, item in enumerate(questionnaire_parts(p)[1]):
                yield Label(f"{i + 1}. {item[0].upper()}{item[1:]}", classes="item", markup=False)
                yield RadioSet(*[Choice(Content(o)) for o in p.options], classes=f"answer item-{i}")
        yield Button("Send my answer", classes="send", variant="primary")
        yield Static("", markup=False, classes="status")
        yield Static("", markup=False, classes="results")

    def read(self, p: PollView) -> tuple[c.Vote, list[str]] | str:
        if p.kind in ("single", "scale"):
            rs = self.query_one(RadioSet)
            i = rs.pressed_index
            if i < 0:
                return "Please choose an answer."
            if p.kind == "single":
                return c.Vote(id=p.id, choice=p.options[i]), [p.options[i]]
            return c.Vote(id=p.id, value=p.min + i), [str(p.min + i)]
        if p.kind == "multi":
            chosen = [t.option for t in self.query(Tick) if t.value]
            if not chosen:
                return "Please choose at least one answer."
            return c.Vote(id=p.id, choices=chosen), chosen
        answers = [rs.pressed_index for rs in self.query(RadioSet)]
        if len(answers) != 2 or min(answers) < 0:
            return "Please answer both questions."
        return c.Vote(id=p.id, answers=answers), [str(sum(answers))]

    def update_from(self, p: PollView, mine: list[str]) -> None:
        open_ = p.state == "open"
        final = p.anonymous and bool(mine)
        for w in self.query(".answer"):
            w.disabled = not open_ or final
        send = self.query_one(".send", Button)
        send.display = open_ and not final
        send.label = "Change my answer" if mine else "Send my answer"
        if p.kind in ("phq2", "gad2") and mine:
            status = "Thank you, your answers were sent to the facilitators."
        elif mine and p.anonymous:
            status = "Your anonymous answer is in. Anonymous answers cannot be changed."
        elif mine:
            status = f"Your answer: {', '.join(mine)}." + (" You can change it while the question is open." if open_ else "")
        else:
            status = "" if open_ else "This question is closed."
        self.query_one(".status", Static).update(status)
        res = self.query_one(".results", Static)
        res.display = p.results is not None
        if p.results is not None:
            res.update(results_text(p))


def results_text(p: PollView) -> str:
    total = p.total or 0
    if p.kind == "scale":
        keys = [str(v) for v in range(p.min, p.max + 1)]
    elif p.kind in ("single", "multi"):
        keys = list(p.options)
    else:
        keys = sorted(p.results, key=lambda k: int(k) if k.isdigit() else 0)
    width = max((len(k) for k in keys), default=1)
    lines = [f"Shared results ({total} {'answer' if total == 1 else 'answers'})"]
    for k in keys:
        n = p.results.get(k, 0)
        bar = "█" * round(20 * n / total) if total else ""
        pct = round(100 * n / total) if total else 0
        lines.append(f"{k:<{width}}  {bar:<20} {n} ({pct}%)")
    return "\n".join(lines)
