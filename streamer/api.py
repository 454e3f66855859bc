"""The web side (aiohttp): status for operators and tools, playlist files for players.

Thin: it reads the station's state and formats it with the pure builders.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from . import icestats
from .guard import cross_site
from .httpwire import iceresponse, m3u, pls, xspf
from .webio import MAX_NEWS_POST, TooLarge, check_basic, news_item_from_json, read_capped

if TYPE_CHECKING:
    from .station import Station

log = logging.getLogger("streamer.api")
BODY_TIMEOUT = 10.0  # seconds a request body may take to arrive
STATION: web.AppKey[Station] = web.AppKey("station")
PLAYLIST_TYPES = {
    ".m3u": ("audio/x-mpegurl", m3u),
    ".pls": ("audio/x-scpls", pls),
    ".xspf": ("application/xspf+xml", xspf),
}


def base_url(request: web.Request) -> str:
    return request.app[STATION].base_url(request.headers.get("Host", ""))


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
    # Source mounts are on air only while a DJ or encoder feeds them; the station's must always be.
    ok, body = request.app[STATION].health()
    return _json(body, status=200 if ok else 503)


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


async def not_found(request: web.Request) -> web.StreamResponse:
    station = request.app[STATION]
    raise web.HTTPNotFound(text=f"no mount or page at {request.path[:200]} (mounts: {', '.join(station.mounts)})\n")


# --- news and now playing -------------------------------------------------------------------


async def nowplaying(request: web.Request) -> web.Response:
    return _json(request.app[STATION].nowplaying(base_url(request)))


async def news_list(request: web.Request) -> web.Response:
    station = request.app[STATION]
    return _json({"headlines": [h.to_json() for h in station.news.headlines], "errors": station.news.errors})


async def news_post(request: web.Request) -> web.Response:
    await _admin_or(request)
    if request.content_length is not None and request.content_length > MAX_NEWS_POST:
        raise web.HTTPRequestEntityTooLarge(MAX_NEWS_POST, request.content_length, text=f"a news item is at most {MAX_NEWS_POST} bytes\n")
    try:
        body = await asyncio.wait_for(read_capped(request.content, MAX_NEWS_POST), BODY_TIMEOUT)
    except TooLarge:
        too_big = f"a news item is at most {MAX_NEWS_POST} bytes\n"
        raise web.HTTPRequestEntityTooLarge(MAX_NEWS_POST, MAX_NEWS_POST + 1, text=too_big) from None
    except TimeoutError:
        raise web.HTTPRequestTimeout(text=f"the request body did not arrive within {BODY_TIMEOUT:g} s\n") from None
    try:
        item = news_item_from_json(body, time.time())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    item = request.app[STATION].news.post(item)
    return _json(item.to_json(), status=201)


async def news_delete(request: web.Request) -> web.Response:
    await _admin_or(request)
    item_id = request.match_info["id"]
    if not request.app[STATION].news.retract(item_id):
        raise web.HTTPNotFound(text=f"no headline with id {item_id!r} (GET /api/news lists them)\n")
    return _json({"retracted": item_id})


async def bulletin_post(request: web.Request) -> web.Response:
    await _admin_or(request)
    station = request.app[STATION]
    station.feeder.request_bulletin()
    return _json(
        {"status": "bulletin starting", "headlines": len(station.news.headlines), "method": station.feeder.bulletins.method}, status=202
    )


# --- Icecast's admin API ------------------------------------------------------------------------


def _xml(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/xml", charset="utf-8")


def _client(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return str(peer[0]) if peer else "?"


async def _authorised(request: web.Request, check: Callable[[str], bool]) -> None:
    """Credentials that `check` accepts, from a client that is not locked out, and not from a
    page on another site (a browser's cached credentials must not act for a cross-site form)."""
    station = request.app[STATION]
    hosts = (request.headers.get("Host", ""), urlsplit(station.config.public_url).netloc)
    refusal = cross_site(request.method, {k.lower(): v for k, v in request.headers.items()}, hosts)
    if refusal:
        raise web.HTTPForbidden(text=refusal + "\n")
    address, now = _client(request), time.monotonic()
    locked = station.logins.locked(address, now)
    if locked:
        raise web.HTTPTooManyRequests(text=f"too many failed logins from {address}; try again in {locked:.0f} s\n")
    header = request.headers.get("Authorization", "")
    if check(header):
        station.logins.succeeded(address)
        return
    if header:
        delay, count = station.logins.failed(address, now)
        log.warning("login refused for %s %s from %s (%d failed in the last minute)", request.method, request.path[:100], address, count)
        await asyncio.sleep(delay)
    raise _unauthorized()


async def _admin_or(request: web.Request, *roles: str) -> None:
    """Admin credentials, or those of one of `roles` (Icecast lets a source set its titles)."""
    users = request.app[STATION].config.users
    await _authorised(request, lambda header: any(check_basic(header, users[r].name, users[r].password) for r in ("admin", *roles)))


def _unauthorized() -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text="You need to authenticate\n", headers={"WWW-Authenticate": 'Basic realm="Icecast2 Server"'})


async def _mount_for_admin_or_its_source(request: web.Request):
    """The `mount=` of a mount command, for admin credentials or that mount's source credentials
    (a DJ may set titles on, list or move their own mount's listeners, and nobody else's)."""
    station = request.app[STATION]
    admin = station.config.users["admin"]
    path = request.query.get("mount", "")
    await _authorised(request, lambda h: check_basic(h, admin.name, admin.password) or station.source_user(path, h) is not None)
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
    mount = await _mount_for_admin_or_its_source(request)
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
    await _admin_or(request)
    station = request.app[STATION]
    now = time.time()
    body = "".join(
        f'<source mount="{html.escape(m.path)}"><listeners>{len(m.listeners)}</listeners>'
        f"<Connected>{int(now - m.started_at)}</Connected><content-type>{html.escape(m.info.content_type)}</content-type></source>"
        for m in station.live_mounts()
    )
    return _xml(f'<?xml version="1.0"?>\n<icestats>{body}</icestats>\n')


async def admin_listclients(request: web.Request) -> web.Response:
    mount = await _mount_for_admin_or_its_source(request)
    now = time.time()
    rows = "".join(
        f"<listener><IP>{html.escape(lst.address)}</IP><UserAgent>{html.escape(lst.user_agent)}</UserAgent>"
        f"<Connected>{int(now - lst.connected_at)}</Connected><ID>{lst.id}</ID></listener>"
        for lst in list(mount.listeners)
    )
    head = f'<source mount="{html.escape(mount.path)}"><Listeners>{len(mount.listeners)}</Listeners>'
    return _xml(f'<?xml version="1.0"?>\n<icestats>{head}{rows}</source></icestats>\n')


async def admin_killclient(request: web.Request) -> web.Response:
    mount = await _mount_for_admin_or_its_source(request)
    wanted = request.query.get("id", "")
    for lst in list(mount.listeners):
        if str(lst.id) == wanted:
            lst.close(abort=True)
            return _xml(iceresponse(f"Client {wanted} removed"))
    return _xml(iceresponse(f"Client {wanted} not found", ok=False), status=400)


async def admin_killsource(request: web.Request) -> web.Response:
    mount = await _mount_for_admin_or_its_source(request)
    if not request.app[STATION].kill_source(mount):
        return _xml(iceresponse(f"No source client on {mount.path}", ok=False), status=400)
    return _xml(iceresponse("Source Removed"))


async def admin_moveclients(request: web.Request) -> web.Response:
    mount = await _mount_for_admin_or_its_source(request)
    target = request.app[STATION].mounts.get(request.query.get("destination", ""))
    if target is None or target is mount:
        return _xml(iceresponse("No such destination (destination= another mount)", ok=False), status=400)
    moved = list(mount.listeners)
    for listener in moved:
        listener.move_to(target)
    return _xml(iceresponse(f"Clients moved from {mount.path} to {target.path}"))


async def admin_stats(request: web.Request) -> web.Response:
    await _admin_or(request)
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
    await _admin_or(request, "relay")
    return web.Response(text="".join(f"{m.path}\r\n" for m in request.app[STATION].live_mounts()), content_type="text/plain")


async def _close_after_answer(request: web.Request, response: web.StreamResponse) -> None:
    """No keep-alive on the web side: the next request comes on a new connection, through the
    front door and its head timeout (and a stream asked for next reaches the door directly)."""
    response.force_close()
    response.headers["Connection"] = "close"  # said, so no client counts on reusing it


def make_app(station: Station) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024, handler_args={"max_field_size": 8190, "max_line_size": 8190})
    app.on_response_prepare.append(_close_after_answer)
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
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
