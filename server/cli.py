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
STOP_WITHIN = 5.0     # seconds from SIGTERM to exit, whatever the record or the clients do


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


def _record(path: str):
    """Opens a record to read, or says in one line why this file (or database) is not one (exit 2)."""
    from server.record import Record, RecordFileError, is_postgres
    if is_postgres(path):
        from server.record.postgres import PostgresRecord, RecordUnavailable
        try:
            return PostgresRecord(path, readonly=True)
        except RecordUnavailable as exc:
            _die(str(exc))
    import sqlite3
    try:
        return Record(path, readonly=True)
    except RecordFileError as exc:
        _die(str(exc))
    except sqlite3.DatabaseError as exc:
        _die(f"the record {path} is damaged: {exc}")


class _Damage:
    """Around the reading of a record that opened: damage found later (a bad page
    in the middle, a body that does not decode) is one line and exit 2, as at
    the start. `verify` says which row; this only says where to look."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        import sqlite3
        import msgspec
        if kind is not None and issubclass(kind, (sqlite3.DatabaseError, msgspec.DecodeError,
                                                  msgspec.ValidationError)):
            _die(f"the record {self.path} is damaged ({exc}); `session-server verify --db {self.path}` "
                 "checks it")
        return False


def _media_options(a, db: str):
    from server.media.options import from_args
    return from_args(a, db, _die)


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
        from server.record import RecordLocked
        server = EmbeddedServer(db, secret, host=a.host, port=a.port, certfile=a.certfile, keyfile=a.keyfile,
                                allowed_hosts=set(a.allow_host or ()), allowed_origins=set(a.allow_origin or ()),
                                advertise=a.advertise, media=_media_options(a, db))
        try:
            await server.start()
        except RecordLocked as exc:
            _die(str(exc))
        except Exception as exc:    # noqa: BLE001 - said in one line, below
            _serve_failed(exc, db, a)
        from server import pauses
        if os.environ.get("SESSION_SERVER_GC") != "default":   # "default": CPython's own, for comparisons
            pauses.install()      # this process is the server: keep collector pauses short
        from server.record.pgconnection import safe_url
        print(f"session server on {server.url} (record: {safe_url(db)})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        _stop_watchdog(STOP_WITHIN - 0.5)   # the exit itself takes a moment: within STOP_WITHIN in all
        try:
            await asyncio.wait_for(server.stop(), STOP_WITHIN - 1.0)
        except (asyncio.TimeoutError, TimeoutError):
            logging.getLogger("session_server").error("stopped before every connection had closed")
    asyncio.run(main())
    return EXIT_OK


def _serve_failed(exc: Exception, db: str, a) -> None:
    """One line for a start that failed: the record's fault, or the port's."""
    import sqlite3
    import msgspec
    from server.record import RecordFileError
    if isinstance(exc, RecordFileError):
        _die(str(exc))
    if isinstance(exc, (sqlite3.DatabaseError, msgspec.DecodeError, msgspec.ValidationError)):
        # the first page was sound, but folding the rooms met a damaged page or row
        _die(f"the record {db} is damaged ({exc}); `session-server verify --db {db}` checks it")
    if isinstance(exc, OSError):
        _die(f"cannot listen on {a.host}:{a.port}: {exc.strerror or exc}")
    raise exc


def _stop_watchdog(seconds: float) -> None:
    """Ends the process after `seconds` if the orderly stop has not: a thread stuck
    in a write must not keep a stopped server alive (what the record acknowledged
    is durable already; what it did not was never shown to anyone)."""
    import threading

    def hard_exit():
        os.write(2, b"session-server: the orderly stop took too long; exiting now\n")
        os._exit(EXIT_FAIL)
    t = threading.Timer(seconds, hard_exit)
    t.daemon = True
    t.start()


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
        damage = _structure(rec)
        if damage:
            # the chain reads whole, but a page it does not walk (an index) is
            # damaged: exports and replays would fail on it, so it is no "ok"
            print(f"BAD: the database is damaged: {damage}")
            return EXIT_FAIL
        from server import snapshots
        with _Damage(a.db):
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
        from server.record import is_postgres
        if is_postgres(a.db):
            # its head digests every room's chain: a kept one matches only while nothing was added
            print(f"BAD: the head is {res.head}, not the kept {a.expect_head}: the record changed since "
                  "(on PostgreSQL a kept head pins the whole record, rows added since included)")
            return EXIT_FAIL
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


def _structure(rec) -> str:
    """The database's own check of its pages and indexes; empty when sound."""
    return rec.structure()


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.chmod(path, 0o600)


def cmd_export(a) -> int:
    if a.list or a.program or a.format not in (None, "jsonl", "attendance-csv", "absences"):
        from server.programs.cli import cmd_export as program_export, run
        return run(program_export, a, lambda text: _write_private(a.out, text) if a.out else sys.stdout.write(text))
    if not a.format:
        _die("export needs --format (or --list)")
    rec = _record(a.db)
    with _Damage(a.db):
        return _export(a, rec)


def _export(a, rec) -> int:
    from server import export
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
    from protocol.timefmt import parse_hms
    offset = None
    if a.at:
        try:
            offset = parse_hms(a.at)
        except ValueError as exc:
            _die(str(exc))
    rec = _record(a.db)
    with _Damage(a.db):
        try:
            state, now, history = review.fold_until(rec, a.room, offset)
        except LookupError as exc:
            _die(str(exc), EXIT_FAIL)
        desc = review.moment(state, now)
        tl = review.timeline(state, history) if offset is None else None
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
    from server.record import RecordFileError, RecordLocked
    from server.scenarios.runner import run_scenario
    from server.scenarios.script import ScriptError
    try:
        result = run_scenario(a.scenario, a.db)
    except (RecordFileError, RecordLocked) as exc:   # not a record, or one being served
        _die(str(exc))
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


def cmd_migrate(a) -> int:
    from server.record.migrate import run_cli
    return run_cli(a, _die)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="session-server", description="The session server for live online therapy groups.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("serve", help="run the server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--db", help="the record: a SQLite file, or postgresql://user@host:port/dbname; default: a file in the user's data directory")
    s.add_argument("--certfile")
    s.add_argument("--keyfile")
    s.add_argument("--secret-file", help="the signing secret; created (mode 0600) if missing")
    s.add_argument("--allow-host", action="append", metavar="NAME",
                   help="a host name clients reach this server by (IP addresses and localhost always work); "
                        "requests naming any other host are refused, against DNS rebinding; may be repeated")
    s.add_argument("--allow-origin", action="append", metavar="URL",
                   help="a page origin, such as https://group.example.org behind a TLS proxy, whose pages may "
                        "open websockets here besides this server's own; may be repeated")
    s.add_argument("--advertise", help="with a PostgreSQL record: the ws:// address other servers relay this "
                                       "server's rooms to (default: ws://HOST:PORT)")
    s.add_argument("--no-media", action="store_true", help="no voice or video (Janus is not started)")
    s.add_argument("--janus", metavar="URL", help="use a Janus that already runs: its API's websocket address "
                                                "(ws://127.0.0.1:8188); with --janus-secrets")
    s.add_argument("--janus-secrets", help="use a Janus that already runs: a JSON file (mode 0600) with its "
                                          "url, admin_url, admin_secret and room_key (--janus overrides url)")
    s.add_argument("--media-interfaces", help="the network interfaces Janus offers for media (ice_enforce_list)")
    s.add_argument("--media-public-ip", help="this machine's public address, behind a 1:1 NAT")
    s.add_argument("--stun", help="a STUN server, host:port")
    s.add_argument("--talk-level", type=int, default=55, help="talking is an average audio level above -N dBov "
                                                             "(default 55; higher is more sensitive)")
    s.add_argument("--talk-packets", type=int, default=25, help="... over N packets of 20 ms (default 25)")
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
                                        "member", "fhir", "survey"])
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

    m = sub.add_parser("migrate", help="copy a SQLite record into PostgreSQL")
    m.add_argument("--from", required=True, help="the SQLite record")
    m.add_argument("--to", required=True, help="postgresql://user@host:port/dbname (an empty database)")
    m.set_defaults(fn=cmd_migrate)
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
