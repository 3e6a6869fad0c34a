"""`session-server program import|show|list|enrol|discharge|makeup|links`, and the program exports.

Every bad input ends in one line on stderr and exit status 2; a missing
program, member or session in an otherwise good record is status 1.
"""
from __future__ import annotations

import datetime as dt
import json
import sys

from server.programs import store
from server.programs.cli_common import (  # noqa: F401  (run: server/cli.py dispatches through it)
    EXIT_FAIL, EXIT_OK, _date, _Fail, _ids, _program, _read, _write, check_makeup, run,
)
from server.programs.cli_export import add_export_arguments, cmd_export, cmd_replay_directory  # noqa: F401
from server.programs.model import MemberDischarged, MemberEnrolled
from server.programs.spec import ProgramError, check_id, load as load_spec


def cmd_import(a) -> int:
    try:
        spec = load_spec(a.file)
    except ProgramError as exc:
        raise _Fail(f"{a.file}: {exc}") from None
    rec = _write(a.db, create=True)
    try:
        current = store.load_program(rec, spec.defined.id)
        events = store.import_events(current, spec)
        p = current or store.Program(id=spec.defined.id)
        store.append(rec, p, events)
    finally:
        rec.close()
    missing = sorted(set(p.members) - {m.id for m in spec.members})
    verb = "imported" if current is None else "updated"
    print(f"program {spec.defined.id}: {verb}, {len(events)} change(s) recorded" if events
          else f"program {spec.defined.id}: unchanged, nothing recorded")
    if missing:
        print(f"note: {len(missing)} member(s) in the record but not in the file are kept as recorded "
              f"(discharge them instead): {', '.join(missing)}", file=sys.stderr)
    return EXIT_OK


def program_data(rec, p) -> dict:
    """The program as plain data (also what a console's program screen needs)."""
    held = store.sessions(rec, p.id)
    return {
        "id": p.id, "title": p.title, "timezone": p.timezone, "capacity": p.capacity,
        "agreement": p.agreement, "weekly_hours_target": p.weekly_hours_target, "survey": p.survey,
        "agenda": [{"title": x.title, "minutes": x.minutes} for x in p.agenda],
        "schedule": [{"weekday": s.weekday, "start": s.start, "minutes": s.minutes} for s in p.schedule],
        "staff": [{"id": s.id, "name": s.name, "role": s.role} for s in p.staff],
        "members": [{"id": m.id, "name": m.name, "enrolled": m.enrolled, "discharged": m.discharged,
                     "together": m.together, "apart": m.apart} for m in p.members.values()],
        "makeups": [{"member": m.member, "missed": m.missed, "made_up_in": m.made_up_in} for m in p.makeups],
        "sessions": [{"room": s.room, "date": s.date, "title": s.title} for s in held],
        "changes": p.changes,
    }


def cmd_show(a) -> int:
    rec = _read(a.db)
    d = program_data(rec, _program(rec, a.program))
    if a.json:
        print(json.dumps(d))
        return EXIT_OK
    out = [f"{d['title'] or d['id']}  ({d['id']}, {d['timezone']}, cap {d['capacity']}, "
           f"{d['weekly_hours_target']:g} h a week"
           f"{'; satisfaction survey on' if d['survey'] else ''}; {d['changes']} recorded change(s))"]
    out.append("schedule: " + (", ".join(f"{s['weekday']} {s['start']} for {s['minutes']} min"
                                         for s in d["schedule"]) or "none"))
    if d["agenda"]:
        out.append("agenda: " + ", ".join(f"{x['title']} ({x['minutes']:g} min)" for x in d["agenda"]))
    out.append("staff: " + (", ".join(f"{s['name']} ({s['id']}, {s['role']})" for s in d["staff"]) or "none"))
    out.append(f"members ({len(d['members'])}):")
    for m in d["members"]:
        rules = "".join([f"  together: {', '.join(m['together'])}" if m["together"] else "",
                         f"  apart: {', '.join(m['apart'])}" if m["apart"] else ""])
        out.append(f"  {m['id']:<12} {m['name'][:20]:<20} enrolled {m['enrolled']}"
                   + (f", discharged {m['discharged']}" if m["discharged"] else "") + rules)
    for mk in d["makeups"]:
        out.append(f"make-up: {mk['member']} missed {mk['missed']}, made up in {mk['made_up_in']}")
    out.append(f"sessions in the record: {len(d['sessions'])}")
    print("\n".join(out))
    return EXIT_OK


def cmd_list(a) -> int:
    rec = _read(a.db)
    ps = store.programs(rec)
    if a.json:
        print(json.dumps([{"id": p.id, "title": p.title, "timezone": p.timezone,
                           "members": len(p.members)} for p in ps]))
        return EXIT_OK
    if not ps:
        print("no programs in this record")
    for p in ps:
        sched = ", ".join(f"{s.weekday} {s.start}" for s in p.schedule)
        print(f"{p.id}\t{p.title}\t{p.timezone}\t{sched}\t{len(p.members)} member(s)")
    return EXIT_OK


def cmd_enrol(a) -> int:
    try:
        check_id(a.member, "--member")
    except ProgramError as exc:
        raise _Fail(exc.message) from None
    day = _date(a.date, "--date")
    together, apart = _ids(a.together, "--together"), _ids(a.apart, "--apart")
    rec = _write(a.db)
    try:
        p = _program(rec, a.program)
        if any(s.id == a.member for s in p.staff):
            raise _Fail(f"{a.member!r} is on the program's staff, not a member")
        old = p.members.get(a.member)
        for other in together + apart:
            if other not in p.members or other == a.member:
                raise _Fail(f"--together/--apart name {other!r}, who is not another member of {p.id!r}",
                            EXIT_FAIL)
        name = a.name or (old.name if old else None)
        if not name:
            raise _Fail("a new member needs --name")
        ev = MemberEnrolled(member=a.member, name=name, enrolled=day.isoformat(),
                            together=together if a.together is not None else (old.together if old else []),
                            apart=apart if a.apart is not None else (old.apart if old else []))
        store.append(rec, p, [ev])
    finally:
        rec.close()
    print(f"{a.member} enrolled in {a.program} from {day.isoformat()}")
    return EXIT_OK


def cmd_discharge(a) -> int:
    day = _date(a.date, "--date")
    rec = _write(a.db)
    try:
        p = _program(rec, a.program)
        m = p.members.get(a.member)
        if m is None:
            raise _Fail(f"program {p.id!r} has no member {a.member!r}", EXIT_FAIL)
        if day.isoformat() < m.enrolled:
            raise _Fail(f"--date {day.isoformat()} comes before {a.member}'s enrolment on {m.enrolled}")
        store.append(rec, p, [MemberDischarged(member=a.member, date=day.isoformat())])
    finally:
        rec.close()
    print(f"{a.member} discharged from {a.program}; last date {day.isoformat()}")
    return EXIT_OK


def cmd_makeup(a) -> int:
    rec = _write(a.db)
    try:
        p = _program(rec, a.program)
        check_makeup(rec, p, a.member, a.missed, a.into)
        store.makeup(rec, p, a.member, a.missed, a.into)
    finally:
        rec.close()
    print(f"{a.member}: {a.missed} made up in {a.into}")
    return EXIT_OK


def cmd_links(a) -> int:
    """Everyone's way in to one session: the members' page links, the staff's console tokens."""
    from server import tokens
    from server.programs import join_links
    try:
        ttl = tokens.parse_ttl(a.ttl)
    except ValueError as exc:
        raise _Fail(str(exc)) from None
    rec = _read(a.db)
    try:
        p = _program(rec, a.program)
    finally:
        rec.close()
    day = _date(a.date, "--date") if a.date else None
    if day is None:
        found = store.tonight(p)
        if not found:
            raise _Fail(f"program {p.id!r} has no session today ({p.timezone}); give --date", EXIT_FAIL)
        day = dt.date.fromisoformat(found[0]["date"])
    from server.cli import _secret
    secret = _secret(a.secret_file)
    room = store.room_id(p, day)
    start = store.scheduled_start(p, day)
    from server.programs.reports import local
    print(f"# {p.title or p.id}: room {room}" + (f", starts {local(start, store.zone(p))}" if start else ""))
    for x in join_links(secret, p, day, a.base_url, room, ttl):
        print(f"{x['role']}\t{x['id']}\t{x['name']}\t{x.get('link') or x.get('token')}")
    return EXIT_OK


def add_parser(sub) -> None:
    """`program` and its subcommands, on the main parser's subparsers."""
    pg = sub.add_parser("program", help="programs: recurring groups with a schedule and an enrolled roster")
    ps = pg.add_subparsers(dest="program_command", required=True, parser_class=type(pg))

    i = ps.add_parser("import", help="load or update a program from its TOML file (every change recorded)")
    i.add_argument("file")
    i.add_argument("--db", required=True)
    i.set_defaults(fn=lambda a: run(cmd_import, a))

    s = ps.add_parser("show", help="a program: schedule, staff, members, make-ups")
    s.add_argument("--db", required=True)
    s.add_argument("--program", required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=lambda a: run(cmd_show, a))

    li = ps.add_parser("list", help="the programs in a record")
    li.add_argument("--db", required=True)
    li.add_argument("--json", action="store_true")
    li.set_defaults(fn=lambda a: run(cmd_list, a))

    e = ps.add_parser("enrol", help="enrol a member (or correct an enrolment)")
    e.add_argument("--db", required=True)
    e.add_argument("--program", required=True)
    e.add_argument("--member", required=True)
    e.add_argument("--name", help="display name (needed for a new member)")
    e.add_argument("--date", required=True, help="first date expected, YYYY-MM-DD")
    e.add_argument("--together", help="member ids to keep in the same breakout room, comma-separated")
    e.add_argument("--apart", help="member ids never to share a breakout room with, comma-separated")
    e.set_defaults(fn=lambda a: run(cmd_enrol, a))

    d = ps.add_parser("discharge", help="discharge a member")
    d.add_argument("--db", required=True)
    d.add_argument("--program", required=True)
    d.add_argument("--member", required=True)
    d.add_argument("--date", required=True, help="the last date expected, YYYY-MM-DD")
    d.set_defaults(fn=lambda a: run(cmd_discharge, a))

    k = ps.add_parser("links", help="everyone's join link (members) or console token (staff) for one session")
    k.add_argument("--db", required=True)
    k.add_argument("--program", required=True)
    k.add_argument("--date", help="the session's date, YYYY-MM-DD (default: today in the program's zone)")
    k.add_argument("--base-url", default="http://127.0.0.1:8765")
    k.add_argument("--ttl", default="12h")
    k.add_argument("--secret-file", help="the server's signing secret (default: the user's data directory)")
    k.set_defaults(fn=lambda a: run(cmd_links, a))

    m = ps.add_parser("makeup", help="link a missed session to the session that made it up")
    m.add_argument("--db", required=True)
    m.add_argument("--program", required=True)
    m.add_argument("--member", required=True)
    m.add_argument("--missed", required=True, help="the room of the missed session")
    m.add_argument("--in", dest="into", required=True, help="the room of the make-up (any program, or none)")
    m.set_defaults(fn=lambda a: run(cmd_makeup, a))


