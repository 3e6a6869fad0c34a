"""The real `facilitator` command in a real terminal (tmux): the demo group comes alive,
a key does what the footer says, and nothing but the interface reaches the screen."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from facilitator.cli import main

pytestmark = pytest.mark.usefixtures("needs_tmux")


SOCKET = f"console-test-{os.getpid()}"       # a private tmux server: nobody else's sessions or sizes


def tmux(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", "-L", SOCKET, "-f", "/dev/null", *args], **kw)


def _capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session, capture_output=True, text=True).stdout


def _wait(session: str, cond, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = _capture(session)
        if cond(screen):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen was:\n{screen}")
        time.sleep(0.2)


def test_demo_in_a_terminal_comes_alive_and_answers_keys(tmp_path):
    session = f"fac-{uuid.uuid4().hex[:8]}"
    exe = shutil.which("facilitator") or f"{sys.executable} -m facilitator.cli"
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "TERM": "xterm-256color"}
    # the terminal's own size, not one a test runner may have put in COLUMNS/LINES
    command = ("unset COLUMNS LINES; " + " ".join(f"{k}={v}" for k, v in env.items())
               + f" {exe} --seed 7 --log-file {tmp_path / 'log'}")
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command, check=True)
    try:
        screen = _wait(session, lambda s: "● live" in s and "Harper" in s and "Roster 8/" in s, 30,
                       "the demo group to come in")
        assert "IOP Tuesday evening" in screen
        assert "Traceback" not in screen and "INFO" not in screen      # logs go to the file
        tmux("send-keys", "-t", session, "o", check=True)
        _wait(session, lambda s: "● open" in s, 10, "the mood poll to open")
        _wait(session, lambda s: "answered" in s and "0 answered" not in s, 20, "the first answers")
        tmux("send-keys", "-t", session, "q", check=True)
        _wait(session, lambda s: "Quit while the session is open?" in s, 10, "the question before quitting")
        tmux("send-keys", "-t", session, "y", check=True)
        _wait(session, lambda s: "● live" not in s, 10, "the console to quit")
    finally:
        tmux("kill-server", capture_output=True)
    # the demo keeps a record of its own: the user's records.db never hears of it
    assert os.path.exists(tmp_path / "data" / "group-console" / "demo.db")
    assert not os.path.exists(tmp_path / "data" / "group-console" / "records.db")


def test_a_bad_flag_is_one_clear_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--no-such-flag"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--no-such-flag" in err and "Traceback" not in err


def test_url_mode_needs_a_token_from_a_file_env_or_prompt(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FACILITATOR_TOKEN", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    with pytest.raises(SystemExit) as exc:
        main(["ws://127.0.0.1:9"])
    assert "token" in str(exc.value.code)
    with pytest.raises(SystemExit) as exc:
        main(["ws://127.0.0.1:9", "--token-file", str(tmp_path / "missing")])
    assert "token file" in str(exc.value.code)
    with pytest.raises(SystemExit):
        main(["http://example.invalid"])
    assert "ws://" in capsys.readouterr().err
