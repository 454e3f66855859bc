"""News bulletins: intro, the news itself, outro, as a list of (audio file, title) segments.

The news itself is, in order of preference: a pre-recorded file or URL (fetched ahead),
text-to-speech of the latest headlines with espeak-ng (one segment per headline, so the
title changes with the headline being read), or, with neither, the headlines shown as
titles over a news bed.

Bulletins are built ahead of air time, in the background, whenever the headlines change
(`prepare`), so air time only picks up files that are ready. A build is bounded: summaries
are cut at a sentence boundary, and segments stop at `max_seconds` of news. Each build has
its own folder, removed once a newer bulletin is ready and the old one is off air; the
whole work folder goes when the station stops.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp

from .. import child
from ..library.analyser import AnalysisHung, analyse
from ..library.catalog import Entry
from ..net_words import in_words
from ..settings import NewsConfig
from .parse import NewsItem
from .voices import voice_for

log = logging.getLogger("streamer.bulletin")

MAX_SPOKEN = 400  # characters of a summary read out, cut at a sentence boundary
TTS_TIMEOUT = 30.0  # seconds espeak-ng may take for one headline
# Bulletins are built ahead of air, so their TTS and ffmpeg runs go below the audio path (their
# loudness analysis already runs at the library's nice): at start they no longer compete with
# the first track's analysis, decoder and encoders (on air 2.31 s after exec against 2.47 s,
# mean of 9 starts each with tests/conftest.py's station).
BUILD_NICE = 10
MAX_FETCH = 50_000_000  # bytes of a pre-recorded bulletin downloaded at most
PRE_RECORDED, TTS, TITLES = "pre-recorded", "tts", "titles over a news bed"
TTS_AND_TITLES = "tts and titles over a news bed"  # espeak-ng failed on some headlines


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path
    title: str
    analysis: Entry | None = None  # its loudness, measured when the bulletin is built: aired at the station's level
    headline: str = ""  # the id of the headline it reads ('' for the intro, the outro, a recording)


@dataclass(slots=True)
class Bulletin:
    key: tuple  # what it was built from: the headlines and summaries it reads
    segments: list[Segment]
    folder: Path | None
    headlines: list[str] = field(default_factory=list)
    seconds: float = 0.0
    method: str = TITLES  # how its news was made: PRE_RECORDED, TTS, TITLES, or TTS_AND_TITLES when some TTS failed


def headline_title(item: NewsItem) -> str:
    return f"News: {item.title}" + (f" ({item.source})" if item.source else "")


def spoken_text(item: NewsItem, limit: int = MAX_SPOKEN) -> str:
    """What TTS reads for a headline: the headline and as much of the summary as fits in
    `limit` characters, ending at a sentence boundary (never mid-word)."""
    summary = item.summary.strip()
    if len(summary) > limit:
        cut = summary[:limit]
        ends = [m.end() for m in re.finditer(r"[.!?…][\"'\u201d\u2019)]*(\s|$)", cut)]
        summary = cut[: ends[-1]].strip() if ends else cut.rsplit(" ", 1)[0] + "…"
    return item.title + (". " + summary if summary else "")


def bulletin_key(items: list[NewsItem]) -> tuple:
    return tuple((i.id, i.title, i.summary, i.source) for i in items)


def wav_seconds(path: Path) -> float:
    try:
        with wave.open(str(path)) as w:
            return w.getnframes() / max(1, w.getframerate())
    except (OSError, EOFError, wave.Error):
        return 0.0


class BulletinBuilder:
    def __init__(self, config: NewsConfig, ffmpeg: str) -> None:
        self.config = config
        self.ffmpeg = ffmpeg
        self.espeak = shutil.which("espeak-ng") if config.tts != "off" else None
        self.workdir = Path(tempfile.mkdtemp(prefix="streamer-bulletins-"))
        self._count = 0  # downloads
        self._builds = 0
        self.fetched: Path | None = None  # the latest copy of a bulletin URL
        self._older: Path | None = None
        self.fetch_error = ""
        self.headlines: Callable[[], list[NewsItem]] = list  # the desk's headlines, newest first
        self.ready: Bulletin | None = None  # the latest bulletin built
        self.on_air: Bulletin | None = None
        self._wanted: list[NewsItem] | None = None
        self._wake = asyncio.Event()
        self._built = asyncio.Event()  # set after every build

    @property
    def method(self) -> str:
        """How bulletins are made as configured (each built one says how it was: Bulletin.method)."""
        if self.config.audio:
            return PRE_RECORDED
        return TTS if self.espeak else TITLES

    # --- ahead of air time -----------------------------------------------------------------------

    def want(self, headlines: list[NewsItem]) -> None:
        """The headlines changed: build a bulletin of them in the background."""
        self._wanted = list(headlines)
        self._wake.set()

    async def keep_ready(self) -> None:
        """Rebuild whenever the headlines change (at most once a second); supervised task."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            items = self._wanted or []
            if self.ready is None or self.ready.key != bulletin_key(items[: self.config.bulletin_headlines]):
                self._replace_ready(await self.build(items))
            await asyncio.sleep(1.0)

    def _replace_ready(self, bulletin: Bulletin) -> None:
        old, self.ready = self.ready, bulletin
        if old is not None and old is not self.on_air and old.folder is not None:
            shutil.rmtree(old.folder, ignore_errors=True)
        self._built.set()

    async def fresh(self, headlines: list[NewsItem], timeout: float) -> None:
        """Wait (at most `timeout`) until the bulletin built ahead reads these headlines."""
        key = bulletin_key(headlines[: self.config.bulletin_headlines])
        self.want(headlines)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            self._built.clear()  # before looking, so a build that ends meanwhile is not missed
            if self.ready is not None and self.ready.key == key:
                return
            try:
                await asyncio.wait_for(self._built.wait(), deadline - loop.time())
            except TimeoutError:
                return

    def take(self, headlines: list[NewsItem]) -> Bulletin | None:
        """The bulletin to air now: the one built ahead (even if a headline changed a moment
        ago: it is rebuilt for next time), or None if none is ready yet."""
        bulletin = self.ready
        if bulletin is None:
            return None
        if bulletin.key != bulletin_key(headlines[: self.config.bulletin_headlines]):
            self.want(headlines)
        previous, self.on_air = self.on_air, bulletin
        if previous is not None and previous is not self.ready and previous.folder is not None:
            shutil.rmtree(previous.folder, ignore_errors=True)
        return bulletin

    # --- building --------------------------------------------------------------------------------

    async def prefetch(self) -> None:
        """Keep a fresh copy of a bulletin URL on disk, so air time never waits for the network."""
        url = self.config.audio
        if not url or not url.startswith(("http://", "https://")):
            return
        while True:
            try:
                previous, self.fetched = self.fetched, await self._fetch(url, self.workdir)
                self.fetch_error = ""
                if self._older is not None:  # keep this copy and the one before (it may be on air)
                    self._older.unlink(missing_ok=True)
                self._older = previous
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                self.fetch_error = f"{url}: {in_words(exc)}"
                log.warning("bulletin audio not fetched (%s); keeping the previous copy", self.fetch_error)
            await asyncio.sleep(self.config.audio_refresh)

    async def build(self, headlines: list[NewsItem]) -> Bulletin:
        self._builds += 1
        folder = self.workdir / f"b{self._builds}"
        folder.mkdir(parents=True, exist_ok=True)
        items = headlines[: self.config.bulletin_headlines]
        first = headline_title(items[0]) if items else "News"
        segments: list[Segment] = []
        if self.config.intro:
            segments.append(Segment(self.config.intro, first))
        news, seconds, method = await self._news_segments(items, folder, first)
        segments += news
        if self.config.outro:
            segments.append(Segment(self.config.outro, segments[-1].title if segments else first))
        segments = [replace(s, analysis=await self._analyse(s.path)) for s in segments]
        log.info("bulletin built: %d segment(s), %.0f s of news, %s", len(segments), seconds, method)
        return Bulletin(bulletin_key(items), segments, folder, [i.title for i in items], seconds, method)

    async def _analyse(self, path: Path) -> Entry | None:
        """A segment's loudness (TTS, intro, outro, bed): a few tens of ms each, ahead of air."""
        try:
            return await analyse(self.ffmpeg, path)
        except (OSError, TimeoutError, AnalysisHung) as exc:
            log.warning("bulletin: %s not analysed (%s); aired at its own level", path.name, exc)
            return None

    async def _news_segments(self, items: list[NewsItem], folder: Path, first: str) -> tuple[list[Segment], float, str]:
        audio = self.config.audio
        if audio and audio.startswith(("http://", "https://")) and self.fetched is None:
            self.fetched = await self._fetch(audio, self.workdir)  # not fetched ahead yet: now
        recorded = self.fetched if audio and audio.startswith(("http://", "https://")) else (Path(audio) if audio else None)
        if recorded is not None:
            return [Segment(recorded, first)], 0.0, PRE_RECORDED
        if not items:
            return [Segment(await self._bed(folder / "bed0.wav", 3.0), "News: no headlines right now")], 3.0, TITLES
        segments: list[Segment] = []
        total = 0.0
        spoken = 0
        for i, item in enumerate(items):  # one at a time: two cores, and the station comes first
            left = self.config.max_seconds - total
            if left < 1.0:
                log.warning("bulletin: %d headline(s) left out to stay within %g s", len(items) - i, self.config.max_seconds)
                break
            path, said = await self._segment(item, folder / f"h{i}.wav", left)
            spoken += said
            seconds = wav_seconds(path)
            if seconds > left:  # one long summary: cut to what is left, never past max_seconds
                path = await self._trim(path, folder / f"h{i}-cut.wav", left)
                seconds = left
            segments.append(Segment(path, headline_title(item), headline=item.id))
            total += seconds
        method = TITLES if not spoken else TTS if spoken == len(segments) else TTS_AND_TITLES
        return segments, total, method

    async def _segment(self, item: NewsItem, out: Path, budget: float) -> tuple[Path, bool]:
        """A headline's audio, and whether it is spoken (else its title airs over the bed)."""
        text = spoken_text(item)
        voice = voice_for(text, self.config.voice) if self.espeak else None
        if self.espeak and voice is None:
            log.info("bulletin: %r is Japanese with kanji, which espeak-ng cannot read: its title airs over the bed", item.title)
        if voice is not None:  # (espeak-ng is there)
            proc = await child.spawn(self.espeak, "-v", voice, "-w", str(out), text, stdout=False, nice=BUILD_NICE)
            try:
                _, err = await asyncio.wait_for(proc.communicate(), TTS_TIMEOUT)
            except TimeoutError:
                err = f"no result within {TTS_TIMEOUT:g} s".encode()
            finally:
                await child.stop(proc)
            if proc.returncode == 0 and out.is_file() and out.stat().st_size > 44:
                return out, True
            log.warning("espeak-ng failed (%s); reading the headline as a title over the bed", err.decode(errors="replace").strip())
        return await self._bed(out, min(budget, self.config.seconds_per_headline)), False

    async def _run_ffmpeg(self, *args: str) -> None:
        proc = await child.spawn(self.ffmpeg, "-nostdin", "-v", "error", "-y", *args, stdout=False, stderr=False, nice=BUILD_NICE)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        finally:
            await child.stop(proc)

    async def _trim(self, source: Path, out: Path, seconds: float) -> Path:
        fade = f"afade=t=out:st={max(0.0, seconds - 0.5):.2f}:d=0.5"
        await self._run_ffmpeg("-i", str(source), "-t", f"{seconds:.2f}", "-af", fade, str(out))
        source.unlink(missing_ok=True)
        return out

    async def _bed(self, out: Path, seconds: float) -> Path:
        """A stretch of news bed: the configured bed file, or a quiet synthesised pulse."""
        if self.config.bed and self.config.bed.is_file():
            source = ["-stream_loop", "-1", "-i", str(self.config.bed)]
        else:
            source = ["-f", "lavfi", "-i", "sine=frequency=220:sample_rate=44100,volume=0.08,apulsator=hz=1"]
        await self._run_ffmpeg(*source, "-t", f"{seconds:g}", "-ac", "2", str(out))
        return out

    async def _fetch(self, url: str, folder: Path) -> Path:
        self._count += 1
        out = folder / f"bulletin-audio-{self._count}"
        async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(total=60)) as r:
            r.raise_for_status()
            data = bytearray()
            async for chunk in r.content.iter_chunked(65536):
                data += chunk
                if len(data) > MAX_FETCH:
                    raise ValueError(f"larger than {MAX_FETCH} bytes")
        await asyncio.to_thread(out.write_bytes, bytes(data))
        return out

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
