"""Reads a scenario file and checks it completely before anything runs.

Every problem names its line: TOML does not keep positions, so the line of
each `[[steps]]` header and of each key inside it is found in the text.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

import msgspec

from protocol import commands as c
from protocol.roles import ROLES
from protocol.timefmt import hms, parse_hms as parse_time  # noqa: F401 - the DSL reads times as everyone does

CONNECTION_STEPS = ("join", "leave", "drop", "reconnect", "wait")
# scenario words that are protocol commands (leave is both: a command, then the socket closes)
PROTOCOL_STEPS = {name: t for name, t in c.COMMAND_TYPES.items() if name != "configure"}
STEP_KEYS = {"at", "who", "do", "expect"}
EXPECT_KEYS = {
    "error": str, "speaker": str, "queue": list, "present": list, "waiting": list,
    "in_breakouts": bool, "room_sizes": list, "same_room": list, "apart": list, "poll": dict,
    "timer": dict, "agenda": str, "attended": dict, "talk_time": dict, "seen_by": list,
    "not_seen_by": list, "late": dict, "waited": dict, "attendance": dict, "never_heard": dict,
    "survey": dict,
}
ATTENDANCE_STATUSES = {"attended", "removed", "absent", "excused"}
ERROR_CODES = {"forbidden", "invalid", "not_found", "conflict", "full", "not_admitted", "closed",
               "rate_limited"}


class ScriptError(Exception):
    def __init__(self, line: int | None, message: str):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


@dataclass
class Person:
    id: str
    name: str
    role: str
    expected: bool = True
    together: list[str] = field(default_factory=list)
    apart: list[str] = field(default_factory=list)


@dataclass
class Step:
    number: int          # 1-based
    line: int
    at: float            # seconds since the start
    at_text: str
    who: str | None
    do: str
    args: dict
    command: c.Command | None
    expect: dict


@dataclass
class Scenario:
    path: str
    room: str
    title: str
    capacity: int
    agreement: str
    auto_admit: bool
    drop_grace: int
    agenda: list[c.AgendaItem]
    people: dict[str, Person]
    steps: list[Step]
    program: str = ""            # a program's session: its id, its local date, and the
    date: str = ""               # instant its schedule starts it (the runner's clock starts there)
    start: float | None = None
    survey: bool = False         # the satisfaction survey may be run (a program's `survey = true`)

    def configure(self) -> c.Configure:
        return c.Configure(
            title=self.title, capacity=self.capacity, agreement=self.agreement,
            auto_admit=self.auto_admit, drop_grace=self.drop_grace, agenda=self.agenda,
            roster=[c.RosterEntry(id=p.id, name=p.name, role=p.role, expected=p.expected,
                                  together=p.together, apart=p.apart) for p in self.people.values()],
            program=self.program, date=self.date, survey=self.survey)

    @property
    def duration(self) -> float:
        return self.steps[-1].at if self.steps else 0.0


def fmt_time(seconds: float) -> str:
    """A moment of the script, to the nearest second."""
    return hms(int(round(seconds)))


def _lines(text: str):
    """Line numbers of each [[steps]] / [[people]] header and of the keys below it."""
    headers: dict[str, list[int]] = {"steps": [], "people": []}
    keys: dict[tuple[str, int], dict[str, int]] = {}
    current = None
    for i, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        m = re.fullmatch(r"\[\[\s*(steps|people)\s*\]\]", line)
        if m:
            headers[m.group(1)].append(i)
            current = (m.group(1), len(headers[m.group(1)]) - 1)
            keys[current] = {}
            continue
        if line.startswith("["):
            sub = re.fullmatch(r"\[\s*steps\.expect\s*\]", line)
            if sub and current and current[0] == "steps":
                keys[current]["expect"] = i
                continue
            if not sub:
                current = None if not line.startswith("[steps.") else current
            continue
        km = re.match(r"([A-Za-z_][\w-]*)\s*=", line)
        if km and current is not None:
            keys[current].setdefault(km.group(1), i)
    return headers, keys


def load(path: str, db: str | None = None) -> Scenario:
    """Reads and checks a scenario; `db` is the record a `program` key is looked up in."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ScriptError(None, f"no such scenario file: {path}") from None
    except OSError as exc:
        raise ScriptError(None, f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ScriptError(None, "the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ScriptError(int(m.group(1)) if m else None, f"not valid TOML: {exc}") from None
    return parse(data, text, path, db)


def parse(data: dict, text: str, path: str = "<scenario>", db: str | None = None) -> Scenario:
    headers, keys = _lines(text)
    for k in data:
        if k not in ("session", "people", "steps"):
            raise ScriptError(None, f"unknown table [{k}] (expected session, people, steps)")
    sess = data.get("session", {})
    if not isinstance(sess, dict):
        raise ScriptError(None, "[session] must be a table")

    def sess_line(key: str) -> int | None:
        for i, raw in enumerate(text.splitlines(), start=1):
            if re.match(rf"\s*{re.escape(key)}\s*=", raw):
                return i
        return None

    def want(key, typ, default, check=None, what=""):
        v = sess.get(key, default)
        if not isinstance(v, typ) or isinstance(v, bool) and typ is int:
            raise ScriptError(sess_line(key), f"session.{key} must be {what or typ.__name__}")
        if check is not None and not check(v):
            raise ScriptError(sess_line(key), f"session.{key} must be {what}")
        return v

    known = {"room", "title", "capacity", "agreement", "auto_admit", "drop_grace", "agenda", "program", "date",
             "survey"}
    for k in sess:
        if k not in known:
            raise ScriptError(sess_line(k), f"unknown session key {k!r}")
    if str(sess.get("room", "")).startswith("~"):
        raise ScriptError(sess_line("room"), "session.room may not start with '~' (kept for programs)")
    from server.scenarios.program_session import from_program
    prog = from_program(sess, db, sess_line)       # None for a lone session
    # a program's session is named after its program and date unless the file names it
    room = want("room", str, prog.room if prog else "room", lambda v: 0 < len(v) <= 64,
                "a room id of 1 to 64 characters")
    title = want("title", str, prog.title if prog else "")
    capacity = want("capacity", int, prog.capacity if prog else 12, lambda v: 1 <= v <= 15,
                    "an integer from 1 to 15")
    agreement = want("agreement", str, prog.agreement if prog else "")
    auto_admit = want("auto_admit", bool, False)
    survey = want("survey", bool, prog.survey if prog else False, what="true or false")
    drop_grace = want("drop_grace", int, 120, lambda v: 0 <= v <= 3600, "seconds from 0 to 3600")
    agenda_raw = want("agenda", list, None) if "agenda" in sess else (
        [msgspec.to_builtins(a) for a in prog.agenda] if prog else [])
    try:
        agenda = msgspec.convert(agenda_raw, list[c.AgendaItem])
    except msgspec.ValidationError as exc:
        raise ScriptError(sess_line("agenda"), f"session.agenda: {exc}") from None

    people: dict[str, Person] = {}
    plist = data.get("people", [])
    if not isinstance(plist, list):
        raise ScriptError(None, "people must be an array of tables [[people]]")
    for i, p in enumerate(plist):
        line = headers["people"][i] if i < len(headers["people"]) else None
        pkeys = keys.get(("people", i), {})
        for k in p:
            if k not in ("id", "name", "role", "expected", "together", "apart"):
                raise ScriptError(pkeys.get(k, line), f"unknown person key {k!r}")
        pid = p.get("id")
        if not isinstance(pid, str) or not pid or len(pid) > 64:
            raise ScriptError(line, "a person needs an id (text)")
        if pid in people:
            raise ScriptError(line, f"person {pid!r} appears twice")
        role = p.get("role", prog.role_of(pid) if prog else "participant")
        if prog and "role" in p and prog.role_of(pid, None) not in (None, role):
            raise ScriptError(pkeys.get("role", line), f"{pid!r} is {prog.role_of(pid)} in program {prog.id!r}, "
                                             f"not {role}")
        if role not in ROLES:
            raise ScriptError(pkeys.get("role", line), f"unknown role {role!r} (use {', '.join(ROLES)})")
        name = p.get("name", pid)
        if not isinstance(name, str):
            raise ScriptError(pkeys.get("name", line), "name must be text")
        expected = p.get("expected", True)
        if not isinstance(expected, bool):
            raise ScriptError(pkeys.get("expected", line), "expected must be true or false")
        rules = {}
        for k in ("together", "apart"):
            v = p.get(k, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ScriptError(pkeys.get(k, line), f"{k} must be a list of person ids")
            rules[k] = v
        people[pid] = Person(pid, name, role, expected, rules["together"], rules["apart"])
    if prog is not None:
        people = prog.merge(people, Person)
    for p in people.values():
        for other in p.together + p.apart:
            if other not in people:
                raise ScriptError(None, f"person {p.id!r} names unknown person {other!r}")

    steps: list[Step] = []
    slist = data.get("steps", [])
    if not isinstance(slist, list):
        raise ScriptError(None, "steps must be an array of tables [[steps]]")
    t_prev = 0.0
    at_prev = "0:00"
    for i, s in enumerate(slist):
        line = headers["steps"][i] if i < len(headers["steps"]) else None
        skeys = keys.get(("steps", i), {})
        n = i + 1

        def fail(key, msg):
            raise ScriptError(skeys.get(key, line) if key else line, f"step {n}: {msg}")

        if "at" in s:
            try:
                t = parse_time(s["at"])
            except ValueError as exc:
                fail("at", str(exc))
            if t < t_prev:
                fail("at", f"time goes back: {s['at']} comes after {at_prev}")
            t_prev, at_prev = t, s["at"]
        do = s.get("do")
        if not isinstance(do, str):
            fail(None, "missing `do` (the command)")
        if do not in CONNECTION_STEPS and do not in PROTOCOL_STEPS:
            fail("do", f"unknown command {do!r}")
        who = s.get("who")
        if who is None and do != "wait":
            fail(None, f"`{do}` needs `who`")
        if who is not None and who not in people:
            fail("who", f"unknown person {who!r}")
        args = {k: v for k, v in s.items() if k not in STEP_KEYS}
        for k, v in args.items():
            if k in ("target", "to") and isinstance(v, str) and k == "target" and v not in people:
                fail(k, f"unknown person {v!r}")
        command = None
        if do in PROTOCOL_STEPS:
            try:
                command = msgspec.convert({"do": do, **args}, c.AnyCommand)
            except msgspec.ValidationError as exc:
                msg = str(exc)
                if isinstance(s.get("expect"), dict) and s["expect"].get("error") == "invalid":
                    # the story is about the server refusing a bad command: send it as written
                    steps.append(Step(n, line or 0, t_prev, at_prev, who, do, args, None, s["expect"]))
                    continue
                m = re.search(r"`\$\.(\w+)`", msg)
                key = m.group(1) if m else None
                if "unknown field" in msg.lower():
                    m2 = re.search(r"`\$\.(\w+)`", msg)
                    fail(m2.group(1) if m2 else None, f"`{do}` does not take that argument: {msg}")
                fail(key, f"bad argument for `{do}`: {msg}")
        elif args:
            fail(next(iter(args)), f"`{do}` takes no arguments (got {', '.join(args)})")
        expect = s.get("expect", {})
        if not isinstance(expect, dict):
            fail("expect", "expect must be a table")
        for k, v in expect.items():
            typ = EXPECT_KEYS.get(k)
            if typ is None:
                fail("expect", f"unknown expectation {k!r}")
            if not isinstance(v, typ):
                fail("expect", f"expect.{k} must be a {typ.__name__}")
            if k == "error" and v not in ERROR_CODES:
                fail("expect", f"unknown error code {v!r}")
            if k in ("seen_by", "not_seen_by", "present", "waiting", "queue"):
                for pid in v:
                    if pid not in people:
                        fail("expect", f"expect.{k} names unknown person {pid!r}")
            if k == "never_heard":
                for pid, texts in v.items():
                    if pid not in people:
                        fail("expect", f"expect.{k} names unknown person {pid!r}")
                    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                        fail("expect", f"expect.{k}.{pid} must be a list of texts")
            if k == "attendance":
                for pid, tv in v.items():
                    if pid not in people:
                        fail("expect", f"expect.{k} names unknown person {pid!r}")
                    if tv not in ATTENDANCE_STATUSES:
                        fail("expect", f"expect.{k}.{pid}: unknown status {tv!r}")
            if k in ("attended", "talk_time", "late", "waited"):
                for pid, tv in v.items():
                    if pid not in people:
                        fail("expect", f"expect.{k} names unknown person {pid!r}")
                    try:
                        parse_time(tv)
                    except ValueError as exc:
                        fail("expect", f"expect.{k}.{pid}: {exc}")
            if k == "timer" and "remaining" in v:
                try:
                    parse_time(v["remaining"])
                except ValueError as exc:
                    fail("expect", f"expect.timer.remaining: {exc}")
        steps.append(Step(n, line or 0, t_prev, at_prev, who, do, args, command, expect))
    return Scenario(path, room, title, capacity, agreement, auto_admit, drop_grace, agenda, people, steps,
                    prog.id if prog else "", prog.date if prog else "", prog.start if prog else None,
                    survey)
