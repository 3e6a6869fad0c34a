"""Bad files against the real CLI: each is refused in one line, and none is changed.

Every command that opens a record (`serve`, `verify`, `export`, `replay --db`,
and `replay SCENARIO --db`, which writes one) is run as a subprocess, exactly
as `session-server`, on files made here: random bytes, a truncated record, a
record whose first page is damaged, one damaged in the middle, another
application's SQLite database (with and without a table named `log`), an
SQLite file with nothing in it, a directory, a path in a missing folder, and
(as root) a read-only file system; and a secret file that others can read.

Each must end with exit 2 and exactly one line on stderr that names the file,
no traceback; a file that is not ours must keep its bytes, its mode and its
neighbours (no -wal or -shm made beside it). `bad_files()` returns the figures
and the failures, for `python -m campaigns faults` to print with its own.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from campaigns.common import SCENARIOS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO = os.path.join(SCENARIOS, "evening_group_90min.toml")
ROOM = "tue-evening-iop"        # the room of that scenario


def cli(*args: str, cwd: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


# --- the files -------------------------------------------------------------------------

def make_record(path: str) -> str:
    """A real record, written by the real CLI."""
    r = cli("replay", SCENARIO, "--db", path)
    if r.returncode != 0:
        raise RuntimeError(f"could not make a record: {r.stdout}{r.stderr}")
    return path


def make_random(path: str, size: int = 40_960) -> str:
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def make_truncated(record: str, path: str, mid_page: bool = False) -> str:
    with open(record, "rb") as f:
        data = f.read()
    cut = len(data) // 2 // 4096 * 4096 + (100 if mid_page else 0)
    with open(path, "wb") as f:
        f.write(data[:cut])
    return path


def make_first_page_damaged(record: str, path: str, header: bool = False) -> str:
    """Garbage over page 1: its 100-byte header, or the schema that follows it."""
    with open(record, "rb") as f:
        data = bytearray(f.read())
    start, end = (0, 100) if header else (100, 4096)
    data[start:end] = os.urandom(end - start)
    with open(path, "wb") as f:
        f.write(data)
    return path


def make_middle_damaged(record: str, path: str) -> str:
    """Garbage over the page that holds one of the room's event bodies."""
    db = sqlite3.connect(f"file:{record}?mode=ro", uri=True)
    bodies = [bytes(b) for (b,) in db.execute("SELECT body FROM log WHERE room=? ORDER BY id", (ROOM,))]
    db.close()
    with open(record, "rb") as f:
        data = bytearray(f.read())
    for body in sorted(bodies, key=len, reverse=True):
        at = data.find(body)
        if at > 4096 and len(body) >= 16:
            page = at // 4096 * 4096
            data[page:page + 4096] = os.urandom(4096)
            with open(path, "wb") as f:
                f.write(data)
            return path
    raise RuntimeError("no event body found in one piece past the first page")


def make_other_app(path: str, log_table: bool = False, empty: bool = False) -> str:
    """Another application's SQLite file, as it would leave it (rollback journal, mode 0644)."""
    db = sqlite3.connect(path)
    if empty:
        db.execute("VACUUM")
    elif log_table:
        db.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, at TEXT, line TEXT)")
        db.execute("INSERT INTO log (at, line) VALUES ('09:00', 'backup done')")
    else:
        db.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO recipes (name) VALUES ('soup')")
    db.commit()
    db.close()
    os.chmod(path, 0o644)
    return path


def fingerprint(path: str) -> tuple:
    """What "left as it was" means: the bytes, the mode, and no files beside it."""
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return digest, os.stat(path).st_mode, tuple(os.path.exists(path + s) for s in ("-wal", "-shm", "-journal"))


def readonly_mount(where: str) -> bool:
    """A read-only tmpfs at `where`, holding a record (root only); False if it cannot be made."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    os.makedirs(where, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", where], capture_output=True).returncode:
        return False
    make_record(os.path.join(where, "record.db"))
    r = subprocess.run(["mount", "-o", "remount,ro", where], capture_output=True)
    if r.returncode:
        unmount(where)
        return False
    return True


def unmount(where: str) -> None:
    subprocess.run(["umount", where], capture_output=True)


# --- the commands ----------------------------------------------------------------------

def readers(db: str) -> list[tuple[str, list[str]]]:
    return [("verify", ["verify", "--db", db]),
            ("export", ["export", "--db", db, "--room", ROOM, "--format", "jsonl"]),
            ("replay", ["replay", "--db", db, "--room", ROOM])]


def writers(db: str, secret: str) -> list[tuple[str, list[str]]]:
    return [("serve", ["serve", "--db", db, "--port", "0", "--secret-file", secret]),
            ("replay-scenario", ["replay", SCENARIO, "--db", db])]


def one_clear_line(r: subprocess.CompletedProcess, names: str) -> str:
    """Empty if `r` is a refusal as wanted, else what is wrong with it."""
    lines = r.stderr.strip().splitlines()
    if r.returncode != 2:
        return f"exit {r.returncode}, not 2: {r.stderr.strip()[-300:] or r.stdout.strip()[-300:]}"
    if "Traceback" in r.stderr:
        return "a traceback"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr, not one"
    if names not in lines[0]:
        return f"the line does not name {names}: {lines[0]}"
    if "cannot listen" in lines[0]:
        return f"the line blames the port: {lines[0]}"
    return ""


def bad_files(workdir: str | None = None, quick: bool = False) -> tuple[dict, list[str]]:
    """Runs every case; returns (figures, failures)."""
    wd = workdir or tempfile.mkdtemp(prefix="campaign-files-")
    figures: dict = {"file_cases": 0, "file_runs": 0, "file_refusals_one_line": 0, "files_left_unchanged": 0}
    failures: list[str] = []
    secret = os.path.join(wd, "secret")
    fd = os.open(secret, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, os.urandom(32).hex().encode())
    os.close(fd)

    def expect_refusal(case: str, label: str, argv: list[str], names: str) -> None:
        r = cli(*argv, cwd=wd)
        figures["file_runs"] += 1
        why = one_clear_line(r, names)
        if why:
            failures.append(f"{case}, {label}: {why}")
        else:
            figures["file_refusals_one_line"] += 1

    try:
        record = make_record(os.path.join(wd, "record.db"))
        files = {
            "random bytes": make_random(os.path.join(wd, "random.db")),
            "truncated": make_truncated(record, os.path.join(wd, "truncated.db")),
            "truncated mid-page": make_truncated(record, os.path.join(wd, "cut.db"), mid_page=True),
            "first page header damaged": make_first_page_damaged(record, os.path.join(wd, "header.db"), True),
            "first page schema damaged": make_first_page_damaged(record, os.path.join(wd, "schema.db")),
            "another application's database": make_other_app(os.path.join(wd, "recipes.db")),
            "an unrelated log table": make_other_app(os.path.join(wd, "applog.db"), log_table=True),
            "an empty SQLite database": make_other_app(os.path.join(wd, "nothing.db"), empty=True),
        }
        if quick:
            files = {k: v for k, v in files.items() if k in ("random bytes", "an unrelated log table")}
        for case, path in files.items():
            figures["file_cases"] += 1
            before = fingerprint(path)
            for label, argv in readers(path) + writers(path, secret):
                expect_refusal(case, label, argv, path)
            if fingerprint(path) != before:
                failures.append(f"{case}: the file was changed (bytes, mode or files beside it)")
            else:
                figures["files_left_unchanged"] += 1

        # damage past the first page: the readers that reach it say so in one line
        figures["file_cases"] += 1
        middle = make_middle_damaged(record, os.path.join(wd, "middle.db"))
        for label, argv in readers(middle)[1:]:
            expect_refusal("damaged in the middle", label, argv, middle)
        r = cli("verify", "--db", middle, cwd=wd)
        figures["file_runs"] += 1
        if r.returncode != 1 or not r.stdout.startswith("BAD"):
            failures.append(f"damaged in the middle, verify: exit {r.returncode}, {r.stdout.strip()[:200]}")

        places = {"a directory": os.path.join(wd, "adir"),
                  "a missing folder": os.path.join(wd, "no", "such", "folder", "record.db")}
        os.makedirs(places["a directory"])
        for case, path in places.items():
            figures["file_cases"] += 1
            for label, argv in writers(path, secret) + readers(path)[:1]:
                expect_refusal(case, label, argv, path)

        mnt = os.path.join(wd, "ro")
        if readonly_mount(mnt):
            try:
                figures["file_cases"] += 1
                ro = os.path.join(mnt, "record.db")
                expect_refusal("a read-only file system", "serve", writers(ro, secret)[0][1], ro)
                expect_refusal("a read-only file system (new)", "serve",
                               writers(os.path.join(mnt, "new.db"), secret)[0][1], os.path.join(mnt, "new.db"))
                r = cli("verify", "--db", ro, cwd=wd)
                figures["file_runs"] += 1
                if r.returncode != 0:
                    failures.append(f"a read-only file system: verify cannot read the record: {r.stderr.strip()}")
            finally:
                unmount(mnt)
        else:
            figures["readonly_mount"] = "not possible here (not root)"

        figures["file_cases"] += 1
        loose = os.path.join(wd, "loose-secret")
        shutil.copyfile(secret, loose)
        os.chmod(loose, 0o644)
        expect_refusal("a secret others can read", "serve",
                       writers(os.path.join(wd, "fresh.db"), loose)[0][1], loose)
        if os.path.exists(os.path.join(wd, "fresh.db")):
            failures.append("a secret others can read: the record was created before the secret was refused")
    finally:
        if workdir is None:
            shutil.rmtree(wd, ignore_errors=True)
    return figures, failures


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    p = argparse.ArgumentParser(prog="python -m campaigns.faults_files", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    figures, failures = bad_files(quick=a.quick)
    for f in failures:
        print(f"FAIL files: {f}", file=sys.stderr)
    print(json.dumps({"campaign": "faults-files", **figures, "failures": len(failures),
                      "first_failures": failures[:10]}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
