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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from ..aio import TooLarge, read_capped
from ..net_words import in_words
from ..offload import OffloadError
from ..settings import FeedConfig, NewsConfig
from ..ticks import sleep_on_grid
from .articles import FolderScan, scan_folder
from .parse import FeedError, NewsItem, dated_as_fetched, merge, parse_feed, version_of

log = logging.getLogger("streamer.news")

MAX_FEED_BYTES = 5_000_000
SCAN_INTERVAL = 1.0
CLOCK_SLACK = 60.0  # seconds a file may be dated ahead (two machines' clocks) before it counts from now
FEED_TIMEOUT = 30.0  # seconds to parse a feed (in the offload worker) at most


async def _in_thread(timeout: float, fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout)


class NewsDesk:
    def __init__(
        self,
        config: NewsConfig,
        on_change: Callable[[], None] = lambda: None,
        offload: Callable[..., Awaitable[Any]] = _in_thread,
    ) -> None:
        self.config = config
        self.on_change = on_change
        self.offload = offload  # CPU-heavy parsing (feeds) runs out of the event loop's way
        self.folder_items: dict[str, NewsItem] = {}  # by file path
        self._folder_seen: dict[str, tuple[int, int]] = {}
        self.feed_items: dict[str, list[NewsItem]] = {}  # by URL
        self.posted: list[NewsItem] = []
        self.retracted: set[str] = set()
        self.retracted_as: dict[str, str] = {}  # id → the version retracted (version_of), kept across restarts
        self.errors: dict[str, str] = {}  # source → last error, while it lasts
        self.feed_state: dict[str, dict] = {}  # url → etag, last_modified, last_ok, polls
        self.headlines: list[NewsItem] = []
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
        # what each says, not only which and in what order (QA: a correction of the newest
        # headline was accepted, listed nowhere and the bulletin read the old version)
        if [i.to_json() for i in merged] != [i.to_json() for i in self.headlines]:
            self.headlines = merged
            self._save()
            self.on_change()

    def post(self, item: NewsItem) -> NewsItem:
        item.origin = "api"
        item.published = item.published or time.time()
        self.retracted.discard(item.id)
        self.retracted_as.pop(item.id, None)
        self.posted = [p for p in self.posted if p.id != item.id] + [item]
        self.refresh()
        return item

    def retract(self, item_id: str) -> bool:
        item = next((i for i in self.headlines if i.id == item_id), None)
        if item is None:  # (an unknown id is a 404, and must not block a story that comes later)
            return False
        self.retracted.add(item_id)
        self.retracted_as[item_id] = version_of(item)
        self.posted = [p for p in self.posted if p.id != item_id]
        self.refresh()
        return True

    # --- persistence -----------------------------------------------------------------------------

    def _save(self) -> None:
        path = self.config.state_file
        if path is None:
            return
        data = {
            "posted": [i.to_json() for i in self.posted],
            "retracted": sorted(self.retracted),
            "retracted_as": self.retracted_as,
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
            self.retracted_as = {k: str(v) for k, v in dict(data.get("retracted_as") or {}).items() if k in self.retracted}
            # Feed headlines from before the restart stand until their feeds answer again.
            for d in data.get("headlines", []):
                item = NewsItem(**{k: v for k, v in d.items() if k in fields})
                if item.origin.startswith("feed:"):
                    self.feed_items.setdefault(item.origin[5:], []).append(item)
        except (OSError, ValueError, TypeError) as exc:
            log.error("%s: cannot read saved headlines (%s); starting without them", path, exc)
        self.refresh()

    # --- sources -----------------------------------------------------------------------------------

    def tasks(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        """The desk's long-lived jobs, for the station's supervisor to run."""
        jobs: list[tuple[str, Callable[[], Awaitable[None]]]] = [("news expiry", self._expire)]
        if self.config.folder is not None:
            jobs.append(("news folder", self._watch_folder))
        for feed in self.config.feeds:
            jobs.append((f"feed {feed.url}", lambda feed=feed: self._poll(feed)))
        return jobs

    async def close(self) -> None:
        if self._session:
            await self._session.close()

    async def _expire(self) -> None:
        """Headlines leave at their expiry, whether or not anything else changes (QA: one that
        expired was read on air 25 s later, as a feed answering 304 changes nothing)."""
        while True:
            await sleep_on_grid(SCAN_INTERVAL)
            if any(i.expires is not None and i.expires <= time.time() for i in self.headlines):
                self.refresh()

    async def _watch_folder(self) -> None:
        folder = self.config.folder
        assert folder is not None  # (the job runs only with a folder)
        while True:
            scan = await asyncio.to_thread(scan_folder, folder, self.config.mastheads, dict(self._folder_seen))
            if self._apply(scan):
                self.refresh()
            await sleep_on_grid(SCAN_INTERVAL)

    def _apply(self, scan: FolderScan) -> bool:
        """Take a scan's results into the desk (on the loop). True if the folder's items changed."""
        key = f"folder:{self.config.folder}"
        if scan.folder_error:
            self.errors[key] = scan.folder_error
            return False
        self.errors.pop(key, None)
        changed = bool(scan.items)
        self._dated_as_read(scan)
        for path, item in scan.items.items():
            name = f"article:{Path(path).name}"
            if item is None:
                self.folder_items.pop(path, None)
                self.errors[name] = scan.errors[path]
                log.warning("news article %s skipped: %s", path, scan.errors[path])
            else:
                if item.id in self.retracted and self._rewritten(item, self.folder_items.get(path)):
                    self.retracted.discard(item.id)  # a retracted article saved again, rewritten: a new version airs
                    self.retracted_as.pop(item.id, None)
                self.folder_items[path] = item
                self.errors.pop(name, None)
        for gone in set(self.folder_items) - set(scan.seen):
            del self.folder_items[gone]
            changed = True
        for gone in set(self._folder_seen) - set(scan.seen):
            self.errors.pop(f"article:{Path(gone).name}", None)
        self._folder_seen = scan.seen
        return changed

    def _rewritten(self, item: NewsItem, before: NewsItem | None) -> bool:
        """Another version than the one retracted (another summary or credit), also when it was
        edited while the station was down; for a retraction saved without its version, than the
        one read before."""
        retracted = self.retracted_as.get(item.id) or (before and version_of(before))
        return bool(retracted) and retracted != version_of(item)

    def _dated_as_read(self, scan: FolderScan) -> None:
        """An article whose file is dated ahead (a clock set wrong where it was written, or a copy
        that kept its times) counts from when it was first read, as a feed's item does: it would
        otherwise stay first, "newest", until that date, and expire only a day after it."""
        now = time.time()
        ahead = [(path, item) for path, item in scan.items.items() if item is not None and item.published > now + CLOCK_SLACK]
        for path, item in ahead:
            log.warning("news article %s is dated %.0f min ahead (its file's time): it counts from now", path, (item.published - now) / 60)
        dated_as_fetched([item for _, item in ahead], now, list(self.folder_items.values()))

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
                try:
                    data = await read_capped(r.content, MAX_FEED_BYTES)
                except TooLarge:
                    raise FeedError(f"feed larger than {MAX_FEED_BYTES:,} bytes") from None
                items = await self.offload(FEED_TIMEOUT, parse_feed, data, key)
                state["etag"] = r.headers.get("ETag")
                state["last_modified"] = r.headers.get("Last-Modified")
        except (FeedError, aiohttp.ClientError, TimeoutError, OffloadError) as exc:
            message = str(exc) if isinstance(exc, (FeedError, OffloadError)) else in_words(exc)
            if isinstance(exc, TimeoutError):
                message = f"no answer within {feed.timeout:g} s"
            state["errors"] = state.get("errors", 0) + 1
            if self.errors.get(key) != message:
                log.warning("news feed %s: %s (keeping its previous headlines)", feed.url, message)
            self.errors[key] = message
            return
        now = time.time()
        dated_as_fetched(items, now, self.feed_items.get(feed.url, []))
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
