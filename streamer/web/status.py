"""Status for operators and tools, now playing for the website and apps, playlist files for
players. (The pages are in `pages`.) Thin: the station composes the documents."""

from __future__ import annotations

from aiohttp import web

from ..wire import icecast
from ..wire.playlists import m3u, pls, xspf
from ..wire.text import safe_text
from .port import base_url, station_of

PLAYLIST_TYPES = {
    "m3u": ("audio/x-mpegurl", lambda url, title: m3u(url)),
    "pls": ("audio/x-scpls", pls),
    "xspf": ("application/xspf+xml", xspf),
}


def as_json(data: object, status: int = 200, *, public: bool = True) -> web.Response:
    """A JSON answer; a public one may be read by any origin (CORS), an admin one by none."""
    response = web.json_response(data, status=status, dumps=icecast.dumps)
    if public:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-cache"
    return response


def admin_json(data: object, status: int = 200) -> web.Response:
    """An answer to an admin request: no CORS headers at all, so no other origin may read it
    (and none ever with credentials)."""
    return as_json(data, status, public=False)


async def api_status(request: web.Request) -> web.Response:
    return as_json(station_of(request).status())


async def status_json(request: web.Request) -> web.Response:
    station = station_of(request)
    return as_json(icecast.icestats(station.status(), station.config.station_description, base_url(request)))


async def nowplaying(request: web.Request) -> web.Response:
    return as_json(station_of(request).nowplaying(base_url(request)))


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
    paths = ", ".join(station_of(request).mount_paths())
    raise web.HTTPNotFound(text=f"no mount or page at {safe_text(request.path[:200])} (mounts: {paths})\n")
