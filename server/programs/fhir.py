"""One session as a FHIR R4B Bundle (type `collection`), for a clinic's records system.

Built as plain JSON with the standard library, so serving and exporting need
no FHIR package; the tests validate every Bundle with `fhir.resources`' R4B
models. Codes: see docs/records.md ("FHIR"). PHQ-2 uses LOINC's panel
55757-9, items 44250-9 and 44255-8, total 55758-7. GAD-2's two items are
LOINC 69725-0 and 68509-9 (as listed in LOINC's PHQ-SADS panel 69729-2);
LOINC's published tables we could check give no GAD-2 panel or total code we
could confirm (70274-6 is GAD-7's total), so the GAD-2 total item carries a
local linkId and no LOINC code rather than a guessed one.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid

from protocol.roles import LEADS
from server.programs.model import Program
from server.programs.reports import local
from server.programs.session_facts import read_held, staff_of
from server.record import Record

LOINC = "http://loinc.org"
ITEMS = {
    "phq2": {"questionnaire": "http://loinc.org/q/55757-9", "title": "PHQ-2",
             "items": [("44250-9", "Little interest or pleasure in doing things"),
                       ("44255-8", "Feeling down, depressed, or hopeless")],
             "total": ("55758-7", "Patient Health Questionnaire 2 item (PHQ-2) total score")},
    "gad2": {"questionnaire": None, "title": "GAD-2",
             "items": [("69725-0", "Feeling nervous, anxious or on edge"),
                       ("68509-9", "Over the past 2 weeks have you not been able to stop or control worrying")],
             "total": ("gad2-total", "GAD-2 total score (sum of the two items, 0 to 6)")},
}
SYSTEM_IDS = "urn:group-console:"     # identifier systems: ids as this product's record has them


def _urn(kind: str, rid: str) -> str:
    """The entry's fullUrl: a name-based UUID, the same for a member in every session's Bundle."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, SYSTEM_IDS + kind + '/' + rid)}"


def _ref(kind: str, rid: str) -> dict:
    return {"reference": _urn(kind, rid), "type": kind}


def _fid(text: str) -> str:
    """A FHIR id: letters, digits, '-' and '.', at most 64."""
    out = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text)
    return out[:64] or "x"


def _period(start, end, tz) -> dict:
    out = {}
    if start is not None:
        out["start"] = local(start, tz)
    if end is not None:
        out["end"] = local(end, tz)
    return out


def bundle(record: Record, p: Program, room: str) -> dict:
    h, state, history, tz, f = read_held(record, p, room)
    closed = state.closed_at is not None
    entries: list[dict] = []

    def add(resource: dict) -> None:
        entries.append({"fullUrl": _urn(resource["resourceType"], resource["id"]), "resource": resource})

    service = {"text": p.title or "Group therapy"}
    session_id = _fid(f"session-{room}")
    staff = staff_of(state)
    participants = [{"type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                           "code": "PPRF" if m.role == "facilitator" else "SPRF"}]}],
                     "period": _period(m.first_joined, m.last_left or state.closed_at, tz),
                     "individual": _ref("Practitioner", _fid(m.id))}
                    for m in staff if m.role in LEADS and m.first_joined is not None]
    group_id = _fid(f"program-{p.id}")
    members = [r for r in h.rows.values()]
    add({"resourceType": "Group", "id": group_id, "type": "person", "actual": True, "active": True,
         "name": p.title or p.id,
         "identifier": [{"system": SYSTEM_IDS + "program", "value": p.id}],
         # the cohort as it stood that day: the members enrolled on the session's date
         "member": [{"entity": _ref("Patient", _fid(m.id)), "period": _period_dates(m.enrolled, m.discharged)}
                    for m in p.enrolled_on(dt.date.fromisoformat(h.date))]})
    for m in staff:
        add({"resourceType": "Practitioner", "id": _fid(m.id), "name": [{"text": m.name}],
             "identifier": [{"system": SYSTEM_IDS + "staff", "value": m.id}]})
    add({"resourceType": "Encounter", "id": session_id, "status": "finished" if closed else "in-progress",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR",
                   "display": "virtual"},
         "serviceType": service, "subject": _ref("Group", group_id),
         "identifier": [{"system": SYSTEM_IDS + "room", "value": room}],
         "period": _period(state.opened_at, state.closed_at, tz), "participant": participants})
    on_roster = {r.participant_id for r in members}
    for m in p.enrolled_on(dt.date.fromisoformat(h.date)):
        if m.id not in on_roster:      # enrolled after this room was set up: still in the cohort
            add({"resourceType": "Patient", "id": _fid(m.id), "name": [{"text": m.name}],
                 "identifier": [{"system": SYSTEM_IDS + "member", "value": m.id}]})
    for r in members:
        pid = _fid(r.participant_id)
        add({"resourceType": "Patient", "id": pid, "name": [{"text": r.name}],
             "identifier": [{"system": SYSTEM_IDS + "member", "value": r.participant_id}]})
        if r.status in ("absent", "excused"):
            continue
        enc_id = _fid(f"{session_id}-{r.participant_id}")
        add({"resourceType": "Encounter", "id": enc_id, "status": "finished" if closed else "in-progress",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR",
                       "display": "virtual"},
             "serviceType": service, "subject": _ref("Patient", pid), "partOf": _ref("Encounter", session_id),
             "period": _period(r.first_joined, r.last_left, tz), "participant": participants,
             "length": {"value": round(r.minutes_present, 1), "unit": "min", "system": "http://unitsofmeasure.org",
                        "code": "min"}})
        for c in f.checkins.get(r.participant_id, []):
            spec = ITEMS.get(c.kind)
            if spec is None or c.total is None:
                continue
            items = [{"linkId": code, "text": text, "answer": [{"valueInteger": v}]}
                     for (code, text), v in zip(spec["items"], c.answers)]
            items.append({"linkId": spec["total"][0], "text": spec["total"][1],
                          "answer": [{"valueInteger": c.total}]})
            qr = {"resourceType": "QuestionnaireResponse", "id": _fid(f"{enc_id}-{c.poll}"),
                  "status": "completed", "subject": _ref("Patient", pid), "encounter": _ref("Encounter", enc_id),
                  "authored": local(c.at, tz), "item": items}
            if spec["questionnaire"]:
                qr["questionnaire"] = spec["questionnaire"]
            add(qr)
    return {"resourceType": "Bundle", "type": "collection", "timestamp": local(state.closed_at or state.at, tz),
            "identifier": {"system": SYSTEM_IDS + "room", "value": room}, "entry": entries}


def _period_dates(start: str, end: str | None) -> dict:
    return {"start": start, **({"end": end} if end else {})}


def bundle_json(record: Record, p: Program, room: str) -> str:
    return json.dumps(bundle(record, p, room), indent=2, ensure_ascii=False) + "\n"
