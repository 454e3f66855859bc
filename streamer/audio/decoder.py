"""Decoding one track to PCM through an ffmpeg pipe, a chunk at a time.

Any format ffmpeg reads comes out as the station's PCM (float, pcm.py) at its rate and
channel count, so track changes happen in PCM and the listener never sees a format change.
Nothing holds a whole track in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections import deque
from pathlib import Path

from .. import child
from ..wire.text import display_path
from .pcm import SAMPLE_FORMAT, frame_bytes
from .shaping import WholeFrames

# PCM is fed to the encoders in steps of this size: each step wakes every encoder process and
# the feeder once, so 0.2 s instead of 0.1 s takes ~12 % off the station's CPU (bench/vs_liquidsoap.py)
# at the price of up to one more step ahead of the clock (0.5-0.7 s with the default lookahead).
# 0.4 s steps took another ~5 % off (ratio to Liquidsoap 0.80-0.81 against 0.84-0.86), but a skip
# or a DJ's takeover can then come up to 0.2 s later, and an MP3 DJ is already on air 0.83 s after
# connecting on a slow machine (0.82-0.96 s with 0.4 s steps), against the 1 s the tests hold: not taken.
CHUNK_SECONDS = 0.2
# ffmpeg passes each codec frame (an MP3's 1152 samples) through its PCM encoder and muxer on
# its own; handed on in 1 s frames instead (asetnsamples), a decoder paced by the station's
# reads costs a third less: Debian's ffmpeg 5.1 0.170 -> 0.114 % of a core, imageio-ffmpeg's
# static 9.0 (a thread per stage, so a wake-up per frame and stage) 0.35 -> 0.205 %. Decoding
# a second of a file takes a few milliseconds, so nothing waits for it.
DECODED_FRAME_SECONDS = 1.0
STAT_TIMEOUT = 5.0  # seconds the file system may take to say what a file is


class DecodeError(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{display_path(path)}: {reason}")
        self.path = path
        self.reason = reason


class Decoder:
    def __init__(
        self, ffmpeg: str, path: Path, sample_rate: int, channels: int, start: float = 0.0, end: float | None = None, gain_db: float = 0.0,
        mono: bool = False,
    ) -> None:  # fmt: skip
        self.ffmpeg = ffmpeg
        self.path = path
        self.start_at = start  # cue-in, s into the file
        self.end_at = end  # cue-out
        self.gain_db = gain_db  # applied in float by ffmpeg: nothing clips before the limiter
        # A mono file airs on both speakers at its full level, as the library measures it (ffmpeg's
        # own upmix puts it 3 dB down on each side: mono tracks aired 3 LU under the rest).
        self.dual_mono = mono and channels == 2
        self.frame_bytes = frame_bytes(channels)
        self.chunk = int(sample_rate * CHUNK_SECONDS) * self.frame_bytes
        self.sample_rate = sample_rate
        self.channels = channels
        self.bytes_out = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr: deque[str] = deque(maxlen=5)
        self._stderr_task: asyncio.Task | None = None
        self._frames = WholeFrames(channels)
        self.killed = ""  # how the decoder died mid-track, if it did ("killed by SIGKILL")
        self._primed: bytes | None = None  # its first chunk, read ahead by prime()

    async def start(self) -> None:
        try:  # off the loop with a timeout: a hung network file system must not stop the station
            st = await asyncio.wait_for(asyncio.to_thread(os.stat, self.path), STAT_TIMEOUT)
        except FileNotFoundError:
            raise DecodeError(self.path, "file not found") from None
        except TimeoutError:
            raise DecodeError(self.path, f"the file system did not answer within {STAT_TIMEOUT:g} s") from None
        except OSError as exc:
            raise DecodeError(self.path, f"cannot read file: {exc.strerror}") from None
        if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would never end (or never start)
            raise DecodeError(self.path, "not a regular file (a FIFO, device or folder): only files are played")
        if st.st_size == 0:
            raise DecodeError(self.path, "empty file")
        self._proc = await child.spawn(self.ffmpeg, *self.arguments())
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    def arguments(self) -> list[str]:
        """ffmpeg's arguments: the file from its cue-in to its cue-out, at its gain, as station PCM."""
        cue_in = ["-ss", f"{self.start_at:.3f}"] if self.start_at > 0 else []  # before -i: a seek, sample-exact for audio
        cue_out = ["-t", f"{self.end_at - self.start_at:.3f}"] if self.end_at is not None else []
        filters = ["pan=stereo|c0=c0|c1=c0"] if self.dual_mono else []
        filters += [f"volume={self.gain_db:.2f}dB"] if self.gain_db else []
        filters += [f"asetnsamples=n={round(self.sample_rate * DECODED_FRAME_SECONDS)}:p=0"]
        return [
            "-nostdin", "-hide_banner", "-loglevel", "error", *cue_in, "-i", str(self.path), *cue_out, "-vn", "-map", "0:a:0",
            "-af", ",".join(filters),
            "-f", SAMPLE_FORMAT, "-acodec", f"pcm_{SAMPLE_FORMAT}", "-ar", str(self.sample_rate), "-ac", str(self.channels), "pipe:1",
        ]  # fmt: skip

    async def _drain_stderr(self) -> None:
        assert self._proc and self._proc.stderr
        async for line in self._proc.stderr:
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._stderr.append(text)

    async def prime(self) -> None:
        """Read the first chunk ahead, kept for read(): once this returns, the decoder has audio."""
        if self._primed is None and self.bytes_out == 0:
            with contextlib.suppress(DecodeError):  # (read() finds it again)
                self._primed = await self.read() or b""

    async def read(self) -> bytes | None:
        """The next PCM chunk (whole sample frames), or None at the end of the track."""
        if self._primed:
            primed, self._primed = self._primed, b""
            return primed
        assert self._proc and self._proc.stdout
        data = await self._proc.stdout.read(self.chunk)
        if not data:
            await self._finish()
            return None
        pcm = self._frames.take(data)
        self.bytes_out += len(pcm)
        return pcm if pcm else await self.read()

    async def _finish(self) -> None:
        assert self._proc
        code = await self._proc.wait()
        if code is not None and code < 0:
            self.killed = child.describe_exit(code)
        if self._stderr_task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
        if self.bytes_out == 0:
            reason = self._stderr[-1] if self._stderr else f"ffmpeg exited with status {code} and no audio"
            if self.path.name and reason.startswith(str(self.path)):
                reason = reason[len(str(self.path)) :].lstrip(": ")
            raise DecodeError(self.path, f"cannot decode: {reason}")

    @property
    def warnings(self) -> list[str]:
        return list(self._stderr)

    async def close(self) -> None:
        await child.stop(self._proc)
        if self._stderr_task and not self._stderr_task.done():
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stderr_task
