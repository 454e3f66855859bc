"""Long-lived encoders: station PCM in, frames out (codecs.py). One ffmpeg per MP3 or AAC
mount, and one for all the HLS variants, which writes each variant to its own pipe.

The encoder never restarts between tracks, so the stream is one continuous stream.
Titles are placed by sample position: a title marked at station sample S lands on the
first frame that carries S, allowing for the resampler and the codec's priming delay.

Feeding never waits for the encoder: the PCM is handed to its pipe and the feeder moves on
to the next mount. An encoder that stops taking audio (stopped, hung, starved) is noticed
once STALL_SECONDS of audio are waiting for it, killed and restarted; one that dies is
restarted at the next feed. Either way the other mounts never wait, and the restart is
logged and counted.

Why the HLS variants share one ffmpeg: they are one output (one master playlist, segment k
of each covering the same samples), so a failure restarts all of them at the same sample and
their segments stay aligned; the PCM is written and read once, and one process fewer is
~10 MB less memory (bench/vs_liquidsoap.py; its CPU is within the runs' spread of two).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from .. import child
from ..aio import background
from ..settings import MountConfig
from ..ticks import HarvestedPipe
from .codecs import FEED_BYTES, MP3_PRIMING, Units, codec_for, encoders_command, feed_format

log = logging.getLogger("streamer.encoder")

PRIMING_SAMPLES = MP3_PRIMING  # the MP3 mounts' (kept for the tests of title placement)
STALL_SECONDS = 2.0  # audio waiting for an encoder before it counts as stalled
# seconds the audio waiting must stay over STALL_SECONDS: after a held loop the audio owed comes
# as a burst that a working encoder takes in a moment (QA: a 7 s hold restarted every encoder)
STALL_GRACE = 1.0
RESTART_DELAY = (0.05, 0.2, 1.0, 5.0)  # after the 1st, 2nd, 3rd, later restarts in a row
EXIT_WAIT = 1.0  # seconds an encoder whose pipe closed is given to report how it ended
ENDED = "ended"  # (a restart's reason until the exit status is known)
WORKING_FRAMES = 50  # frames out of a new process after which it counts as working again

FrameSink = Callable[[bytes, int, "str | None"], None]


class Backlog:
    """When an encoder's waiting audio went over its limit (pure: times in): it counts as stalled
    once that has lasted STALL_GRACE seconds."""

    __slots__ = ("over_since",)

    def __init__(self) -> None:
        self.over_since: float | None = None

    def stalled(self, over: bool, now: float) -> bool:
        if not over:
            self.over_since = None
            return False
        if self.over_since is None:
            self.over_since = now
        return now - self.over_since >= STALL_GRACE


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


class EncodedOutput:
    """One output of an encoder process: a mount's (or an HLS variant's) frames, each handed to
    `sink` with the title that starts in it."""

    def __init__(self, mount: MountConfig, in_rate: int, sink: FrameSink) -> None:
        self.mount = mount
        self.in_rate = in_rate
        self.sink = sink
        self.codec = codec_for(mount)
        self.frames_out = 0  # frames out of the current process
        self._station_base = 0  # station samples fed before the current process started
        self._marks: deque[tuple[int, str]] = deque()  # (station sample, title), ascending

    def mark(self, station_sample: int, title: str) -> None:
        """`title` starts at this station sample (which has not been fed yet)."""
        while self._marks and self._marks[-1][0] >= station_sample:
            self._marks.pop()
        self._marks.append((station_sample, title))

    def begin(self, station_sample: int) -> None:
        """A new process starts encoding at this station sample."""
        self._station_base = station_sample
        self.frames_out = 0

    async def read(self, out: HarvestedPipe, working: Callable[[], None]) -> None:
        """Frames out of the process's pipe for this output, to its end."""
        units = Units(self.codec)
        while data := await out.read():
            for frame, samples in units.feed(data):
                self._emit(frame, samples)
            if self.frames_out > WORKING_FRAMES:
                working()

    def _end_of_next(self, samples: int) -> int:
        return frame_end(self._station_base, self.frames_out, samples, self.in_rate, self.mount.sample_rate, self.codec.priming)

    def _emit(self, frame: bytes, samples: int) -> None:
        end = self._end_of_next(samples)
        self.frames_out += 1
        self.sink(frame, samples, due_title(self._marks, end))


class PlacedOutput(EncodedOutput):
    """An output that also tells its sink the station sample each frame starts at (HLS cuts its
    segments and stamps its timestamps on the station's clock)."""

    def _emit(self, frame: bytes, samples: int) -> None:
        end = self._end_of_next(samples)
        start = end - samples * self.in_rate // self.mount.sample_rate
        self.frames_out += 1
        self.sink(frame, samples, due_title(self._marks, end), start)  # type: ignore[call-arg]


class Encoder:
    """One ffmpeg process: the station's PCM in once, each of its outputs out of its own pipe."""

    def __init__(self, ffmpeg: str, outputs: list[EncodedOutput], in_channels: int, harvest: float = 0.0) -> None:
        self.ffmpeg = ffmpeg
        self.harvest = harvest  # its output is read once per this many seconds (ticks.py); 0: as it comes
        self.outputs = outputs
        self.mount = outputs[0].mount  # a mount's own encoder has one output
        self.name = ", ".join(o.mount.path for o in outputs)
        self.in_rate = outputs[0].in_rate
        self.in_channels = in_channels
        self.restarts = 0
        self.last_restart_reason = ""
        self.pcm_format = feed_format(self.mount)  # what feed() takes (the same for every output)
        self.frame_bytes = FEED_BYTES[self.pcm_format] * in_channels
        self.stall_bytes = int(STALL_SECONDS * self.in_rate) * self.frame_bytes
        self._fed = 0  # station samples fed in total (including those dropped while restarting)
        self._proc: asyncio.subprocess.Process | None = None
        self._outs: list[HarvestedPipe] = []
        self._readers: list[asyncio.Task] = []
        self._restart: asyncio.Task | None = None
        self._errors: deque[str] = deque(maxlen=5)
        self._errors_task: asyncio.Task | None = None
        self._failures_in_a_row = 0
        self._backlog = Backlog()

    async def start(self) -> None:
        mounts = [o.mount for o in self.outputs]

        def command(targets: list[str]) -> list[str]:
            return encoders_command(self.ffmpeg, list(zip(mounts, targets, strict=True)), self.in_rate, self.in_channels)

        proc, outs = await child.spawn_harvested(command, self.harvest, len(self.outputs))
        self._proc, self._outs = proc, outs
        self._errors_task = asyncio.create_task(self._read_errors(proc), name=f"encoder errors {self.name}")
        self._readers = []
        for output, out in zip(self.outputs, outs, strict=True):
            output.begin(self._fed)
            self._readers.append(asyncio.create_task(self._read(output, out), name=f"encoder {output.mount.path}"))

    def view(self) -> dict:
        return {"encoder_restarts": self.restarts, "encoder_last_restart": self.last_restart_reason}

    def mark(self, station_sample: int, title: str) -> None:
        """`title` starts at this station sample (which has not been fed yet), on every output."""
        for output in self.outputs:
            output.mark(station_sample, title)

    def feed(self, pcm: bytes) -> None:
        """Hand PCM to the encoder without waiting for it (see the module's docstring)."""
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None or proc.stdin.is_closing():
            self._fed += len(pcm) // self.frame_bytes  # lost while the encoder restarts
            self._schedule_restart("not running" if proc is None else ENDED)
            return
        proc.stdin.write(pcm)
        self._fed += len(pcm) // self.frame_bytes
        waiting = proc.stdin.transport.get_write_buffer_size()
        if self._backlog.stalled(waiting > self.stall_bytes, asyncio.get_running_loop().time()):
            self._backlog = Backlog()  # (the next process starts afresh)
            self._schedule_restart(f"stalled: {waiting / self.stall_bytes * STALL_SECONDS:.1f} s of audio not taken")

    def _schedule_restart(self, why: str) -> None:
        if self._restart is not None and not self._restart.done():
            return
        self._restart = background(self._restart_now(why), f"encoder restart {self.name}")

    async def _restart_now(self, why: str) -> None:
        if why == ENDED and (proc := self._proc) is not None:
            # Its pipe closed first: its exit status comes a moment later (the log said "ended (still
            # running)" for an encoder killed by SIGKILL, and a test looking for the signal failed)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), EXIT_WAIT)
            why = f"ended ({child.describe_exit(proc.returncode)})"
        self.restarts += 1
        self.last_restart_reason = why
        errors = "; ".join(self._errors)
        log.error("%s: encoder %s%s; restarting (restart %d)", self.name, why, f" ({errors})" if errors else "", self.restarts)
        await self._stop_process()
        delay = RESTART_DELAY[min(self._failures_in_a_row, len(RESTART_DELAY) - 1)]
        self._failures_in_a_row += 1
        await asyncio.sleep(delay)
        await self.start()

    async def _read(self, output: EncodedOutput, out: HarvestedPipe) -> None:
        try:
            await output.read(out, self._working)
        except Exception:
            log.exception("%s: error handling the encoder's output; restarting it", output.mount.path)
            self._schedule_restart("output handling failed")
        finally:
            out.close()

    def _working(self) -> None:
        self._failures_in_a_row = 0  # it works again

    async def _read_errors(self, proc: asyncio.subprocess.Process) -> None:
        await child.last_words(proc, self._errors, lambda text: log.warning("%s: encoder: %s", self.name, text))

    async def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        outs, self._outs = self._outs, []
        for out in outs:
            out.hurry()  # its end is read at once, not at the next harvest
        await child.stop(proc)
        readers, self._readers = self._readers, []
        for reader in readers:
            try:
                await asyncio.wait_for(reader, 2)  # it ends at the closed pipe
            except (TimeoutError, asyncio.CancelledError):
                reader.cancel()
        if self._errors_task is not None:
            self._errors_task.cancel()
            self._errors_task = None

    async def close(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
        await self._stop_process()
