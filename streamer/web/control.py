"""The operator's controls beyond the newsroom: skip what plays, the timeline ahead, listeners
over time (the dashboard's graph)."""

from __future__ import annotations

import logging
import math

from aiohttp import web

from ..schedule.timeline import timeline_hours
from .auth import admin_or, client_address
from .port import station_of
from .status import admin_json, as_json

log = logging.getLogger("streamer.api")

MAX_HISTORY_HOURS = 366 * 24.0  # a store that keeps counts may answer for a year


def number(request: web.Request, name: str, default: float, low: float, high: float) -> float:
    """A query parameter as a number in [low, high]; 400 saying what is wrong otherwise."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # NaN fails too
        raise web.HTTPBadRequest(text=f"{name} must be a number from {low:g} to {high:g}, not {raw[:50]!r}\n")
    return value


async def skip(request: web.Request) -> web.Response:
    """POST /api/skip: what plays fades out now and the scheduler's next choice plays."""
    await admin_or(request)
    result = station_of(request).skip()
    if not result["skipped"]:
        return admin_json(result, status=409)
    log.info("skip from %s: %r fades out", client_address(request), result["title"])
    return admin_json(result, status=202)


async def schedule(request: web.Request) -> web.Response:
    """GET /api/schedule?hours=24: the timeline `streamer schedule` prints, as data and text."""
    raw = request.query.get("hours", "")
    try:
        hours = timeline_hours(raw) if raw else 24.0
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    doc = station_of(request).schedule(hours)
    if doc is None:
        raise web.HTTPServiceUnavailable(text="no programme loaded yet\n")
    return as_json(doc)


async def listener_history(request: web.Request) -> web.Response:
    """GET /api/listeners/history?hours=24&step=60 (admin): listener counts over time."""
    await admin_or(request)
    hours = number(request, "hours", 24.0, 0.0, MAX_HISTORY_HOURS)
    step = number(request, "step", 0.0, 0.0, 86400.0)
    return admin_json(station_of(request).listener_history(hours, step))
