"""The aiohttp application: every route of the web side, in one table."""

from __future__ import annotations

import logging

from aiohttp import web

from ..wire.http import SERVER
from ..wire.text import safe_text
from . import admin, assets, control, newsroom, pages, reports, status
from .port import STATION, StationPort

log = logging.getLogger("streamer.api")


async def _close_after_answer(request: web.Request, response: web.StreamResponse) -> None:
    """No keep-alive on the web side: the next request comes on a new connection, through the
    front door and its head timeout (and a stream asked for next reaches the door directly)."""
    response.force_close()
    response.headers["Connection"] = "close"  # said, so no client counts on reusing it
    response.headers["Server"] = SERVER  # the stream answers' name, not aiohttp's and Python's versions


@web.middleware
async def _failures_said(request: web.Request, handler):
    """A handler that fails answers 500 and logs what failed, with its traceback: never a bare one."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("web request %s %s failed", request.method, safe_text(request.path[:100]))
        return web.Response(status=500, text="internal error (logged)\n")


def make_app(station: StationPort) -> web.Application:
    app = web.Application(
        client_max_size=1024 * 1024, handler_args={"max_field_size": 8190, "max_line_size": 8190}, middlewares=[_failures_said]
    )
    app.on_response_prepare.append(_close_after_answer)
    app[STATION] = station
    get = app.router.add_get
    get("/", pages.index)
    get("/embed", pages.embed)
    get("/admin/", pages.dashboard)
    get("/admin", pages.to_dashboard)
    get("/static/{name}", assets.serve)
    get("/api/status", status.api_status)
    get("/status-json.xsl", status.status_json)
    get("/api/nowplaying", status.nowplaying)
    get("/api/reports/{kind}", reports.report)
    get("/metrics", reports.metrics)
    get("/api/news", newsroom.news_list)
    app.router.add_post("/api/news", newsroom.news_post)
    app.router.add_delete("/api/news/{id}", newsroom.news_delete)
    app.router.add_post("/api/bulletin", newsroom.bulletin_post)
    app.router.add_post("/api/skip", control.skip)
    get("/api/schedule", control.schedule)
    get("/api/listeners/history", control.listener_history)
    get("/admin/metadata", admin.metadata)
    get("/admin/metadata.xsl", admin.metadata)
    get("/admin/listmounts", admin.listmounts)
    get("/admin/listclients", admin.listclients)
    get("/admin/killclient", admin.killclient)
    get("/admin/killsource", admin.killsource)
    get("/admin/streamlist.txt", admin.streamlist)
    get("/admin/moveclients", admin.moveclients)
    get("/admin/stats", admin.stats)
    get(r"/{mount:.+}.{ext:m3u|pls|xspf}", status.playlist_file)
    app.router.add_route("*", "/{tail:.*}", status.not_found)
    return app
