"""The station's memory on the web: reports (`/api/reports/KIND`, admin credentials) and
`/metrics` for Prometheus (open to scrapers unless `metrics: {public: false}`)."""

from __future__ import annotations

import sqlite3
import time

from aiohttp import web

from ..history.metrics import CONTENT_TYPE
from ..history.reports import FORMATS, ReportError, query_problem
from ..offload import OffloadError
from .auth import admin_or
from .doc_cache import Busy
from .port import station_of


async def report(request: web.Request) -> web.Response:
    """GET /api/reports/{plays|listeners|soundexchange|tracks}?from=YYYY-MM-DD&to=YYYY-MM-DD
    [&format=json|csv|txt][&variant=ath]: 400 with the reason for a bad request."""
    await admin_or(request)
    q = request.query
    if problem := query_problem(list(q.items())):  # (each as sent: keys() names a repeated one once)
        raise web.HTTPBadRequest(text=f"{problem}\n")
    fmt = q.get("format", "json")
    if fmt not in FORMATS:
        raise web.HTTPBadRequest(text=f"format must be one of {', '.join(FORMATS)}, not {fmt[:20]!r}\n")
    variant = q.get("variant", "")
    if variant not in ("", "performances", "ath"):
        raise web.HTTPBadRequest(text=f"variant must be performances or ath, not {variant[:20]!r}\n")
    try:
        # bad dates are named as the asker typed them: the query's from and to, not the CLI's flags
        body, content_type, filename = await station_of(request).report(
            request.match_info["kind"], q.get("from"), q.get("to"), fmt, variant == "ath"
        )
    except ReportError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    except sqlite3.Error as exc:
        raise web.HTTPServiceUnavailable(text=f"the history database cannot be read now: {exc}\n") from None
    except OffloadError as exc:
        raise web.HTTPServiceUnavailable(text=f"the report could not be made ({exc}): ask for fewer days\n") from None
    headers = {"Cache-Control": "no-cache", "Content-Type": f"{content_type}; charset=utf-8"}
    if filename and fmt == "txt":
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return web.Response(body=body, headers=headers)


async def metrics(request: web.Request) -> web.Response:
    station = station_of(request)
    if not station.config.history.metrics_public:
        await admin_or(request)
    try:  # shared while flooded, as the status documents are (a public page a monitor may hammer)
        body = station.documents.get("metrics", time.monotonic(), station.metrics)
    except Busy as busy:
        raise web.HTTPServiceUnavailable(text=f"{busy}\n", headers={"Retry-After": "1"}) from None
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response
