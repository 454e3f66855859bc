"""HTTP on the wire as Icecast speaks it: request-head parsing and response builders.

Pure: bytes in, bytes out. The listener response is written byte for byte here rather
than by aiohttp because players and relays expect Icecast's exact shape: HTTP/1.0, no
chunked encoding, no Content-Length, `icy-*` headers without a space after the colon.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .cors import cors as _cors
from .formats import StreamInfo
from .text import safe_text

MAX_HEAD = 16384
SERVER = "streamer"
WILDCARDS = ("0.0.0.0", "::", "")  # listening addresses that are no address to link to

REASONS = {
    200: "OK",
    204: "No Content",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Authorization Required",
    403: "Forbidden",
    404: "File Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Request Entity Too Large",
    414: "URI Too Long",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class BadRequest(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class RequestHead:
    method: str
    target: str
    version: str  # "HTTP/1.0", "HTTP/1.1"
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path) or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.target).query

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def keeps_alive(self) -> bool:
        """HTTP/1.1 without `Connection: close`: the connection stays open after the answer."""
        return self.version == "HTTP/1.1" and "close" not in self.header("connection").lower()

    @property
    def wants_metadata(self) -> bool:
        """Icecast's test: the value read as C's atoi() is not 0 ("1", "2"; not "0" or "yes")."""
        number = _LEADING_INT.match(self.header("icy-metadata"))
        return number is not None and int(number[0]) != 0


_LEADING_INT = re.compile(r"\s*[+-]?\d{1,9}")


def blank_lines_before(buf: bytes | bytearray) -> int:
    """How many bytes of empty lines come before a request line: a server should ignore them
    (RFC 9112, 2.2; some clients send a CRLF after a request's body)."""
    return len(buf) - len(buf.lstrip(b"\r\n"))


def find_head_end(buf: bytes | bytearray) -> int:
    """Index just past the blank line ending the request head, or -1 if not complete yet."""
    i = buf.find(b"\r\n\r\n")
    if i >= 0:
        return i + 4
    i = buf.find(b"\n\n")  # some hand-written clients send bare LFs
    return i + 2 if i >= 0 else -1


def parse_request_head(raw: bytes) -> RequestHead:
    """Parse a request line and headers; raises BadRequest naming what is wrong."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # latin-1 decodes anything; kept for clarity
        raise BadRequest(400, str(exc)) from None
    lines = text.replace("\r\n", "\n").split("\n")
    parts = lines[0].split()
    if len(parts) == 2 and parts[0] in ("GET", "HEAD"):  # HTTP/0.9-style request line
        parts.append("HTTP/1.0")
    if len(parts) != 3:
        raise BadRequest(400, f"malformed request line: {lines[0][:80]!r}")
    method, target, version = parts
    if not target.isascii():  # (RFC 9112: other bytes are percent-encoded; no mount or page has them raw)
        raise BadRequest(400, f"the request target has bytes that are not ASCII: percent-encode them ({target[:80]!r})")
    if not version.startswith(("HTTP/1.", "ICE/1.")):
        raise BadRequest(400, f"unsupported protocol version {version[:20]!r}")
    if not method.isalpha():
        raise BadRequest(400, f"malformed method {method[:20]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(400, f"malformed header line: {line[:80]!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or len(length) > 15):
        raise BadRequest(400, f"malformed Content-Length {length[:20]!r}")
    return RequestHead(method.upper(), target, version, headers)


_HOST = re.compile(r"^(?:[A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?$")


def safe_host(value: str) -> str | None:
    """A `Host` header we may put into links we send back, or None if it is anything but a
    plain host name or address with an optional port."""
    value = value.strip()
    return value if len(value) <= 260 and _HOST.match(value) else None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(value: str) -> str:
    """Header values: no line breaks or other controls (header injection); text goes out as
    UTF-8 bytes (written through the latin-1 head encoder unchanged)."""
    value = " ".join(_CONTROL.sub(" ", safe_text(value)).split())
    return value.encode("utf-8").decode("latin-1")


def _head(status: int, lines: list[tuple[str, str]]) -> bytes:
    out = [f"HTTP/1.0 {status} {REASONS.get(status, 'Unknown')}"]
    out += [f"{k}:{v}" if k.startswith(("icy-", "ice-")) else f"{k}: {v}" for k, v in lines]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


def _common(date: str, content_type: str) -> list[tuple[str, str]]:
    return [
        ("Server", SERVER),
        ("Connection", "Close"),
        ("Date", date),
        ("Content-Type", content_type),
        ("Cache-Control", "no-cache, no-store"),
        ("Expires", "Mon, 26 Jul 1997 05:00:00 GMT"),
        ("Pragma", "no-cache"),
    ]


def listener_head(info: StreamInfo, metaint: int | None, date: str, origin: str | None = None) -> bytes:
    """The 200 answer to a listener (also to HEAD). `metaint` only if the client asked for it."""
    lines = _common(date, info.content_type)
    if info.bitrate:
        lines.append(("icy-br", str(info.bitrate)))
    if info.audio_info:
        lines.append(("ice-audio-info", info.audio_info))
    described = [("icy-description", info.description), ("icy-genre", info.genre), ("icy-name", info.name)]
    lines += [(name, _clean(value)) for name, value in described if _clean(value)]  # none empty, as Icecast (QA)
    lines.append(("icy-pub", "1" if info.public else "0"))
    if _clean(info.url):
        lines.append(("icy-url", _clean(info.url)))
    if metaint and info.supports_icy:
        lines.append(("icy-metaint", str(metaint)))
    lines += _cors(origin)
    return _head(200, lines)


def options_response(date: str, origin: str | None = None, requested: str | None = None) -> bytes:
    """CORS preflight: browsers send one because `Icy-MetaData` is not a simple header
    (`requested`: the preflight's Access-Control-Request-Headers)."""
    lines = [("Server", SERVER), ("Connection", "Close"), ("Date", date), ("Content-Length", "0")]
    lines += _cors(origin, requested)
    lines.append(("Access-Control-Max-Age", "86400"))
    return _head(200, lines)


KEPT_REASONS = {200: "OK", 304: "Not Modified", 400: "Bad Request", 404: "Not Found", 503: "Service Unavailable"}


def kept_response(status: int, lines: list[tuple[str, str]], body: bytes, date: str, length: int | None = None) -> bytes:
    """A complete HTTP/1.1 answer after which the connection stays open (HLS, /healthz): any
    origin may read it; `length` is the body's when `body` is left out (HEAD)."""
    out = [f"HTTP/1.1 {status} {KEPT_REASONS[status]}", f"Server: {SERVER}", f"Date: {date}"]
    out += [f"{k}: {v}" for k, v in lines]
    size = len(body) if length is None else length
    out += ["Access-Control-Allow-Origin: *", "Access-Control-Expose-Headers: ETag", f"Content-Length: {size}"]
    return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body


def health_response(ok: bool, body: str, date: str, head_only: bool = False) -> bytes:
    """/healthz: 200 or 503 with the JSON body, kept open so a monitor may poll on. The front
    door answers it itself: a flood of web clients never makes a load balancer think the
    station is off air."""
    data = body.encode("utf-8")
    lines = [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-cache")]
    return kept_response(200 if ok else 503, lines, b"" if head_only else data, date, len(data))


def error_response(status: int, message: str, date: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    """A plain-text error a person can read, as a complete response."""
    body = (message.rstrip("\n") + "\n").encode("utf-8")
    lines = [
        ("Server", SERVER),
        ("Connection", "Close"),
        ("Date", date),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-cache"),
    ]
    lines += extra or []
    lines.append(("Access-Control-Allow-Origin", "*"))
    return _head(status, lines) + body


def lockout(address: str, locked: float) -> tuple[str, str]:
    """What an address locked out for `locked` more seconds is told, and its Retry-After (QA: none)."""
    wait = str(math.ceil(locked))
    return f"too many failed logins from {address}; try again in {wait} s", wait


class ChunkedDecoder:
    """Undoes `Transfer-Encoding: chunked` on a request body (a PUT source; Icecast cannot)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._left = 0  # bytes of the current chunk still to come
        self._state = "size"  # size | data | crlf | done
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while self._buf and not self.done:
            if self._state == "size":
                i = self._buf.find(b"\r\n")
                if i < 0:
                    if len(self._buf) > 1024:
                        raise BadRequest(400, "malformed chunk size line")
                    break
                line = bytes(self._buf[:i]).split(b";", 1)[0].strip()
                del self._buf[: i + 2]
                # Only hex digits: int() would also take "-5", "+5" and "0x5".
                if not line or len(line) > 8 or line.strip(b"0123456789abcdefABCDEF"):
                    raise BadRequest(400, f"malformed chunk size {line[:20]!r}")
                self._left = int(line, 16)
                if self._left == 0:
                    self.done = True
                    break
                self._state = "data"
            elif self._state == "data":
                take = min(self._left, len(self._buf))
                out += self._buf[:take]
                del self._buf[:take]
                self._left -= take
                if self._left == 0:
                    self._state = "crlf"
            else:
                if len(self._buf) < 2:
                    break
                del self._buf[:2]
                self._state = "size"
        return bytes(out)


def source_ok(status_line: str = "HTTP/1.0 200 OK") -> bytes:
    return f"{status_line}\r\nServer: {SERVER}\r\n\r\n".encode()


def parse_response_head(raw: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of an HTTP or SHOUTcast (ICY) response head."""
    lines = raw.decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not (parts[0].startswith("HTTP/") or parts[0] == "ICY") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP or ICY response: {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers
