"""PCM out of the feeder: to every encoder, never more than `lookahead` seconds ahead of the
station's clock, faded out and stopped at the exact sample of an armed cut, and silence
whenever something upstream is late (so listeners never run dry)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

from .cues import Cues
from .encoder import Encoder
from .limiter import TruePeakLimiter
from .pcm import SAMPLE_FORMAT, frame_bytes, to_s16
from .shaping import shape_for_cut
from .timeline import Timeline

T = TypeVar("T")

log = logging.getLogger("streamer.feeder")

LOW_WATER = 0.3  # seconds of audio ahead below which a late source is covered with silence
# Seconds a source is waited for at least before silence covers, even with audio owed (a held
# loop): what it has ready is taken, not replaced by silence (QA: after a 7 s hold, 1.8 s of a
# track aired as silence)
MIN_WAIT = 0.05
SILENCE_STEP = 0.1
SKIP_FADE = 0.2  # seconds what plays fades out over when the operator skips it


class Cut(Exception):
    """The timeline reached a hard event (or a wait-up-to deadline): stop the current item."""


class Output:
    def __init__(self, timeline: Timeline, cues: Cues, encoders: list[Encoder], channels: int) -> None:
        self.timeline = timeline
        self.cues = cues
        self.encoders = encoders
        self.channels = channels
        self.frame_bytes = frame_bytes(channels)
        self.silence_fed = 0.0  # seconds of silence inserted to cover late or failing sources
        self.limiter: TruePeakLimiter | None = None  # keeps what the encoders get under the true-peak ceiling

    def ahead(self) -> float:
        return self.timeline.ahead(asyncio.get_running_loop().time())

    def _keep_time(self, timeline: Timeline) -> None:
        """Once per step fed: a hold past what is made up is skipped, a stepped clock followed."""
        mono, wall = asyncio.get_running_loop().time(), time.time()
        if skipped := timeline.skip_owed(mono):
            log.warning("the station was held for %.1f s (process stopped or starved of CPU); it goes on from now", skipped)
            if missed := self.cues.let_missed_go(timeline.time_of(timeline.fed, wall)):
                log.warning("events missed while it was held, not aired late: %s", ", ".join(sorted({o.event.name for o in missed})))
        if step := timeline.follow_wall(mono, wall):
            log.warning("the system clock was stepped by %+.1f s; the schedule follows it", step)
            if self.cues.scheduler is not None:  # the next event after the new time (those stepped over are let go)
                self.cues.follow(self.cues.scheduler, timeline.time_of(timeline.fed, wall))

    def budget(self) -> float | None:
        """How long to wait for upstream before silence must cover (None: nothing airs yet)."""
        return max(MIN_WAIT, self.ahead() - LOW_WATER) if self.timeline.started else None

    def mark(self, sample: int, title: str) -> None:
        """`title` starts at station sample `sample` on every encoder."""
        for enc in self.encoders:
            enc.mark(sample, title)

    def silence(self, seconds: float) -> bytes:
        return bytes(int(self.timeline.rate * seconds) * self.frame_bytes)

    async def emit(self, pcm: bytes) -> None:
        """Feed PCM to every encoder, fading it out and stopping it at an armed cut (raises Cut)."""
        if not pcm:
            return
        if self.timeline.started:
            self._keep_time(self.timeline)  # (before an armed cut shapes what is fed)
        cues = self.cues
        if cues.cut_at is None:
            await self._feed(pcm)
            return
        pcm, reached = shape_for_cut(pcm, self.timeline.fed, cues.cut_at, int(cues.cut_fade * self.timeline.rate), self.channels)
        if pcm:
            await self._feed(pcm)
        if reached:
            cues.cut_at = None
            raise Cut

    def cut_soon(self, fade: float) -> None:
        """Stop what plays as soon as it can: after `fade` seconds more of it, faded out (what
        the encoders already have, the lookahead, airs as it is)."""
        self.cues.cut_soon(self.timeline.fed + int(fade * self.timeline.rate), fade)

    async def emit_or_cut(self, pcm: bytes) -> bool:
        """Feed PCM; False (instead of raising Cut) when an armed cut was reached."""
        try:
            await self.emit(pcm)
            return True
        except Cut:
            return False

    async def cover(self) -> bool:
        """Feed a step of silence for something late: False at an armed cut."""
        self.silence_fed += SILENCE_STEP
        return await self.emit_or_cut(self.silence(SILENCE_STEP))

    async def _feed(self, pcm: bytes) -> None:
        timeline = self.timeline
        if not timeline.started:
            timeline.begin(asyncio.get_running_loop().time(), time.time())
            if self.cues.scheduler is not None:
                self.cues.follow(self.cues.scheduler, timeline.wall0)
        fed = len(pcm) // self.frame_bytes
        if self.limiter is not None:  # same length out (delayed by its 5 ms look-ahead)
            pcm = self.limiter.process(pcm)
        as_fed = {SAMPLE_FORMAT: pcm}  # converted once per format the encoders take (codecs.feed_format)
        for enc in self.encoders:
            data = as_fed.get(enc.pcm_format)
            if data is None:
                data = as_fed[enc.pcm_format] = to_s16(pcm)
            enc.feed(data)  # never waits: a stalled encoder cannot hold up the other mounts
        timeline.fed += fed
        wait = self.ahead() - timeline.lookahead
        if wait > 0:
            await asyncio.sleep(wait)

    async def play_silence(self, seconds: float) -> None:
        """Valid audio when nothing can play; stops early at a hard event."""
        for _ in range(round(seconds / SILENCE_STEP)):
            if not await self.cover() or self.cues.due_now(self.timeline.time_of(self.timeline.fed, time.time())):
                break

    async def paused_before_cut(self) -> bool:
        """Between items: an event's cut too close to start anything (Cues.waits_for_cut) is waited
        for in silence. Not counted as silence covering a late source."""
        if not self.cues.waits_for_cut(self.timeline.fed, self.timeline.rate):
            return False
        while await self.emit_or_cut(self.silence(SILENCE_STEP)):
            pass
        return True

    async def wait_or_silence(self, pending: asyncio.Future) -> tuple[bool, bytes | None]:
        """(True, result) once `pending` is done, or (False, silence) if it is late."""
        done, _ = await asyncio.wait({pending}, timeout=max(MIN_WAIT, self.ahead() - LOW_WATER))
        return (True, pending.result()) if done else (False, self.silence(SILENCE_STEP))

    async def covering(self, awaitable: Awaitable[T]) -> T:
        """Await something slow while keeping the encoders fed: silence covers the wait."""
        task = asyncio.ensure_future(awaitable)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.budget())
                if done:
                    return task.result()
                if not await self.cover():
                    return await task  # a hard event's second came while waiting: nothing to fade, wait on
        finally:
            if not task.done():
                task.cancel()
