"""How a pull relay reads an upstream's answer (pure): audio (with its content type), a redirect
or a playlist to follow, or a refusal said in words that tell the operator what to change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from ..upstream_url import Upstream
from ..wire.formats import FORMATS, media_type

MAX_REDIRECTS = 5
PLAYLIST_TYPES = {"audio/x-mpegurl", "audio/mpegurl", "audio/x-scpls", "application/pls+xml", "audio/scpls"}
HLS_TYPES = {"application/vnd.apple.mpegurl", "application/x-mpegurl"}
REDIRECTS = {301, 302, 303, 307, 308}


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
        if upstream.withheld:  # (QA: it said "give it in the URL" though the URL had one)
            raise ValueError(
                f"{upstream.safe} asks for a password (401), and the relay's login was not sent there: a redirect "
                "from the URL's server led to this other one (as curl, we do not carry a login across). "
                "Relay from this URL, with the login in it"
            )
        if upstream.user or upstream.password:
            raise ValueError(f"upstream refused the user and password in the URL (401): check them ({upstream.safe})")
        raise ValueError("upstream asks for a password (401): give it in the URL, as http://user:password@host:port/mount")
    if status == 403:
        raise ValueError("upstream refused the request (403): is this relay allowed there, or is it full?")
    if status == 404:
        raise ValueError(f"upstream has no stream at {upstream.target} (404): is the mount right, and is its source on air?")
    if status != 200:
        raise ValueError(f"upstream answered {status}")
    if not (headers.get("icy-metaint") or "0").strip().isdigit():
        raise ValueError(f"upstream's icy-metaint is not a number: {headers['icy-metaint'][:40]!r}")
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
