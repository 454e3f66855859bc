"""The station's PCM producer: scheduler → decoder → PCM (fades, crossfades, cuts) → encoders.

On the station's sample timeline (timeline.py), through `output` at most `lookahead` seconds ahead of it: no whole-track
decodes. Events are on the same timeline (cues.py): a hard event cuts the track at the sample of its second (one under a
second away is waited for in silence). A late decoder is covered with silence; a file that will not play is passed over,
and its playlist gives way to the fallback when none of its files will."""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

from ..aio import background
from ..library.catalog import Entry
from ..library.scanner import Library
from ..library.tags import TrackInfo
from ..news.bulletin import Segment
from ..schedule.model import Fades, Programme
from ..schedule.scheduler import Choice, Scheduler
from ..settings import LoudnessConfig
from ..wire.text import display_path
from .bulletin_play import BulletinPlayer
from .cues import Cues, events_from
from .decoder import DecodeError
from .encoder import Encoder
from .leveling import Level, ceiling, known_length, level_for
from .limiter import TruePeakLimiter
from .live_input import LiveInput
from .live_play import LIVE_FADE, LiveSession, OnStall, play_live
from .next_decoder import ANALYSIS_MARGIN, PRESTART, NextDecoder
from .onair import OnAir
from .output import Cut, Output
from .pcm import frame_bytes
from .shaping import ending, fade_in, faded_out, fitted, mix_under
from .timeline import Timeline
from .track import Track, aired, close_track, decoded_length, late_level, next_chunk, start_decoder, track_info
from .upcoming import Ahead, LastPreview, upcoming

log = logging.getLogger("streamer.feeder")

FIRST_ANALYSIS = 1.0  # seconds a new file may take to be analysed: the first track, the next one's early decoder
UNPLAYABLE_RETRY = 600.0  # seconds before a file that failed to decode is tried again


class Feeder:
    def __init__(self, ffmpeg: str, sample_rate: int, channels: int, lookahead: float, encoders: list[Encoder], quick: str = "") -> None:
        self.rate = sample_rate
        self.channels = channels
        self.frame_bytes = frame_bytes(channels)
        self.timeline = Timeline(sample_rate, lookahead)
        self.cues = Cues(lambda wall: self.timeline.sample_at(wall, time.time()))
        self.output = Output(self.timeline, self.cues, encoders, channels)
        self.onair = OnAir()
        self.bulletins = BulletinPlayer(self)
        self.scheduler: Scheduler | None = None
        self.warnings: list[str] = []
        self.tags: dict[Path, TrackInfo] = {}
        self.unplayable: dict[Path, float] = {}  # file → when it last failed to decode
        self.decoder_failures = 0  # decoders that died or hung mid-track
        self.live: LiveSession | None = None
        self.library: Library | None = None  # the analysed files (gain, cue points), when the station has one
        self.loudness = LoudnessConfig(enabled=False)
        self.level: Level | None = None  # the file on air's
        self._tail = b""  # held-back end of the previous track, for its fade-out/crossfade
        # a track plays (a DJ crossfades out of it); a DJ waits for its next chunk; the news or an event airs (whole)
        self._in_track = self._handover = self._whole = False
        self._crossfade = 0.0  # the item on air's crossfade into the next
        self._chosen: tuple[float, Choice] | None = None  # chosen, not announced yet (its decoder starts)
        self._preview = LastPreview()
        self.next_decoder = NextDecoder()  # the decoder of what is likely next, started early
        self._decoder = functools.partial(start_decoder, quick or ffmpeg, sample_rate, channels)  # at need: the quickest to start
        self.early_decoder = functools.partial(start_decoder, ffmpeg, sample_rate, channels)  # the encoders' (shares their libraries)

    # --- the programme and the clock ------------------------------------------------------------

    def set_programme(self, programme: Programme, files: dict[str, list[Path]], warnings: list[str]) -> None:
        """Adopt a (re)loaded programme; the current track plays on, the next choice uses it."""
        self.warnings = warnings
        for w in warnings:
            log.warning("%s", w)
        first = self.scheduler is None
        length = lambda p: known_length(self.library.lookup(p) if self.library else None, self.tags.get(p))  # noqa: E731 (no I/O)
        self.scheduler = Scheduler(programme, files, previous=self.scheduler, playable=self._playable, tags=self.tags, length=length)
        self.cues.follow(self.scheduler, events_from(self.scheduler, self.now(), self.onair.recent) if first else self.now())
        if self.library is not None:
            self.library.want(f for found in files.values() for f in found)

    def set_loudness(self, loudness: LoudnessConfig, library: Library | None) -> None:
        """Air every file at `loudness` (gains and cue points from `library`), under a true-peak limiter."""
        self.loudness, self.library = loudness, library
        if loudness.enabled:
            self.output.limiter = TruePeakLimiter(self.rate, self.channels, ceiling(loudness), sample_format="f32")

    def _playable(self, path: Path) -> bool:
        entry = self.library.lookup(path) if self.library else None
        if entry is not None and not entry.playable:  # analysed and found unplayable (until it changes)
            return False
        failed = self.unplayable.get(path)
        return failed is None or time.time() - failed > UNPLAYABLE_RETRY

    @property
    def start(self) -> float | None:
        """Monotonic time of the station's sample 0 (the mounts' clocks start from it)."""
        return self.timeline.start

    def now(self) -> float:
        """Wall time at which the next sample fed airs."""
        return self.timeline.time_of(self.timeline.fed, time.time())

    # --- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """The feeder's loop (run and restarted by the station's supervisor)."""
        failures = 0
        try:
            while True:
                if await self.output.paused_before_cut():
                    continue
                choice = self._next_choice()
                self._whole = choice.kind in ("bulletin", "event")
                if choice.path is None and choice.kind != "bulletin":  # a DJ, silence: no decoder was started for it
                    self.next_decoder.drop()
                if choice.kind == "bulletin":
                    await self.bulletins.play(choice)
                elif choice.kind == "live":
                    await play_live(self, choice)
                elif choice.path is None and choice.kind == "event":
                    event = getattr(choice.event, "name", "")
                    log.warning("event %s: playlist %r has nothing playable; the music goes on", event, choice.playlist)
                elif choice.path is None:
                    if self.onair.untitled_silence():  # clears the last song's title where the silence starts
                        self.output.mark(self.timeline.fed, "")
                    await self.output.play_silence(1.0)
                elif await self._play_or_skip(choice):
                    failures = 0
                else:
                    failures += 1
                    if failures >= 50:
                        await self.output.play_silence(1.0)  # a run of failures: valid air, no spinning
                        failures = 0
        finally:
            self.next_decoder.drop()

    def _next_choice(self) -> Choice:
        assert self.scheduler is not None
        t = self.now()
        self.cues.collect(t)
        occ = self.cues.pop_due()
        if occ is not None:
            choice = self.scheduler.event_choice(occ.event, t, self.onair.history)
        elif self.live is not None:
            choice = Choice(None, "live", "live", self.scheduler.block_at(t), Fades())
        else:
            choice = self.scheduler.next_choice(t, self.onair.history, self.cues.room(self.timeline.fed, self.rate))
        self._chosen = (t, choice)
        self.onair.note_stand_in(choice, self.scheduler)
        return choice

    def upcoming_choice(self, now: float) -> tuple[float, Choice] | None:
        """What follows the item on air, and when (upcoming.py). None while a DJ is on."""
        if self.scheduler is None or self.onair.now is None or self.live is not None:
            return None
        if self._chosen is not None:  # chosen already, its decoder starting: it is what is next
            return self._chosen if self._chosen[1].path is not None else None
        key = (self.scheduler, self.onair.now, self.cues.next, self.cues.due[0] if self.cues.due else None)
        return self._preview.get(key, now, lambda: upcoming(self.scheduler, self.cues, self.onair, Ahead(self._crossfade), now))

    async def _play_or_skip(self, choice: Choice) -> bool:
        """Play a file; a file that fails is logged, listed and passed over for a while."""
        assert choice.path is not None
        try:
            await self.play_file(choice)
            return True
        except DecodeError as exc:
            self.unplayable[exc.path] = time.time()
            self.onair.problem(time.time(), display_path(exc.path), exc.reason)
            log.error("skipping %s (%s): %s", display_path(exc.path), choice.origin(), exc.reason)
        except Exception:  # a bug must not take the station off air: log it, play on
            log.exception("unexpected error while playing %s; going on with the next track", display_path(choice.path))
            self.onair.problem(time.time(), display_path(choice.path), "internal error (see the log)")
            await self.output.play_silence(1.0)
        return False

    # --- one file ------------------------------------------------------------------------------------

    async def _open(self, choice: Choice, analysis: Entry | None) -> Track:
        assert choice.path is not None
        info, level = await self.level_of(choice, analysis, 0.0 if self.timeline.started else FIRST_ANALYSIS)
        decoder = await self.next_decoder.take(choice.path, level) or await self._decoder(choice.path, level)
        row = functools.partial(self.library.lookup, choice.path) if self.library is not None and analysis is None else None
        late = late_level(row, lambda entry: level_for(entry, info, self.loudness), level, self.rate, self.channels) if row else None
        return Track(choice, aired(info, level), decoder, level, late=late)

    async def level_of(self, choice: Choice, analysis: Entry | None = None, wait: float = 0.0) -> tuple[TrackInfo, Level]:
        """The file's tags and the level it airs at (`wait`: seconds to analyse it if the library has not)."""
        assert choice.path is not None
        info = await track_info(self.tags, choice.path, choice.title)
        if analysis is None and self.library is not None:
            analysis = await self.library.analyse_now(choice.path, wait) if wait > 0 else self.library.lookup(choice.path)
        return decoded_length(info, analysis), level_for(analysis, info, self.loudness)

    async def play_file(self, choice: Choice, analysis: Entry | None = None, then: list[Segment] | None = None) -> bool:
        """Play one file to its end (True), or until a hard event or a DJ cuts it (False); `analysis`
        for a file the library lacks (a bulletin's segment; `then`: the next two, their decoders started early)."""
        track = await self._open(choice, analysis)
        if then:
            self.bulletins.prestart(choice, then[0], then[1:2])
        hard = choice.kind == "event" and choice.event is not None and choice.event.mode == "hard"  # full level at its second
        tail = self.take_tail()  # the previous track's ending, mixed under this one's start (`head`)
        fades, head = fitted(choice.fades, track.info.duration, tail, self.rate, self.channels, hard)
        hold = int(max(fades.crossfade, fades.fade_out) * self.rate) * self.frame_bytes
        fade_bytes = int(fades.fade_in * self.rate) * self.frame_bytes
        body = b""  # decoded but held back, to shape the ending
        next_started = bool(then) or track.info.duration is None  # (or never will be)
        self._in_track = True
        try:
            while (chunk := await next_chunk(track, self.output)) is not None:
                if track.offset == 0:
                    # Everything before this point is fed (a crossfade's old ending is held in
                    # `head`), so the title goes exactly where this track becomes audible.
                    self.announce(track.info, choice, self.timeline.fed + len(body) // self.frame_bytes)
                    self._crossfade = fades.crossfade
                    if self.library is not None and self.scheduler is not None:  # what may play next is analysed now
                        self.library.prefer(self.scheduler.upcoming(self.now()))
                if self.level is not track.level:  # its first chunk; again when its analysis comes mid-track (LateLevel)
                    self.level = track.level
                    self.onair.retime(track.info)  # (the analysis may have cut it shorter)
                chunk = fade_in(chunk, track.offset, fade_bytes, self.channels)
                track.offset += len(chunk)
                if not next_started and (left := track.info.duration - track.offset / (self.rate * self.frame_bytes)) <= PRESTART:
                    next_started, wait = True, min(FIRST_ANALYSIS, max(0.0, left - ANALYSIS_MARGIN))  # no longer than this one airs
                    self.bulletins.guess_next(self.upcoming_choice(self.now()), functools.partial(self.level_of, wait=wait))
                chunk, head = mix_under(chunk, head)
                body += chunk
                if self._handover:  # a DJ took over: what is not fed yet becomes the crossfade
                    self._hand_over(body)
                    return False
                if len(body) > hold:
                    cut = len(body) - hold
                    cut -= cut % self.frame_bytes
                    await self.output.emit(body[:cut])
                    body = body[cut:]
            await self._finish(body + head, fades)
            return True
        except Cut:
            return False
        except DecodeError:
            if track.offset == 0:  # nothing of this file aired: the previous track keeps its ending for the next
                self._tail = tail
            raise
        finally:
            self._in_track = self._handover = False  # a track that ended first hands over by itself
            await close_track(track)
            self.decoder_failures += track.failed

    async def _finish(self, body: bytes, fades: Fades) -> None:
        """Fade the held-back ending out; keep its crossfade part to mix under the next track."""
        fade = int(max(fades.fade_out, fades.crossfade) * self.rate)
        now, self._tail = ending(body, fade, int(fades.crossfade * self.rate), self.channels)
        await self.output.emit(now)

    def take_tail(self) -> bytes:
        """The previous track's held-back ending (to mix under what comes next), taken once."""
        tail, self._tail = self._tail, b""
        return tail

    def announce(self, info: TrackInfo, choice: Choice, sample: int | None = None) -> None:
        """`info` airs from station sample `sample` (default: the next one fed): every encoder marks its title there."""
        sample = self.timeline.fed if sample is None else sample
        title = self.onair.announce(info, choice, self.timeline.time_of(sample, time.time()), sample)
        self._chosen = None
        self.output.mark(sample, title)

    # --- live DJs -------------------------------------------------------------------------------------

    def go_live(self, live: LiveInput, silence_timeout: float, on_stall: OnStall | None = None) -> None:
        """A DJ takes over: a track crossfades into the DJ over LIVE_FADE after the audio fed (the lookahead), silence
        fades out; the news or an event airs whole first, what the DJ sends meanwhile let go as when it cuts into
        their show (QA: a bulletin was cut after 5.7 of 10.7 s). The DJ is on air about `lookahead` after connecting."""
        if self.live is not None:  # a second DJ: the first one's decoder goes now, with its buffer
            background(self.live.live.close(), f"closing the decoder of DJ {self.live.live.name}")
        self.live = LiveSession(live, silence_timeout, on_stall)
        if self._whole:
            live.let_go()
        elif self._in_track:
            self._handover = True
        else:
            self.output.cut_soon(LIVE_FADE)

    def _hand_over(self, body: bytes) -> None:
        self._handover = False
        self._tail = faded_out(body[: int(LIVE_FADE * self.rate) * self.frame_bytes], self.channels)

    def end_live(self) -> None:
        """Take the DJ off air now (killsource on the live mount)."""
        if self.live is not None:
            self.live.end_now()
