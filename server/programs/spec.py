"""Reads a program's TOML file (the format SCENARIOS.md fixes) and checks all of it.

Every problem is one `ProgramError` naming the key, and its line where the
text shows it, so that `program import` can print one precise message.
"""
from __future__ import annotations

import datetime as dt
import re
import tomllib
import zoneinfo
from dataclasses import dataclass

import msgspec

from protocol.commands import AgendaItem
from protocol.roles import STAFF_ROLES
from server.programs.model import WEEKDAYS, ProgramDefined, Slot, StaffEntry

ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ProgramError(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(f"line {line}: {message}" if line else message)
        self.message, self.line = message, line


@dataclass
class MemberSpec:
    id: str
    name: str
    enrolled: str
    discharged: str | None
    together: list[str]
    apart: list[str]


@dataclass
class ProgramSpec:
    defined: ProgramDefined
    members: list[MemberSpec]


def parse_date(value, what: str) -> dt.date:
    """A TOML date (2026-11-03) or the same as a string."""
    if isinstance(value, dt.datetime):
        raise ProgramError(f"{what} must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ProgramError(f"{what} must be a date as YYYY-MM-DD (got {value!r})")


def parse_hhmm(value, what: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value) if isinstance(value, str) else None
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ProgramError(f"{what} must be a time of day as HH:MM (got {value!r})")
    return int(m.group(1)), int(m.group(2))


def check_timezone(name) -> str:
    if not isinstance(name, str) or not name:
        raise ProgramError("program.timezone must be an IANA time zone name such as America/Chicago")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ProgramError(f"program.timezone: unknown time zone {name!r} (use an IANA name such as "
                           "America/Chicago)") from None
    return name


def check_id(value, what: str) -> str:
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise ProgramError(f"{what} must be an id of 1 to 64 letters, digits, '.', '_' or '-' (got {value!r})")
    return value


def load(path: str) -> ProgramSpec:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ProgramError(f"no such program file: {path}") from None
    except IsADirectoryError:
        raise ProgramError(f"{path} is a directory, not a program file") from None
    except OSError as exc:
        raise ProgramError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ProgramError(f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ProgramError(f"not valid TOML: {exc}", int(m.group(1)) if m else None) from None
    try:
        return parse(data)
    except ProgramError as exc:
        if exc.line is None:
            exc.line = _line_of(text, exc.message)
            exc.args = (f"line {exc.line}: {exc.message}" if exc.line else exc.message,)
        raise


def _line_of(text: str, message: str) -> int | None:
    """The line of the key a message names (`program.timezone`, `members[2].enrolled`)."""
    m = re.match(r"(program|staff|members)(?:\[(\d+)\])?\.(\w+)", message)
    if not m:
        return None
    table, index, key = m.group(1), int(m.group(2) or 1), m.group(3)
    header = re.compile(rf"\s*\[\[\s*{table}\s*\]\]" if table != "program" else r"\s*\[\s*program\s*\]")
    seen, inside = 0, False
    for i, raw in enumerate(text.splitlines(), start=1):
        if header.match(raw):
            seen += 1
            inside = seen == index
            continue
        if raw.strip().startswith("["):
            inside = False
        if inside and re.match(rf"\s*{key}\s*=", raw):
            return i
    return None


def _keys(table: dict, allowed: set[str], where: str) -> None:
    for k in table:
        if k not in allowed:
            raise ProgramError(f"{where}: unknown key {k!r} (expected {', '.join(sorted(allowed))})")


def check_title(value) -> str:
    if not isinstance(value, str) or len(value) > 200:
        raise ProgramError("program.title must be text of at most 200 characters")
    return value


def check_capacity(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 15:
        raise ProgramError("program.capacity must be an integer from 1 to 15")
    return value


def check_agreement(value) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise ProgramError("program.agreement must be text of at most 2000 characters")
    return value


def check_hours_target(value) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 80:
        raise ProgramError("program.weekly_hours_target must be a number of hours from 0 to 80")
    return float(value)


def check_agenda(value) -> list[AgendaItem]:
    try:
        return msgspec.convert(value, list[AgendaItem])
    except msgspec.ValidationError as exc:
        raise ProgramError(f"program.agenda: {exc}") from None


def check_program_id(value) -> str:
    pid = check_id(value, "program.id")
    if len(pid) > 52:
        raise ProgramError("program.id must be at most 52 characters (its sessions are named ID-YYYY-MM-DD)")
    return pid


def check_schedule(raw_sched) -> list[Slot]:
    schedule: list[Slot] = []
    if not isinstance(raw_sched, list):
        raise ProgramError("program.schedule must be a list of { weekday, start, minutes }")
    for i, s in enumerate(raw_sched, 1):
        if not isinstance(s, dict):
            raise ProgramError(f"program.schedule entry {i} must be {{ weekday, start, minutes }}")
        _keys(s, {"weekday", "start", "minutes"}, f"program.schedule entry {i}")
        if s.get("weekday") not in WEEKDAYS:
            raise ProgramError(f"program.schedule entry {i}: weekday must be one of {', '.join(WEEKDAYS)}"
                               f" (got {s.get('weekday')!r})")
        parse_hhmm(s.get("start"), f"program.schedule entry {i}: start")
        minutes = s.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 600:
            raise ProgramError(f"program.schedule entry {i}: minutes must be an integer from 1 to 600")
        if any(x.weekday == s["weekday"] for x in schedule):
            raise ProgramError(f"program.schedule: {s['weekday']} appears twice (one session a day)")
        schedule.append(Slot(weekday=s["weekday"], start=s["start"], minutes=minutes))
    return schedule


def check_staff(raw_staff) -> list[StaffEntry]:
    staff: list[StaffEntry] = []
    if not isinstance(raw_staff, list):
        raise ProgramError("staff must be an array of tables [[staff]]")
    for i, st in enumerate(raw_staff, 1):
        if not isinstance(st, dict):
            raise ProgramError(f"staff[{i}] must be a table ([[staff]] with id, name, role)")
        _keys(st, {"id", "name", "role"}, f"staff[{i}]")
        sid = check_id(st.get("id"), f"staff[{i}].id")
        name = st.get("name", sid)
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ProgramError(f"staff[{i}].name must be text of 1 to 200 characters")
        role = st.get("role", "facilitator")
        if role not in STAFF_ROLES:
            raise ProgramError(f"staff[{i}].role must be one of {', '.join(STAFF_ROLES)} (got {role!r})")
        staff.append(StaffEntry(id=sid, name=name, role=role))
    return staff


# Each key of [program], its check (which also gives the value as stored), and its default.
# The console's form checks each field with these, so a form and a file get the same words.
def check_survey(value) -> bool:
    if isinstance(value, dict):
        # room to grow: `survey = { enabled = true }` names it as a table
        _keys(value, {"enabled"}, "program.survey")
        value = value.get("enabled", True)
    if not isinstance(value, bool):
        raise ProgramError("program.survey must be true or false (the end-of-session satisfaction survey)")
    return value


SETTINGS = {
    "id": (check_program_id, None), "title": (check_title, ""), "timezone": (check_timezone, None),
    "capacity": (check_capacity, 12), "agreement": (check_agreement, ""),
    "weekly_hours_target": (check_hours_target, 0), "agenda": (check_agenda, []),
    "schedule": (check_schedule, []), "survey": (check_survey, False),
}


def field_errors(prog: dict, staff=None) -> dict[str, str]:
    """One message per bad key of a [program] table (and `staff`, when given), not only the first."""
    out = {}
    for key, value in list(prog.items()) + ([("staff", staff)] if staff is not None else []):
        check = check_staff if key == "staff" else SETTINGS[key][0]
        try:
            check(value)
        except ProgramError as exc:
            out[key] = exc.message
    return out


def parse(data: dict) -> ProgramSpec:
    _keys(data, {"program", "staff", "members"}, "the file")
    prog = data.get("program")
    if not isinstance(prog, dict):
        raise ProgramError("the file needs a [program] table")
    _keys(prog, set(SETTINGS), "[program]")
    settings = {key: check(prog.get(key, default)) for key, (check, default) in SETTINGS.items()}
    staff = check_staff(data.get("staff", []))

    members: list[MemberSpec] = []
    raw_members = data.get("members", [])
    if not isinstance(raw_members, list):
        raise ProgramError("members must be an array of tables [[members]]")
    for i, mm in enumerate(raw_members, 1):
        if not isinstance(mm, dict):
            raise ProgramError(f"members[{i}] must be a table ([[members]] with id, name, enrolled)")
        _keys(mm, {"id", "name", "enrolled", "discharged", "together", "apart"}, f"members[{i}]")
        mid = check_id(mm.get("id"), f"members[{i}].id")
        name = mm.get("name", mid)
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ProgramError(f"members[{i}].name must be text of 1 to 200 characters")
        if "enrolled" not in mm:
            raise ProgramError(f"members[{i}] ({mid}) needs `enrolled`, the first date expected")
        enrolled = parse_date(mm["enrolled"], f"members[{i}].enrolled")
        discharged = None
        if "discharged" in mm:
            discharged = parse_date(mm["discharged"], f"members[{i}].discharged")
            if discharged < enrolled:
                raise ProgramError(f"members[{i}].discharged comes before members[{i}].enrolled")
        rules = {}
        for k in ("together", "apart"):
            v = mm.get(k, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ProgramError(f"members[{i}].{k} must be a list of member ids")
            rules[k] = v
        members.append(MemberSpec(mid, name, enrolled.isoformat(),
                                  discharged.isoformat() if discharged else None,
                                  rules["together"], rules["apart"]))
    ids = [s.id for s in staff] + [m.id for m in members]
    dup = next((x for x in ids if ids.count(x) > 1), None)
    if dup:
        raise ProgramError(f"the id {dup!r} appears twice among staff and members")
    known = {m.id for m in members}
    for m in members:
        for other in m.together + m.apart:
            if other not in known:
                raise ProgramError(f"member {m.id!r} names {other!r}, who is not a member of the program")
            if other == m.id:
                raise ProgramError(f"member {m.id!r} names themself in a rule")
        both = set(m.together) & set(m.apart)
        if both:
            raise ProgramError(f"member {m.id!r} is to be kept both together with and apart from "
                               f"{sorted(both)[0]!r}")
    defined = ProgramDefined(**settings, staff=staff)
    return ProgramSpec(defined, members)


def table_of(p) -> dict:
    """A program (or its `ProgramDefined` alone) as its file would hold it, for `parse` to check.

    A change made elsewhere than in a file (the console's form, a command on the wire) is
    checked by the same `parse` as `program import`: there is one copy of each rule."""
    prog = {k: msgspec.to_builtins(getattr(p, k)) for k in SETTINGS}
    members = [{k: v for k, v in msgspec.to_builtins(m).items() if v is not None}
               for m in getattr(p, "members", {}).values()]
    return {"program": prog, "staff": msgspec.to_builtins(p.staff), "members": members}
