"""The wire contract shared by the server, the consoles and the participant clients.

No I/O lives here: only message types and their codecs.
"""
from protocol.frames import PROTOCOL_VERSION  # noqa: F401
