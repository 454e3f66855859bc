"""A mount: encoded frames → its pacing clock → its shared buffer → its listeners.

The pacer is the mount's one clock. Each tick it releases the frames that are due into
the shared buffer, then writes the new bytes to every listener from that one buffer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..settings import FORMAT_RULES, MountConfig
from ..ticks import next_tick
from ..wire.formats import StreamInfo
from ..wire.icy import clean_title
from .buffer import StreamBuffer
from .chains import Chains
from .pacing import PacingClock, rebase_said
from .presence import Presence

if TYPE_CHECKING:
    from .listener import Listener, Unheard

log = logging.getLogger("streamer.mount")

MAX_PENDING_SECONDS = 30.0  # a source sending faster than real time is not buffered without end
FANOUT_BATCH = 400  # listeners written between yields to the event loop (keeps accept latency low)
ON_AIR_WINDOW = 2.0  # seconds without new audio after which a mount counts as off air


class Mount:
    def __init__(
        self,
        config: MountConfig,
        fanout_interval: float,
        origin: Callable[[], float | None] | None = None,
        on_title: Callable[[str, str], None] = lambda mount, title: None,
    ) -> None:
        self.config = config
        self.path = config.path
        self.describe(config, FORMAT_RULES[config.format].content_type)
        self.interval = fanout_interval
        self.origin = origin or (lambda: None)  # the station timeline's start, shared by its mounts
        self.on_title = on_title  # told when a title change goes out to listeners
        # Enough history for a listener queue_size behind plus a burst.
        self.buffer = StreamBuffer(config.queue_size + config.burst_size)
        self.listeners: set[Listener] = set()
        self.presence = Presence(self)  # which of them count: not those about to be found gone
        self.pending: deque[tuple[bytes, int, str | None]] = deque()
        self.pending_samples = 0
        self.max_pending_seconds = MAX_PENDING_SECONDS  # a source ahead by more loses its oldest frames
        self.pending_raw: list[bytes] = []  # pass-through bytes that are not MP3 (no frames to pace)
        self.source = None  # the SourceConnection feeding a pass-through mount, if any
        self.unheard: Unheard | None = None  # listeners waiting for a new source's first audio
        self.chains = Chains()  # an Ogg stream's chains and their header pages
        self.passthrough = False
        self.sample_rate = config.sample_rate or 44100  # the pacing rate; a pass-through mount learns it from its frames
        self._next_title: str | None = None
        # the live mount: titles go on air (with (artist, title) when the source said them apart)
        self.on_set_title: Callable[[str, tuple[str, str] | None], None] | None = None
        self.on_source_heard: Callable[[Mount], None] | None = None  # a pass-through source's first audio
        self.on_source_gone: Callable[[Mount], None] | None = None
        # Told when a listener joins (True) or leaves (False) this mount: the station's history.
        self.on_listeners: Callable[[Mount, Listener, bool], None] = lambda mount, listener, joined: None
        self._arrived = asyncio.Event()
        self.clock: PacingClock | None = None
        self.started_at = time.time()
        self.stream_start: float | None = None  # wall time of the first byte on air
        self.last_audio = 0.0  # monotonic time the buffer last grew
        self.peak = 0
        self.connections = 0
        self.evicted = 0
        self.bytes_sent = 0  # written to listeners' sockets
        self.bytes_discarded = 0  # of those, what an evicted listener's socket still held
        self._end_before = 0
        self._in_head = False  # releasing an Ogg chain's header pages
        self._head_parts: list[bytes] = []

    def describe(self, config: MountConfig, content_type: str) -> None:
        """A (re)connecting source tells listeners what the stream is."""
        self.config = config
        self.info = StreamInfo(
            content_type=content_type,
            bitrate=config.bitrate or None,  # a source that does not say: not invented
            sample_rate=config.sample_rate or None,
            channels=config.channels or None,
            name=config.name,
            description=config.description,
            genre=config.genre,
            url=config.url,
            public=config.public,
        )

    def learn(self, bitrate: int | None, sample_rate: int | None, channels: int | None) -> None:
        """What the stream itself says (MP3 frame headers, Ogg/ADTS headers) fills in what its
        source did not declare."""
        info = self.info
        if (info.bitrate or not bitrate) and (info.sample_rate or not sample_rate) and (info.channels or not channels):
            return
        self.info = replace(
            info, bitrate=info.bitrate or bitrate, sample_rate=info.sample_rate or sample_rate, channels=info.channels or channels
        )

    @property
    def metaint(self) -> int:
        """Audio bytes between ICY metadata blocks: as configured, else about one second."""
        if self.config.metaint:
            return self.config.metaint
        return self.info.bitrate * 125 if self.info.bitrate else 16000

    # --- frames in (from the encoder) ---------------------------------------------------

    def queue_frame(self, frame: bytes, samples: int, title: str | None, sample_rate: int | None = None) -> None:
        if sample_rate and sample_rate != self.sample_rate and self.clock is None:
            self.sample_rate = sample_rate  # a pass-through mount learns its rate from the frames
        if self._next_title is not None and title is None:
            title, self._next_title = self._next_title, None
        self.pending.append((frame, samples, title, False))
        self.pending_samples += samples
        while self.pending_samples > self.max_pending_seconds * self.sample_rate:
            self.pending_samples -= self.pending.popleft()[1]
        self._arrived.set()

    def queue_page(self, page: bytes, samples: int, title: str | None, head: bool) -> None:
        """An Ogg page from the station's encoder; `head`: one of a chain's header pages, which a
        listener who joins later is sent first."""
        self.pending.append((page, samples, title, head))
        self.pending_samples += samples
        self._arrived.set()

    def queue_bytes(self, data: bytes) -> None:
        self.pending_raw.append(data)
        self._arrived.set()

    def queued_end(self) -> int:
        """The stream offset the next queued pass-through bytes will have."""
        return self.buffer.end + sum(map(len, self.pending_raw))

    def set_stream_header(self, header: bytes, end: int) -> None:
        """An Ogg chain's header pages are complete, ending at stream offset `end`."""
        self.chains.headers_done(header, end)

    def listen_start(self, burst: int) -> tuple[int, bytes]:
        """Where a new listener starts in the buffer, and what it must get first: for Ogg, the
        header pages of the chain its burst begins in (chains.py)."""
        return self.chains.listen_start(self.buffer.burst_start(burst), self.buffer.base)

    def set_title(self, title: str, parts: tuple[str, str] | None = None) -> None:
        """A title from /admin/metadata: on a pass-through mount it goes with the next audio
        the source sends; on a station mount it applies from the live edge. Every title from
        outside (the admin API, sources' ICY and Ogg comments, relays) comes in here, cleaned
        once for all who show or keep it (listeners, /api/nowplaying, pushes, the history)."""
        title = clean_title(title)
        if self.on_set_title is not None:
            self.on_set_title(title, parts and (clean_title(parts[0]), clean_title(parts[1])))
        if self.passthrough:
            self._next_title = title
        else:
            self.buffer.mark_title(self.buffer.end, title)
            self.on_title(self.path, title)

    # --- the clock ------------------------------------------------------------------------

    def close_listeners(self, reason: str = "server stop") -> None:
        for listener in list(self.listeners):
            listener.reason = reason
            listener.close()

    def backlog(self) -> float:
        """Seconds of a source's audio queued here but not yet due (back-pressure for sources)."""
        queued = self.pending_samples / self.sample_rate
        if self.pending_raw and self.info.bitrate:
            queued += sum(map(len, self.pending_raw)) / (self.info.bitrate * 125)
        return queued

    async def run(self) -> None:
        """The pacer: the mount's one clock (run and restarted by the station's supervisor)."""
        loop = asyncio.get_running_loop()
        interval = self.interval
        tick = loop.time()
        while True:
            if not self.pending and not self.pending_raw:
                self._arrived.clear()
                await self._arrived.wait()
            now = loop.time()
            if self.pending_raw:
                title, self._next_title = self._next_title, None
                if title is not None:  # /admin/metadata or Ogg comments: from these bytes on
                    self._mark_title(title)
                self.buffer.append(b"".join(self.pending_raw))
                self.pending_raw.clear()
                self.last_audio = now
                await self._fanout()
                if not self.pending:
                    continue
            clock = self.clock
            if clock is None:
                origin = self.origin()  # (the station's mounts: a lag is made up, not kept)
                start = origin or now
                clock = self.clock = PacingClock(start, self.sample_rate, catches_up=origin is not None)
                self.stream_start = time.time() + (start - now)
            elif clock.should_rebase(now) and (said := rebase_said(self.path, clock.behind(now), clock.rebase(now))):
                log.warning(said)
            # Release what is due up to one tick ahead, so listeners never wait for the next tick.
            self._release(clock, now + interval)
            try:
                await self._fanout()
            except Exception:  # a bug in one write must not stop the clock for everyone
                log.exception("%s: error while writing to listeners", self.path)
            # Wake on the station's absolute grid of ticks (shared by every mount, so their
            # wake-ups fall together); the clock, not the sleep, decides what is due.
            tick = next_tick(max(tick, loop.time()), interval)
            await asyncio.sleep(tick - loop.time())

    def _release(self, clock: PacingClock, until: float) -> None:
        parts: list[bytes] = []
        pending = self.pending
        buffer = self.buffer
        while pending and clock.due(until, 0.0):
            frame, samples, title, head = pending.popleft()
            self.pending_samples -= samples
            if (switch := head != self._in_head or (head and bool(frame[5] & 2))) or title is not None:
                if parts:
                    buffer.append(b"".join(parts))
                    parts = []
                if switch:
                    self._chain_headers(head)
                if title is not None:
                    self._mark_title(title)
            if head:
                self._head_parts.append(frame)
            parts.append(frame)
            clock.release(samples)
        if parts:
            buffer.append(b"".join(parts))
        if buffer.end > self._end_before:
            self._end_before = buffer.end
            self.last_audio = asyncio.get_running_loop().time()

    def _chain_headers(self, head: bool) -> None:
        """A chain's header pages begin (head) or end at the live edge (a later listener starts with them)."""
        self._in_head = head
        if head:
            self._head_parts = []
            if self.chains.current is not None:  # the chain before ends (a killed encoder's had not, even in its headers)
                self.buffer.append(self.buffer.ogg_chain_end(self.buffer.end))
            self.chains.begin(self.buffer.end)
        else:
            self.set_stream_header(b"".join(self._head_parts), self.buffer.end)

    def _mark_title(self, title: str) -> None:
        """`title` plays from the buffer's live edge on."""
        self.buffer.mark_title(self.buffer.end, title)
        self.on_title(self.path, title)

    async def _fanout(self) -> None:
        end = self.buffer.end
        listeners = list(self.listeners)
        for i in range(0, len(listeners), FANOUT_BATCH):
            for listener in listeners[i : i + FANOUT_BATCH]:
                if listener.pos < end:
                    listener.feed(end)
            if i + FANOUT_BATCH < len(listeners):
                await asyncio.sleep(0)

    # --- listeners --------------------------------------------------------------------------

    @property
    def present(self) -> int:
        """Listeners here, less those that closed their side and are about to be found gone."""
        return len(self.listeners) - len(self.presence.leaving)

    def add(self, listener: Listener) -> None:
        self.listeners.add(listener)
        self.connections += 1
        self.peak = max(self.peak, self.present)
        self.on_listeners(self, listener, True)

    def remove(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.discard(listener)
            self.presence.leaving.discard(listener)
            self.on_listeners(self, listener, False)

    @property
    def title(self) -> str:
        return self.buffer.title

    @property
    def on_air(self) -> bool:
        """Audio reached the buffer within the last ON_AIR_WINDOW seconds."""
        return self.buffer.end > 0 and asyncio.get_running_loop().time() - self.last_audio < ON_AIR_WINDOW
