"""The newsroom's API: headlines listed, posted and retracted, a bulletin started now."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from ..aio import TooLarge, read_capped
from ..news.post import MAX_NEWS_POST, news_item_from_json
from ..wire.text import safe_text
from .auth import admin_or
from .port import station_of
from .status import admin_json, as_json

BODY_TIMEOUT = 10.0  # seconds a request body may take to arrive


async def news_list(request: web.Request) -> web.Response:
    news = station_of(request).news
    return as_json({"headlines": [h.to_json() for h in news.headlines], "errors": news.errors})


async def read_body(request: web.Request, cap: int) -> bytes:
    """The whole body (however many packets it comes in), at most `cap` bytes, within BODY_TIMEOUT."""
    too_big = f"a news item is at most {cap} bytes\n"
    if request.content_length is not None and request.content_length > cap:
        raise web.HTTPRequestEntityTooLarge(cap, request.content_length, text=too_big)
    try:
        return await asyncio.wait_for(read_capped(request.content, cap), BODY_TIMEOUT)
    except TooLarge:
        raise web.HTTPRequestEntityTooLarge(cap, cap + 1, text=too_big) from None
    except TimeoutError:
        raise web.HTTPRequestTimeout(text=f"the request body did not arrive within {BODY_TIMEOUT:g} s\n") from None


async def news_post(request: web.Request) -> web.Response:
    await admin_or(request)
    body = await read_body(request, MAX_NEWS_POST)
    try:
        item = news_item_from_json(body, time.time())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    return admin_json(station_of(request).news.post(item).to_json(), status=201)


async def news_delete(request: web.Request) -> web.Response:
    await admin_or(request)
    item_id = safe_text(request.match_info["id"])
    if not station_of(request).news.retract(item_id):
        raise web.HTTPNotFound(text=f"no headline with id {item_id[:100]!r} (GET /api/news lists them)\n")
    return admin_json({"retracted": item_id})


async def bulletin_post(request: web.Request) -> web.Response:
    await admin_or(request)
    return admin_json(station_of(request).request_bulletin(), status=202)
