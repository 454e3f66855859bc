"""The station's grid of ticks, and an encoder's output read once per tick, not at every write.

Every mount's pacer (stream/mount.py), the HLS publisher and every encoder's harvest wake on one
grid of the loop's clock (`next_tick`), so their wake-ups fall together: the station wakes a few
times per tick, not once per mount and frame.

ffmpeg writes each frame the moment it is made (-flush_packets 1): some 40 writes a second per
mount, and reading each one as it comes woke the event loop ~100 times a second for the bench's
six encoders. Instead the pipe is left unread between harvests: the frames wait in the pipe
(1 MiB, child.PIPE_BYTES: seconds of the densest FLAC) and are read in one go at the next
harvest point, half a tick before the mounts' pacers release them. Titles are placed by
sample, so nothing moves but the moment the bytes cross into Python.
"""

from __future__ import annotations

import asyncio
import math
import os


def next_tick(now: float, interval: float, offset: float = 0.0) -> float:
    """The first point of the grid `k * interval + offset` after `now` (pure)."""
    return (math.floor((now - offset) / interval + 1e-9) + 1) * interval + offset


async def sleep_on_grid(period: float) -> None:
    """Sleep until the next multiple of `period` on the loop's clock: the station's periodic
    chores (commits, log writes, folder scans) then wake with the pacers' ticks, not on their own."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    await asyncio.sleep(next_tick(now, period) - now)


class _Collect(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.ended = False
        self.waiter: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.data += data
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class HarvestedPipe:
    """The read end of a child's stdout, read at the harvest points of a grid of `interval` s."""

    def __init__(self, transport: asyncio.ReadTransport, collect: _Collect, interval: float) -> None:
        self._transport = transport
        self._collect = collect
        self.interval = interval
        self._hurry = interval <= 0
        self._pause: asyncio.Future[None] | None = None

    @classmethod
    async def open(cls, read_fd: int, interval: float) -> HarvestedPipe:
        loop = asyncio.get_running_loop()
        transport, collect = await loop.connect_read_pipe(_Collect, os.fdopen(read_fd, "rb", buffering=0))
        return cls(transport, collect, interval)

    async def read(self) -> bytes:
        """What the child wrote since the last read, at the next harvest point; b"" at its end."""
        loop = asyncio.get_running_loop()
        collect = self._collect
        if not self._hurry and not collect.ended:
            self._transport.pause_reading()
            self._pause = loop.create_future()
            handle = loop.call_at(next_tick(loop.time(), self.interval, self.interval / 2), _done, self._pause)
            try:
                await self._pause
            finally:
                handle.cancel()
                self._pause = None
                if not self._transport.is_closing():
                    self._transport.resume_reading()
        while not collect.data and not collect.ended:
            collect.waiter = loop.create_future()
            await collect.waiter
        data = bytes(collect.data)
        collect.data.clear()
        return data

    def hurry(self) -> None:
        """Read as the bytes come from now on (a child finishing: its last frames are wanted now)."""
        self._hurry = True
        if self._pause is not None:
            _done(self._pause)

    def close(self) -> None:
        self._transport.close()


def _done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
