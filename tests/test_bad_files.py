"""Bad files given to the server: one clear line naming the file, exit 2, and nothing of theirs changed.

Every story runs the real CLI (`python -m server ...`) on real files.
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys

import pytest

from campaigns import faults_files as ff
from server.record import files

ROOM = ff.ROOM


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> str:
    return ff.make_record(str(tmp_path_factory.mktemp("rec") / "record.db"))


@pytest.fixture
def secret(tmp_path) -> str:
    path = str(tmp_path / "secret")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, os.urandom(32).hex().encode())
    os.close(fd)
    return path


def refused(r: subprocess.CompletedProcess, names: str) -> str:
    why = ff.one_clear_line(r, names)
    assert not why, why
    return r.stderr.strip()


def every_command(path: str, secret: str) -> list[list[str]]:
    return [argv for _label, argv in ff.readers(path) + ff.writers(path, secret)]


@pytest.mark.parametrize("kind", ["random", "truncated", "truncated mid-page", "header", "schema"])
def test_a_broken_record_is_refused_in_one_line_by_every_command(kind, record, secret, tmp_path):
    path = str(tmp_path / "bad.db")
    {"random": lambda: ff.make_random(path),
     "truncated": lambda: ff.make_truncated(record, path),
     "truncated mid-page": lambda: ff.make_truncated(record, path, mid_page=True),
     "header": lambda: ff.make_first_page_damaged(record, path, header=True),
     "schema": lambda: ff.make_first_page_damaged(record, path)}[kind]()
    before = ff.fingerprint(path)
    lines = [refused(ff.cli(*argv), path) for argv in every_command(path, secret)]
    assert ff.fingerprint(path) == before
    expected = {"random": "not an SQLite database", "truncated": "truncated", "truncated mid-page": "truncated",
                "header": "not an SQLite database", "schema": "damaged"}[kind]
    assert all(expected in line for line in lines), lines


@pytest.mark.parametrize("kind", ["recipes", "log table", "nothing"])
def test_another_applications_database_is_refused_and_left_as_it_was(kind, secret, tmp_path):
    path = ff.make_other_app(str(tmp_path / "theirs.db"), log_table=kind == "log table", empty=kind == "nothing")
    before = ff.fingerprint(path)
    for argv in every_command(path, secret):
        line = refused(ff.cli(*argv), path)
        assert "not a record" in line and "nothing in it was changed" in line
    digest, mode, beside = ff.fingerprint(path)
    assert (digest, mode, beside) == before
    assert stat.S_IMODE(mode) == 0o644              # not chmodded on the way to being refused
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"   # not switched to WAL
    assert {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")} \
        <= {"recipes", "log"}
    db.close()


def test_a_new_record_is_marked_and_an_old_one_of_ours_is_still_taken(record, secret, tmp_path):
    db = sqlite3.connect(record)
    assert db.execute("PRAGMA application_id").fetchone()[0] == files.APPLICATION_ID
    db.close()
    old = str(tmp_path / "old.db")
    shutil.copyfile(record, old)
    db = sqlite3.connect(old)           # as a record written before the mark existed
    db.execute("PRAGMA application_id = 0")
    db.execute("PRAGMA user_version = 0")
    db.close()
    assert ff.cli("verify", "--db", old).returncode == 0
    assert ff.cli("export", "--db", old, "--room", ROOM, "--format", "jsonl").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--db", old, "--port", "0",
                             "--secret-file", secret], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "session server on" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA application_id").fetchone()[0] == files.APPLICATION_ID   # stamped by the server
    db.close()
    assert ff.cli("verify", "--db", old).returncode == 0


def test_export_and_replay_of_a_record_damaged_in_the_middle_say_so_in_one_line(record, tmp_path):
    path = ff.make_middle_damaged(record, str(tmp_path / "middle.db"))
    for _label, argv in ff.readers(path)[1:]:
        assert "is damaged" in refused(ff.cli(*argv), path)
    r = ff.cli("verify", "--db", path)
    assert r.returncode == 1 and r.stdout.startswith("BAD: the database is damaged")


def test_a_damaged_index_is_not_called_ok_by_verify(record, tmp_path):
    path = str(tmp_path / "index.db")
    shutil.copyfile(record, path)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'log_room'").fetchone()[0]
    page = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(path, "r+b") as f:       # the log's rows stay whole: only the index is garbage
        f.seek((root - 1) * page)
        f.write(os.urandom(page))
    r = ff.cli("verify", "--db", path)
    assert r.returncode == 1 and "damaged" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("where", ["directory", "missing folder"])
def test_a_db_path_that_cannot_be_a_record_is_blamed_not_the_port(where, secret, tmp_path):
    path = str(tmp_path / "adir") if where == "directory" else str(tmp_path / "no" / "such" / "record.db")
    if where == "directory":
        os.makedirs(path)
    for argv in [a for _l, a in ff.writers(path, secret)] + [ff.readers(path)[0][1]]:
        line = refused(ff.cli(*argv), path)
        assert ("is a directory" if where == "directory" else "does not exist") in line or "no such record" in line
    assert not os.path.exists(os.path.join(str(tmp_path), "no"))


def test_a_record_on_a_read_only_file_system_is_named(secret, tmp_path):
    mnt = str(tmp_path / "ro")
    if ff.readonly_mount(mnt):
        try:
            rec = os.path.join(mnt, "record.db")
            assert "read-only file system" in refused(ff.cli(*ff.writers(rec, secret)[0][1]), rec)
            new = os.path.join(mnt, "new.db")
            assert "read-only file system" in refused(ff.cli(*ff.writers(new, secret)[0][1]), new)
            r = ff.cli("verify", "--db", rec)          # reading it still works
            assert r.returncode == 0, r.stderr
        finally:
            ff.unmount(mnt)
    else:
        # not root: a folder its user cannot write fails for real the same way
        os.makedirs(mnt, mode=0o500)
        new = os.path.join(mnt, "new.db")
        assert "not writable" in refused(ff.cli(*ff.writers(new, secret)[0][1]), new)


def test_a_secret_others_can_read_is_refused_before_any_record_is_made(secret, tmp_path):
    os.chmod(secret, 0o644)
    db = str(tmp_path / "fresh.db")
    line = refused(ff.cli("serve", "--db", db, "--port", "0", "--secret-file", secret), secret)
    assert "read or written by others" in line and "chmod 600" in line
    assert not os.path.exists(db)
    refused(ff.cli("token", "--room", "r", "--role", "participant", "--name", "A", "--secret-file", secret), secret)
    os.chmod(secret, 0o600)
    assert ff.cli("token", "--room", "r", "--role", "participant", "--name", "A",
                  "--secret-file", secret).returncode == 0


def test_the_consoles_local_server_refuses_a_bad_record_before_the_screen_opens(tmp_path):
    path = ff.make_random(str(tmp_path / "junk.db"))
    before = ff.fingerprint(path)
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), PYTHONPATH=ff.ROOT)
    r = subprocess.run([sys.executable, "-c", "import sys; from facilitator.cli import main; "
                        f"sys.exit(main(['--db', {path!r}, '--room', 'tue']))"],
                       capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"facilitator: {path} is not a record: it is not an SQLite database "
        "(another kind of file, or its first page is damaged)"], r.stderr
    assert ff.fingerprint(path) == before
