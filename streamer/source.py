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

from .httpwire import BadRequest, ChunkedDecoder
from .icy import IcyReader
from .ingest import Ingest

if TYPE_CHECKING:
    from .mount import Mount

log = logging.getLogger("streamer.source")


class SourceConnection(asyncio.Protocol):
    def __init__(self, mount: Mount, transport: asyncio.Transport, address: str, chunked: bool, timeout: float, metaint: int = 0) -> None:
        self.mount = mount
        self.transport = transport
        self.address = address
        self.chunked = ChunkedDecoder() if chunked else None
        self.ingest = Ingest(mount, mount.info.content_type)
        self.icy = IcyReader(metaint) if metaint else None  # a source interleaving its own titles
        self.timeout = timeout
        self.bytes_in = 0
        self.closed = False
        self.tap: Callable[[bytes], None] | None = None  # also hand the raw bytes on (live takeover)
        self.on_gone: Callable[[], None] | None = None
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
        self._arm()
        if self.chunked is not None:
            try:
                data = self.chunked.feed(data)
            except BadRequest as exc:
                log.warning("%s: source %s: %s; dropped", self.mount.path, self.address, exc)
                self.close()
                return
        self.feed(data)
        if self.chunked is not None and self.chunked.done:
            self.close()

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.bytes_in += len(data)
        if self.icy is not None:  # in-band titles: taken out of the audio and used
            data, blocks = self.icy.feed(data)
            for _, fields in blocks:
                if fields.get("StreamTitle"):
                    self.mount.set_title(fields["StreamTitle"])
        if self.tap is not None:
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
