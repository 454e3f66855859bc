"""Source clients (live DJs, encoders): SOURCE (libshout: ezstream, ices, Mixxx, butt) and
PUT (ffmpeg, liquidsoap; chunked bodies too), feeding a pass-through mount.

The connection becomes this protocol once the request is accepted: it undoes chunking,
cuts MP3 into frames and queues them on the mount, whose own clock paces them out. Ogg is
cut into pages (its header pages kept for listeners who join later) and AAC into ADTS frames,
so every burst starts on a unit a decoder can begin with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..wire.http import BadRequest, ChunkedDecoder
from ..wire.icy import IcyReader
from .ingest import Ingest

if TYPE_CHECKING:
    from ..stream.mount import Mount

log = logging.getLogger("streamer.source")

MAX_AHEAD = 3.0  # seconds of a source's audio held before we stop reading (TCP back-pressure)
RECHECK = 0.1  # seconds between checks while reading is paused
FLOODING_AFTER = 5.0  # seconds of back-pressure after which a source counts as faster than real time


def held_by(source: object) -> str:
    """Who feeds a mount, for the 403 a second source gets (QA: a bare "Mountpoint in use" left a
    DJ guessing whether a relay, another DJ or a stuck connection of their own had it)."""
    if isinstance(source, SourceConnection):
        return f"{source.user or 'a source'} from {source.address} is on it"
    url = getattr(source, "url", "")
    return f"it is relayed from {url}" if url else "another source is on it"


class SourceConnection(asyncio.Protocol):
    def __init__(
        self, mount: Mount, transport: asyncio.Transport, address: str, chunked: bool, timeout: float, metaint: int = 0,
        length: int | None = None,
    ) -> None:  # fmt: skip
        self.mount = mount
        self.transport = transport
        self.address = address
        self.user = ""  # the account it logged in with
        self.name = ""  # a live DJ's name on air (their ice-name, or their user)
        self.agent = ""  # its User-Agent (Icecast's stats show it)
        self.chunked = ChunkedDecoder() if chunked else None
        # a PUT's Content-Length: its stream ends with its body (curl -T show.mp3); 0 says nothing (as Icecast reads it)
        self.remaining = None if chunked else length
        self.ingest = Ingest(mount, mount.info.content_type)
        self.icy = IcyReader(metaint) if metaint else None  # a source interleaving its own titles
        self.timeout = timeout
        self.bytes_in = 0
        self.closed = False
        self.finished = False  # its body ended: it goes once what it sent has aired
        self.tap: Callable[[bytes], None] | None = None  # also hand the raw bytes on (live takeover)
        self.tap_full: Callable[[], bool] = lambda: False  # the tap holds enough for now
        self.on_gone: Callable[[], None] | None = None
        self.paused = False  # reading paused: the source is ahead of real time
        self.pauses = 0
        self.flooding = False  # sends faster than real time for good: only its latest seconds are kept
        self.dropped = 0  # bytes of a flooding source not passed on
        self._ahead_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._timer:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.timeout, self._timed_out)

    def _timed_out(self) -> None:
        log.warning("%s: source %s sent nothing for %g s; dropped", self.mount.path, self.address, self.timeout)
        self.close()

    def data_received(self, data: bytes) -> None:
        if self.finished:
            return  # (nothing follows a body that ended)
        self._arm()
        if self.chunked is not None:
            try:
                data = self.chunked.feed(data)
            except BadRequest as exc:
                log.warning("%s: source %s: %s; dropped", self.mount.path, self.address, exc)
                self.close()
                return
        if self.remaining is not None:
            data = data[: self.remaining]
            self.remaining -= len(data)
        self.feed(data)
        if (self.chunked is not None and self.chunked.done) or self.remaining == 0:
            self.finished = True
            self._finish()
        elif not self.paused and not self.flooding and self._ahead():
            self._pause()

    def _finish(self) -> None:
        """Its body ended (a chunked body's last chunk, a PUT's Content-Length): what it sent airs
        to the end, then it goes (its last seconds, queued here, were cut with it)."""
        if self._timer:
            self._timer.cancel()
        if not self.closed and self.mount.source is self and self.mount.backlog() > 0:
            self._timer = asyncio.get_running_loop().call_later(RECHECK, self._finish)
        else:
            self.close()

    def _ahead(self) -> bool:
        return self.mount.backlog() > MAX_AHEAD or self.tap_full()

    def _pause(self) -> None:
        """A source a little ahead of real time (a burst at connect) waits in its own TCP send
        buffer, not in our memory."""
        self.paused = True
        self.pauses += 1
        self.transport.pause_reading()
        if self._timer:
            self._timer.cancel()  # no source timeout while we are the ones not reading
        loop = asyncio.get_running_loop()
        if self._ahead_since is None:
            self._ahead_since = loop.time()
        loop.call_later(RECHECK, self._maybe_resume)

    def _maybe_resume(self) -> None:
        if self.closed or self.finished:
            return
        loop = asyncio.get_running_loop()
        if self._ahead():
            if self._ahead_since is not None and loop.time() - self._ahead_since > FLOODING_AFTER:
                self._flood()
            else:
                loop.call_later(RECHECK, self._maybe_resume)
                return
        elif self.mount.backlog() < MAX_AHEAD / 2:
            self._ahead_since = None  # back to real time
        self.paused = False
        self._arm()
        self.transport.resume_reading()

    def _flood(self) -> None:
        """Still ahead after FLOODING_AFTER seconds of back-pressure: an encoder sending faster
        than real time (ffmpeg without -re). Its kernel may hold minutes of audio for us, which
        would play long after it left; so it is read as fast as it sends and only its latest
        MAX_AHEAD seconds are kept: when it leaves, the schedule is back within seconds."""
        self.flooding = True
        self.mount.max_pending_seconds = MAX_AHEAD
        log.warning(
            "%s: source %s sends faster than real time (an encoder without -re?); keeping only its latest %g s",
            self.mount.path,
            self.address,
            MAX_AHEAD,
        )

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.bytes_in += len(data)
        if self.icy is not None:  # in-band titles: taken out of the audio and used
            data, blocks = self.icy.feed(data)
            for _, fields in blocks:
                if "StreamTitle" in fields:  # '' too: the source cleared its title
                    self.mount.set_title(fields["StreamTitle"])
        if self.tap is not None:
            if self.flooding and self.tap_full():
                self.dropped += len(data)  # the decoder holds its latest seconds already
            else:
                self.tap(data)
        self.ingest.feed(data)

    def eof_received(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()
            self._gone()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self._gone()

    def _gone(self) -> None:
        if self._timer:
            self._timer.cancel()
        if self.mount.source is self:
            self.mount.source = None
        if self.on_gone is not None:
            self.on_gone()
        if self.mount.on_source_gone is not None:
            self.mount.on_source_gone(self.mount)
        log.info("%s: source %s disconnected after %d bytes", self.mount.path, self.address, self.bytes_in)
