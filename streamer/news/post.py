"""A headline posted through the API (pure): the request body in, a NewsItem or the reason
it was refused out."""

from __future__ import annotations

import json
import math
from datetime import datetime

from .parse import MAX_HEADLINE, NewsItem, clean_text

MAX_NEWS_POST = 64 * 1024
MAX_EXPIRES = 10 * 365 * 86400.0


def news_item_from_json(body: bytes, now: float) -> NewsItem:
    """A NewsItem from a POST body; ValueError says exactly what is wrong."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"bad JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError('the body must be a JSON object like {"title": "…", "summary": "…"}')
    unknown = set(data) - {"title", "summary", "source", "expires"}
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}; known: title, summary, source, expires")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title is required and must be non-empty text")
    if not (cleaned := clean_text(title)):  # markup or control characters only: it would air as "News: "
        raise ValueError(f"title {title[:40]!r} has no text left once markup and control characters are taken out")
    if len(cleaned) > MAX_HEADLINE:
        raise ValueError(f"title is {len(cleaned)} characters: a headline is at most {MAX_HEADLINE} (put the rest in summary)")
    for key in ("summary", "source"):
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key} must be text")
    expires = data.get("expires")
    if expires is not None:
        if isinstance(expires, bool) or not isinstance(expires, int | float | str):
            raise ValueError("expires must be seconds from now (a number) or an ISO 8601 time")
        if isinstance(expires, str):
            try:
                when = datetime.fromisoformat(expires.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"expires {expires!r} is not an ISO 8601 time like 2026-11-24T18:00:00Z") from None
            if when.tzinfo is None:
                raise ValueError("expires needs a time zone (add Z or +02:00)")
            if when.timestamp() <= now:  # it would be taken and never shown
                raise ValueError(f"expires {expires!r} is in the past: give a later time, or seconds from now")
            if when.timestamp() > now + MAX_EXPIRES:  # (as seconds from now are: QA)
                raise ValueError(f"expires {expires!r} is more than ten years away: give an earlier time")
            expires = when.timestamp()
        else:
            seconds = float(expires)
            if not math.isfinite(seconds) or not 1 <= seconds <= MAX_EXPIRES:
                raise ValueError(f"expires must be seconds from now between 1 and {MAX_EXPIRES:.0f} (ten years), not {expires!r}")
            expires = now + seconds
    # a post is read as a web page's text is (a CMS sends its titles with markup and entities), once, here
    summary, source = clean_text(data.get("summary", "")), clean_text(data.get("source", ""))
    return NewsItem(title=cleaned, summary=summary, source=source, published=now, expires=expires, origin="api")
