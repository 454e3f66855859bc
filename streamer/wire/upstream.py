"""What a pull relay says to an upstream and how it reads the answer (pure: strings and bytes in,
requests and verdicts out).

An upstream URL is checked once, when the config is read, so `streamer check` names a bad one at
its line; its password never leaves this module except in the Authorization header. An answer is
audio (with its content type), a redirect or a playlist to follow, or a refusal said in words
that tell the operator what to change.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from urllib.parse import unquote, urljoin, urlsplit

from .formats import FORMATS, media_type

MAX_REDIRECTS = 5
PLAYLIST_TYPES = {"audio/x-mpegurl", "audio/mpegurl", "audio/x-scpls", "application/pls+xml", "audio/scpls"}
HLS_TYPES = {"application/vnd.apple.mpegurl", "application/x-mpegurl"}
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    user: str = ""
    password: str = ""

    @property
    def safe(self) -> str:
        """The URL as logs and status pages show it: a password is never shown."""
        login = f"{self.user}:***@" if self.password else (f"{self.user}@" if self.user else "")
        return f"http://{login}{self.host_header}{self.target}"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 80 else f"{host}:{self.port}"

    def request(self, agent: str) -> bytes:
        lines = [f"GET {self.target} HTTP/1.0", f"Host: {self.host_header}", "Icy-MetaData: 1", f"User-Agent: {agent}"]
        if self.user or self.password:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            lines.append(f"Authorization: Basic {token}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_upstream(url: str) -> Upstream:
    """An http:// stream URL, or ValueError saying what is wrong with it (password hidden)."""
    shown = redact(url)
    if not url.lower().startswith("http://"):
        raise ValueError(f"must be an http:// stream URL, not {shown!r}")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError(f"{shown!r} has a space or a control character in it")
    parts = urlsplit(url)
    try:
        port = 80 if parts.port is None else parts.port
    except ValueError:
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{shown!r} names no host (like http://host:8000/stream)")
    if port == 0:
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Upstream(parts.hostname, port, target, unquote(parts.username or ""), unquote(parts.password or ""))


def next_upstream(current: Upstream, url: str) -> Upstream:
    """Where a redirect or playlist sends us. The login goes along to the same host and port only
    (as curl does), so a redirect cannot make us give our password to another server."""
    after = parse_upstream(url)
    same_place = (after.host, after.port) == (current.host, current.port)
    if same_place and not (after.user or after.password):
        after = replace(after, user=current.user, password=current.password)
    return after


def redact(url: str) -> str:
    """`url` with the password in its user part replaced by ***."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", url)


@dataclass(frozen=True, slots=True)
class Follow:
    """Ask again at `url` (a redirect, or the stream a playlist lists)."""

    url: str


def judge_answer(upstream: Upstream, status: int, headers: dict[str, str]) -> str | Follow:
    """The content type of an audio answer, or where to go next; ValueError for a refusal."""
    if status in REDIRECTS:
        location = headers.get("location", "")
        if not location:
            raise ValueError(f"upstream answered {status} (a redirect) with no Location")
        return Follow(urljoin(f"http://{upstream.host_header}{upstream.target}", location))
    if status == 401:
        if upstream.user or upstream.password:
            raise ValueError(f"upstream refused the user and password in the URL (401): check them ({upstream.safe})")
        raise ValueError("upstream asks for a password (401): give it in the URL, as http://user:password@host:port/mount")
    if status == 403:
        raise ValueError("upstream refused the request (403): is this relay allowed there, or is it full?")
    if status == 404:
        raise ValueError(f"upstream has no stream at {upstream.target} (404): is the mount right, and is its source on air?")
    if status != 200:
        raise ValueError(f"upstream answered {status}")
    content_type = headers.get("content-type", "audio/mpeg") or "audio/mpeg"  # SHOUTcast 1 may not say: MP3
    kind = media_type(content_type)
    if kind in HLS_TYPES:
        raise ValueError(f"upstream sent an HLS playlist ({kind}): relays take Icecast or SHOUTcast streams")
    if kind in PLAYLIST_TYPES:
        return Follow("")  # the body names the stream: read it
    if kind in FORMATS or kind.startswith("audio/") or kind in {"video/ogg", "application/octet-stream"}:
        return content_type.split(";")[0].strip()
    raise ValueError(f"upstream sent {kind}, not audio: is the URL a web page? give the stream's own URL")


def playlist_stream(body: bytes) -> str:
    """The first http:// stream an M3U or PLS playlist lists; ValueError if it lists none."""
    for line in body.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        value = line.partition("=")[2].strip() if re.match(r"(?i)file\d+\s*=", line) else line
        if value.lower().startswith("http://"):
            return value
    if b"https://" in body:
        raise ValueError("upstream's playlist lists https:// streams only: relays take http:// (put a TLS proxy's plain side here)")
    raise ValueError("upstream sent a playlist that lists no http:// stream")
