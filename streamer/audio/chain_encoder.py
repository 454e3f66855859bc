"""The encoder of a Vorbis or FLAC mount (Opus: opus_output.py): a new chain at the sample
where each title starts, so players read the title from the chain's comment header, as they do
from Icecast's Ogg streams.

Each chain is its own ffmpeg, fed the station's PCM up to the next title's sample; then its
input is closed, it flushes its last pages, and the next chain's encoder takes over at
exactly that sample. Pages are handed to the mount with the samples they carry (from their
granule positions), header pages marked as such, so
the mount paces them and gives a late listener the current chain's headers first. Feeding
never waits: PCM is queued for the chain's writer; a chain that stops taking audio is
replaced, as the continuous encoders are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import Callable

from .. import child
from ..aio import cancel
from ..settings import MountConfig
from ..ticks import HarvestedPipe
from ..wire.framing import OggFramer
from .codecs import FEED_BYTES, encoder_command, feed_format
from .encoder import RESTART_DELAY, STALL_SECONDS, Backlog

log = logging.getLogger("streamer.encoder")

PageSink = Callable[[bytes, int, "str | None", bool], None]  # page, samples, title, header page


class ChainFailed(Exception):
    """A chain's ffmpeg ended with an error status."""


class ChainEncoder:
    def __init__(self, ffmpeg: str, mount: MountConfig, in_rate: int, in_channels: int, sink: PageSink, harvest: float = 0.0) -> None:
        self.ffmpeg = ffmpeg
        self.harvest = harvest  # its output is read once per this many seconds (ticks.py); 0: as it comes
        self.mount = mount
        self.in_rate = in_rate
        self.in_channels = in_channels
        self.pcm_format = feed_format(mount)  # what feed() takes
        self.frame_bytes = FEED_BYTES[self.pcm_format] * in_channels
        self.sink = sink
        self.restarts = 0
        self.chains = 0
        self.last_restart_reason = ""
        self.stall_bytes = int(STALL_SECONDS * in_rate) * self.frame_bytes
        self.title = ""
        self._fed = 0  # station samples fed in total
        self._marks: deque[tuple[int, str]] = deque()  # (station sample, title): where chains start
        self._queue: deque[bytes | str] = deque()  # PCM for the chain, or the title of the next chain
        self._queued = 0  # bytes of PCM waiting
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._errors: deque[str] = deque(maxlen=3)  # the current chain's ffmpeg's last words
        self._failures_in_a_row = 0  # reset by a chain that makes audio
        self._waiting = False  # between a failure and the next chain
        self._backlog = Backlog()

    def view(self) -> dict:
        return {"encoder_restarts": self.restarts, "encoder_last_restart": self.last_restart_reason, "chains": self.chains}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"encoder {self.mount.path}")

    def mark(self, station_sample: int, title: str) -> None:
        """`title` starts at this station sample (not fed yet): a new chain starts there."""
        while self._marks and self._marks[-1][0] >= station_sample:
            self._marks.pop()
        self._marks.append((station_sample, title))

    def feed(self, pcm: bytes) -> None:
        """Queue PCM, split where a new chain starts; never waits for the encoder."""
        while pcm:
            if self._marks and self._marks[0][0] <= self._fed:
                self._queue.append(self._marks.popleft()[1])
                continue
            room = len(pcm) if not self._marks else min(len(pcm), (self._marks[0][0] - self._fed) * self.frame_bytes)
            part, pcm = pcm[:room], pcm[room:]
            self._queue.append(part)
            self._queued += len(part)
            self._fed += len(part) // self.frame_bytes
        self._wake.set()
        over = self._queued > self.stall_bytes and self._task is not None and not self._task.done()
        if over and self._waiting:  # after a failure: the audio of the wait is lost, the wait goes on
            self._drop_audio()
        elif self._backlog.stalled(over, asyncio.get_running_loop().time()):
            self._backlog = Backlog()
            self._replace(f"stalled: {self._queued / self.stall_bytes * STALL_SECONDS:.1f} s of audio not taken")

    def _drop_audio(self) -> None:
        self._queue = deque(x for x in self._queue if isinstance(x, str))  # titles stay
        self._queued = 0

    def _replace(self, why: str) -> None:
        self.restarts += 1
        self.last_restart_reason = why
        log.error("%s: encoder %s; restarting (restart %d)", self.mount.path, why, self.restarts)
        self._drop_audio()
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.create_task(self._run(), name=f"encoder {self.mount.path}")

    async def _run(self) -> None:
        """Chains one after another, each fed until the next title; after a failure the next one
        waits longer each time in a row (RESTART_DELAY), so a broken encoder does not spin."""
        while True:
            try:
                await self._chain()
            except asyncio.CancelledError:
                raise
            except (ChainFailed, OSError) as exc:  # ffmpeg refused or died: its own words say why
                await self._after_failure(f"failed: {exc}", None)
            except Exception as exc:  # a bug: with its traceback
                await self._after_failure(f"failed: {exc!r}", exc)

    async def _after_failure(self, why: str, exc: Exception | None) -> None:
        self.restarts += 1
        self.last_restart_reason = why
        delay = RESTART_DELAY[min(self._failures_in_a_row, len(RESTART_DELAY) - 1)]
        self._failures_in_a_row += 1
        log.error("%s: encoder chain %s; the next chain in %g s (restart %d)", self.mount.path, why, delay, self.restarts, exc_info=exc)
        self._waiting = True
        try:
            await asyncio.sleep(delay)
        finally:
            self._waiting = False

    async def _chain(self) -> None:
        while not self._queue:  # no chain without audio: wait for the first PCM (or title)
            self._wake.clear()
            await self._wake.wait()
        while self._queue and isinstance(self._queue[0], str):
            self.title = str(self._queue.popleft())
        command = encoder_command(self.ffmpeg, self.mount, self.in_rate, self.in_channels, self.title)
        proc, (out,) = await child.spawn_harvested(lambda _: command, self.harvest)
        self.chains += 1
        self._errors.clear()
        errors = asyncio.create_task(child.last_words(proc, self._errors))
        reader = asyncio.create_task(self._read(out, self.title))
        try:
            try:
                await self._write(proc)
                out.hurry()  # the chain's last pages are wanted now, before the next chain's first
                await reader
            except (BrokenPipeError, ConnectionResetError):  # it ended while fed: say how, in its words
                raise ChainFailed(await self._ending(proc, errors)) from None
            if await asyncio.wait_for(proc.wait(), STALL_SECONDS) != 0:
                raise ChainFailed(await self._ending(proc, errors))
        finally:
            reader.cancel()
            errors.cancel()
            out.close()
            await child.stop(proc)

    async def _ending(self, proc: asyncio.subprocess.Process, errors: asyncio.Task) -> str:
        """How a chain's ffmpeg ended, with its last lines on stderr."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), STALL_SECONDS)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(errors), 1.0)  # up to the end of its stderr
        words = "; ".join(self._errors)
        return f"ffmpeg {child.describe_exit(proc.returncode)}" + (f": {words}" if words else "")

    async def _write(self, proc: asyncio.subprocess.Process) -> None:
        """Feed this chain until the next title's mark, then close its input."""
        assert proc.stdin is not None
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._queue[0]
            if isinstance(item, str):
                break  # the next chain starts here
            self._queue.popleft()
            self._queued -= len(item)
            if proc.stdin.is_closing():  # it ended (uvloop would raise RuntimeError on the write)
                raise BrokenPipeError("the encoder's input is closed")
            proc.stdin.write(item)
            await proc.stdin.drain()
        proc.stdin.close()

    async def _read(self, out: HarvestedPipe, title: str) -> None:
        """Pages out, with the samples each carries; the chain's first page carries its title."""
        framer = OggFramer()
        granule, first = 0, True
        while data := await out.read():
            for page in framer.feed(data):
                position = struct.unpack_from("<q", page, 6)[0]
                head = position in (0, -1) and granule == 0
                samples = 0 if head or position < 0 else max(0, position - granule)
                if not head and position >= 0:
                    granule = max(granule, position)
                    self._failures_in_a_row = 0  # this chain makes audio: the encoder works
                self.sink(page, samples, title if first else None, head)
                first = False

    async def close(self) -> None:
        await cancel(self._task)
