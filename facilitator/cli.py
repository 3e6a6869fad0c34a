"""`facilitator`: the console's command line.

    facilitator                              a demo group on a local server
    facilitator --room NAME                  an empty local room, with join links
    facilitator --program ID [--db F]        tonight's session of a program in the record
    facilitator --db F                       F's programs: tonight's sessions, or a new program
    facilitator URL [--token-file F]         a running server (token: file, $FACILITATOR_TOKEN, or prompt);
                                             a facilitator is offered tonight's sessions of their programs
    facilitator URL --program ID             tonight's session of that program on the server
    facilitator --replay RECORD.db --room R  a recorded session, read-only, with a timeline
    facilitator join URL ...                 the participant's terminal client

Nothing is printed while the console runs: logs go to a file, so they never
tear the interface.
"""
from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

ENV_TOKEN = "FACILITATOR_TOKEN"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, not a usage dump or a traceback
        sys.stderr.write(f"facilitator: {message} (see facilitator --help)\n")
        raise SystemExit(2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="facilitator", description="A terminal console for facilitators of live online groups.",
                epilog="facilitator join URL ...  opens the participant's terminal client.")
    p.add_argument("url", nargs="?", help="session server URL (ws:// or wss://)")
    p.add_argument("--token-file", help="file holding your token (else $FACILITATOR_TOKEN, else a prompt)")
    p.add_argument("--room", help="with no URL: open this room on a local server; with --replay: the room to replay")
    p.add_argument("--program", metavar="ID", help="open tonight's session of this program (local record, or URL's)")
    p.add_argument("--replay", metavar="RECORD.db", help="replay a recorded session read-only")
    p.add_argument("--db", help="the local server's record (default: in your data directory)")
    p.add_argument("--name", default="Dana", help="your display name in a local room (default: Dana)")
    p.add_argument("--seed", type=int, help="make the demo group behave the same each time")
    p.add_argument("--log-file", help="where to write logs (default: in your data directory)")
    return p


def _setup_logging(path: str | None) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    if path == "-" or path == "":
        root.addHandler(logging.NullHandler())
        return
    if path is None:
        from platformdirs import user_log_dir
        d = user_log_dir("group-console", appauthor=False)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "console.log")
    try:
        handler = logging.FileHandler(path)
    except OSError:
        root.addHandler(logging.NullHandler())
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _read_token(args) -> str:
    if args.token_file:
        try:
            with open(args.token_file) as f:
                token = f.read().strip()
        except FileNotFoundError:
            raise SystemExit(f"facilitator: no token file at {args.token_file}")
        except OSError as exc:
            raise SystemExit(f"facilitator: cannot read the token file {args.token_file}: {exc.strerror}")
        if not token:
            raise SystemExit(f"facilitator: the token file {args.token_file} is empty")
        return token
    token = os.environ.get(ENV_TOKEN, "").strip()
    if token:
        return token
    if not sys.stdin.isatty():
        raise SystemExit(f"facilitator: no token: use --token-file or set {ENV_TOKEN}")
    try:
        token = getpass.getpass("Token: ").strip()
    except (EOFError, KeyboardInterrupt):
        raise SystemExit(1)
    if not token:
        raise SystemExit("facilitator: no token given")
    return token


def _local_setup(args, demo: bool):
    """The embedded server and the room, started inside the console's own event loop."""
    from facilitator.app import Target
    from facilitator.local import FACILITATOR, invite_fn, staff_link, prepare_room, start_room_server, start_server
    from server.app import default_paths
    from server.tokens import load_secret

    async def setup(app) -> Target:
        db, secret_path = default_paths()
        if args.db:
            db = args.db
        elif demo:
            db = demo_db(db)
        moved = ""
        secret = load_secret(secret_path)
        program, day = None, None
        if demo:
            server = await start_server(db, secret)
        else:
            # a program's session runs on the record's own server, started before its room is known
            server, moved = await start_room_server(db, secret, args.room or args.program or "programs")
        group = None
        who = (FACILITATOR[0], args.name)
        if not demo and not args.room:
            from facilitator.program_pick import choose_session
            try:
                program, day, room, who = await choose_session(app, server, args.program, who)
            except BaseException:
                await server.stop()
                raise
            note = (f"{program.title or program.id}: room {room}. Record: {db}. "
                    "P shows the program; i issues join links.")
        elif demo:
            from facilitator.demo import DemoGroup, demo_room_name
            room = demo_room_name()
            group = DemoGroup(server, room, seed=args.seed)
            await group.start()
            note = ("A simulated group is joining. Try n (next speaker), o (open the mood poll), b (breakouts), "
                    "S (the closing survey). "
                    f"Its record: {db} (the demo's own, apart from your groups').")
        else:
            room = args.room
            from protocol.commands import Configure
            await prepare_room(server, room, Configure(title=room), who=who)
            note = (moved + " " if moved else "") + (
                f"Room {room} on port {server.port} (kept for next time). Record: {db}. "
                "Press i for participants' join links; quitting stops this room's server.")
        token_dir = os.path.join(os.path.dirname(db), "invites")

        async def stop() -> None:
            if group is not None:
                await group.stop()
            await server.stop()

        token = server.token(room, "facilitator", who[0], who[1])
        target = Target(server.url, token, invite=invite_fn(server, room, token_dir), stop=stop, note=note,
                        port=server.port, staff_link=staff_link(server, token),
                        hub=server.hub, program=(program.id, day) if program is not None else None,
                        http_url=server.http_url,
                        again="" if demo else (f"facilitator --program {program.id}" if program is not None
                                               else f"facilitator --room {room}"))
        if not demo and program is None:
            app.call_later(app.action_invite)
        return target
    return setup


def demo_db(records_db: str) -> str:
    """The demo's record, beside the user's: a demo member must never show up as absent
    in a real group's reports, so the demo never writes into records.db."""
    return os.path.join(os.path.dirname(records_db), "demo.db")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "join":
        try:
            from facilitator.participant import cli as participant_cli
        except ImportError as exc:
            sys.stderr.write(f"facilitator: the participant client is not installed ({exc})\n")
            return 2
        return participant_cli.main(argv[1:]) or 0

    args = parser().parse_args(argv)
    _setup_logging(args.log_file)

    from facilitator.app import ConsoleApp
    from facilitator.replay_console import ReplayApp

    if args.replay:
        if not args.room:
            parser().error("--replay needs --room R")
        if args.url:
            parser().error("--replay reads a record; it does not take a URL")
        from facilitator.replay import Replay, ReplayError
        try:
            replay = Replay.load(args.replay, args.room)
        except ReplayError as exc:
            sys.stderr.write(f"facilitator: {exc}\n")
            return 1
        ReplayApp(replay=replay).run()
        return 0

    if args.url:
        if args.room:
            parser().error("--room opens a local room; with a URL the token names the room")
        if not args.url.startswith(("ws://", "wss://")):
            parser().error(f"{args.url!r} is not a ws:// or wss:// URL")
        token = _read_token(args)
        # the record is the server's, on its machine: nothing is kept here but exports
        app = ConsoleApp(url=args.url, token=token, own_process=True,
                         note=f"The record is kept by the server at {args.url}.")
        app.start_program = args.program      # tonight's session of it, joined with the program's own token
        app.run()
        return 0

    if args.token_file:
        parser().error("--token-file goes with a URL")
    refusal = _bad_local_files(args)
    if refusal:
        sys.stderr.write(f"facilitator: {refusal}\n")
        return 2
    if args.program and args.room:
        parser().error("--program opens its own room (PROGRAM-DATE); leave out --room")
    # a record named (--db F) is the user's: its programs, or a new one, never the demo's group
    demo = not args.room and not args.program and not args.db
    ConsoleApp(setup=_local_setup(args, demo=demo), own_process=True).run()
    return 0


def _bad_local_files(args) -> str:
    """Why the local record or secret cannot be used, said before the screen takes over
    (inside the app it would be a traceback on a screen that then closes); empty if fine."""
    from server.app import default_paths
    from server.record import RecordFileError
    from server.record.files import check
    from server.tokens import TokenError, load_secret
    db, secret_path = default_paths()
    try:
        check(args.db or (db if args.room or args.program else demo_db(db)), create=True)
        if os.path.exists(secret_path):
            load_secret(secret_path, create=False)
    except (RecordFileError, TokenError) as exc:
        return str(exc)
    return ""


if __name__ == "__main__":
    raise SystemExit(main())
