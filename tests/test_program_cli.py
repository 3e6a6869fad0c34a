"""Managing a program from the CLI: import and update, enrol, discharge, make-ups, and bad input.

Every command runs as a user would run it (`python -m server ...`) against a
real SQLite record; a bad input must give one line on stderr, exit status 2,
and no traceback.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import SCENARIOS

PROGRAM = os.path.join(SCENARIOS, "program_evening", "program.toml")


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def show(db, program="iop-evening"):
    r = cli("program", "show", "--db", db, "--program", program, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rows(db, program="iop-evening"):
    from server.record import Record
    rec = Record(db, readonly=True)
    try:
        return [(seq, typ) for seq, _at, _aud, typ, _b in rec.events(f"~program:{program}")]
    finally:
        rec.close()


def test_import_again_records_only_what_changed(tmp_path):
    db = str(tmp_path / "r.db")
    r = cli("program", "import", PROGRAM, "--db", db)
    assert r.returncode == 0 and "imported, 9 change(s)" in r.stdout
    assert oct(os.stat(db).st_mode & 0o777) == "0o600"
    assert cli("program", "import", PROGRAM, "--db", db).stdout.strip().endswith("unchanged, nothing recorded")
    changed = tmp_path / "p.toml"
    text = open(PROGRAM).read().replace('title = "Evening IOP: relapse prevention"', 'title = "Evening IOP"')
    text = text.replace('id = "p6"\nname = "Taylor"\nenrolled = "2026-11-02"',
                        'id = "p6"\nname = "Taylor"\nenrolled = "2026-11-02"\ndischarged = "2026-11-20"')
    changed.write_text(text)
    r = cli("program", "import", str(changed), "--db", db)
    assert r.returncode == 0 and "updated, 2 change(s)" in r.stdout, r.stdout + r.stderr
    d = show(db)
    assert d["title"] == "Evening IOP"
    assert next(m for m in d["members"] if m["id"] == "p6")["discharged"] == "2026-11-20"
    assert [t for _s, t in rows(db)][-2:] == ["program_defined", "member_discharged"]
    assert [s for s, _t in rows(db)] == list(range(1, 12))        # one ordered log, no gaps
    assert cli("verify", "--db", db).returncode == 0


def test_a_member_left_out_of_a_new_file_is_kept_and_said(tmp_path):
    db = str(tmp_path / "r.db")
    cli("program", "import", PROGRAM, "--db", db)
    smaller = tmp_path / "p.toml"
    smaller.write_text(open(PROGRAM).read().split('[[members]]\nid = "p7"')[0])
    r = cli("program", "import", str(smaller), "--db", db)
    assert r.returncode == 0 and "kept as recorded" in r.stderr and "p7" in r.stderr
    assert any(m["id"] == "p7" for m in show(db)["members"])


def test_enrol_discharge_and_the_roster_of_a_date(tmp_path):
    db = str(tmp_path / "r.db")
    cli("program", "import", PROGRAM, "--db", db)
    r = cli("program", "enrol", "--db", db, "--program", "iop-evening", "--member", "p8", "--name", "Drew",
            "--date", "2026-11-16", "--apart", "p3")
    assert r.returncode == 0, r.stderr
    r = cli("program", "discharge", "--db", db, "--program", "iop-evening", "--member", "p1", "--date", "2026-11-17")
    assert r.returncode == 0, r.stderr
    from server.programs.store import load_program, roster
    from server.record import Record
    import datetime as dt
    rec = Record(db, readonly=True)
    p = load_program(rec, "iop-evening")
    rec.close()

    def expected(day):
        return [x.id for x in roster(p, dt.date.fromisoformat(day)) if x.expected]
    assert expected("2026-11-03") == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert expected("2026-11-17") == ["p1", "p2", "p3", "p4", "p6", "p7", "p8"]
    assert expected("2026-11-19") == ["p2", "p3", "p4", "p6", "p7", "p8"]
    # Jordan's rule names Alex, who is gone: the session gets no rule naming someone not on it
    jordan = next(x for x in roster(p, dt.date(2026, 11, 19)) if x.id == "p2")
    assert jordan.together == []
    # enrolling again after a discharge opens a new enrolment
    cli("program", "enrol", "--db", db, "--program", "iop-evening", "--member", "p1", "--date", "2026-12-01")
    alex = next(m for m in show(db)["members"] if m["id"] == "p1")
    assert alex["enrolled"] == "2026-12-01" and alex["discharged"] is None and alex["together"] == ["p2"]


@pytest.mark.parametrize("args,needle", [
    (["program", "import", "{dir}/nope.toml", "--db", "{db}"], "no such program file"),
    (["program", "import", "{bad_toml}", "--db", "{db}"], "not valid TOML"),
    (["program", "import", "{bad_tz}", "--db", "{db}"], "line 7: program.timezone: unknown time zone 'Mars/Olympus'"),
    (["program", "import", "{bad_date}", "--db", "{db}"], "members[1].enrolled must be a date as YYYY-MM-DD"),
    (["program", "import", "{bad_rule}", "--db", "{db}"], "names 'zz', who is not a member"),
    (["program", "import", PROGRAM, "--db", "{dir}/no/such/dir/r.db"], "no such directory"),
    (["program", "show", "--db", "{dir}/nope.db", "--program", "x"], "no such record"),
    (["program", "import", PROGRAM, "--db", "{bad_toml}"], "is not a writable record"),
    (["program", "import", "{staff_not_table}", "--db", "{db}"], "staff[1] must be a table"),
    (["program", "show", "--db", "{db}", "--program", "x", "--colour"], "unrecognized arguments: --colour"),
    (["program", "enrol", "--db", "{db}", "--program", "iop-evening", "--member", "p9", "--name", "N",
      "--date", "2026-13-01"], "--date must be a date as YYYY-MM-DD"),
    (["program", "discharge", "--db", "{db}", "--program", "iop-evening", "--member", "p1",
      "--date", "yesterday"], "--date must be a date"),
    (["program", "discharge", "--db", "{db}", "--program", "iop-evening", "--member", "p1",
      "--date", "2026-10-01"], "comes before p1's enrolment"),
    (["export", "--db", "{db}", "--program", "iop-evening", "--format", "hours", "--week", "2026-W60"],
     "not an ISO week"),
    (["export", "--db", "{db}", "--format", "hours"], "needs --program"),
    (["export", "--db", "{db}", "--program", "iop-evening", "--format", "member"], "needs --member"),
    (["export", "--db", "{db}", "--program", "iop-evening", "--format", "csv"], "invalid choice"),
    (["export", "--db", "{db}", "--program", "iop-evening", "--format", "hours", "--out", "{dir}/no/x.csv"],
     "cannot write"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, needle):
    db = str(tmp_path / "r.db")
    assert cli("program", "import", PROGRAM, "--db", db).returncode == 0
    files = {}
    base = open(PROGRAM).read()
    for name, text in {"bad_toml": "[program\nid = 1\n",
                       "bad_tz": base.replace("America/Chicago", "Mars/Olympus"),
                       "bad_date": base.replace('enrolled = "2026-11-02"', 'enrolled = "2 Nov 2026"', 1),
                       "bad_rule": base.replace('together = ["p2"]', 'together = ["zz"]'),
                       "staff_not_table": 'staff = [1]\n[program]\nid = "x"\ntimezone = "UTC"\n'}.items():
        (tmp_path / f"{name}.toml").write_text(text)
        files[name] = str(tmp_path / f"{name}.toml")
    args = [a.format(dir=tmp_path, db=db, **files) for a in args]
    r = cli(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr


def test_unknown_program_or_member_is_exit_1(tmp_path):
    db = str(tmp_path / "r.db")
    cli("program", "import", PROGRAM, "--db", db)
    r = cli("program", "show", "--db", db, "--program", "nope")
    assert r.returncode == 1 and "holds no program 'nope' (programs in it: iop-evening)" in r.stderr
    r = cli("program", "makeup", "--db", db, "--program", "iop-evening", "--member", "p1",
            "--missed", "r1", "--in", "r2")
    assert r.returncode == 1 and "is not a session of program" in r.stderr


def _scenario(tmp_path, session: str, steps: str = "") -> str:
    f = tmp_path / "s.toml"
    f.write_text(textwrap.dedent(session) + textwrap.dedent(steps or '''
        [[steps]]
        at = "0:00"
        who = "dana"
        do = "join"

        [[steps]]
        who = "dana"
        do = "open"

        [[steps]]
        at = "1:00"
        who = "dana"
        do = "close"
        '''))
    return str(f)


def test_makeup_in_a_session_with_no_program(tmp_path):
    """ROOM2 may be a lone session: Taylor joins a one-off room as a guest."""
    db = str(tmp_path / "r.db")
    lib = os.path.join(SCENARIOS, "program_evening")
    cli("program", "import", PROGRAM, "--db", db)
    assert cli("replay", os.path.join(lib, "session_01_2026-11-03.toml"), "--db", db).returncode == 0
    lone = _scenario(tmp_path, '''
        [session]
        room = "relapse-workshop"
        auto_admit = true
        [[people]]
        id = "kim"
        role = "facilitator"
        [[people]]
        id = "p6"
        name = "Taylor"
        ''', '''
        [[steps]]
        who = "kim"
        do = "join"
        [[steps]]
        who = "kim"
        do = "open"
        [[steps]]
        who = "p6"
        do = "join"
        [[steps]]
        at = "45:00"
        who = "kim"
        do = "close"
        ''')
    assert cli("replay", lone, "--db", db).returncode == 0
    args = ["program", "makeup", "--db", db, "--program", "iop-evening", "--member", "p6",
            "--missed", "iop-evening-2026-11-03"]
    r = cli(*args, "--in", "relapse-workshop")
    assert r.returncode == 0, r.stderr
    out = cli("export", "--db", db, "--program", "iop-evening", "--format", "absences").stdout
    assert "p6,Taylor,2026-11-03,iop-evening-2026-11-03,absent,,relapse-workshop" in out
    # a member who attended cannot "make up" a session
    r = cli("program", "makeup", "--db", db, "--program", "iop-evening", "--member", "p1",
            "--missed", "iop-evening-2026-11-03", "--in", "relapse-workshop")
    assert r.returncode == 1 and "did not miss" in r.stderr


def test_a_scenario_takes_its_session_from_the_program(tmp_path):
    db = str(tmp_path / "r.db")
    cli("program", "import", PROGRAM, "--db", db)
    path = _scenario(tmp_path, '''
        [session]
        program = "iop-evening"
        date = "2026-11-10"
        title = "Evening IOP: guest speaker"
        ''')
    r = cli("replay", path, "--db", db)
    assert r.returncode == 0, r.stdout + r.stderr
    from server.record import Record
    from server.review import fold_until
    rec = Record(db, readonly=True)
    state, _, _ = fold_until(rec, "iop-evening-2026-11-10")      # the room's default name
    rec.close()
    assert (state.program, state.date) == ("iop-evening", "2026-11-10")
    assert state.title == "Evening IOP: guest speaker"              # a key beside `program` overrides
    assert state.capacity == 10 and state.agreement == "What is shared here stays here."
    assert [a.title for a in state.agenda][0] == "Check-in"
    expected = sorted(m.id for m in state.members.values() if m.expected)
    assert expected == ["p1", "p2", "p3", "p4", "p6", "p7"]           # Casey discharged, Morgan enrolled
    assert state.members["lee"].role == "cofacilitator" and state.members["p3"].apart == ["p4"]
    # 18:00 in Chicago on 10 November 2026 (CST, UTC-6)
    import datetime as dt
    assert state.opened_at == dt.datetime(2026, 11, 11, 0, 0, tzinfo=dt.timezone.utc).timestamp()


@pytest.mark.parametrize("session,needle", [
    ('[session]\nroom = "x"\nprogram = "iop-evening"\n', "session.program needs session.date"),
    ('[session]\nroom = "x"\ndate = "2026-11-10"\n', "session.date needs session.program"),
    ('[session]\nroom = "x"\nprogram = "nope"\ndate = "2026-11-10"\n', "holds no program 'nope'"),
    ('[session]\nroom = "x"\nprogram = "iop-evening"\ndate = "2026-11-11"\n',
     "does not meet on 2026-11-11 (a Wednesday; it meets on tue, thu)"),
    ('[session]\nroom = "x"\nprogram = "iop-evening"\ndate = "11/10/2026"\n', "session.date must be a date"),
    ('[session]\nroom = "~program:iop-evening"\n', "may not start with '~'"),
])
def test_bad_program_keys_in_a_scenario_exit_2(tmp_path, session, needle):
    db = str(tmp_path / "r.db")
    cli("program", "import", PROGRAM, "--db", db)
    path = _scenario(tmp_path, session)
    r = cli("replay", path, "--db", db)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_a_program_session_needs_the_record_it_was_imported_into(tmp_path):
    path = _scenario(tmp_path, '[session]\nroom = "x"\nprogram = "iop-evening"\ndate = "2026-11-10"\n')
    r = cli("replay", path)
    assert r.returncode == 2 and "needs --db" in r.stderr


def test_links_for_everyone_on_a_dates_roster(tmp_path):
    db, secret_file = str(tmp_path / "r.db"), str(tmp_path / "secret")
    cli("program", "import", PROGRAM, "--db", db)
    r = cli("program", "links", "--db", db, "--program", "iop-evening", "--date", "2026-11-03",
            "--secret-file", secret_file, "--base-url", "https://clinic.example:8765")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("# Evening IOP: relapse prevention: room iop-evening-2026-11-03, "
                        "starts 2026-11-03T18:00:00-06:00")
    from server import tokens
    from server.web.links import token_from_link
    secret = tokens.load_secret(secret_file, create=False)
    seen = []
    for line in lines[1:]:
        role, pid, name, way = line.split("\t")
        claims = tokens.verify(secret, token_from_link(way) if way.startswith("https://") else way, 0)
        assert (claims.room, claims.role, claims.id, claims.name) == ("iop-evening-2026-11-03", role, pid, name)
        seen.append(pid)
    assert seen == ["dana", "lee", "p1", "p2", "p3", "p4", "p5", "p6"]      # Morgan is not enrolled yet


def test_a_library_directory_with_a_bad_file_says_which(tmp_path):
    (tmp_path / "program.toml").write_text(open(PROGRAM).read())
    r = cli("replay", str(tmp_path), "--db", str(tmp_path / "r.db"))
    assert r.returncode == 2 and "holds no session scenarios" in r.stderr
    (tmp_path / "session_01.toml").write_text('[session]\nprogram = "iop-evening"\ndate = "2026-11-04"\n')
    r = cli("replay", str(tmp_path), "--db", str(tmp_path / "r2.db"))
    assert r.returncode == 2 and "session_01.toml: invalid scenario" in r.stderr and "does not meet" in r.stderr
    assert "Traceback" not in r.stderr
