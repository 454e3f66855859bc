"""What a request on the station's port is, from its head alone (pure): the front door's
switch, which paths any web page may read (CORS `*`), and a request made ready for the web side."""

from __future__ import annotations

import re

from ..settings import is_reserved
from ..wire.http import MAX_HEAD, RequestHead, find_head_end
from .hls_server import is_hls
from .mount import Mount

PUBLIC = frozenset({"/healthz", "/api/events", "/api/nowplaying", "/api/schedule", "/api/news", "/status-json.xsl"})


def is_public(path: str) -> bool:
    """Paths any web page may read (CORS `*`): the public documents, HLS, playlist files."""
    return path in PUBLIC or is_hls(path) or path.endswith((".m3u", ".pls", ".xspf"))


def route(head: RequestHead, mount: Mount | None) -> str:
    """What a request is (pure): listen | options | events | source | hls | health | web."""
    if head.method == "SOURCE" or (head.method == "PUT" and not is_reserved(head.path)):
        return "source"  # (a PUT on the server's own pages is a web request: QA's PUT /api/news was a refused source login)
    if head.method in ("GET", "HEAD") and (is_hls(head.path) or head.path == "/healthz"):
        return "hls" if is_hls(head.path) else "health"
    if head.method == "OPTIONS" and (mount is not None or head.target == "*" or is_public(head.path)):
        return "options"  # a CORS preflight (GET and HEAD only); the admin's paths get none
    if mount is not None:
        return "listen" if head.method in ("GET", "HEAD") else "web"  # aiohttp answers 405, with Allow
    if head.method == "GET" and head.path == "/api/events":
        return "events"
    return "web"


WEB_LINE_MAX = 8190  # bytes of one head line the web side's parser takes (aiohttp's max_line_size)


def oversized(head: bytes | bytearray) -> tuple[int, str]:
    """(status, why) for a request head over MAX_HEAD bytes: a request line that long is a URL too
    long (414, as QA expected of a 100 KB URL), else the headers are (431)."""
    if b"\n" not in head[:MAX_HEAD]:
        return 414, f"request line (the URL) longer than {MAX_HEAD} bytes"
    return 431, f"request head larger than {MAX_HEAD} bytes"


def head_for_web(data: bytes) -> bytes | tuple[int, str]:
    """A request as the web side's parser takes it: its head's lines ended with CRLF (the front
    door takes bare LFs: QA found them refused on the API only), or (status, why) for a line
    longer than that parser takes, or a body that comes without its length, answered by us,
    not by it (it said "Data after `Connection: close`", and a client that had closed its
    sending side got no answer at all)."""
    end = find_head_end(data)
    if end < 0:
        return data
    lines = data[:end].replace(b"\r\n", b"\n").split(b"\n")
    if len(lines[0]) > WEB_LINE_MAX:
        return 414, f"request line longer than {WEB_LINE_MAX} bytes"
    if any(len(line) > WEB_LINE_MAX for line in lines[1:]):
        return 431, f"a header line longer than {WEB_LINE_MAX} bytes"
    if data[end:] and not _PIPELINED.match(data, end) and _unsized_body(lines):
        method = lines[0].split(b" ", 1)[0].decode("latin-1")
        return 411, f"this {method} has a body but no Content-Length (nor Transfer-Encoding: chunked): send its length"
    return b"\r\n".join(lines) + data[end:]


_PIPELINED = re.compile(rb"[A-Z]+ \S+ HTTP/1\.[01]\r?\n")  # the next request, after a POST with no body


def _unsized_body(lines: list[bytes]) -> bool:
    """A request whose method takes a body and whose head gives no way to know where it ends
    (HTTP/1.1 reads it as no body, and what follows as the next request)."""
    if lines[0].split(b" ", 1)[0] not in (b"POST", b"PUT", b"PATCH"):
        return False
    names = {line.split(b":", 1)[0].strip().lower() for line in lines[1:] if b":" in line}
    return not names & {b"content-length", b"transfer-encoding"}
