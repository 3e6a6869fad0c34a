"""`session-server`: serve, token, invite, replay, export, verify."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that says one clear line on a bad flag."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def _die(msg: str, code: int = EXIT_USAGE):
    print(f"session-server: {msg}", file=sys.stderr)
    sys.exit(code)


def _default_secret() -> str:
    from server.app import default_paths
    return default_paths()[1]


def _secret(path: str | None, create: bool = True) -> bytes:
    from server import tokens
    try:
        return tokens.load_secret(path or _default_secret(), create=create)
    except (tokens.TokenError, OSError) as exc:
        _die(str(exc))


def _record(path: str, must_exist: bool = True):
    from server.record import Record
    if must_exist and not os.path.exists(path):
        _die(f"no such record: {path}")
    import sqlite3
    try:
        return Record(path, readonly=True)
    except sqlite3.DatabaseError as exc:
        _die(f"{path} is not a readable record: {exc}")


def cmd_serve(a) -> int:
    from server.app import EmbeddedServer, default_paths
    db = a.db or default_paths()[0]
    if bool(a.certfile) != bool(a.keyfile):
        _die("--certfile and --keyfile go together")
    for f in (a.certfile, a.keyfile):
        if f and not os.path.exists(f):
            _die(f"no such file: {f}")
    secret = _secret(a.secret_file)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def main():
        server = EmbeddedServer(db, secret, host=a.host, port=a.port, certfile=a.certfile, keyfile=a.keyfile)
        try:
            await server.start()
        except OSError as exc:
            _die(f"cannot listen on {a.host}:{a.port}: {exc.strerror}")
        from server import pauses
        if os.environ.get("SESSION_SERVER_GC") != "default":   # "default": CPython's own, for comparisons
            pauses.install()      # this process is the server: keep collector pauses short
        print(f"session server on {server.url} (record: {db})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()
    asyncio.run(main())
    return EXIT_OK


def cmd_token(a) -> int:
    import time
    from server import tokens
    try:
        ttl = tokens.parse_ttl(a.ttl)
    except ValueError as exc:
        _die(str(exc))
    secret = _secret(a.secret_file)
    pid = a.id or _slug(a.name)
    print(tokens.sign(secret, tokens.Claims(room=a.room, role=a.role, id=pid, name=a.name,
                                            exp=time.time() + ttl)))
    return EXIT_OK


def _slug(name: str) -> str:
    import re
    import secrets
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "person"
    return f"{base}-{secrets.token_hex(2)}"


def cmd_invite(a) -> int:
    from server import tokens
    try:
        from server.web.links import invite_link
    except ImportError:
        _die("the participant page is not installed in this build")
    try:
        ttl = tokens.parse_ttl(a.ttl)
    except ValueError as exc:
        _die(str(exc))
    secret = _secret(a.secret_file)
    print(invite_link(secret, a.room, a.name, a.id or _slug(a.name), a.base_url, ttl))
    return EXIT_OK


def cmd_verify(a) -> int:
    rec = _record(a.db)
    res = rec.verify()
    if res.ok:
        from server import snapshots
        checked, skipped, problems = snapshots.audit(rec)
        if problems:
            for p in problems:
                print(f"BAD: {p}")
            return EXIT_FAIL
        if checked or skipped:
            print(f"ok: {checked} room snapshots equal the fold of the log"
                  + (f" ({skipped} from another version of the fold, unused and not checked)" if skipped else ""))
    if res.ok and a.expect_head and res.head != a.expect_head.lower():
        # a head kept earlier must still be a link of the chain: rows may have been
        # added after it, but none before it rewritten (hashes and all) or removed
        try:
            pinned = bytes.fromhex(a.expect_head)
        except ValueError:
            _die("--expect-head takes a hash in hex, as verify prints it")
        row = rec.db.execute("SELECT id FROM log WHERE hash = ?", (pinned,)).fetchone()
        if row is None:
            print(f"BAD: the chain is whole, but the head {a.expect_head} kept elsewhere is no longer in it: "
                  "rows up to it were rewritten or removed")
            return EXIT_FAIL
        print(f"ok: {res.rows} rows, hash chain intact, extending the kept head at row {row[0]}; head {res.head}")
        return EXIT_OK
    if res.ok:
        print(f"ok: {res.rows} rows, hash chain intact; head {res.head}")
        return EXIT_OK
    print(f"BAD: {res.problem}" + (f" (first bad row: {res.bad_id})" if res.bad_id else ""))
    return EXIT_FAIL


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.chmod(path, 0o600)


def cmd_export(a) -> int:
    from server import export
    if a.list or a.program or a.format not in (None, "jsonl", "attendance-csv", "absences"):
        from server.programs.cli import cmd_export as program_export, run
        return run(program_export, a, lambda text: _write_private(a.out, text) if a.out else sys.stdout.write(text))
    if not a.format:
        _die("export needs --format (or --list)")
    rec = _record(a.db)
    try:
        if a.format == "absences":
            text = export.absences_csv(rec)
        else:
            if not a.room:
                _die(f"--format {a.format} needs --room")
            text = export.jsonl(rec, a.room) if a.format == "jsonl" else export.attendance_csv(rec, a.room)
    except LookupError as exc:
        _die(str(exc), EXIT_FAIL)
    if a.out:
        _write_private(a.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_replay(a) -> int:
    if a.scenario:
        if a.room or a.at:
            _die("give a scenario file, or --db with --room, not both")
        if os.path.isdir(a.scenario):      # a program's library: played in order against one record
            from server.programs.cli import cmd_replay_directory, run
            return run(cmd_replay_directory, a)
        return _replay_scenario(a)
    if not a.db or not a.room:
        _die("replay needs a SCENARIO.toml, or --db RECORD.db --room R")
    from server import review
    from server.scenarios.script import parse_time
    offset = None
    if a.at:
        try:
            offset = parse_time(a.at)
        except ValueError as exc:
            _die(str(exc))
    rec = _record(a.db)
    try:
        state, now, history = review.fold_until(rec, a.room, offset)
    except LookupError as exc:
        _die(str(exc), EXIT_FAIL)
    desc = review.describe(state, now)
    tl = review.timeline(history, state.opened_at) if offset is None else None
    if a.json:
        out = {"state": desc}
        if tl is not None:
            out["timeline"] = [{"at": t, "event": x} for t, x in tl]
        print(json.dumps(out))
    else:
        print(review.render(desc))
        if tl is not None:
            print("\ntimeline:")
            for t, x in tl:
                print(f"  {t:>8}  {x}")
    return EXIT_OK


def _replay_scenario(a) -> int:
    from server.scenarios.runner import run_scenario
    from server.scenarios.script import ScriptError
    try:
        result = run_scenario(a.scenario, a.db)
    except ScriptError as exc:
        if a.json:
            print(json.dumps({"scenario": a.scenario, "valid": False, "line": exc.line, "error": exc.message}))
        else:
            print(f"{a.scenario}: invalid scenario: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if a.json:
        print(json.dumps(result.summary()))
    else:
        for f in result.failures:
            print(f"FAIL {f}")
        verdict = "passed" if result.passed else "FAILED"
        print(f"{a.scenario}: {verdict}: {result.steps} steps, {result.checks} checks, "
              f"{len(result.failures)} failed; {result.events} events over {result.summary()['virtual_time']} "
              f"of session time in {result.wall_seconds:.2f} s"
              + (f"; record in {a.db}" if a.db else ""))
    return EXIT_OK if result.passed else EXIT_FAIL


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="session-server", description="The session server for live online therapy groups.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("serve", help="run the server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--db", help="the record (SQLite); default: in the user's data directory")
    s.add_argument("--certfile")
    s.add_argument("--keyfile")
    s.add_argument("--secret-file", help="the signing secret; created (mode 0600) if missing")
    s.set_defaults(fn=cmd_serve)

    t = sub.add_parser("token", help="print a signed token for one person")
    t.add_argument("--room", required=True)
    t.add_argument("--role", required=True, choices=["facilitator", "cofacilitator", "observer", "participant"])
    t.add_argument("--name", required=True)
    t.add_argument("--id")
    t.add_argument("--ttl", default="12h")
    t.add_argument("--secret-file")
    t.set_defaults(fn=cmd_token)

    i = sub.add_parser("invite", help="print a participant's join link")
    i.add_argument("--room", required=True)
    i.add_argument("--name", required=True)
    i.add_argument("--id")
    i.add_argument("--base-url", default="http://127.0.0.1:8765")
    i.add_argument("--ttl", default="12h")
    i.add_argument("--secret-file")
    i.set_defaults(fn=cmd_invite)

    r = sub.add_parser("replay", help="play a scenario, or review a recorded session")
    r.add_argument("scenario", nargs="?", help="a scenario file (.toml)")
    r.add_argument("--db", help="the record to write (scenario) or read (review)")
    r.add_argument("--room", help="the room to review")
    r.add_argument("--at", help="review the room at this offset from the open (H:MM:SS)")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.set_defaults(fn=cmd_replay)

    x = sub.add_parser("export", help="export from the record")
    x.add_argument("--db", required=True)
    x.add_argument("--room")
    x.add_argument("--format", choices=["jsonl", "attendance-csv", "absences", "hours", "followup", "note",
                                        "member", "fhir"])
    x.add_argument("--out", help="write to this file (mode 0600) instead of standard output")
    x.set_defaults(fn=cmd_export)
    from server.programs.cli import add_export_arguments, add_parser as add_program_parser
    add_export_arguments(x)
    add_program_parser(sub)

    v = sub.add_parser("verify", help="check the record's hash chain")
    v.add_argument("--db", required=True)
    v.add_argument("--expect-head", help="a head hash printed by an earlier verify and kept elsewhere: "
                                         "proves nothing was rewritten since, hashes included")
    v.set_defaults(fn=cmd_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
