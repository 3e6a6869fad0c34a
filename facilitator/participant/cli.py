"""`facilitator join URL --token-file F`: the command line of the participant's client."""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from websockets.exceptions import InvalidURI

from facilitator.participant.app import ParticipantApp
from facilitator.participant.link import ENDINGS, REFUSED
from server.web.links import token_from_link, websocket_url

def read_token(args, url: str, env=os.environ, prompt=getpass.getpass) -> str:
    """The token from a file, the environment or a prompt (each may hold a whole join link).
    A token inside the URL argument works too, with a warning: command lines are visible."""
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            return token_from_link(f.read())
    if env.get("FACILITATOR_TOKEN"):
        return token_from_link(env["FACILITATOR_TOKEN"])
    if "#t=" in url:
        print("warning: a token on the command line can be seen by other users of this machine; "
              "prefer --token-file or FACILITATOR_TOKEN", file=sys.stderr)
        return token_from_link(url)
    return token_from_link(prompt("Paste your join link or token (hidden): "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="facilitator join",
        description="Join a group session as a participant, in the terminal.")
    parser.add_argument("url", metavar="URL", help="the session server, e.g. http://host:8765 or ws://host:8765")
    parser.add_argument("--token-file", metavar="F", help="a file holding your token or join link")
    args = parser.parse_args(argv)
    try:
        ws_url = websocket_url(args.url)
        token = read_token(args, args.url)
    except FileNotFoundError:
        print(f"facilitator join: there is no token file at {args.token_file} "
              "(save your join link in a file and give that file)", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"facilitator join: cannot read the token file {args.token_file}: "
              f"{(exc.strerror or type(exc).__name__).lower()}", file=sys.stderr)
        return 2
    except (ValueError, InvalidURI) as exc:
        print(f"facilitator join: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        return 130
    if not token:
        print("facilitator join: a token is needed", file=sys.stderr)
        return 2
    app = ParticipantApp(ws_url, token)
    app.run()
    if app.link.final in REFUSED:
        # the screen said it; the shell keeps one line of it, and scripts see a failure
        title, msg = ENDINGS[app.link.final]
        print(f"facilitator join: {title.lower()}. {msg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
