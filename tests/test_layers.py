"""The protocol and the engine stay pure: no event loop, no sockets, no database."""
import subprocess
import sys


def test_protocol_and_engine_import_no_io():
    code = ("import sys, protocol, protocol.frames, protocol.session, protocol.state, server.engine, server.engine.views;"
            "bad = [m for m in ('asyncio', 'websockets', 'sqlite3', '_sqlite3') if m in sys.modules];"
            "print(','.join(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "", r.stdout
