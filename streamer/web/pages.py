"""The station's pages: the public page `/`, the compact `/embed` for an iframe, and the
operator's dashboard `/admin/`.

The public pages are whole without JavaScript: HTML from a template (`templates/`) filled
with escaped parts (`render`), an `<audio>` element for the stream. Their script (`static/`)
then keeps them current from `/api/events`. The dashboard is its script's: it reads the status,
the schedule and the listener history, and acts through the admin API, all same-origin.
Every page says where it may load from (Content-Security-Policy: this server, and the
stream's own address) and who may frame it (only `/embed` may be framed elsewhere).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from ..wire.text import safe_text
from . import assets, render
from .auth import admin_or
from .doc_cache import Busy
from .port import StationPort, base_url, station_of

PUBLIC_ASSETS = ["player.js", "station.css", "icon.svg"]
ADMIN_ASSETS = ["admin.js", "station.css", "icon.svg"]


def headers(frame_ancestors: str, media: set[str]) -> dict[str, str]:
    sources = " ".join(sorted({"'self'", *media}))
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"media-src {sources}; base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
    out = {"Content-Security-Policy": policy, "Cache-Control": "no-cache", "Referrer-Policy": "same-origin"}
    out["X-Content-Type-Options"] = "nosniff"
    if frame_ancestors == "'none'":
        out["X-Frame-Options"] = "DENY"
    return out


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def player_parts(np: dict, wanted: str, known: list[str]) -> dict[str, str]:
    """The stream the page plays without JavaScript (the one asked for with ?mount=, else the
    first MP3 mount), or why there is none: a page must say so rather than spin."""
    live = {m["mount"]: m for m in np["mounts"]}
    default = next((m for m in np["mounts"] if m["format"] == "audio/mpeg"), np["mounts"][0] if np["mounts"] else None)
    mount = live.get(wanted) if wanted else default
    if mount is None:
        why = f"No source on {wanted} right now: nothing to play." if wanted in known else f"There is no stream {wanted} here."
        if not wanted:
            why = "Nothing is on air right now."
        return {"mount": render.e(wanted), "audio": "", "player_status": render.e(why), "player_class": "status off-air"}
    audio = (
        f'<audio id="audio" controls preload="none" src="{render.e(mount["listen_url"])}">'
        f'<a href="{render.e(mount["mount"])}.m3u">Open the stream in your player</a></audio>'
    )
    return {"mount": render.e(mount["mount"]), "audio": audio, "player_status": "", "player_class": "status"}


def station_parts(station: StationPort, base: str) -> tuple[dict, dict[str, str], set[str]]:
    """What a public page shows of the station at `base` (the same for every reader, so shared
    while the pages are flooded): the now-playing document, the template's parts, the media origins."""
    np = station.nowplaying(base)
    schedule = station.schedule(24.0, today=True)
    tz = ZoneInfo(schedule["timezone"]) if schedule else None
    now = np.get("now_playing") or {}
    name = np["station"]["name"]
    day, blocks, events = render.schedule_html(schedule, time.time())
    parts = {
        "name": render.e(name),
        "description": render.e(np["station"]["description"]),
        "title": render.e(f"{now['title']} · {name}" if now.get("title") else name),
        "tz": render.e(schedule["timezone"] if schedule else ""),
        "live_hidden": "" if np["live"] else "hidden",
        "bulletin_hidden": "" if np.get("bulletin") else "hidden",
        "headlines": render.headlines_html(np["headlines"], np.get("bulletin"), now.get("title", "")),
        "headline": render.e(np["headlines"][0]["title"] if np["headlines"] else ""),
        "no_news_hidden": "hidden" if np["headlines"] else "",
        "history": render.history_html(np["history"], tz),
        "links": render.mount_links(np["mounts"], np.get("hls")),
        "day": day,
        "blocks": blocks,
        "events": events,
        **render.now_parts(np),
        **{n.replace(".", "_"): assets.url(n) for n in PUBLIC_ASSETS},
    }
    return np, parts, {origin(m["listen_url"]) for m in np["mounts"]} - {""}


async def public_page(request: web.Request, template: str, frame_ancestors: str) -> web.Response:
    station = station_of(request)
    base = base_url(request)
    try:
        np, parts, media = station.documents.get("page " + base, time.monotonic(), lambda: station_parts(station, base))
    except Busy as busy:
        return web.Response(text=f"{busy}\n", status=503, headers={"Retry-After": "1", "Cache-Control": "no-cache"})
    player = player_parts(np, safe_text(request.query.get("mount", "")[:200]), station.mount_paths())
    body = assets.template(template).substitute({**parts, **player})
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers=headers(frame_ancestors, media))


async def index(request: web.Request) -> web.Response:
    return await public_page(request, "index.html", "'self'")


async def embed(request: web.Request) -> web.Response:
    return await public_page(request, "embed.html", "*")


async def dashboard(request: web.Request) -> web.Response:
    """GET /admin/ (admin credentials): the operator's dashboard."""
    await admin_or(request, page=True)
    station = station_of(request)
    schedule = station.schedule(1.0)
    parts = {
        "name": render.e(station.config.station_name),
        "live_mount": render.e(station.config.live_mount),
        "tz": render.e(schedule["timezone"] if schedule else ""),  # times as the schedule gives them
        **{n.replace(".", "_"): assets.url(n) for n in ADMIN_ASSETS},
    }
    body = assets.template("admin.html").substitute(parts)
    answer = headers("'none'", set())
    answer["Cache-Control"] = "no-store"
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers=answer)


async def to_dashboard(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/admin/")
