"""A program's scenario library: a directory played in order against one record.

The directory holds program files (a `[program]` table), session scenarios,
and optionally `makeups.toml` (`[[makeup]]` with program, member, missed,
in). Programs are imported first (in name order), then the sessions play in
name order, each against the same record, then the make-ups are recorded:
exactly what a clinic's history would be after those evenings.
"""
from __future__ import annotations

import glob
import os
import tomllib

from server.programs import store
from server.programs.spec import ProgramError, load as load_spec


def files(directory: str) -> tuple[list[str], list[str], str | None]:
    """(program files, session files, makeups file or None), each in name order."""
    programs, sessions = [], []
    for path in sorted(glob.glob(os.path.join(directory, "*.toml"))):
        if os.path.basename(path) == "makeups.toml":
            continue
        with open(path, "rb") as f:
            try:
                top = tomllib.load(f)
            except tomllib.TOMLDecodeError as exc:
                raise ProgramError(f"{path}: not valid TOML: {exc}") from None
        (programs if "program" in top else sessions).append(path)
    mk = os.path.join(directory, "makeups.toml")
    return programs, sessions, mk if os.path.exists(mk) else None


def import_file(record, path: str) -> int:
    spec = load_spec(path)
    current = store.load_program(record, spec.defined.id)
    events = store.import_events(current, spec)
    store.append(record, current or store.Program(id=spec.defined.id), events)
    return len(events)


def makeups(path: str) -> list[dict]:
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ProgramError(f"{path}: not valid TOML: {exc}") from None
    out = data.get("makeup", [])
    if not isinstance(out, list):
        raise ProgramError(f"{path}: makeups are an array of tables [[makeup]]")
    for i, m in enumerate(out, 1):
        if set(m) != {"program", "member", "missed", "in"}:
            raise ProgramError(f"{path}: makeup {i} needs exactly program, member, missed and in")
    return out
