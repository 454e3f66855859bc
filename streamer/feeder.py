"""The station's PCM producer: programme → decoder → PCM → every mount's encoder.

It runs on the station's sample timeline: sample n is on air at `start + n / rate`. It stays
at most `lookahead` seconds ahead of that clock, so it never decodes whole tracks ahead,
and if a decoder is late (slow disk, busy machine) it feeds silence rather than let
listeners run dry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from .decoder import DecodeError, Decoder
from .encoder import Encoder
from .playlist import Programme, Rotation, expand_sources
from .tags import TrackInfo, read_track_info

log = logging.getLogger("streamer.feeder")

LOW_WATER = 0.3  # seconds of audio ahead below which a late decoder is covered with silence
SILENCE_STEP = 0.1


@dataclass(slots=True)
class NowPlaying:
    info: TrackInfo
    playlist: str
    started: float  # wall time the track reaches listeners (approximately: minus lookahead)
    station_sample: int


@dataclass(slots=True)
class DecodeProblem:
    time: float
    file: str
    reason: str


class Feeder:
    def __init__(self, ffmpeg: str, sample_rate: int, channels: int, lookahead: float, encoders: list[Encoder]) -> None:
        self.ffmpeg = ffmpeg
        self.rate = sample_rate
        self.channels = channels
        self.lookahead = lookahead
        self.encoders = encoders
        self.fed = 0  # samples per channel fed to the encoders since start
        self.start: float | None = None  # monotonic time of sample 0, set when audio first flows
        self.problems: deque[DecodeProblem] = deque(maxlen=50)
        self.silence_fed = 0.0  # seconds of silence inserted to cover late or failing sources
        self.history: deque[NowPlaying] = deque(maxlen=20)
        self.now: NowPlaying | None = None
        self.warnings: list[str] = []
        self._rotations: dict[str, Rotation] = {}
        self.programme: Programme | None = None
        self.playlist_name = ""
        self._task: asyncio.Task | None = None

    # --- programme ------------------------------------------------------------------------

    def set_programme(self, programme: Programme) -> None:
        self.programme = programme
        self._rotations.clear()
        self.warnings = []
        for name, spec in programme.playlists.items():
            files, warnings = expand_sources(spec)
            self.warnings += warnings
            for w in warnings:
                log.warning("%s", w)
            self._rotations[name] = Rotation(files, spec.order)

    def _choose(self) -> tuple[str, Path | None]:
        assert self.programme is not None
        name = self.programme.fallback or ""
        rotation = self._rotations.get(name)
        return name, rotation.next() if rotation else None

    def playlist_sizes(self) -> dict[str, int]:
        return {name: len(rotation.files) for name, rotation in self._rotations.items()}

    # --- the loop -------------------------------------------------------------------------

    def start_feeding(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feeder")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def ahead(self) -> float:
        """Seconds of audio fed beyond the station clock."""
        if self.start is None:
            return self.lookahead  # nothing on air yet: no listener can run dry
        return self.start + self.fed / self.rate - asyncio.get_running_loop().time()

    async def _run(self) -> None:
        failures = 0
        while True:
            name, path = self._choose()
            self.playlist_name = name
            if path is None:
                await self._feed_silence(1.0)
                continue
            try:
                await self._play(name, path)
                failures = 0
            except DecodeError as exc:
                failures += 1
                self.problems.append(DecodeProblem(time.time(), str(exc.path), exc.reason))
                log.error("skipping %s: %s", exc.path, exc.reason)
                if failures >= max(1, self.playlist_sizes().get(name, 0)):
                    # Everything failed in a row: keep the air valid and do not spin.
                    await self._feed_silence(2.0)
                    failures = 0

    async def _play(self, playlist: str, path: Path) -> None:
        info = await asyncio.to_thread(read_track_info, path)
        decoder = Decoder(self.ffmpeg, path, self.rate, self.channels)
        await decoder.start()
        try:
            first = True
            pending = asyncio.ensure_future(decoder.read())
            while True:
                budget = self.ahead() - LOW_WATER
                done, _ = await asyncio.wait({pending}, timeout=max(0.0, budget))
                if not done:
                    await self._feed_silence(SILENCE_STEP)
                    continue
                pcm = pending.result()
                if pcm is None:
                    break
                pending = asyncio.ensure_future(decoder.read())
                if first:
                    first = False
                    self._announce(NowPlaying(info, playlist, time.time() + max(0.0, self.ahead()), self.fed))
                await self._feed(pcm)
        finally:
            if not pending.done():
                pending.cancel()
            await decoder.close()
        if decoder.warnings:
            log.warning("%s: decoded with warnings: %s", path, "; ".join(decoder.warnings))

    def _announce(self, now: NowPlaying) -> None:
        if self.now is not None:
            self.history.appendleft(self.now)
        self.now = now
        log.info("now playing %r from %s (playlist %s)", now.info.display, now.info.path, now.playlist)
        for enc in self.encoders:
            enc.mark(self.fed, now.info.display)

    async def _feed(self, pcm: bytes) -> None:
        if self.start is None:
            self.start = asyncio.get_running_loop().time()
        for enc in self.encoders:
            await enc.write(pcm)
        self.fed += len(pcm) // (2 * self.channels)
        wait = self.ahead() - self.lookahead
        if wait > 0:
            await asyncio.sleep(wait)

    async def _feed_silence(self, seconds: float) -> None:
        samples = int(self.rate * seconds)
        self.silence_fed += seconds
        await self._feed(bytes(samples * 2 * self.channels))
