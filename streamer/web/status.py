"""Status for operators and tools, now playing for the website and apps, playlist files for
players. (The pages are in `pages`.) Thin: the station composes the documents."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from aiohttp import web

from ..stream.hls_server import is_hls
from ..wire import icecast
from ..wire.playlists import m3u, pls, xspf
from ..wire.text import safe_text
from .doc_cache import Busy
from .port import base_url, station_of

CATCH_ALL = "/{tail}"  # the not_found route's canonical form (app.py)
PLAYLIST_TYPES = {
    "m3u": ("audio/x-mpegurl", lambda url, title: m3u(url)),
    "pls": ("audio/x-scpls", pls),
    "xspf": ("application/xspf+xml", xspf),
}


def as_json(data: object, status: int = 200, *, public: bool = True) -> web.Response:
    """A JSON answer; a public one may be read by any origin (CORS), an admin one by none."""
    return _json_answer(icecast.dumps(data).encode(), status, public)


def _json_answer(body: bytes, status: int = 200, public: bool = True) -> web.Response:
    response = web.Response(body=body, status=status, content_type="application/json", charset="utf-8")
    if public:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-cache"
    return response


def admin_json(data: object, status: int = 200) -> web.Response:
    """An answer to an admin request: no CORS headers at all, so no other origin may read it
    (and none ever with credentials)."""
    return as_json(data, status, public=False)


def _document(request: web.Request, key: str, build: Callable[[], object]) -> web.Response:
    """A public status document, shared between answers only while it is flooded (doc_cache.py)."""
    try:
        body, etag = station_of(request).documents.get(key, time.monotonic(), lambda: _tagged(icecast.dumps(build()).encode()))
    except Busy as busy:
        response = as_json({"error": str(busy)}, 503)
        response.headers["Retry-After"] = "1"
        return response
    asked = {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}
    response = _json_answer(b"", 304) if etag in asked or "*" in asked else _json_answer(body)
    response.headers["ETag"] = etag
    return response


def _tagged(body: bytes) -> tuple[bytes, str]:
    """A document with its ETag (made with it, so answers shared in a flood share it too), so a
    widget polling every few seconds gets 304 and no body while nothing changed (QA: 11 KB a
    poll with 26 headlines)."""
    return body, f'"{hashlib.blake2b(body, digest_size=9).hexdigest()}"'


async def api_status(request: web.Request) -> web.Response:
    return _document(request, "status", station_of(request).status)


async def status_json(request: web.Request) -> web.Response:
    """Icecast's status document; `?mount=/main` gives that mount's source alone, as Icecast's does
    (now-playing widgets read `icestats.source.title`)."""
    station, base = station_of(request), base_url(request)
    only = request.query.get("mount")
    if only is not None and station.mount(only) is None:
        only = ""  # (one document for every unknown mount: no source in it)
    key = f"icestats {base} {only}"
    return _document(request, key, lambda: icecast.icestats(station.status(), station.config.station_description, base, only))


async def nowplaying(request: web.Request) -> web.Response:
    station, base = station_of(request), base_url(request)
    return _document(request, "nowplaying " + base, lambda: station.nowplaying(base))


async def playlist_file(request: web.Request) -> web.Response:
    station = station_of(request)
    path = "/" + safe_text(request.match_info["mount"])
    mount = station.mount(path)
    if mount is None:
        raise web.HTTPNotFound(text=f"no mount {path[:200]} (mounts: {', '.join(station.mount_paths())})\n")
    content_type, build = PLAYLIST_TYPES[request.match_info["ext"]]
    body = build(base_url(request) + path, mount.info.name or station.config.station_name)
    return web.Response(text=body, content_type=content_type, headers={"Access-Control-Allow-Origin": "*"})


async def not_found(request: web.Request) -> web.StreamResponse:
    """404 naming the mounts there are; 405 with `Allow` for a path that is there but not for
    this method (a POST to /main or /api/status was told there was no such mount or page)."""
    path = safe_text(request.path[:200])
    allowed = await _methods_for(request)
    if allowed:
        methods = ", ".join(sorted(allowed))
        raise web.HTTPMethodNotAllowed(request.method, allowed, text=f"{request.method[:20]} is not allowed on {path}: use {methods}\n")
    paths = ", ".join(station_of(request).mount_paths())
    raise web.HTTPNotFound(text=f"no mount or page at {path} (mounts: {paths})\n")


STREAMED = {"GET", "HEAD", "OPTIONS"}  # what the front door answers itself: mounts, HLS, /healthz, /api/events


async def _methods_for(request: web.Request) -> set[str]:
    """The methods the request's path is answered to, by the front door or by another route."""
    path = request.path
    if path in station_of(request).mount_paths() or is_hls(path) or path in ("/healthz", "/api/events"):
        return STREAMED
    methods: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical != CATCH_ALL:
            match, allowed = await resource.resolve(request)
            methods |= set(allowed) if match is None else set()
    return methods
