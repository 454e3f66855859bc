"""What a request on the station's port is, from its head alone (pure): the front door's
switch, and which paths any web page may read (CORS `*`)."""

from __future__ import annotations

from ..wire.http import RequestHead
from .hls_server import is_hls
from .mount import Mount

PUBLIC = frozenset({"/healthz", "/api/events", "/api/nowplaying", "/api/schedule", "/api/news", "/status-json.xsl"})


def is_public(path: str) -> bool:
    """Paths any web page may read (CORS `*`): the public documents, HLS, playlist files."""
    return path in PUBLIC or is_hls(path) or path.endswith((".m3u", ".pls", ".xspf"))


def route(head: RequestHead, mount: Mount | None) -> str:
    """What a request is (pure): listen | options | events | source | hls | health | web."""
    if head.method in ("SOURCE", "PUT"):
        return "source"
    if head.method in ("GET", "HEAD") and (is_hls(head.path) or head.path == "/healthz"):
        return "hls" if is_hls(head.path) else "health"
    if head.method == "OPTIONS" and (mount is not None or head.target == "*" or is_public(head.path)):
        return "options"  # a CORS preflight (GET and HEAD only); the admin's paths get none
    if mount is not None:
        return "listen" if head.method in ("GET", "HEAD") else "web"  # aiohttp answers 405, with Allow
    if head.method == "GET" and head.path == "/api/events":
        return "events"
    return "web"
