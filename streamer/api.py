"""The web side (aiohttp): status for operators and tools, playlist files for players.

Thin: it reads the station's state and formats it with the pure builders.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from aiohttp import web

from . import icestats
from .httpwire import m3u, pls, xspf

if TYPE_CHECKING:
    from .station import Station

STATION: web.AppKey[Station] = web.AppKey("station")
PLAYLIST_TYPES = {
    ".m3u": ("audio/x-mpegurl", m3u),
    ".pls": ("audio/x-scpls", pls),
    ".xspf": ("application/xspf+xml", xspf),
}


def base_url(request: web.Request) -> str:
    station = request.app[STATION]
    if station.config.public_url:
        return station.config.public_url
    host = request.headers.get("Host") or f"{request.url.host}:{request.url.port}"
    return f"http://{host}"


def _json(data, status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=icestats.dumps)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-cache"
    return response


async def api_status(request: web.Request) -> web.Response:
    return _json(request.app[STATION].status())


async def status_json(request: web.Request) -> web.Response:
    station = request.app[STATION]
    return _json(icestats.icestats(station.status(), station.config, base_url(request)))


async def healthz(request: web.Request) -> web.Response:
    status = request.app[STATION].status()
    down = [m["mount"] for m in status["mounts"] if not m["on_air"]]
    if down:
        return _json({"ok": False, "off_air": down}, status=503)
    return _json({"ok": True, "uptime": status["uptime"], "listeners": status["listeners"]})


async def playlist_file(request: web.Request) -> web.Response:
    station = request.app[STATION]
    path = "/" + request.match_info["mount"]
    suffix = request.match_info["ext"]
    mount = station.mounts.get(path)
    if mount is None:
        raise web.HTTPNotFound(text=f"no mount {path} (mounts: {', '.join(station.mounts)})\n")
    content_type, build = PLAYLIST_TYPES["." + suffix]
    url = base_url(request) + path
    body = build(url) if build is m3u else build(url, mount.info.name or station.config.station_name)
    return web.Response(text=body, content_type=content_type, headers={"Access-Control-Allow-Origin": "*"})


async def index(request: web.Request) -> web.Response:
    station = request.app[STATION]
    status = station.status()
    e = html.escape
    rows = "".join(
        f"<li><b>{e(m['mount'])}</b> {m['bitrate']} kbit/s — {m['listeners']} listening — {e(m['title'])}"
        f' <a href="{e(m["mount"])}.m3u">m3u</a> <a href="{e(m["mount"])}.pls">pls</a><br>'
        f'<audio controls preload="none" src="{e(m["mount"])}"></audio></li>'
        for m in status["mounts"]
    )
    body = (
        f"<!doctype html><meta charset=utf-8><title>{e(station.config.station_name)}</title>"
        f"<h1>{e(station.config.station_name)}</h1><p>{e(station.config.station_description)}</p><ul>{rows}</ul>"
        '<p><a href="/api/status">/api/status</a> · <a href="/status-json.xsl">/status-json.xsl</a></p>'
    )
    return web.Response(text=body, content_type="text/html")


async def mount_on_reused_connection(request: web.Request) -> web.StreamResponse:
    """A stream asked for on a kept-alive API connection: have the client reconnect, so the
    request reaches the front door on a fresh connection."""
    station = request.app[STATION]
    if request.path in station.mounts:
        raise web.HTTPTemporaryRedirect(request.path_qs, headers={"Connection": "close"})
    raise web.HTTPNotFound(text=f"no mount or page at {request.path} (mounts: {', '.join(station.mounts)})\n")


def make_app(station: Station) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[STATION] = station
    app.router.add_get("/", index)
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/status-json.xsl", status_json)
    app.router.add_get("/healthz", healthz)
    app.router.add_get(r"/{mount:.+}.{ext:m3u|pls|xspf}", playlist_file)
    app.router.add_route("*", "/{tail:.*}", mount_on_reused_connection)
    return app
