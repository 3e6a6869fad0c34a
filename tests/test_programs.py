"""A program's two weeks, played for real and reported on.

The evening IOP's library (tests/scenarios/program_evening) is played through
the real CLI (`python -m server replay DIR --db F`) into one SQLite record;
every export is then read back through the CLI and compared with figures
worked out by hand from the scenario files:

  week 45 (2-8 Nov): Tue 3rd and Thu 5th evening sessions, plus the day
  program's Wed 4th, where Taylor makes up the 3rd.
    Alex 90+90 = 180 min = 3.00 h; Jordan the same (his 1-minute drop is
    inside the grace); Sam admitted at 9:00 on the 3rd: 81+90 = 171 min =
    2.85 h; Riley 3.00; Casey leaves at 1:20:00 on the 5th: 90+80 = 170 min
    = 2.83 h; Taylor misses both evenings, 60 min in the make-up = 1.00 h.
  week 46 (9-15 Nov): Tue 10th and Thu 12th.
    Riley is excused on the 10th: 1.50 h; Sam leaves at 1:00:00 on the
    10th: 60+90 = 150 min = 2.50 h; Jordan misses the 12th: 1.50 h; Alex,
    Taylor and Morgan (enrolled from the 9th) 3.00 h; Casey was discharged
    after the 5th and has no week 46.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import SCENARIOS

LIBRARY = os.path.join(SCENARIOS, "program_evening")
EVENING = {"p1": "Alex", "p2": "Jordan", "p3": "Sam", "p4": "Riley", "p5": "Casey", "p6": "Taylor",
           "p7": "Morgan"}
DAY = {"q1": "Quinn", "q2": "Avery"}
ROOMS = ["iop-evening-2026-11-03", "iop-evening-2026-11-05", "iop-evening-2026-11-10",
         "iop-evening-2026-11-12"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("program") / "record.db")
    r = cli("replay", LIBRARY, "--db", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "make-up: p6" in r.stdout
    return path


def export(db, *args):
    r = cli("export", "--db", db, "--program", "iop-evening", *args)
    assert r.returncode == 0, r.stderr
    return r


def test_absences_list_every_missed_session_with_its_makeup(db):
    r = export(db, "--format", "absences")
    assert r.stdout == (
        "member_id,name,date,room,status,reason,made_up_in\n"
        "p6,Taylor,2026-11-03,iop-evening-2026-11-03,absent,,iop-day-2026-11-04\n"
        "p6,Taylor,2026-11-05,iop-evening-2026-11-05,absent,,\n"
        "p4,Riley,2026-11-10,iop-evening-2026-11-10,excused,medical appointment,\n"
        "p2,Jordan,2026-11-12,iop-evening-2026-11-12,absent,,\n")
    # two in a row: flagged on stderr (by id only), and Jordan's single miss is not
    assert r.stderr == "follow-up: p6 missed 2 sessions in a row (2026-11-03 to 2026-11-05)\n"


def test_followup_report_and_filters(db):
    r = export(db, "--format", "followup")
    assert r.stdout.splitlines() == [
        "member_id,name,first_missed,last_missed,sessions_missed_in_a_row,rooms",
        "p6,Taylor,2026-11-03,2026-11-05,2,iop-evening-2026-11-03 iop-evening-2026-11-05"]
    r = export(db, "--format", "absences", "--week", "2026-W46")
    assert [line.split(",")[0] for line in r.stdout.splitlines()[1:]] == ["p4", "p2"]
    r = export(db, "--format", "absences", "--member", "p4")
    assert len(r.stdout.splitlines()) == 2 and r.stderr == ""


def test_weekly_hours_against_the_target(db):
    r = export(db, "--format", "hours")
    assert r.stdout == (
        "member_id,name,week,sessions_expected,sessions_attended,hours_attended,target,below_target\n"
        "p1,Alex,2026-W45,2,2,3.00,3,false\n"
        "p2,Jordan,2026-W45,2,2,3.00,3,false\n"
        "p3,Sam,2026-W45,2,2,2.85,3,true\n"
        "p4,Riley,2026-W45,2,2,3.00,3,false\n"
        "p5,Casey,2026-W45,2,2,2.83,3,true\n"
        "p6,Taylor,2026-W45,2,1,1.00,3,true\n"
        "p1,Alex,2026-W46,2,2,3.00,3,false\n"
        "p2,Jordan,2026-W46,2,1,1.50,3,true\n"
        "p3,Sam,2026-W46,2,2,2.50,3,true\n"
        "p4,Riley,2026-W46,2,1,1.50,3,true\n"
        "p6,Taylor,2026-W46,2,2,3.00,3,false\n"
        "p7,Morgan,2026-W46,2,2,3.00,3,false\n")
    r = export(db, "--format", "hours", "--week", "2026-W46", "--member", "p3")
    assert r.stdout.splitlines()[1:] == ["p3,Sam,2026-W46,2,2,2.50,3,true"]


def test_the_session_list_gives_dates_titles_and_local_times(db):
    r = cli("export", "--db", db, "--list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "room,program,date,start,end,title"
    assert lines[1] == ("iop-evening-2026-11-03,iop-evening,2026-11-03,2026-11-03T18:00:00-06:00,"
                        "2026-11-03T19:30:00-06:00,Evening IOP: relapse prevention")
    assert lines[2].startswith("iop-day-2026-11-04,iop-day,2026-11-04,2026-11-04T10:00:00-06:00,")
    assert len(lines) == 6 and not any("~program" in x for x in lines)


def test_a_room_export_of_a_program_session_is_in_local_time(db):
    r = cli("export", "--db", db, "--room", ROOMS[1], "--format", "attendance-csv")
    casey = next(x for x in r.stdout.splitlines() if x.startswith("p5,"))
    assert "2026-11-05T18:00:00-06:00" in casey and "2026-11-05T19:20:00-06:00" in casey


def test_group_note_draft(db):
    r = export(db, "--format", "note", "--room", ROOMS[0])
    note = r.stdout
    for needle in ("# Group note (draft): Evening IOP: relapse prevention",
                   "- Start: 2026-11-03T18:00:00-06:00", "- Stop: 2026-11-03T19:30:00-06:00",
                   "- Participants present: 5 (at most 5 at once), cap 10",
                   "- Facilitator: Dana", "- Co-facilitator: Lee",
                   "- 18:00 Check-in, 15 min", "- 18:15 Topic, 45 min", "- 19:00 Practice in pods, 20 min",
                   "- 19:20 Wrap-up, 10 min",
                   "| Alex | attended | 90 | 0 | 0 | 0 | 0 | 2 | 1 |",
                   "| Sam | attended | 81 |", "| 4 |  | PHQ-2 4 |",
                   "watch: low mood, quiet", "| Taylor | absent | 0 |", "_To be written by the clinician._"):
        assert needle in note, needle
    r = cli("export", "--db", db, "--program", "iop-evening", "--format", "note")
    assert r.returncode == 2 and "needs --room" in r.stderr


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[\w-]+", text)}


@pytest.mark.parametrize("member", sorted(EVENING))
def test_member_export_names_no_other_member(db, member, tmp_path):
    out = tmp_path / "member.md"
    r = export(db, "--format", "member", "--member", member, "--out", str(out))
    assert r.stdout == "" and oct(os.stat(out).st_mode & 0o777) == "0o600"
    text = out.read_text()
    assert EVENING[member] in text and f"`{member}`" in text
    words = _words(text)
    for other, name in {**EVENING, **DAY}.items():
        if other != member:
            assert other.lower() not in words, f"{member}'s export gives {other}'s id"
            assert name.lower() not in words, f"{member}'s export names {name}"


def test_member_export_holds_the_members_own_record(db):
    text = export(db, "--format", "member", "--member", "p1").stdout
    assert "kept together with 1 other member(s)" in text
    assert "items 1, 1; total 2" in text and "items 0, 1; total 1" in text
    # the note about Alex names Jordan: masked, the rest kept
    assert "Alex came in with [another member]; both spoke about weekend triggers." in text
    assert "| 2026-W45 | 2 | 2 | 3.00 | 3 | no |" in text
    # the trend across sessions: PHQ-2 totals 2 then 1 on a 0 to 6 scale
    assert "- PHQ-2: \u2583\u2582  11-03 2, 11-12 1" in text
    taylor = export(db, "--format", "member", "--member", "p6").stdout
    assert "make-up for `iop-evening-2026-11-03`" in taylor and "| iop-day-2026-11-04 |" in taylor


def _bundle(db, room):
    from fhir.resources.R4B.bundle import Bundle
    r = export(db, "--format", "fhir", "--room", room)
    data = json.loads(r.stdout)
    return data, Bundle.model_validate(data)


@pytest.mark.parametrize("room", ROOMS)
def test_fhir_bundle_validates_as_r4b(db, room):
    data, bundle = _bundle(db, room)
    kinds = [e["resource"]["resourceType"] for e in data["entry"]]
    assert kinds.count("Group") == 1
    csv_rows = cli("export", "--db", db, "--room", room, "--format", "attendance-csv").stdout.splitlines()[1:]
    came = [x.split(",")[0] for x in csv_rows if ",attended," in x]
    member_encounters = [e["resource"] for e in data["entry"]
                         if e["resource"]["resourceType"] == "Encounter" and "partOf" in e["resource"]]
    assert len(member_encounters) == len(came)
    for enc in member_encounters:
        assert enc["class"]["code"] == "VR" and enc["serviceType"]["text"] == "Evening IOP: relapse prevention"
        assert enc["period"]["start"].endswith("-06:00")
        assert {p["type"][0]["coding"][0]["code"] for p in enc["participant"]} == {"PPRF", "SPRF"}
    urls = {e["fullUrl"] for e in data["entry"]}

    def references(node):
        if isinstance(node, dict):
            if "reference" in node:
                yield node["reference"]
            for v in node.values():
                yield from references(v)
        elif isinstance(node, list):
            for v in node:
                yield from references(v)
    refs = list(references(data))
    assert refs and all(ref in urls for ref in refs)        # every reference resolves within the Bundle
    group = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Group")
    patient = {e["fullUrl"]: e["resource"]["id"] for e in data["entry"]
               if e["resource"]["resourceType"] == "Patient"}
    cohort = sorted(patient[m["entity"]["reference"]] for m in group["member"])
    # Casey until her discharge on the 5th, Morgan from his enrolment on the 9th
    assert cohort == (["p1", "p2", "p3", "p4", "p5", "p6"] if room < "iop-evening-2026-11-09"
                      else ["p1", "p2", "p3", "p4", "p6", "p7"])


def test_fhir_check_ins_carry_the_verified_loinc_codes(db):
    data, _ = _bundle(db, ROOMS[0])
    qrs = [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    phq = [q for q in qrs if q.get("questionnaire") == "http://loinc.org/q/55757-9"]
    assert len(phq) == 2       # Alex and Sam
    sam = next(q for q in phq if q["id"].endswith("-p3-phq"))
    assert [(i["linkId"], i["answer"][0]["valueInteger"]) for i in sam["item"]] == [
        ("44250-9", 2), ("44255-8", 2), ("55758-7", 4)]
    gad = [q for q in qrs if "questionnaire" not in q]
    assert len(gad) == 1
    assert [i["linkId"] for i in gad[0]["item"]] == ["69725-0", "68509-9", "gad2-total"]
    assert "70274-6" not in json.dumps(data)     # GAD-7's total, not GAD-2's


def test_program_show_and_list(db):
    r = cli("program", "show", "--db", db, "--program", "iop-evening", "--json")
    d = json.loads(r.stdout)
    assert [m["id"] for m in d["members"]] == list(EVENING)
    assert d["makeups"] == [{"member": "p6", "missed": ROOMS[0], "made_up_in": "iop-day-2026-11-04"}]
    assert len(d["sessions"]) == 4
    r = cli("program", "list", "--db", db)
    assert r.stdout.splitlines()[0].startswith("iop-day\tDay IOP") and "iop-evening\t" in r.stdout
    r = cli("verify", "--db", db)
    assert r.returncode == 0 and "hash chain intact" in r.stdout


def test_the_late_arrival_who_waited_in_the_lobby(db):
    """Sam joined the waiting room at 6:00 and was admitted at 9:00: 6 minutes late, 3 waiting,
    81 minutes present (SCENARIOS.md: lateness runs to arrival; waiting is its own figure)."""
    from server.attendance import attendance_rows
    from server.record import Record
    from server.review import fold_until
    rec = Record(db, readonly=True)
    state, now, _ = fold_until(rec, ROOMS[0])
    rec.close()
    sam = next(r for r in attendance_rows(state, now) if r.participant_id == "p3")
    assert (round(sam.minutes_present, 1), round(sam.late_minutes, 1), round(sam.waiting_minutes, 1)) == (81, 6, 3)
    note = export(db, "--format", "note", "--room", ROOMS[0]).stdout
    assert "| Sam | attended | 81 | 6 | 3 | 0 | 0 |" in note
