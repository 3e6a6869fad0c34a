"""The pure engine: decide and evolve, with no clock, I/O or randomness of its own."""
from server.engine.base import SYSTEM, Actor, Ctx, Emit, Rejected  # noqa: F401
from server.engine.core import (  # noqa: F401
    command_name, connect, copy_state, decide, disconnect, due, evolve, expire, issue_device, new_room,
    stop_drops,
)
