"""The news desk: keeps the station's headline list from a folder of articles, RSS/Atom
feeds and the API, merged (deduplicated, newest first, expiring) and kept across restarts.

A bad article or feed never costs the headlines already there: the error is logged and
shown in /api/status until the source works again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from .aio import cancel
from .config import FeedConfig, NewsConfig
from .news import FeedError, NewsItem, merge, parse_article, parse_feed

log = logging.getLogger("streamer.news")

ARTICLE_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
MAX_ARTICLE_BYTES = 2_000_000
MAX_FEED_BYTES = 5_000_000
SCAN_INTERVAL = 1.0


class NewsDesk:
    def __init__(self, config: NewsConfig, on_change: Callable[[], None] = lambda: None) -> None:
        self.config = config
        self.on_change = on_change
        self.folder_items: dict[str, NewsItem] = {}  # by file path
        self._folder_seen: dict[str, tuple[int, int]] = {}
        self.feed_items: dict[str, list[NewsItem]] = {}  # by URL
        self.posted: list[NewsItem] = []
        self.retracted: set[str] = set()
        self.errors: dict[str, str] = {}  # source → last error, while it lasts
        self.feed_state: dict[str, dict] = {}  # url → etag, last_modified, last_ok, polls
        self.headlines: list[NewsItem] = []
        self._tasks: list[asyncio.Task] = []
        self._session: aiohttp.ClientSession | None = None

    # --- the merged list -----------------------------------------------------------------------

    def refresh(self) -> None:
        groups = [list(self.folder_items.values()), self.posted, *self.feed_items.values()]
        now = time.time()
        ttl = self.config.expire_hours * 3600
        for group in groups:
            for item in group:
                if item.expires is None and item.published:
                    item.expires = item.published + ttl
        merged = [i for i in merge(groups, now) if i.id not in self.retracted]
        if [i.id for i in merged] != [i.id for i in self.headlines]:
            self.headlines = merged
            self._save()
            self.on_change()

    def post(self, item: NewsItem) -> NewsItem:
        item.origin = "api"
        item.published = item.published or time.time()
        self.retracted.discard(item.id)
        self.posted = [p for p in self.posted if p.id != item.id] + [item]
        self.refresh()
        return item

    def retract(self, item_id: str) -> bool:
        known = any(i.id == item_id for i in self.headlines)
        self.retracted.add(item_id)
        self.posted = [p for p in self.posted if p.id != item_id]
        self.refresh()
        return known

    # --- persistence -----------------------------------------------------------------------------

    def _save(self) -> None:
        path = self.config.state_file
        if path is None:
            return
        data = {
            "posted": [i.to_json() for i in self.posted],
            "retracted": sorted(self.retracted),
            "headlines": [i.to_json() for i in self.headlines],
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            self.errors["state"] = f"cannot save headlines to {path}: {exc.strerror or exc}"

    def load_state(self) -> None:
        path = self.config.state_file
        if path is None or not path.is_file():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            fields = set(NewsItem.__dataclass_fields__)
            self.posted = [NewsItem(**{k: v for k, v in d.items() if k in fields}) for d in data.get("posted", [])]
            self.retracted = set(data.get("retracted", []))
            # Feed headlines from before the restart stand until their feeds answer again.
            for d in data.get("headlines", []):
                item = NewsItem(**{k: v for k, v in d.items() if k in fields})
                if item.origin.startswith("feed:"):
                    self.feed_items.setdefault(item.origin[5:], []).append(item)
        except (OSError, ValueError, TypeError) as exc:
            log.error("%s: cannot read saved headlines (%s); starting without them", path, exc)
        self.refresh()

    # --- sources -----------------------------------------------------------------------------------

    def start(self) -> None:
        self.load_state()
        if self.config.folder is not None:
            self._tasks.append(asyncio.create_task(self._watch_folder(), name="news folder"))
        for feed in self.config.feeds:
            self._tasks.append(asyncio.create_task(self._poll(feed), name=f"feed {feed.url}"))

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel(task)
        if self._session:
            await self._session.close()

    async def _watch_folder(self) -> None:
        while True:
            changed = await asyncio.to_thread(self._scan_folder)
            if changed:
                self.refresh()
            await asyncio.sleep(SCAN_INTERVAL)

    def _scan_folder(self) -> bool:
        """Blocking: reads changed articles. True if the folder's items changed."""
        folder = self.config.folder
        assert folder is not None
        seen: dict[str, tuple[int, int]] = {}
        changed = False
        try:
            entries = [p for p in folder.iterdir() if p.suffix.lower() in ARTICLE_SUFFIXES and p.is_file()]
        except FileNotFoundError:
            entries = []
        except OSError as exc:
            self.errors[f"folder:{folder}"] = str(exc)
            return False
        for path in entries:
            key = str(path)
            try:
                st = path.stat()
            except OSError:
                continue
            seen[key] = (st.st_mtime_ns, st.st_size)
            if self._folder_seen.get(key) == seen[key]:
                continue
            changed = True
            item, error = self._read_article(path, st.st_mtime)
            if item is None:
                self.folder_items.pop(key, None)
                self.errors[f"article:{path.name}"] = error
                log.warning("news article %s skipped: %s", path, error)
            else:
                self.folder_items[key] = item
                self.errors.pop(f"article:{path.name}", None)
        for gone in set(self.folder_items) - set(seen):
            del self.folder_items[gone]
            changed = True
        for gone in set(self._folder_seen) - set(seen):
            self.errors.pop(f"article:{Path(gone).name}", None)
        self._folder_seen = seen
        return changed

    def _read_article(self, path: Path, mtime: float) -> tuple[NewsItem | None, str]:
        try:
            raw = path.read_bytes()[:MAX_ARTICLE_BYTES]
        except OSError as exc:
            return None, f"unreadable: {exc.strerror or exc}"
        if not raw.strip():
            return None, "empty file"
        text = raw.decode("utf-8", errors="replace")
        item = parse_article(text, self.config.mastheads)
        if item is None:
            return None, "no headline found"
        item.published = mtime
        item.origin = f"folder:{path.name}"
        return item, ""

    async def _poll(self, feed: FeedConfig) -> None:
        state = self.feed_state.setdefault(feed.url, {"etag": None, "last_modified": None, "last_ok": None, "polls": 0, "not_modified": 0})
        while True:
            await self.poll_once(feed, state)
            await asyncio.sleep(feed.interval)

    async def poll_once(self, feed: FeedConfig, state: dict) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"User-Agent": "streamer news desk"})
        headers = {}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        state["polls"] = state.get("polls", 0) + 1
        key = f"feed:{feed.url}"
        try:
            async with self._session.get(feed.url, headers=headers, timeout=aiohttp.ClientTimeout(total=feed.timeout)) as r:
                if r.status == 304:
                    state["not_modified"] = state.get("not_modified", 0) + 1
                    self.errors.pop(key, None)
                    return
                if r.status != 200:
                    raise FeedError(f"HTTP {r.status} {r.reason}")
                data = await r.content.read(MAX_FEED_BYTES + 1)
                if len(data) > MAX_FEED_BYTES:
                    raise FeedError(f"feed larger than {MAX_FEED_BYTES} bytes")
                items = await asyncio.to_thread(parse_feed, data, key)
                state["etag"] = r.headers.get("ETag")
                state["last_modified"] = r.headers.get("Last-Modified")
        except (FeedError, aiohttp.ClientError, TimeoutError) as exc:
            message = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                message = f"no answer within {feed.timeout:g} s"
            if self.errors.get(key) != message:
                log.warning("news feed %s: %s (keeping its previous headlines)", feed.url, message)
            self.errors[key] = message
            return
        now = time.time()
        for item in items:
            item.published = item.published or now
        self.feed_items[feed.url] = items
        state["last_ok"] = now
        self.errors.pop(key, None)
        self.refresh()

    def status(self) -> dict:
        return {
            "headlines": len(self.headlines),
            "folder": str(self.config.folder) if self.config.folder else None,
            "articles": len(self.folder_items),
            "feeds": [{"url": url, **{k: v for k, v in state.items()}} for url, state in self.feed_state.items()],
            "errors": dict(self.errors),
        }
