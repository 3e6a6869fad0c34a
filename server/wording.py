"""Events told in the facilitator's words: one line per event, the same in the console's event log, its replay
timeline and a reviewer's `session-server replay` timeline, so a session reads alike wherever it is read."""
from __future__ import annotations

from protocol import events as e
from protocol.state import RoomState


def event_line(s: RoomState, ev: e.Event, words: bool = True) -> str:
    """One line for one event; names come from the state it was folded into.

    Without `words`, what anyone typed is left out (a chat line, a help request's text, the reason for a
    flag or a removal): a reviewer's timeline tells what happened, not what was written."""
    def n(pid: str | None) -> str:
        if pid is None:
            return ""
        m = s.members.get(pid)
        return m.name if m is not None and m.name else pid

    def said(text: str) -> str:
        return f": {text}" if text and words else ""

    def poll(pid: str) -> str:
        # a facilitator knows a poll by what it asks, not by its id; kept short,
        # since the log line is cut at the panel's width
        p = s.polls.get(pid)
        if p is None:
            return pid
        if p.kind in ("phq2", "gad2"):
            return f"{p.kind[:3].upper()}-2 check-in"
        return f"“{p.question}”" if len(p.question) <= 28 else f"“{p.question[:27]}…”"

    match ev:
        case e.RoomConfigured():
            return f"room set up: {ev.title or s.room} (capacity {ev.capacity})"
        case e.SessionOpened():
            return "session opened"
        case e.SessionClosed():
            return "session closed"
        case e.StaffEntered():
            return f"{ev.name} entered ({ev.role})"
        case e.StaffLeft():
            return f"{n(ev.person)} {'dropped' if ev.dropped else 'left'} (staff)"
        case e.ParticipantWaiting():
            return f"{ev.name} is in the waiting room"
        case e.DeviceIssued():
            return f"{n(ev.person)} opened their join link in a browser"
        case e.WaitingLeft():
            return f"{n(ev.person)} {'left' if ev.by_choice else 'lost their connection in'} the waiting room"
        case e.AgreementAccepted():
            return f"{n(ev.person)} accepted the agreement"
        case e.LocationCheckedIn():
            return f"{n(ev.person)} confirmed their location"
        case e.Admitted():
            return f"{ev.name or n(ev.person)} admitted{' (auto)' if ev.auto else ''}"
        case e.Denied():
            return f"{n(ev.person)} denied"
        case e.Removed():
            return f"{n(ev.person)} removed{said(ev.reason)}"
        case e.Excused():
            return f"{n(ev.person)} excused{said(ev.reason)}"
        case e.Left():
            return f"{n(ev.person)} left"
        case e.Dropped():
            return f"{n(ev.person)} dropped"
        case e.Returned():
            return f"{n(ev.person)} is back"
        case e.DropOverdue():
            return f"{n(ev.person)} dropped and has not come back"
        case e.HandRaised():
            return f"{n(ev.person)} raised a hand"
        case e.HandLowered():
            return f"{n(ev.person)} lowered a hand"
        case e.TurnStarted():
            return f"{n(ev.person)} speaks"
        case e.TurnEnded():
            return f"{n(ev.person)} {'passed' if ev.passed else 'finished speaking'}"
        case e.QueueMoved():
            return f"{n(ev.person)} moved to place {ev.position} in the queue"
        case e.QueueModeSet():
            return f"queue order: {ev.mode}"
        case e.GoAroundStarted():
            return f"go-around started, {ev.seconds}s each, {len(ev.order)} people"
        case e.GoAroundEnded():
            return "go-around ended"
        case e.BreakoutsPlanned():
            return f"breakouts planned: {len(ev.rooms)} rooms"
        case e.BreakoutMoved():
            return f"{n(ev.person)} moved to breakout room {ev.room}"
        case e.BreakoutsOpened():
            rnd = f"round {ev.round}: " if ev.round else ""
            # an override is the facilitator's knowing choice: the log says so, naming no rule here
            return f"breakouts opened: {rnd}{len(ev.rooms)} rooms" + (" (rules overridden)" if ev.override else "")
        case e.BreakoutRuleChanged():
            words = "kept together" if ev.kind == "together" else "kept apart"
            return f"rule {'dropped' if ev.removed else 'set'}: {n(ev.a)} and {n(ev.b)} {words}"
        case e.BreakoutsWarning():
            return "breakouts end in a minute"
        case e.BreakoutsBroadcast():
            return f"to all rooms{said(ev.text)}"
        case e.BreakoutsClosed():
            return "everyone is back from breakouts" + (" (time up)" if ev.expired else "")
        case e.ListenedIn():
            return f"{n(ev.person)} listens in to room {ev.room}" if ev.room else f"{n(ev.person)} is back in the main room"
        case e.HelpRequested():
            where = f" from room {ev.room}" if ev.room else ""
            return f"HELP{where}: {n(ev.person)} {ev.text if words else ''}".rstrip()
        case e.HelpAcknowledged():
            return f"{n(ev.by)} answered help request {ev.help_id}"
        case e.PollCreated():
            return f"poll drafted: {ev.question[:60]}"
        case e.PollOpened():
            return f"poll opened: {ev.question[:60]}"
        case e.VoteCast():
            return f"{n(ev.person)} answered {poll(ev.id)}"
        case e.BallotCast():
            return f"anonymous answer to {poll(ev.id)}"
        case e.PollClosed():
            return f"poll closed: {poll(ev.id)}"
        case e.PollShared():
            return f"results shared ({ev.total} answers): {poll(ev.id)}"
        case e.QuestionnaireAlert():
            if ev.kind == "low_score":
                return f"CHECK-IN ALERT: {n(ev.person)} low score {ev.total} in {poll(ev.id)}"
            return f"CHECK-IN ALERT: {n(ev.person)} {ev.kind.upper()} total {ev.total}"
        case e.TimerStarted():
            return f"timer {ev.label or ev.id} started ({int(ev.seconds // 60)}:{int(ev.seconds % 60):02d})"
        case e.TimerPaused():
            return f"timer {ev.id} paused"
        case e.TimerResumed():
            return f"timer {ev.id} resumed"
        case e.TimerExtended():
            return f"timer {ev.id} {'extended' if ev.seconds > 0 else 'shortened'} by {abs(ev.seconds)}s"
        case e.TimerCancelled():
            return f"timer {ev.id} cancelled"
        case e.TimerWarning():
            return f"timer {ev.id}: one minute left"
        case e.TimerExpired():
            return f"timer {ev.id} is up"
        case e.AgendaAdvanced():
            return f"agenda: {ev.title}"
        case e.ChatPosted():
            to = "" if ev.to == "all" else (" to facilitators" if ev.to == "facilitators" else f" to {n(ev.to)}")
            return f"{ev.name}{to}{said(ev.text)}" if words else f"{ev.name} wrote{to}"
        case e.NoteAdded():
            return f"note on {n(ev.target)} by {n(ev.by)}"
        case e.Flagged():
            return f"FLAG {ev.level} on {n(ev.target)}{said(ev.reason)}"
        case e.FlagCleared():
            return f"flags on {n(ev.target)} cleared by {n(ev.by)}{said(ev.reason)}"
        case e.VoiceJoined():
            where = "the main room" if not ev.room else f"breakout room {ev.room}"
            return f"{n(ev.person)} {'listens in to' if ev.listening else 'joined voice in'} {where}"
        case e.VoiceLeft():
            return f"{n(ev.person)} left voice"
        case e.MicMuted():
            return f"{n(ev.person)} muted by {n(ev.by)}"
        case e.MicUnmuted():
            return f"{n(ev.person)} unmuted by {n(ev.by)}"
        case e.FloorHeld():
            return f"{n(ev.by)} {'held' if ev.on else 'released'} the floor"
        case e.VoiceTalking():
            return f"{n(ev.person)} {'started' if ev.talking else 'stopped'} talking"
        case e.SurveyOpened():
            return "satisfaction survey asked"
        case e.SurveyAnswered():
            return f"{n(ev.person)} answered the satisfaction survey"     # what they said: S, unattributed
        case e.SurveyClosed():
            return "satisfaction survey closed"
    return type(ev).__name__      # an event this table has not met: its name, never a crash
