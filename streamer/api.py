"""The web side (aiohttp): status for operators and tools, playlist files for players.

Thin: it reads the station's state and formats it with the pure builders.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import web

from . import icestats
from .httpwire import iceresponse, m3u, pls, xspf
from .webio import MAX_NEWS_POST, check_basic, news_item_from_json

if TYPE_CHECKING:
    from .station import Station

log = logging.getLogger("streamer.api")
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
    # Source mounts are on air only while a DJ or encoder feeds them; the station's must always be.
    down = [m["mount"] for m in status["mounts"] if not m["on_air"] and m["source"] is None]
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


# --- news and now playing -------------------------------------------------------------------


async def nowplaying(request: web.Request) -> web.Response:
    return _json(request.app[STATION].nowplaying(base_url(request)))


async def news_list(request: web.Request) -> web.Response:
    station = request.app[STATION]
    return _json({"headlines": [h.to_json() for h in station.news.headlines], "errors": station.news.errors})


async def news_post(request: web.Request) -> web.Response:
    _admin_or(request)
    if request.content_length is not None and request.content_length > MAX_NEWS_POST:
        raise web.HTTPRequestEntityTooLarge(MAX_NEWS_POST, request.content_length, text=f"a news item is at most {MAX_NEWS_POST} bytes\n")
    body = await request.content.read(MAX_NEWS_POST + 1)
    if len(body) > MAX_NEWS_POST:
        raise web.HTTPRequestEntityTooLarge(MAX_NEWS_POST, len(body), text=f"a news item is at most {MAX_NEWS_POST} bytes\n")
    try:
        item = news_item_from_json(body, time.time())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    item = request.app[STATION].news.post(item)
    return _json(item.to_json(), status=201)


async def news_delete(request: web.Request) -> web.Response:
    _admin_or(request)
    item_id = request.match_info["id"]
    if not request.app[STATION].news.retract(item_id):
        raise web.HTTPNotFound(text=f"no headline with id {item_id!r} (GET /api/news lists them)\n")
    return _json({"retracted": item_id})


async def bulletin_post(request: web.Request) -> web.Response:
    _admin_or(request)
    station = request.app[STATION]
    station.feeder.request_bulletin()
    return _json(
        {"status": "bulletin starting", "headlines": len(station.news.headlines), "method": station.feeder.bulletins.method}, status=202
    )


async def sse(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: `nowplaying` when a title change reaches listeners, `news` on changes."""
    station = request.app[STATION]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"}
    )
    await response.prepare(request)
    hub = station.events
    queue = hub.subscribe()
    try:
        await response.write(hub.format("nowplaying", station.nowplaying(base_url(request))).encode())
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), timeout=15)
            except TimeoutError:
                if queue not in hub.subscribers:
                    break  # dropped for falling behind, or the server is stopping
                await response.write(b": keep-alive\n\n")
                continue
            if message is None:
                break
            await response.write(message.encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(queue)
    return response


# --- Icecast's admin API ------------------------------------------------------------------------


def _xml(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/xml", charset="utf-8")


def _admin_or(request: web.Request, *roles: str) -> None:
    """Admin credentials, or those of one of `roles` (Icecast lets a source set its titles)."""
    users = request.app[STATION].config.users
    header = request.headers.get("Authorization", "")
    for role in ("admin", *roles):
        if check_basic(header, users[role].name, users[role].password):
            return
    raise _unauthorized()


def _unauthorized() -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text="You need to authenticate\n", headers={"WWW-Authenticate": 'Basic realm="Icecast2 Server"'})


def _mount_for_admin_or_its_source(request: web.Request):
    """The `mount=` of a mount command, for admin credentials or that mount's source credentials
    (a DJ may set titles on, list or move their own mount's listeners, and nobody else's)."""
    station = request.app[STATION]
    header = request.headers.get("Authorization", "")
    admin = station.config.users["admin"]
    if not check_basic(header, admin.name, admin.password) and station.source_user(request.query.get("mount", ""), header) is None:
        raise _unauthorized()
    return _mount_param(request)


def _mount_param(request: web.Request):
    station = request.app[STATION]
    path = request.query.get("mount", "")
    mount = station.mounts.get(path)
    if mount is None:
        raise web.HTTPBadRequest(
            text=iceresponse(f"Source does not exist: {path or '(no mount= given)'}", ok=False), content_type="text/xml"
        )
    return mount


async def admin_metadata(request: web.Request) -> web.Response:
    mount = _mount_for_admin_or_its_source(request)
    q = request.query
    if q.get("mode", "updinfo") != "updinfo":
        return _xml(iceresponse(f"unknown mode {q.get('mode')!r} (only updinfo)", ok=False), status=400)
    charset = q.get("charset", "UTF-8")
    song = _decode_param(request, "song", charset)
    if not song:
        artist, title = _decode_param(request, "artist", charset), _decode_param(request, "title", charset)
        song = f"{artist} - {title}" if artist and title else (artist or title)
    if not song:
        return _xml(iceresponse("No song given (song=, or artist= and title=)", ok=False), status=400)
    mount.set_title(song)
    log.info("%s: title set through /admin/metadata: %r", mount.path, song)
    return _xml(iceresponse("Metadata update successful"))


def _decode_param(request: web.Request, name: str, charset: str) -> str:
    """Query values in the client's charset (Icecast clients often send latin-1)."""
    pairs = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True, encoding="latin-1")
    raw = next((v for k, v in pairs if k == name), "")
    try:
        return raw.encode("latin-1").decode(charset or "utf-8")
    except (LookupError, UnicodeError):
        return raw


async def admin_listmounts(request: web.Request) -> web.Response:
    _admin_or(request)
    station = request.app[STATION]
    now = time.time()
    body = "".join(
        f'<source mount="{html.escape(m.path)}"><listeners>{len(m.listeners)}</listeners>'
        f"<Connected>{int(now - m.started_at)}</Connected><content-type>{html.escape(m.info.content_type)}</content-type></source>"
        for m in station.mounts.values()
    )
    return _xml(f'<?xml version="1.0"?>\n<icestats>{body}</icestats>\n')


async def admin_listclients(request: web.Request) -> web.Response:
    mount = _mount_for_admin_or_its_source(request)
    now = time.time()
    rows = "".join(
        f"<listener><IP>{html.escape(lst.address)}</IP><UserAgent>{html.escape(lst.user_agent)}</UserAgent>"
        f"<Connected>{int(now - lst.connected_at)}</Connected><ID>{lst.id}</ID></listener>"
        for lst in list(mount.listeners)
    )
    head = f'<source mount="{html.escape(mount.path)}"><Listeners>{len(mount.listeners)}</Listeners>'
    return _xml(f'<?xml version="1.0"?>\n<icestats>{head}{rows}</source></icestats>\n')


async def admin_killclient(request: web.Request) -> web.Response:
    mount = _mount_for_admin_or_its_source(request)
    wanted = request.query.get("id", "")
    for lst in list(mount.listeners):
        if str(lst.id) == wanted:
            lst.close(abort=True)
            return _xml(iceresponse(f"Client {wanted} removed"))
    return _xml(iceresponse(f"Client {wanted} not found", ok=False), status=400)


async def admin_killsource(request: web.Request) -> web.Response:
    mount = _mount_for_admin_or_its_source(request)
    if mount.source is None:
        return _xml(iceresponse(f"No source client on {mount.path}", ok=False), status=400)
    mount.source.close()
    return _xml(iceresponse("Source Removed"))


async def admin_moveclients(request: web.Request) -> web.Response:
    mount = _mount_for_admin_or_its_source(request)
    target = request.app[STATION].mounts.get(request.query.get("destination", ""))
    if target is None or target is mount:
        return _xml(iceresponse("No such destination (destination= another mount)", ok=False), status=400)
    moved = list(mount.listeners)
    for listener in moved:
        listener.move_to(target)
    return _xml(iceresponse(f"Clients moved from {mount.path} to {target.path}"))


async def admin_stats(request: web.Request) -> web.Response:
    _admin_or(request)
    status = request.app[STATION].status()
    e = html.escape
    sources = "".join(
        f'<source mount="{e(m["mount"])}"><listeners>{m["listeners"]}</listeners><listener_peak>{m["listener_peak"]}</listener_peak>'
        f"<bitrate>{m['bitrate']}</bitrate><server_type>{e(m['format'])}</server_type><title>{e(m['title'])}</title>"
        f"<server_name>{e(m['name'])}</server_name></source>"
        for m in status["mounts"]
    )
    body = f"<listeners>{status['listeners']}</listeners><server_id>streamer {e(status['version'])}</server_id>{sources}"
    return _xml(f'<?xml version="1.0"?>\n<icestats>{body}</icestats>\n')


async def streamlist(request: web.Request) -> web.Response:
    """For Icecast slaves: every mount, one per line (relay or admin credentials)."""
    _admin_or(request, "relay")
    return web.Response(text="".join(f"{m}\r\n" for m in request.app[STATION].mounts), content_type="text/plain")


def make_app(station: Station) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[STATION] = station
    app.router.add_get("/", index)
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/status-json.xsl", status_json)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/nowplaying", nowplaying)
    app.router.add_get("/api/news", news_list)
    app.router.add_post("/api/news", news_post)
    app.router.add_delete("/api/news/{id}", news_delete)
    app.router.add_post("/api/bulletin", bulletin_post)
    app.router.add_get("/api/events", sse)
    app.router.add_get("/admin/metadata", admin_metadata)
    app.router.add_get("/admin/metadata.xsl", admin_metadata)
    app.router.add_get("/admin/listmounts", admin_listmounts)
    app.router.add_get("/admin/listclients", admin_listclients)
    app.router.add_get("/admin/killclient", admin_killclient)
    app.router.add_get("/admin/killsource", admin_killsource)
    app.router.add_get("/admin/streamlist.txt", streamlist)
    app.router.add_get("/admin/moveclients", admin_moveclients)
    app.router.add_get("/admin/stats", admin_stats)
    app.router.add_get(r"/{mount:.+}.{ext:m3u|pls|xspf}", playlist_file)
    app.router.add_route("*", "/{tail:.*}", mount_on_reused_connection)
    return app
