"""The participant page: plain HTTP on the session server's own port.

The gateway hands every request that is not a websocket upgrade to the
callable `make_http_handler()` returns. It serves one page (at `/` and
`/join`) and the files under `static/`, all read once from inside the
package: no build step, nothing fetched from anywhere else at run time.

The join link carries the participant's token in the URL fragment, which
browsers never send, so no request that reaches here (or a proxy's log)
holds it. The headers make the page hard to misuse: a Content-Security-
Policy that allows scripts, styles and connections only from this origin
(the websocket included), no framing, no referrer, and no caching of the
page itself.
"""
from __future__ import annotations

import email.utils
import hashlib
import http
import re
from pathlib import Path

from websockets.datastructures import Headers, MultipleValuesError
from websockets.http11 import Response

STATIC_DIR = Path(__file__).parent / "static"
PAGE = "index.html"
PAGE_PATHS = ("/", "/join", "/join/")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}

# A Host header is copied into the CSP's connect-src only when it is plainly a
# host name or address with an optional port: nothing else can smuggle a source.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$")


def load_static(root: Path = STATIC_DIR) -> dict[str, tuple[bytes, str]]:
    """Every servable file, by URL path under /static/, read once.

    Only files with a known type are served, so an editor's backup or a stray
    file in the folder never leaks, and no request path ever reaches the disk.
    """
    files: dict[str, tuple[bytes, str]] = {}
    for path in sorted(root.rglob("*")):
        ctype = CONTENT_TYPES.get(path.suffix)
        if not path.is_file() or ctype is None or path.name.startswith("."):
            continue
        rel = path.relative_to(root).as_posix()
        files[rel] = (path.read_bytes(), ctype)
    return files


def content_security_policy(host: str | None, tls: bool) -> str:
    connect = ["'self'"]
    if host and _HOST.match(host):
        # 'self' covers ws(s) to the same host in current browsers; naming the
        # websocket origin too keeps older ones working, and nothing wider
        connect.append(f"wss://{host}")
        if not tls:
            connect.append(f"ws://{host}")
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


def _is_tls(connection) -> bool:
    transport = getattr(connection, "transport", None)
    try:
        return transport is not None and transport.get_extra_info("sslcontext") is not None
    except Exception:   # a transport that cannot say is treated as plain
        return False


def _response(status: int, body: bytes, ctype: str, extra: list[tuple[str, str]]) -> Response:
    st = http.HTTPStatus(status)
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
        ("Content-Length", str(len(body))),
        ("Content-Type", ctype),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()"),
        *extra,
    ])
    return Response(st.value, st.phrase, headers, body)


def make_http_handler(root: Path = STATIC_DIR):
    """The `http(connection, request)` callable the gateway uses for plain HTTP."""
    files = load_static(root)
    if PAGE not in files:
        raise RuntimeError(f"the participant page is missing from {root}")
    etags = {k: '"' + hashlib.sha256(v[0]).hexdigest()[:20] + '"' for k, v in files.items()}

    def handle(connection, request) -> Response:
        method = getattr(request, "method", "GET")
        if method not in ("GET", "HEAD"):
            r = _response(405, b"Method not allowed\n", "text/plain; charset=utf-8", [
                ("Allow", "GET, HEAD"), ("Cache-Control", "no-store")])
            return r
        try:
            response = _route(connection, request)
        except MultipleValuesError as exc:
            # the gateway refuses repeated headers first; this keeps the page safe on its own
            name = exc.args[0] if exc.args else "a"
            return _response(400, f"Bad request: repeated {name} header\n".encode(), "text/plain; charset=utf-8",
                             [("Cache-Control", "no-store")])
        if method == "HEAD":
            response.body = b""     # the headers (Content-Length included) as for GET
        return response

    def _route(connection, request) -> Response:
        path = request.path.split("?", 1)[0].split("#", 1)[0]
        host = request.headers.get("Host")
        csp = content_security_policy(host, _is_tls(connection))
        if path in ("/staff", "/staff/"):
            # the staff's own voice page: the console stays the control surface
            body, ctype = files["staff.html"]
            return _response(200, body, ctype, [
                ("Content-Security-Policy", csp),
                ("Cache-Control", "no-store"),
            ])
        if path in PAGE_PATHS:
            body, ctype = files[PAGE]
            # the page is opened with a token in its fragment: keep it out of every cache
            return _response(200, body, ctype, [
                ("Content-Security-Policy", csp),
                ("Cache-Control", "no-store"),
            ])
        if path.startswith("/static/"):
            rel = path[len("/static/"):]
            if rel in files and rel not in (PAGE, "staff.html"):
                body, ctype = files[rel]
                if request.headers.get("If-None-Match") == etags[rel]:
                    return _response(304, b"", ctype, [("ETag", etags[rel]), ("Cache-Control", "no-cache")])
                return _response(200, body, ctype, [
                    ("Content-Security-Policy", csp),
                    ("ETag", etags[rel]),
                    ("Cache-Control", "no-cache"),
                ])
        return _response(404, b"Not found\n", "text/plain; charset=utf-8", [
            ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
            ("Cache-Control", "no-store"),
        ])

    return handle
