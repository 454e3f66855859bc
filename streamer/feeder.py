"""The station's PCM producer: scheduler → decoder → PCM (fades, crossfades, cuts) → encoders.

It runs on the station's sample timeline: sample n airs at `wall0 + n / rate`. It stays at
most `lookahead` seconds ahead of that clock, so it never decodes whole tracks ahead. Timed
events are placed on the same timeline, so a hard event cuts the current track at the exact
sample of its second (after a fade that ends there), however far ahead the feeder runs.
If a decoder is late it feeds silence rather than let listeners run dry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from . import pcm as pcmops
from .aio import background
from .bulletin import BulletinBuilder
from .decoder import DecodeError, Decoder
from .encoder import Encoder
from .live import LiveInput
from .news import NewsItem
from .programme import Event, Fades, Programme
from .scheduler import Choice, Occurrence, Played, Scheduler
from .tags import TrackInfo, read_track_info
from .text import display_path
from .yamldoc import Problem

log = logging.getLogger("streamer.feeder")
T = TypeVar("T")

LOW_WATER = 0.3  # seconds of audio ahead below which a late decoder is covered with silence
SILENCE_STEP = 0.1
LIVE_FADE = 0.1  # seconds: the crossfade from the schedule into a DJ who takes over
STARTUP_DELAY = 0.5  # seconds between the first PCM fed and its air time
TICKER_SEPARATORS = "|-:\u00b7\u2013\u2014"  # trimmed off a ticker with no headline to show
HISTORY = 2000  # plays remembered for no-repeat windows and jingle counting
UNPLAYABLE_RETRY = 600.0  # seconds before a file that failed to decode is tried again
FIRST_AUDIO_TIMEOUT = 5.0  # seconds a decoder may take to produce its first audio
STALLED_DECODER = 5.0  # seconds of silence covering a late decoder before the track is given up
LIVE_TAIL = 3.0  # seconds of a departed DJ's buffered audio played at most before the schedule resumes
BULLETIN_WAIT = 10.0  # seconds an on-demand bulletin waits for its build with the latest headlines


@dataclass(slots=True)
class NowPlaying:
    info: TrackInfo
    playlist: str
    kind: str
    block: str | None
    started: float  # wall time it goes on air (station timeline)
    station_sample: int
    title: str  # what players show (StreamTitle)


@dataclass(slots=True)
class DecodeProblem:
    time: float
    file: str
    reason: str


class Cut(Exception):
    """The timeline reached a hard event (or a wait-up-to deadline): stop the current track."""


class Feeder:
    def __init__(self, ffmpeg: str, sample_rate: int, channels: int, lookahead: float, encoders: list[Encoder]) -> None:
        self.ffmpeg = ffmpeg
        self.rate = sample_rate
        self.channels = channels
        self.frame_bytes = 2 * channels
        self.lookahead = lookahead
        self.encoders = encoders
        self.fed = 0  # samples per channel fed to the encoders since start
        self.start: float | None = None  # monotonic time of sample 0, set when audio first flows
        self.wall0 = 0.0  # wall time of sample 0
        self.problems: deque[DecodeProblem] = deque(maxlen=50)
        self.silence_fed = 0.0  # seconds of silence inserted to cover late or failing sources
        self.history: deque[Played] = deque(maxlen=HISTORY)
        self.recent: deque[NowPlaying] = deque(maxlen=20)
        self.now: NowPlaying | None = None
        self.warnings: list[str] = []
        self.programme: Programme | None = None
        self.scheduler: Scheduler | None = None
        self.tags: dict[Path, TrackInfo] = {}
        self.unplayable: dict[Path, float] = {}  # file → when it last failed to decode
        self.decoder_failures = 0  # decoders that died or hung mid-track
        self.next_occurrence: Occurrence | None = None
        self.due: deque[Occurrence] = deque()
        self.cut_at: int | None = None  # sample where the current track must stop
        self.cut_fade = 0.0
        self._tail = b""  # held-back end of the previous track, for its fade-out/crossfade
        self._tail_crossfade = 0.0
        self._was_cut = False
        self._in_track = False  # _play is running (a DJ's takeover crossfades out of it)
        self._handover = False  # a DJ is waiting: the track hands over at its next chunk
        self.bulletins: BulletinBuilder | None = None
        self.live: LiveInput | None = None
        self.live_silence = 15.0
        self._live_tail = LIVE_TAIL
        self._silent_since: float | None = None
        self.bulletin_on_air: dict | None = None
        self.headlines: Callable[[], list[NewsItem]] = list
        self.ticker = "{display}"
        self._ticker_turn = 0

    # --- programme ------------------------------------------------------------------------

    def set_programme(self, programme: Programme, files: dict[str, list[Path]], warnings: list[str]) -> None:
        """Adopt a (re)loaded programme; the current track plays on, the next choice uses it."""
        self.programme = programme
        self.warnings = warnings
        for w in warnings:
            log.warning("%s", w)
        self.scheduler = Scheduler(programme, files, self._artist_of, previous=self.scheduler, playable=self._playable)
        self.next_occurrence = self.scheduler.next_event(self.timeline_time())
        self._arm_cut()

    def _playable(self, path: Path) -> bool:
        failed = self.unplayable.get(path)
        return failed is None or time.time() - failed > UNPLAYABLE_RETRY

    def _artist_of(self, path: Path) -> str:
        info = self.tags.get(path)
        return info.artist if info else ""

    def playlist_sizes(self) -> dict[str, int]:
        if not self.scheduler:
            return {}
        return {name: len(r.files) for name, r in self.scheduler.rotations.items()}

    # --- the station timeline ----------------------------------------------------------------

    def timeline_time(self, sample: int | None = None) -> float:
        """Wall time at which `sample` (default: the next one fed) airs."""
        n = self.fed if sample is None else sample
        if self.start is None:
            return time.time() + n / self.rate
        return self.wall0 + n / self.rate

    def sample_at(self, wall: float) -> int:
        if self.start is None:
            return self.fed + max(0, round((wall - time.time()) * self.rate))
        return round((wall - self.wall0) * self.rate)

    def ahead(self) -> float:
        """Seconds of audio fed beyond the station clock."""
        if self.start is None:
            return self.lookahead  # nothing on air yet: no listener can run dry
        return self.start + self.fed / self.rate - asyncio.get_running_loop().time()

    # --- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """The feeder's loop (run and restarted by the station's supervisor)."""
        failures = 0
        while True:
            assert self.scheduler is not None
            choice = self._next_choice()
            if choice.kind == "bulletin":
                await self._play_bulletin(choice)
                continue
            if choice.kind == "live":
                await self._play_live(choice)
                continue
            if choice.path is None:
                if choice.kind == "event":
                    name = choice.event.name if choice.event else "?"
                    log.warning("event %s: playlist %r has nothing playable; the music goes on", name, choice.playlist)
                    continue
                await self._play_silence(1.0)
                continue
            try:
                await self._play(choice)
                failures = 0
            except DecodeError as exc:
                failures += 1
                self.unplayable[exc.path] = time.time()  # passed over until it changes or UNPLAYABLE_RETRY
                self.problems.append(DecodeProblem(time.time(), display_path(exc.path), exc.reason))
                log.error("skipping %s: %s", display_path(exc.path), exc.reason)
                if failures >= 50:
                    await self._play_silence(1.0)  # a run of failures: valid air, no spinning
                    failures = 0
            except Exception:  # a bug must not take the station off air: log it, play on
                log.exception("unexpected error while playing %s; going on with the next track", display_path(choice.path))
                self.problems.append(DecodeProblem(time.time(), display_path(choice.path), "internal error (see the log)"))
                await self._play_silence(1.0)

    # --- live DJs ---------------------------------------------------------------------------------

    def go_live(self, live: LiveInput, silence_timeout: float) -> None:
        """A DJ takes over: what plays crossfades into the DJ over LIVE_FADE.

        Audio already fed (the lookahead) is in the encoders and airs as it is; the crossfade
        starts right after it, so the DJ is on air about `lookahead` after connecting. Outside
        a track (silence, another DJ) what plays fades out over LIVE_FADE instead.
        """
        if self.live is not None:  # a second DJ: the first one's decoder goes now, with its buffer
            background(self.live.close(), f"closing the decoder of DJ {self.live.name}")
        self.live = live
        self.live_silence = silence_timeout
        if self._in_track:
            self._handover = True
        else:
            self.cut_at = self.fed + int(LIVE_FADE * self.rate)
            self.cut_fade = LIVE_FADE

    def end_live(self) -> None:
        """Take the DJ off air now (killsource on the live mount): their buffered audio is dropped."""
        if self.live is not None:
            self.live.end()
            self._live_tail = 0.0

    async def _play_live(self, choice: Choice) -> None:
        live = self.live
        assert live is not None
        chunk = int(self.rate * 0.1) * self.frame_bytes
        fade_in = int(LIVE_FADE * self.rate) * self.frame_bytes
        heard = 0  # bytes of the DJ's audio fed so far
        head, self._tail = self._tail, b""  # the track's last LIVE_FADE, faded out: mixed under the DJ
        title = None
        self._live_tail = LIVE_TAIL
        tail_until: int | None = None  # the sample where a departed DJ's buffered audio stops
        pending = asyncio.ensure_future(live.read(chunk))
        finished = False
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=max(0.0, self.ahead() - LOW_WATER))
                pcm = pending.result() if done else bytes(int(self.rate * SILENCE_STEP) * self.frame_bytes)
                if live.ended and tail_until is None:
                    tail_until = self.fed + int(self._live_tail * self.rate)
                if (done and pcm is None) or (tail_until is not None and self.fed >= tail_until) or self._live_silent(live, pcm):
                    finished = True
                    break
                if done:
                    pending = asyncio.ensure_future(live.read(chunk))
                if title != live.title:
                    title = live.title
                    self._announce(TrackInfo(Path(live.name), "", title, None), replace(choice, title=title), self.fed)
                if done and heard < fade_in:
                    pcm = pcmops.ramp(pcm, self.channels, heard / fade_in, min(1.0, (heard + len(pcm)) / fade_in))
                    heard += len(pcm)
                if head:
                    n = min(len(pcm), len(head))
                    pcm, head = pcmops.mix(head[:n], pcm[:n]) + pcm[n:], head[n:]
                await self._emit(pcm)
        except Cut:
            pass  # a hard event: it plays, then the DJ carries on
        finally:
            if not pending.done():
                pending.cancel()
            if finished:
                log.info("live: %s ended; the schedule resumes", live.name)
                if self.live is live:
                    self.live = None
                await live.close()

    def _live_silent(self, live: LiveInput, pcm: bytes | None) -> bool:
        """True once the DJ has been silent for `live_silence` seconds (the schedule resumes)."""
        if pcm is None or not live.is_silent(pcm):
            self._silent_since = None
            return False
        now = self.timeline_time()
        if self._silent_since is None:
            self._silent_since = now
        if now - self._silent_since > self.live_silence:
            log.warning("live: %s silent for %g s; the schedule resumes", live.name, self.live_silence)
            self._silent_since = None
            return True
        return False

    # --- news bulletins ---------------------------------------------------------------------------

    def request_bulletin(self) -> None:
        """A bulletin now (POST /api/bulletin): once it is built with the latest headlines (the
        music plays on meanwhile, usually a second or two), what plays fades out over 0.5 s."""
        background(self._bulletin_when_ready(), "on-demand bulletin")

    async def _bulletin_when_ready(self) -> None:
        if self.bulletins is not None:
            await self.bulletins.fresh(self.headlines(), BULLETIN_WAIT)
        event = Event("bulletin (on demand)", "", "hard", 0.0, Problem("api", 0, 0, ""), bulletin=True)
        self.due.appendleft(Occurrence(self.timeline_time(), event))
        self.cut_at = self.fed + int(0.5 * self.rate)
        self.cut_fade = 0.5

    async def _play_bulletin(self, choice: Choice) -> None:
        if self.bulletins is None:
            return
        headlines = self.headlines()
        bulletin = self.bulletins.take(headlines)
        if bulletin is None:  # none built ahead yet (just started): build now, keeping the air fed
            try:
                bulletin = await self._covering(self.bulletins.build(headlines))
            except Exception as exc:  # a failed build must not stop the music
                log.exception("bulletin could not be built")
                self.problems.append(DecodeProblem(time.time(), "bulletin", f"could not be built: {exc}"))
                return
            self.bulletins.ready = self.bulletins.on_air = bulletin
        self.bulletin_on_air = {"started": self.timeline_time(), "method": self.bulletins.method, "headlines": bulletin.headlines}
        log.info("bulletin: %d segment(s), %s", len(bulletin.segments), self.bulletins.method)
        try:
            for segment in bulletin.segments:
                self._was_cut = False
                try:
                    await self._play(replace(choice, path=segment.path, title=segment.title))
                except DecodeError as exc:
                    self.problems.append(DecodeProblem(time.time(), display_path(exc.path), exc.reason))
                    log.error("bulletin segment %s skipped: %s", display_path(exc.path), exc.reason)
                if self._was_cut:
                    break
        finally:
            self.bulletin_on_air = None

    async def _covering(self, awaitable: Awaitable[T]) -> T:
        """Await something slow while keeping the encoders fed: silence covers the wait."""
        task = asyncio.ensure_future(awaitable)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=None if self.start is None else max(0.0, self.ahead() - LOW_WATER))
                if done:
                    return task.result()
                try:
                    await self._emit(bytes(int(self.rate * SILENCE_STEP) * self.frame_bytes))
                except Cut:  # a hard event's second came while waiting: nothing to fade, wait on
                    return await task
                self.silence_fed += SILENCE_STEP
        finally:
            if not task.done():
                task.cancel()

    def _next_choice(self) -> Choice:
        assert self.scheduler is not None
        t = self.timeline_time()
        self._collect_due(t)
        if self.due:
            occ = self.due.popleft()
            log.info("event %r (%s) due at %s", occ.event.name, occ.event.mode, time.strftime("%H:%M:%S", time.localtime(occ.time)))
            return self.scheduler.event_choice(occ.event, t, self.history)
        if self.live is not None:
            return Choice(None, "live", "live", self.scheduler.block_at(t), Fades())
        return self.scheduler.next_choice(t, self.history)

    def _collect_due(self, t: float) -> None:
        """Move every event whose time has come (on the timeline) into the due queue."""
        assert self.scheduler is not None
        while self.next_occurrence and self.next_occurrence.time <= t + 0.001:
            when = self.next_occurrence.time
            for event in self.scheduler.programme.events:
                if self.scheduler._next_time(event, when - 1e-3) == when:
                    self.due.append(Occurrence(when, event))
            self.next_occurrence = self.scheduler.next_event(when)
        self._arm_cut()

    def _arm_cut(self) -> None:
        """Where the current track must stop: the next hard event, or a wait-up-to deadline."""
        occ = self.next_occurrence
        self.cut_at = None
        if occ is None or occ.event.mode == "soft":
            return
        deadline = occ.time + (occ.event.wait if occ.event.mode == "wait" else 0.0)
        self.cut_at = self.sample_at(deadline)
        self.cut_fade = occ.event.fade_out

    async def _play(self, choice: Choice) -> None:
        assert choice.path is not None
        path = choice.path
        info = self.tags.get(path)
        if info is None:
            try:  # off the loop, with a timeout: a hung file system must not hang the station
                info = await asyncio.wait_for(asyncio.to_thread(read_track_info, path), FIRST_AUDIO_TIMEOUT)
            except TimeoutError:
                raise DecodeError(path, f"the file system did not answer within {FIRST_AUDIO_TIMEOUT:g} s") from None
            self.tags[path] = info
        decoder = Decoder(self.ffmpeg, path, self.rate, self.channels)
        await decoder.start()
        fades = choice.fades
        head = tail = self._tail  # the previous track's ending, mixed under this one's start
        self._tail = b""
        hold_bytes = int(max(fades.crossfade, fades.fade_out) * self.rate) * self.frame_bytes
        fade_in = fades.fade_in if not head else max(fades.fade_in, self._tail_crossfade)
        fade_in_bytes = int(fade_in * self.rate) * self.frame_bytes
        body = b""  # decoded but held back, to shape the ending
        offset = 0  # bytes of this track decoded so far
        pending = asyncio.ensure_future(decoder.read())
        self._in_track = True
        covered = 0.0  # seconds of silence covering this decoder in a row
        try:
            while True:
                # Before the first sample airs nobody can run dry: wait for real audio (not forever).
                budget = FIRST_AUDIO_TIMEOUT if self.start is None else max(0.0, self.ahead() - LOW_WATER)
                done, _ = await asyncio.wait({pending}, timeout=budget)
                if not done:  # the decoder is late: cover with silence rather than run dry
                    if self.start is None or covered >= STALLED_DECODER:
                        self.decoder_failures += 1
                        raise DecodeError(path, f"the decoder produced no audio for {budget if self.start is None else covered:g} s")
                    covered += SILENCE_STEP
                    left = self.ahead()
                    log.warning(
                        "%s: decoder late (%.2f s of audio left); covering with %.1f s of silence", display_path(path), left, SILENCE_STEP
                    )
                    await self._emit(bytes(int(self.rate * SILENCE_STEP) * self.frame_bytes))
                    self.silence_fed += SILENCE_STEP
                    continue
                covered = 0.0
                chunk = pending.result()
                if chunk is None:
                    break
                pending = asyncio.ensure_future(decoder.read())
                if offset == 0:
                    # Everything before this point is fed (a crossfade's old ending is held in
                    # `head`), so the title goes exactly where this track becomes audible.
                    self._announce(info, choice, self.fed + len(body) // self.frame_bytes)
                if offset < fade_in_bytes:
                    chunk = pcmops.ramp(chunk, self.channels, offset / fade_in_bytes, min(1.0, (offset + len(chunk)) / fade_in_bytes))
                offset += len(chunk)
                if head:
                    n = min(len(chunk), len(head))
                    chunk, head = pcmops.mix(head[:n], chunk[:n]) + chunk[n:], head[n:]
                body += chunk
                if self._handover:  # a DJ took over: what is not fed yet becomes the crossfade
                    self._handover = False
                    self._was_cut = True
                    tail = body[: int(LIVE_FADE * self.rate) * self.frame_bytes]
                    self._tail = pcmops.ramp(tail, self.channels, 1.0, 0.0)
                    self._tail_crossfade = LIVE_FADE
                    return
                if len(body) > hold_bytes:
                    cut = len(body) - hold_bytes
                    cut -= cut % self.frame_bytes
                    await self._emit(body[:cut])
                    body = body[cut:]
            await self._finish_track(body + head, fades)
        except Cut:
            self._tail = b""
            self._was_cut = True
        except DecodeError:
            if offset == 0:  # nothing of this file aired: the previous track keeps its ending for the next
                self._tail = tail
            raise
        finally:
            self._in_track = self._handover = False  # a track that ended first hands over by itself
            if not pending.done():
                pending.cancel()
            await decoder.close()
        if decoder.killed:
            self.decoder_failures += 1
            log.error("%s: the decoder was %s mid-track; going on with the next track", display_path(path), decoder.killed)
        elif decoder.warnings:
            log.warning("%s: decoded with warnings: %s", display_path(path), "; ".join(decoder.warnings))

    async def _finish_track(self, body: bytes, fades: Fades) -> None:
        """Fade the held-back ending out; keep its crossfade part to mix under the next track."""
        n = len(body) // self.frame_bytes
        k = min(n, int(max(fades.fade_out, fades.crossfade) * self.rate))
        if k:
            split = (n - k) * self.frame_bytes
            body = body[:split] + pcmops.ramp(body[split:], self.channels, 1.0, 0.0)
        keep = min(n, int(fades.crossfade * self.rate)) * self.frame_bytes
        await self._emit(body[: len(body) - keep])
        self._tail = body[len(body) - keep :]
        self._tail_crossfade = fades.crossfade

    def _stream_title(self, info: TrackInfo, choice: Choice) -> str:
        if choice.title:
            return choice.title
        if choice.kind != "song" or self.ticker == "{display}":
            return info.display
        headlines = self.headlines()
        headline = headlines[self._ticker_turn % len(headlines)].title if headlines else ""
        self._ticker_turn += 1
        title = self.ticker.format(artist=info.artist, title=info.title, display=info.display, headline=headline)
        return title.strip().rstrip(TICKER_SEPARATORS).strip() or info.display

    def _announce(self, info: TrackInfo, choice: Choice, sample: int) -> None:
        block = choice.block.name if choice.block else None
        title = self._stream_title(info, choice)
        now = NowPlaying(info, choice.playlist, choice.kind, block, self.timeline_time(sample), sample, title)
        if self.now is not None:
            self.recent.appendleft(self.now)
        self.now = now
        self.history.append(Played(now.started, info.path, info.artist, choice.playlist, choice.kind, block))
        where = f"playlist {choice.playlist}" + (f", block {block}" if block else "")
        log.info("now playing %r (%s, %s) from %s", title, choice.kind, where, info.path)
        for enc in self.encoders:
            enc.mark(sample, title)

    # --- feeding the encoders -------------------------------------------------------------------

    async def _emit(self, pcm: bytes) -> None:
        """Feed PCM to every encoder, fading it out and stopping it at an armed cut."""
        if not pcm:
            return
        if self.cut_at is not None:
            pcm, reached = self._shape_for_cut(pcm, self.cut_at)
            if pcm:
                await self._feed(pcm)
            if reached:
                self.cut_at = None
                raise Cut
            return
        await self._feed(pcm)

    def _shape_for_cut(self, pcm: bytes, cut: int) -> tuple[bytes, bool]:
        n0 = self.fed
        n1 = n0 + len(pcm) // self.frame_bytes
        fade_start = cut - int(self.cut_fade * self.rate)
        if n0 >= cut:
            return b"", True
        if n1 > fade_start and self.cut_fade > 0:
            a = max(n0, fade_start)
            b = min(n1, cut)
            before = pcm[: (a - n0) * self.frame_bytes]
            during = pcm[(a - n0) * self.frame_bytes : (b - n0) * self.frame_bytes]
            after = pcm[(b - n0) * self.frame_bytes :]
            length = cut - fade_start
            g0 = 1.0 - (a - fade_start) / length
            g1 = 1.0 - (b - fade_start) / length
            pcm = before + pcmops.ramp(during, self.channels, g0, g1) + after
        if n1 >= cut:
            return pcm[: (cut - n0) * self.frame_bytes], True
        return pcm, False

    async def _feed(self, pcm: bytes) -> None:
        if self.start is None:
            # Sample 0 airs a moment from now, so the decoders can get ahead before anyone
            # could run dry; the mounts' clocks start from this same origin.
            self.start = asyncio.get_running_loop().time() + STARTUP_DELAY
            self.wall0 = time.time() + STARTUP_DELAY
            if self.scheduler:
                self.next_occurrence = self.scheduler.next_event(self.wall0)
                self._arm_cut()
        for enc in self.encoders:
            enc.feed(pcm)  # never waits: a stalled encoder cannot hold up the other mounts
        self.fed += len(pcm) // self.frame_bytes
        wait = self.ahead() - self.lookahead
        if wait > 0:
            await asyncio.sleep(wait)

    async def _play_silence(self, seconds: float) -> None:
        """Valid audio when nothing can play; stops early at a hard event."""
        self.silence_fed += seconds
        step = bytes(int(self.rate * SILENCE_STEP) * self.frame_bytes)
        try:
            for _ in range(round(seconds / SILENCE_STEP)):
                await self._emit(step)
                if self._due_now():
                    break
        except Cut:
            pass

    def _due_now(self) -> bool:
        occ = self.next_occurrence
        return occ is not None and occ.time <= self.timeline_time()
