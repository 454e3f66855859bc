"""One long-lived encoder per MP3 or AAC mount: station PCM in, frames out (codecs.py).

The encoder never restarts between tracks, so the stream is one continuous stream.
Titles are placed by sample position: a title marked at station sample S lands on the
first frame that carries S, allowing for the resampler and the codec's priming delay.

Feeding never waits for the encoder: the PCM is handed to its pipe and the feeder moves on
to the next mount. An encoder that stops taking audio (stopped, hung, starved) is noticed
once STALL_SECONDS of audio are waiting for it, killed and restarted; one that dies is
restarted at the next feed. Either way the other mounts never wait, and the restart is
logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from .. import child
from ..aio import background
from ..settings import MountConfig
from ..ticks import HarvestedPipe
from .codecs import MP3_PRIMING, Units, codec_for, encoder_command
from .pcm import frame_bytes

log = logging.getLogger("streamer.encoder")

PRIMING_SAMPLES = MP3_PRIMING  # the MP3 mounts' (kept for the tests of title placement)
STALL_SECONDS = 2.0  # audio waiting for an encoder before it counts as stalled
RESTART_DELAY = (0.05, 0.2, 1.0, 5.0)  # after the 1st, 2nd, 3rd, later restarts in a row

FrameSink = Callable[[bytes, int, "str | None"], None]


def frame_end(base: int, index: int, frame_samples: int, in_rate: int, out_rate: int, priming: int = PRIMING_SAMPLES) -> int:
    """The station sample at which output frame `index` of an encoder started at station sample
    `base` ends (pure): the resampler maps the rates, and the codec's priming delays everything."""
    return base + ((index + 1) * frame_samples - priming) * in_rate // out_rate


def due_title(marks: deque[tuple[int, str]], end: int) -> str | None:
    """The title that starts before station sample `end`, taken off `marks` (the latest wins)."""
    title = None
    while marks and marks[0][0] < end:
        title = marks.popleft()[1]
    return title


class Encoder:
    def __init__(self, ffmpeg: str, mount: MountConfig, in_rate: int, in_channels: int, sink: FrameSink, harvest: float = 0.0) -> None:
        self.ffmpeg = ffmpeg
        self.harvest = harvest  # its output is read once per this many seconds (ticks.py); 0: as it comes
        self.mount = mount
        self.in_rate = in_rate
        self.in_channels = in_channels
        self.sink = sink
        self.codec = codec_for(mount)
        self.frames_out = 0  # frames out of the current process
        self.restarts = 0
        self.last_restart_reason = ""
        self.frame_bytes = frame_bytes(in_channels)
        self.stall_bytes = int(STALL_SECONDS * in_rate) * self.frame_bytes
        self._station_base = 0  # station samples fed before the current process started
        self._fed = 0  # station samples fed in total (including those dropped while restarting)
        self._marks: deque[tuple[int, str]] = deque()  # (station sample, title), ascending
        self._proc: asyncio.subprocess.Process | None = None
        self._out: HarvestedPipe | None = None
        self._reader: asyncio.Task | None = None
        self._restart: asyncio.Task | None = None
        self._errors: deque[str] = deque(maxlen=5)
        self._failures_in_a_row = 0

    async def start(self) -> None:
        command = encoder_command(self.ffmpeg, self.mount, self.in_rate, self.in_channels)
        proc, out = await child.spawn_harvested(*command, interval=self.harvest)
        self._proc, self._out = proc, out
        self._station_base = self._fed
        self.frames_out = 0
        self._reader = asyncio.create_task(self._read(proc, out), name=f"encoder {self.mount.path}")

    def view(self) -> dict:
        return {"encoder_restarts": self.restarts, "encoder_last_restart": self.last_restart_reason}

    def mark(self, station_sample: int, title: str) -> None:
        """`title` starts at this station sample (which has not been fed yet)."""
        while self._marks and self._marks[-1][0] >= station_sample:
            self._marks.pop()
        self._marks.append((station_sample, title))

    def feed(self, pcm: bytes) -> None:
        """Hand PCM to the encoder without waiting for it (see the module's docstring)."""
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None or proc.stdin.is_closing():
            self._fed += len(pcm) // self.frame_bytes  # lost while the encoder restarts
            why = "not running" if proc is None else f"ended ({child.describe_exit(proc.returncode)})"
            self._schedule_restart(why)
            return
        proc.stdin.write(pcm)
        self._fed += len(pcm) // self.frame_bytes
        waiting = proc.stdin.transport.get_write_buffer_size()
        if waiting > self.stall_bytes:
            self._schedule_restart(f"stalled: {waiting / self.stall_bytes * STALL_SECONDS:.1f} s of audio not taken")

    def _schedule_restart(self, why: str) -> None:
        if self._restart is not None and not self._restart.done():
            return
        self._restart = background(self._restart_now(why), f"encoder restart {self.mount.path}")

    async def _restart_now(self, why: str) -> None:
        self.restarts += 1
        self.last_restart_reason = why
        errors = "; ".join(self._errors)
        log.error("%s: encoder %s%s; restarting (restart %d)", self.mount.path, why, f" ({errors})" if errors else "", self.restarts)
        await self._stop_process()
        delay = RESTART_DELAY[min(self._failures_in_a_row, len(RESTART_DELAY) - 1)]
        self._failures_in_a_row += 1
        await asyncio.sleep(delay)
        await self.start()

    async def _read(self, proc: asyncio.subprocess.Process, out: HarvestedPipe) -> None:
        errors = asyncio.create_task(self._read_errors(proc))
        units = Units(self.codec)
        try:
            while data := await out.read():
                for frame, samples in units.feed(data):
                    self._emit(frame, samples)
                if self.frames_out > 50:
                    self._failures_in_a_row = 0  # it works again
        except Exception:
            log.exception("%s: error handling the encoder's output; restarting it", self.mount.path)
            self._schedule_restart("output handling failed")
        finally:
            errors.cancel()
            out.close()

    def _emit(self, frame: bytes, samples: int) -> None:
        """Hand a frame to the mount, with the title that starts in it, if any."""
        end = frame_end(self._station_base, self.frames_out, samples, self.in_rate, self.mount.sample_rate, self.codec.priming)
        self.frames_out += 1
        self.sink(frame, samples, due_title(self._marks, end))

    async def _read_errors(self, proc: asyncio.subprocess.Process) -> None:
        await child.last_words(proc, self._errors, lambda text: log.warning("%s: encoder: %s", self.mount.path, text))

    async def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        out, self._out = self._out, None
        if out is not None:
            out.hurry()  # its end is read at once, not at the next harvest
        await child.stop(proc)
        if self._reader is not None:
            reader, self._reader = self._reader, None
            try:
                await asyncio.wait_for(reader, 2)  # it ends at the closed pipe
            except (TimeoutError, asyncio.CancelledError):
                reader.cancel()

    async def close(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
        await self._stop_process()


class PlacedEncoder(Encoder):
    """An encoder that also tells its sink the station sample each frame starts at (HLS cuts its
    segments and stamps its timestamps on the station's clock)."""

    def _emit(self, frame: bytes, samples: int) -> None:
        args = (self._station_base, self.frames_out, samples, self.in_rate, self.mount.sample_rate, self.codec.priming)
        end = frame_end(*args)
        start = end - samples * self.in_rate // self.mount.sample_rate
        self.frames_out += 1
        self.sink(frame, samples, due_title(self._marks, end), start)  # type: ignore[call-arg]
