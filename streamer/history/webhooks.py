"""Webhooks: a JSON POST of the now-playing document (with `event`) when something reaches
listeners: song_changed, live_connect, live_disconnect, station_offline, station_online,
listeners_threshold.

One supervised dispatcher task; each endpoint has its own bounded queue (the oldest event goes
when it is full), one delivery in flight at a time (so its events arrive in order), a timeout,
and retries with back-off (1 s doubling to a minute, for an hour). A receiver that hangs or
answers 500 costs only its own queue: nothing else waits for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from string import Template
from urllib.parse import urlsplit

import aiohttp

from .. import __version__
from ..net_words import in_words
from ..settings import WebhookConfig
from ..ticks import sleep_on_grid

log = logging.getLogger("streamer.webhooks")

QUEUE = 100  # events kept per endpoint
FIRST_RETRY, MAX_RETRY = 1.0, 60.0
GIVE_UP_AFTER = 3600.0  # seconds an event is retried before it is dropped
WATCH_EVERY = 1.0
# off air (at start, or after a failure) the watch looks ten times as often, so station_online
# goes out when the audio starts, ahead of anything the first seconds on air fire
WATCH_OFF_AIR = 0.1


@dataclass(slots=True)
class Delivery:
    event: str
    body: bytes
    content_type: str
    created: float


@dataclass(slots=True)
class Hook:
    config: WebhookConfig
    queue: deque[Delivery] = field(default_factory=lambda: deque(maxlen=QUEUE))
    next_try: float = 0.0
    backoff: float = FIRST_RETRY
    inflight: asyncio.Task | None = None
    last_error: str = ""
    above: bool | None = None  # listeners_threshold: above the threshold at the last look


def fields_of(doc: dict) -> dict[str, object]:
    """The flat fields a template may use: $event $station $title $artist $song $kind $playlist
    $block $listeners $live $json (pure)."""
    now = doc.get("now_playing") or {}
    song = now.get("song") or {}
    return {
        "event": doc.get("event", ""), "station": (doc.get("station") or {}).get("name", ""), "title": now.get("title", ""),
        "artist": song.get("artist", ""), "song": song.get("title", ""), "kind": now.get("kind", ""),
        "playlist": now.get("playlist") or "", "block": now.get("block") or "", "listeners": doc.get("listeners", 0),
        "live": "true" if doc.get("live") else "false",
    }  # fmt: skip


def render_body(template: str, doc: dict) -> tuple[bytes, str]:
    """The POST body and its type: the document as JSON, or the template filled in (values
    JSON-escaped when the template is JSON itself)."""
    if not template:
        return json.dumps(doc, ensure_ascii=False).encode(), "application/json"
    as_json = template.lstrip().startswith(("{", "["))
    values = {k: (json.dumps(v, ensure_ascii=False)[1:-1] if as_json and isinstance(v, str) else v) for k, v in fields_of(doc).items()}
    values["json"] = json.dumps(doc, ensure_ascii=False)
    body = Template(template).safe_substitute(values)
    return body.encode(), "application/json" if as_json else "text/plain; charset=utf-8"


class Webhooks:
    def __init__(self, configs: tuple[WebhookConfig, ...], document: Callable[[], dict]) -> None:
        self.hooks = [Hook(c) for c in configs]
        self.document = document
        self.counts = {"sent": 0, "failed": 0, "dropped": 0}
        self._wake: asyncio.Event | None = None
        self.online: bool | None = None  # the station's health as last announced (None: not yet looked)

    def fire(self, event: str, extra: dict | None = None, only: Hook | None = None) -> None:
        targets = [h for h in self.hooks if event in h.config.events and (only is None or h is only)]
        if not targets:
            return
        doc = {"event": event, "time": time.time(), **self.document(), **(extra or {})}
        for hook in targets:
            body, content_type = render_body(hook.config.template, doc)
            if len(hook.queue) == QUEUE:
                self.counts["dropped"] += 1
            hook.queue.append(Delivery(event, body, content_type, time.time()))
        if self._wake is not None:
            self._wake.set()

    def queued(self) -> int:
        return sum(len(h.queue) for h in self.hooks)

    async def run(self) -> None:
        """The dispatcher (supervised): starts each endpoint's next delivery when it is due."""
        self._wake = wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        headers = {"User-Agent": f"streamer/{__version__} webhooks"}
        async with aiohttp.ClientSession(headers=headers) as session:
            try:
                while True:
                    wake.clear()
                    wait = WATCH_EVERY
                    for hook in self.hooks:
                        if hook.inflight is None and hook.queue:
                            if loop.time() >= hook.next_try:
                                hook.inflight = asyncio.create_task(
                                    self._deliver(hook, session), name=f"webhook {safe_url(hook.config.url)}"
                                )
                            else:
                                wait = min(wait, hook.next_try - loop.time())
                    try:
                        await asyncio.wait_for(wake.wait(), max(0.01, wait))
                    except TimeoutError:
                        pass
            finally:
                for hook in self.hooks:
                    if hook.inflight is not None:
                        hook.inflight.cancel()
                        hook.inflight = None

    async def _deliver(self, hook: Hook, session: aiohttp.ClientSession) -> None:
        item = hook.queue[0]
        loop = asyncio.get_running_loop()
        headers = {"Content-Type": item.content_type, "X-Streamer-Event": item.event}
        try:
            timeout = aiohttp.ClientTimeout(total=hook.config.timeout)
            async with session.post(hook.config.url, data=item.body, headers=headers, timeout=timeout) as r:
                await r.content.read(65536)
                error = "" if 200 <= r.status < 300 else f"HTTP {r.status}"
        except TimeoutError:
            error = f"no answer within {hook.config.timeout:g} s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            error = in_words(exc)
        finally:
            hook.inflight = None
        first = hook.queue[0] is item if hook.queue else False
        if not error:
            if first:
                hook.queue.popleft()
            self.counts["sent"] += 1
            hook.next_try, hook.backoff, hook.last_error = 0.0, FIRST_RETRY, ""
        else:
            self.counts["failed"] += 1
            if error != hook.last_error:
                log.warning("webhook %s: %s (event %s); retrying in %g s", safe_url(hook.config.url), error, item.event, hook.backoff)
            hook.last_error = error
            hook.next_try = loop.time() + hook.backoff
            hook.backoff = min(hook.backoff * 2, MAX_RETRY)
            if first and time.time() - item.created > GIVE_UP_AFTER:
                hook.queue.popleft()
                self.counts["dropped"] += 1
        if self._wake is not None:
            self._wake.set()

    def on_air_event(self, event: str, on_air: bool) -> None:
        """An event of the air (song_changed, live_connect): station_online goes first if the
        watch has not said it yet (QA: the first song_changed came before station_online)."""
        if on_air and self.online is not True:
            self.fire("station_online")
            self.online = True
        self.fire(event)

    async def watch(self, on_air: Callable[[], bool], listeners: Callable[[], int]) -> None:
        """station_online / station_offline when the station's health turns, and listener
        thresholds crossed (a supervised task, once a second; ten times a second while off air)."""
        while True:
            ok = on_air()
            if ok != self.online:
                if ok or self.online is not None:
                    self.fire("station_online" if ok else "station_offline")
                self.online = ok
            count = listeners()
            for hook in self.hooks:
                if hook.config.threshold <= 0:
                    continue
                above = count >= hook.config.threshold
                if hook.above is not None and above != hook.above:
                    crossing = {"value": hook.config.threshold, "direction": "up" if above else "down", "listeners": count}
                    self.fire("listeners_threshold", {"threshold": crossing}, only=hook)
                hook.above = above
            await sleep_on_grid(WATCH_EVERY if ok else WATCH_OFF_AIR)

    async def drain(self, seconds: float) -> None:
        """At a clean stop: give queued events (station_offline) up to `seconds` to go out."""
        deadline = time.monotonic() + seconds
        while self.queued() and time.monotonic() < deadline and any(h.next_try <= asyncio.get_running_loop().time() for h in self.hooks):
            await asyncio.sleep(0.05)

    def status(self) -> list[dict]:
        """Each endpoint, its address shown without path or query (where webhook tokens live)."""
        return [
            {"url": safe_url(h.config.url), "queued": len(h.queue), "error": h.last_error, "events": list(h.config.events)}
            for h in self.hooks
        ]


def safe_url(url: str) -> str:
    """The address without path or query, where webhook tokens live (for the log and /api/status)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"
