"""The leak check over every scenario: each participant's frames, played in-process with the
scenario runner, are searched for what that participant may not see (part of the access
campaign, campaigns/access.py)."""
from __future__ import annotations

import os
import shutil
import tempfile

import msgspec

from campaigns.common import Figures
from campaigns.recordview import RecordView
from protocol import events as e
from protocol.frames import EventFrame, Welcome
from protocol.state import ParticipantView

# staff_entered and staff_left go to everyone since issue 14.2 (docs/protocol.md: participants
# see who is in the room with them, observers too), so they are not in this list
STAFF_ONLY = (e.NoteAdded, e.Flagged, e.LocationCheckedIn, e.QuestionnaireAlert, e.DropOverdue, e.Excused,
              e.BallotCast, e.RoomConfigured, e.PollCreated, e.BreakoutsPlanned,
              e.ListenedIn, e.BreakoutRuleChanged, e.FlagCleared)
ABOUT_ONE = (e.ParticipantWaiting, e.WaitingLeft, e.AgreementAccepted, e.Denied, e.VoteCast, e.HelpRequested)


def sensitive_texts(sc) -> list[tuple[str, str | None]]:
    """(text, the one participant allowed to see it, if any) from a scenario's steps."""
    out = []
    for st in sc.steps:
        a = st.args
        if st.do == "note":
            out.append((a.get("text", ""), None))
        elif st.do == "flag":
            out.append((a.get("reason", ""), None))
        elif st.do == "check_in":
            out.append((a.get("location", ""), None))
        elif st.do in ("remove", "excuse"):
            out.append((a.get("reason", ""), None))
        elif st.do == "help_request":
            out.append((a.get("text", ""), st.who))
        elif st.do == "chat" and a.get("to", "all") == "facilitators":
            out.append((a.get("text", ""), st.who))
        elif st.do == "chat" and a.get("to", "all") not in ("all", "facilitators"):
            out.append((a.get("text", ""), a["to"]))
    return [(t, who) for t, who in out if t and len(t) >= 6]


async def leak_check(fig: Figures, paths: list[str], log_text: list[str]) -> None:
    from server.scenarios import runner as runner_mod
    from server.scenarios.script import load

    frames_by: dict[str, list] = {}

    class RecordingPlayer(runner_mod.Player):
        def _frame(self, frame) -> None:
            frames_by.setdefault(self.person.id, []).append(frame)
            super()._frame(frame)

    original = runner_mod.Player
    runner_mod.Player = RecordingPlayer
    try:
        for path in paths:
            frames_by.clear()
            sc = load(path)
            d = tempfile.mkdtemp(prefix="campaign-leak-")
            db = os.path.join(d, "record.db")
            r = runner_mod.Runner(sc, db)
            res = await r.run()
            fig.add("scenarios_played")
            if not res.passed:
                fig.add("scenarios_failing_their_own_expectations")
            secrets_ = sensitive_texts(sc)
            for pid, pl in r.players.items():
                if pl.person.role != "participant":
                    continue
                view = RecordView(db)        # a fold of its own: welcomes come in seq order
                view.refresh()
                fig.add("participant_streams")
                for fr in frames_by.get(pid, []):
                    inspect_frame(fig, sc, pid, fr, view, secrets_)
            log_text.extend(t for t, _ in secrets_)
            log_text.extend(p.name for p in sc.people.values())
            log_text.extend(st.args.get("text", "") for st in sc.steps if st.do == "chat")
            shutil.rmtree(d, ignore_errors=True)
    finally:
        runner_mod.Player = original


def inspect_frame(fig: Figures, sc, me: str, fr, view: RecordView, secrets_) -> None:
    where = f"{os.path.basename(sc.path)}: {me}"
    fig.add("participant_frames")
    text = msgspec.json.encode(fr).decode()
    for s, allowed in secrets_:
        if allowed != me and s in text:
            fig.fail(f"{where} received {s!r} in a {type(fr).__name__}", "leak_text")
    if isinstance(fr, Welcome):
        if fr.state is None:
            return
        if not fig.check(isinstance(fr.state, ParticipantView), f"{where} got a staff snapshot"):
            return
        v: ParticipantView = fr.state
        try:
            fold = view.fold_to(sc.room, fr.seq)      # welcomes come in seq order per participant
        except (KeyError, ValueError):
            fold = None                               # an earlier participant's fold went past it
        if fold is not None:
            here = {m.id for m in fold.members.values() if m.status == "present"}
            extra = {p.id for p in v.present} - here
            fig.check(not extra, f"{where}'s snapshot lists {sorted(extra)} as present, who are not")
            fig.add("snapshots_checked_against_the_record")
        for pv in v.polls:
            p = fold.polls.get(pv.id) if fold is not None else None
            if p is not None:
                fig.check(pv.results is None or p.shared, f"{where}'s snapshot shows unshared results of {pv.id}")
        for line in v.chat:
            fig.check(line.to in ("all", me) or line.by == me, f"{where}'s snapshot has chat to {line.to}")
        for h in v.my_help:
            fig.check(h.person == me, f"{where}'s snapshot has {h.person}'s help call")
        return
    if not isinstance(fr, EventFrame):
        return
    ev, aud = fr.ev, fr.aud
    fig.add("participant_events")
    ok_aud = aud == "all" or aud == f"p:{me}" or aud.startswith("b:")
    fig.check(ok_aud, f"{where} received a {type(ev).__name__} addressed to {aud}")
    if isinstance(ev, STAFF_ONLY):
        fig.fail(f"{where} received {type(ev).__name__} (staff only)", "leak_staff_event")
    if isinstance(ev, ABOUT_ONE) and ev.person != me:
        fig.fail(f"{where} received {type(ev).__name__} about {ev.person}", "leak_about_other")
    if isinstance(ev, e.Removed) and ev.reason:
        fig.fail(f"{where} received the reason for removing {ev.person}", "leak_reason")
    if isinstance(ev, e.ChatPosted):
        fig.check(ev.to == "all" or ev.to == me or ev.by == me, f"{where} received chat to {ev.to}")
    if aud == "all" or aud.startswith("b:"):
        # judged at the time, by a fold of the record of its own: where was this
        # participant just before the event (issue 12: rounds, late joiners)?
        try:
            before = view.fold_to(sc.room, fr.seq - 1)
        except (KeyError, ValueError):
            before = None            # this stream went past it already (a fresh welcome)
        if before is not None:
            m = before.members.get(me)
            inside = m is not None and m.status in ("present", "dropped")
            if not inside:
                fig.fail(f"{where} received {type(ev).__name__} (seq {fr.seq}) from a time they were not in the room",
                         "leak_outside_their_time")
            elif aud.startswith("b:"):
                room = getattr(ev, "room", None)
                here = (before.breakouts == "open" and m.breakout is not None
                        and getattr(ev, "round", before.round) in (0, before.round)
                        and (room is None or room == m.breakout))
                if not here:
                    fig.fail(f"{where} received {type(ev).__name__} of round {getattr(ev, 'round', '?')} room "
                             f"{room} while in room {m.breakout}", "leak_other_round")
