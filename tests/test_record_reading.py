"""Reading a room from the record (server/record/reading.py), on both backends: a room's events between two
seqs, the room folded up to a seq or a moment, and a fold from a snapshot that equals the fold from zero."""
from __future__ import annotations

import msgspec
import pytest

from bench.schedule import group_session
from protocol import events as e
from server import engine, snapshots
from server.record import Row, open_record, reading
from tests.postgres_fixture import postgres  # noqa: F401  (a fixture)

ROOM = "tue"
SECRET = b"reading-secret"
SNAP_AT = 300
_enc = msgspec.msgpack.Encoder()


@pytest.fixture(scope="module")
def group():
    """Forty minutes of a group, as the server emits it."""
    return group_session(ROOM, 7, minutes=40)


@pytest.fixture(params=["sqlite", "postgresql"])
def spec(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "record.db")
    return request.getfixturevalue("postgres").create_database()


def _by_hand(group, upto: int):
    """The fold the reader must match: the engine's evolve over the first events, in order."""
    st = engine.new_room(ROOM)
    for x in group[:upto]:
        engine.evolve(st, x.event, x.at, x.seq)
    return st


def _same(a, b) -> bool:
    return snapshots.canonical(a) == snapshots.canonical(b)


@pytest.fixture
def record(spec, group):
    """The group in a record, with a snapshot sealed at SNAP_AT as the server writes one."""
    rec = open_record(spec)
    rows = [Row(ROOM, x.seq, x.at, x.actor, "event", type(x.event).__struct_config__.tag, x.aud, x.cmd_id,
                _enc.encode(x.event)) for x in group]
    rec.append(rows[:SNAP_AT], [snapshots.Sealer(SECRET).seal(ROOM, _by_hand(group, SNAP_AT))])
    rec.append(rows[SNAP_AT:])
    yield rec
    rec.close()


def test_a_rooms_events_between_two_seqs_come_back_decoded_in_order(record, group):
    got = list(reading.frames(record, ROOM, after=10, upto=25))
    assert [f.seq for f in got] == list(range(11, 26))
    assert [(f.at, f.aud, _enc.encode(f.ev)) for f in got] == [(x.at, x.aud, _enc.encode(x.event))
                                                              for x in group[10:25]]
    assert [f.seq for f in reading.frames(record, ROOM, after=len(group) - 2)] == [len(group) - 1, len(group)]
    assert list(reading.frames(record, "no-such-room")) == []


def test_folded_up_to_a_seq_is_the_engines_fold_of_the_events_before_it(record, group):
    for upto in (1, 57, SNAP_AT, len(group)):
        folded = reading.fold(record, ROOM, upto=upto, keep=True)
        assert folded.state.seq == upto and _same(folded.state, _by_hand(group, upto))
        assert [f.seq for f in folded.frames] == list(range(1, upto + 1))
        assert folded.at == group[upto - 1].at
    assert _same(reading.fold(record, ROOM).state, _by_hand(group, len(group)))


def test_folded_up_to_a_moment_includes_every_event_at_it(record, group):
    opened = next(x.at for x in group if isinstance(x.event, e.SessionOpened))
    moment = group[200].at
    upto = max(i for i, x in enumerate(group, 1) if x.at <= moment)
    folded = reading.fold(record, ROOM, until=moment)
    assert folded.state.seq == upto and folded.at == moment and _same(folded.state, _by_hand(group, upto))
    # the same moment, told as a time after the session opened (a reviewer's --at 0:12:34)
    later = reading.fold(record, ROOM, after_open=moment - opened)
    assert later.state.seq == upto and later.at == moment and later.opened == opened
    # before anything happened: an empty room, at that moment
    early = reading.fold(record, ROOM, until=group[0].at - 1)
    assert early.state.seq == 0 and early.at == group[0].at - 1


def test_from_the_snapshot_equals_from_zero_and_folds_only_what_came_after(record, group):
    sealer = snapshots.Sealer(SECRET)
    for upto in (SNAP_AT, SNAP_AT + 1, len(group)):
        quick = reading.fold(record, ROOM, upto=upto, sealer=sealer, keep=True)
        assert [f.seq for f in quick.frames] == list(range(SNAP_AT + 1, upto + 1))     # the snapshot was used
        assert _same(quick.state, reading.fold(record, ROOM, upto=upto).state)
        assert _same(quick.state, _by_hand(group, upto))
    # a point before the snapshot folds from zero; so does a snapshot this server did not seal
    before = reading.fold(record, ROOM, upto=SNAP_AT - 1, sealer=sealer, keep=True)
    assert before.frames[0].seq == 1 and _same(before.state, _by_hand(group, SNAP_AT - 1))
    moment = group[SNAP_AT - 5].at
    assert reading.fold(record, ROOM, until=moment, sealer=sealer, keep=True).frames[0].seq == 1
    foreign = reading.fold(record, ROOM, sealer=snapshots.Sealer(b"another server"), keep=True)
    assert foreign.frames[0].seq == 1 and _same(foreign.state, _by_hand(group, len(group)))


def test_a_fold_goes_on_from_where_it_stopped(record, group):
    st = reading.fold(record, ROOM, upto=40).state
    again = reading.fold(record, ROOM, upto=90, start=st)
    assert again.state is st and _same(st, _by_hand(group, 90))


def test_events_are_decoded_as_they_are_reached(record, group):
    """A fold that stops before a bad row never reads it; reaching it says so."""
    n = len(group)
    record.append([Row(ROOM, n + 1, group[-1].at + 1, None, "event", "chat_posted", "all", None, b"\xc1")])
    assert reading.fold(record, ROOM, upto=n).state.seq == n
    with pytest.raises(msgspec.DecodeError):
        reading.fold(record, ROOM)
