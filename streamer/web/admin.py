"""Icecast's admin API, with its XML answers, for the tools that speak it (libshout clients
setting titles, slaves reading the stream list, monitoring). Admin credentials work
everywhere; a mount's source credentials work for the commands on that mount only."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from aiohttp import web

from ..sources.connection import held_by
from ..stream.listener import move_conflict, room_on
from ..stream.mount import Mount
from ..wire.credentials import basic_user
from ..wire.icecast import iceresponse, listclients_xml, listmounts_xml, stats_xml
from ..wire.icy import stream_title
from ..wire.text import safe_text
from .auth import admin_or, admin_or_source_of, client_address
from .port import base_url, station_of

log = logging.getLogger("streamer.api")


def xml(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/xml", charset="utf-8")


async def mount_command(request: web.Request) -> Mount:
    """The `mount=` of a mount command, once the caller may act on it (400 if there is none)."""
    path = safe_text(request.query.get("mount", ""))
    await admin_or_source_of(request, path)
    mount = station_of(request).mount(path)
    if mount is None:
        missing = iceresponse(f"Source does not exist: {path[:200] or '(no mount= given)'}", ok=False)
        raise web.HTTPBadRequest(text=missing, content_type="text/xml")
    return mount


def query_text(request: web.Request, name: str, charset: str) -> str:
    """A query value in the client's charset (Icecast clients often send Latin-1)."""
    pairs = parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True, encoding="latin-1")
    raw = next((v for k, v in pairs if k == name), "")
    try:
        return raw.encode("latin-1").decode(charset or "utf-8")
    except (LookupError, UnicodeError):
        return raw


async def metadata(request: web.Request) -> web.Response:
    mount = await mount_command(request)
    q = request.query
    if q.get("mode", "updinfo") != "updinfo":
        return xml(iceresponse(f"unknown mode {q.get('mode', '')[:50]!r} (only updinfo)", ok=False), status=400)
    charset = q.get("charset", "UTF-8")
    song, parts = query_text(request, "song", charset), None
    if not song:  # the two apart: kept apart for /api/nowplaying and the history (QA: "Earth - Wind" split at its " - ")
        parts = query_text(request, "artist", charset), query_text(request, "title", charset)
        song = stream_title(*parts)
    if not song:
        return xml(iceresponse("No song given (song=, or artist= and title=)", ok=False), status=400)
    station = station_of(request)
    target = mount if mount.passthrough else station.dj_mount()
    if target is None:  # a station mount's title marked here would be a bogus live play, on one mount only
        live = station.config.live_mount
        return xml(iceresponse(own_mount_refusal(mount.path, live), ok=False), status=403)
    target.set_title(song, parts)  # on a station mount with a DJ on air: the DJ's title, on every station mount
    log.info("%s: title set through /admin/metadata on %s: %r", target.path, mount.path, song)
    return xml(iceresponse("Metadata update successful"))


def own_mount_refusal(path: str, live_mount: str) -> str:
    """Why updinfo on the station's own (encoded) mount is refused while no DJ holds the air (pure)."""
    return (
        f"{path} is the station's own mount: its titles come from the schedule; "
        f"a DJ's titles go to the live mount ({live_mount}) or a source mount"
    )


async def listmounts(request: web.Request) -> web.Response:
    await admin_or(request)
    now = time.time()
    mounts = [(m.path, m.present, int(now - m.started_at), m.info.content_type) for m in station_of(request).live_mounts()]
    return xml(listmounts_xml(mounts))


async def listclients(request: web.Request) -> web.Response:
    mount = await mount_command(request)
    now = time.time()
    return xml(listclients_xml(mount.path, [(c.address, c.user_agent, int(now - c.connected_at), c.id) for c in list(mount.listeners)]))


async def killclient(request: web.Request) -> web.Response:
    mount = await mount_command(request)
    wanted = safe_text(request.query.get("id", ""))
    if not wanted:
        return xml(iceresponse("Missing parameter: id= (killclient?mount=&id=, ids as listclients gives them)", ok=False), status=400)
    for listener in list(mount.listeners):
        if str(listener.id) == wanted:
            listener.kill()
            who = basic_user(request.headers.get("Authorization", "")) or "?"  # said, as killsource is (QA: not logged)
            log.warning("%s: listener %s (%s) killed through /admin/killclient by %r from %s", mount.path, wanted,
                        listener.address, who, client_address(request))  # fmt: skip
            return xml(iceresponse(f"Client {wanted} removed"))
    return xml(iceresponse(f"Client {wanted[:50]} not found", ok=False), status=400)


async def killsource(request: web.Request) -> web.Response:
    mount = await mount_command(request)
    holder = held_by(mount.source) if mount.source is not None else "no source connected; the takeover ended"
    if not station_of(request).kill_source(mount):
        return xml(iceresponse(f"No source client on {mount.path}", ok=False), status=400)
    # said as a kill, and by whom (QA: the log only said the source "disconnected")
    who = basic_user(request.headers.get("Authorization", "")) or "?"
    log.warning("%s: source killed through /admin/killsource by %r from %s (%s)", mount.path, who, client_address(request), holder)
    return xml(iceresponse("Source Removed"))


async def moveclients(request: web.Request) -> web.Response:
    mount = await mount_command(request)
    wanted = safe_text(request.query.get("destination", ""))
    target = station_of(request).mount(wanted)
    if target is None or target is mount:
        return xml(iceresponse(move_refusal(mount.path, wanted), ok=False), status=400)
    moving, room = len(mount.listeners), room_on(target)
    conflict = move_conflict(mount.path, target.path, mount.info.content_type, target.info.content_type, moving, room)
    if conflict:  # nobody moves: Icecast moves no one either when the destination cannot take them all
        return xml(iceresponse(f"Clients not moved: {conflict}", ok=False), status=400)
    for listener in list(mount.listeners):
        listener.move_to(target)
    return xml(iceresponse(f"Clients moved from {mount.path} to {target.path}"))


def move_refusal(path: str, destination: str) -> str:
    """Why moveclients cannot move `path`'s listeners to `destination` (pure)."""
    if not destination:
        return "Missing parameter: destination= (another mount)"
    if destination == path:
        return f"Destination {path} is the mount itself: give another mount"
    return f"No such destination: {destination[:200]}"


async def stats(request: web.Request) -> web.Response:
    await admin_or(request)
    station = station_of(request)
    return xml(stats_xml(station.status(), station.config.station_description, base_url(request)))


async def streamlist(request: web.Request) -> web.Response:
    """For Icecast slaves: every mount on air, one per line (relay or admin credentials)."""
    await admin_or(request, "relay")
    return web.Response(text="".join(f"{m.path}\r\n" for m in station_of(request).live_mounts()), content_type="text/plain")
