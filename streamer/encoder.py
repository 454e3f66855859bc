"""One long-lived MP3 encoder per mount: station PCM in, CBR MP3 frames out.

The encoder never restarts between tracks, so the stream is one continuous MP3 stream.
Titles are placed by sample position: a title marked at station sample S lands on the
first frame that carries S, allowing for the resampler and LAME's priming delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from .config import MountConfig
from .mp3 import FrameHeader, FrameSplitter

log = logging.getLogger("streamer.encoder")

# LAME's encoder delay (576) plus its decoder delay (529), which ffmpeg reports as initial
# padding: without a Xing/LAME tag, a listener's decoder plays these samples first.
PRIMING_SAMPLES = 1105

FrameSink = Callable[[bytes, int, "str | None"], None]


class Encoder:
    def __init__(self, ffmpeg: str, mount: MountConfig, in_rate: int, in_channels: int, sink: FrameSink) -> None:
        self.ffmpeg = ffmpeg
        self.mount = mount
        self.in_rate = in_rate
        self.in_channels = in_channels
        self.sink = sink
        self.frame_samples = 1152 if mount.sample_rate >= 32000 else 576
        self.frames_out = 0
        self.restarts = 0
        self.junk_bytes = 0
        self._station_base = 0  # station samples fed before this encoder process started
        self._fed = 0  # station samples fed in total
        self._marks: deque[tuple[int, str]] = deque()  # (frame index, title), ascending
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._error_reader: asyncio.Task | None = None
        self._errors: deque[str] = deque(maxlen=5)

    def _command(self) -> list[str]:
        m = self.mount
        return [
            self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            # No input probing: by default ffmpeg holds ~1.1 s of raw PCM before its first frame,
            # which would eat the feeder's lookahead and leave the pacer releasing frame by frame.
            "-probesize", "32", "-analyzeduration", "0",
            "-f", "s16le", "-ar", str(self.in_rate), "-ac", str(self.in_channels), "-i", "pipe:0",
            "-c:a", "libmp3lame", "-b:a", f"{m.bitrate}k", "-ar", str(m.sample_rate), "-ac", str(m.channels),
            "-write_xing", "0", "-id3v2_version", "0", "-flush_packets", "1", "-f", "mp3", "pipe:1",
        ]  # fmt: skip

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            *self._command(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        self._station_base = self._fed
        self.frames_out = 0
        self._marks.clear()  # counted against the previous process's frames
        self._reader = asyncio.create_task(self._read_frames(self._proc))
        self._error_reader = asyncio.create_task(self._read_errors(self._proc))

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def mark(self, station_sample: int, title: str) -> None:
        """`title` starts at this station sample (which has not been fed yet)."""
        rel = (station_sample - self._station_base) * self.mount.sample_rate // self.in_rate
        frame = (rel + PRIMING_SAMPLES) // self.frame_samples
        while self._marks and self._marks[-1][0] >= frame:
            self._marks.pop()
        self._marks.append((max(frame, self.frames_out), title))

    async def write(self, pcm: bytes) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            await self._restart()
            proc = self._proc
        assert proc and proc.stdin
        try:
            proc.stdin.write(pcm)
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            log.error("%s: encoder stopped (%s); restarting", self.mount.path, "; ".join(self._errors) or "no message")
            await self._restart()
            return
        self._fed += len(pcm) // (2 * self.in_channels)

    async def _restart(self) -> None:
        await self.close()
        self.restarts += 1
        await asyncio.sleep(min(5.0, 0.2 * self.restarts))
        await self.start()

    async def _read_frames(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout
        splitter = FrameSplitter()
        while True:
            data = await proc.stdout.read(16384)
            for header, frame in splitter.feed(data, final=not data):
                self._emit(header, frame)
            self.junk_bytes = splitter.skipped
            if not data:
                return

    def _emit(self, header: FrameHeader, frame: bytes) -> None:
        title = None
        marks = self._marks
        while marks and marks[0][0] <= self.frames_out:
            title = marks.popleft()[1]
        self.frames_out += 1
        self.sink(frame, header.samples, title)

    async def _read_errors(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr
        async for line in proc.stderr:
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._errors.append(text)
                log.warning("%s: encoder: %s", self.mount.path, text)

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin:
            proc.stdin.close()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.wait()
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
