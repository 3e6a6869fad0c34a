"""The campaigns' short versions: the same code as `python -m campaigns X`, smaller counts.

Each campaign runs against a real server on loopback and prints one JSON line
of figures; these stories check that it passed and that it really did the
work it claims (kills made, frames sent, pairs tried, changes caught).
"""
from __future__ import annotations

import asyncio
import json

import msgspec
import pytest

from campaigns.__main__ import main
from campaigns.common import Figures


def run_campaign(capsys, *argv: str) -> dict:
    rc = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    assert rc == 0, figures
    assert figures["failures"] == 0, figures["first_failures"]
    return figures


def test_a_server_killed_ten_times_loses_nothing_anyone_saw(capsys):
    f = run_campaign(capsys, "crash", "--quick", "--seed", "5")
    assert f["kills"] == 10 and f["restarts"] == 10 and f["verify_runs"] == 10
    assert f["received_events_checked"] > 100
    assert f["fold_checks"] >= 20          # rebuilt snapshot and staff mirrors against the record


@pytest.mark.solo     # a live group's latency beside the attack is compared with its quiet latency
def test_twenty_thousand_bad_frames_get_typed_answers_beside_a_live_group(capsys):
    f = run_campaign(capsys, "fuzz", "--quick", "--seed", "5")
    assert f["frames"] >= 20_000
    assert f["errors_invalid"] > 10_000
    assert f["closed_1008"] > 0            # repeated garbage closes the connection
    assert f["probe_fuzzed_steps"] > 0


@pytest.mark.solo     # a live group's latency beside the attack is compared with its quiet latency
def test_slow_readers_flooders_and_silent_connections_are_dealt_with(capsys):
    f = run_campaign(capsys, "slow", "--quick")
    assert f["slow_reader_cut_after_s"] is not None
    assert f["flood_rate_limited"] > 0
    assert f["half_open_closed"] == {"1008": 200}


def test_every_role_every_command_tokens_tls_files_logs_and_leaks(capsys):
    f = run_campaign(capsys, "access", "--quick")
    assert f["matrix_pairs"] >= 4 * 40 and f["matrix_audited"] == f["matrix_refusals"]
    assert f["token_cases"] >= 12
    assert f["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert f["participant_events"] > 50


def test_a_hundred_changed_bytes_and_deleted_rows_are_all_caught(capsys):
    f = run_campaign(capsys, "tamper", "--quick", "--seed", "5")
    assert f["trials"] == 100 and f["caught"] == 100
    assert f["named_the_row"] == 100


def test_the_faults_campaign_tells_every_story_of_issue_12(capsys):
    # The one run of the campaign's stories in the suite (they were also run one by one in
    # test_write_faults.py, test_faults_attendance.py, test_bad_files.py and test_room_release.py,
    # twice the time for the same checks). The finer-grained tests of each fault stay in those files.
    f = run_campaign(capsys, "faults", "--quick")
    assert f["stories"] == 10
    # disk full, second writer, stop while full
    assert f["unavailable"] > 0 and f["acked_after_fill"] == 0 and f["retried_after"] == f["unavailable"]
    assert f["resumed_after_free_max_s"] < 5 and f["fold_checks"] >= 2
    assert f["readers_beside_server"] == 3 and f["served_after_kill"] == 1 and f["second_refused_in_s"] < 5
    assert f["sigterm_to_exit_s"] < 5 and f["sigterm_while_full_to_exit_s"] < 5
    assert f["sigterm_while_locked_to_exit_s"] < 5 and f["served_after_lock"] == 1
    # restart attendance: nobody left present, the seat freed, in both kinds of stop
    for kind in ("graceful", "crash"):
        r = f["restart_attendance"][kind]
        assert r["ghosts_after_restart"] == 0 and r["newcomer"] == "admitted" and r["verify_ok"]
        assert abs(r["p1_credited_s"] - r["p1_present_s"]) < 1.0
    # clock steps, both ways
    for way in ("forward", "backward"):
        s = f["clock_steps"][way]
        assert abs(s["credited_s"] - s["present_s"]) < 1 and not s["last_left_before_first_joined"]
    # rooms memory (the full run: 10,000 rooms)
    m = f["rooms_memory"]
    assert m["rooms"] >= 400 and m["growth_after_warmup_kib"] is not None and m["kib_per_room_after_warmup"] is not None
    # bad files: every run refused in one line
    b = f["bad_files"]
    assert b["file_cases"] >= 7 and b["file_refusals_one_line"] >= 18
    # breakout rounds: reloads and resumes in the next round, no leak
    r = f["breakout_rounds"]
    assert r["reloads"] >= 3 and r["resumes"] >= 3 and r["leaks"] == 0
    # the HTTP edge: repeated headers get 400 and an audit row; the Origin's scheme is checked
    h = f["http_edge"]
    assert h["answered_400"] == h["audited"] == h["repeated_header_requests"] == 5
    assert h["origin_scheme_refused"] == 4


# --- the detectors themselves: a leak or a lost event must be noticed ---------------------

def test_the_leak_check_notices_a_note_in_a_participant_stream():
    from campaigns.access import inspect_frame
    from campaigns.recordview import RecordView
    from protocol import events as e
    from protocol.frames import EventFrame

    class Sc:
        path, room = "fake.toml", "r"
    fig = Figures("access", 0, True)
    inspect_frame(fig, Sc, "p1", EventFrame(seq=1, at=0.0, aud="staff", ev=e.NoteAdded(by="f1", target="p2", text="t")),
                  RecordView(":memory:"), [])
    inspect_frame(fig, Sc, "p1", EventFrame(seq=2, at=0.0, aud="all", ev=e.ChatPosted(
        by="p2", name="B", to="facilitators", text="I am not safe at home"), ), RecordView(":memory:"),
        [("I am not safe at home", "p2")])
    assert len(fig.failures) >= 3


def test_the_stream_tracker_notices_gaps_and_duplicates():
    from campaigns.traffic import Tracker
    from protocol import events as e
    from protocol.frames import EventFrame
    t = Tracker("f1", "facilitator")
    for seq in (1, 2, 4, 4):
        t.on_frame(EventFrame(seq=seq, at=0.0, aud="all", ev=e.SessionOpened()))
    assert any("gap" in g for g in t.gaps) and any("duplicate" in g for g in t.gaps)


@pytest.mark.parametrize("kind", ["deep", "lying_lengths", "truncated"])
def test_bad_frame_generators_make_frames_the_server_cannot_decode(kind):
    import random
    from campaigns import badframes
    from protocol.frames import decode_client
    rng = random.Random(1)
    gen = getattr(badframes, kind)
    for _ in range(50):
        _, data, garbage = gen(rng)
        assert garbage
        with pytest.raises((msgspec.ValidationError, msgspec.DecodeError, RecursionError)):
            decode_client(data)


# --- findings the campaigns made (docs/reliability.md), kept as stories -----------------------

async def test_a_deeply_nested_frame_gets_an_invalid_error_and_the_connection_stays(server):
    from server.client import SessionClient
    cl = SessionClient(server.url, server.token("r1", "facilitator", "f1", "Dana"), binary=False)
    await cl.connect()
    await cl.ws.send('{"t":' * 1000 + "null" + "}" * 1000)
    await cl.sync(timeout=5)
    assert cl.errors and cl.errors[-1].code == "invalid"
    await cl.close()


async def test_a_command_id_of_sixty_thousand_characters_is_invalid(server):
    from server.client import SessionClient
    cl = SessionClient(server.url, server.token("r1", "facilitator", "f1", "Dana"))
    await cl.connect()
    await cl.ws.send(msgspec.msgpack.encode({"t": "cmd", "id": "X" * 60000,
                                             "cmd": {"do": "note", "target": "nobody", "text": "x"}}))
    # a refusal is answered once its audit row is recorded, so it may come after the pong
    for _ in range(100):
        await cl.sync(timeout=5)
        if cl.errors:
            break
        await asyncio.sleep(0.05)
    await cl.sync(timeout=5)          # and no second answer follows
    assert [e.code for e in cl.errors] == ["invalid"]
    await cl.close()
