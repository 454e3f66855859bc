"""A live DJ on the station's live mount: their stream decoded into the station's PCM path.

The DJ's bytes (any format their encoder sends) go into an ffmpeg decoder; the feeder reads
PCM from it instead of the schedule, so every station mount carries the DJ in its own format
and no listener reconnects.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from .. import child
from ..wire.formats import format_of
from .pcm import DTYPE, SAMPLE_BYTES, SAMPLE_FORMAT
from .shaping import WholeFrames

log = logging.getLogger("streamer.live")

SILENCE_RMS = 0.002  # about -54 dBFS: below this a DJ's stream counts as silent
MAX_WAITING = 16 * 1024  # bytes of the DJ's stream waiting for the decoder before we stop reading the DJ
# The decoder's input pipe, kept small so little of the DJ is queued when they leave: with
# asyncio's own loop. Under uvloop a child's stdin is a socket pair, which this cannot size;
# what a departed DJ still airs is capped by live_play.LIVE_TAIL either way.
PIPE_SIZE = 8192


def input_options(content_type: str) -> list[str]:
    """ffmpeg input options for a source's stream: its demuxer when known (the source's
    Content-Type names it, so ffmpeg need not probe: probing an MP3 DJ waits for 4 KB, a
    quarter second at 128 kbit/s, before the first sample; naming it, 80 ms), a short probe if not."""
    demuxer = format_of(content_type).demuxer
    if demuxer:
        return ["-f", demuxer, "-probesize", "32"]
    return ["-probesize", "4096"]


class LiveInput:
    def __init__(self, ffmpeg: str, name: str, sample_rate: int, channels: int, content_type: str = "") -> None:
        self.ffmpeg = ffmpeg
        self.content_type = content_type
        self.name = name
        self.rate = sample_rate
        self.channels = channels
        self.title = name
        self.ended = False
        # a bulletin or hard event airs: what the DJ sends meanwhile is let go, not queued to air
        # late (and not taken for an encoder that floods: QA saw "faster than real time" every time)
        self.held = False
        self._proc: asyncio.subprocess.Process | None = None
        self._frames = WholeFrames(channels)
        self._early: list[bytes] = []  # bytes that arrive while the decoder starts
        self._early_bytes = 0
        self._first: bytes | None = None  # the first PCM, read ahead to know the DJ is audible
        self.received = 0  # bytes of the DJ's stream written in (whether they decode or not)

    async def start(self) -> None:
        self._proc = await child.spawn(
            self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            *input_options(self.content_type), "-analyzeduration", "0", "-fflags", "nobuffer", "-i", "pipe:0",
            "-vn", "-f", SAMPLE_FORMAT, "-ar", str(self.rate), "-ac", str(self.channels), "pipe:1",
            stdin=True, stderr=False,
        )  # fmt: skip
        pipe = self._proc.stdin.transport.get_extra_info("pipe") if self._proc.stdin else None
        if pipe is not None:
            child.resize_pipe(pipe.fileno(), PIPE_SIZE)
        for data in self._early:
            self.write(data)
        self._early.clear()
        self._early_bytes = 0
        if self.ended:
            self.end()

    def write(self, data: bytes) -> None:
        if self.held:
            return
        self.received += len(data)
        proc = self._proc
        if proc is None:
            self._early.append(data)
            self._early_bytes += len(data)
        elif proc.stdin and not proc.stdin.is_closing():
            proc.stdin.write(data)

    def full(self) -> bool:
        """Enough of the DJ's stream waits for the decoder: the source is read no further for now."""
        if self.held:
            return False
        proc = self._proc
        if proc is None:
            return self._early_bytes > MAX_WAITING
        if proc.stdin is None or proc.stdin.is_closing():
            return False
        return proc.stdin.transport.get_write_buffer_size() > MAX_WAITING

    def end(self) -> None:
        """The DJ disconnected: let the decoder finish what it has."""
        self.ended = True
        proc = self._proc
        if proc and proc.stdin and not proc.stdin.is_closing():
            proc.stdin.close()

    async def first_audio(self, size: int) -> bool:
        """Wait until the DJ's stream decodes to its first PCM; False if it ended before."""
        self._first = await self.read(size)
        return self._first is not None

    async def read(self, size: int) -> bytes | None:
        """PCM (whole sample frames), or None once the DJ's stream has ended."""
        if self._first is not None:
            first, self._first = self._first, None
            return first
        assert self._proc and self._proc.stdout
        data = await self._proc.stdout.read(size)
        return self._frames.take(data) if data else None

    @staticmethod
    def is_silent(pcm: bytes) -> bool:
        if len(pcm) < SAMPLE_BYTES:
            return True
        samples = np.frombuffer(pcm[: len(pcm) // SAMPLE_BYTES * SAMPLE_BYTES], dtype=DTYPE)
        return float(np.sqrt(np.mean(samples * samples))) < SILENCE_RMS

    async def close(self) -> None:
        """The decoder goes with whatever it still holds: no process outlives its DJ."""
        self.ended = True
        await child.stop(self._proc)
