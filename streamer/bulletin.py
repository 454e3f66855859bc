"""News bulletins: intro, the news itself, outro, as a list of (audio file, title) segments.

The news itself is, in order of preference: a pre-recorded file or URL (fetched ahead),
text-to-speech of the latest headlines with espeak-ng (one segment per headline, so the
title changes with the headline being read), or, with neither, the headlines shown as
titles over a news bed. Building happens off the event loop (child processes, threads).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from .config import NewsConfig
from .news import NewsItem

log = logging.getLogger("streamer.bulletin")


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path
    title: str


def headline_title(item: NewsItem) -> str:
    return f"News: {item.title}" + (f" ({item.source})" if item.source else "")


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

    @property
    def method(self) -> str:
        if self.config.audio:
            return "pre-recorded"
        return "tts" if self.espeak else "titles over a news bed"

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
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.fetch_error = f"{url}: {exc or type(exc).__name__}"
                log.warning("bulletin audio not fetched (%s); keeping the previous copy", self.fetch_error)
            await asyncio.sleep(self.config.audio_refresh)

    async def build(self, headlines: list[NewsItem]) -> list[Segment]:
        self._builds += 1
        folder = self.workdir / f"b{self._builds}"
        folder.mkdir(parents=True, exist_ok=True)
        stale = self.workdir / f"b{self._builds - 2}"  # the bulletin before last is over: free its files
        if stale.is_dir():
            await asyncio.to_thread(shutil.rmtree, stale, True)
        items = headlines[: self.config.bulletin_headlines]
        first = headline_title(items[0]) if items else "News"
        segments: list[Segment] = []
        if self.config.intro:
            segments.append(Segment(self.config.intro, first))
        audio = self.config.audio
        if audio and audio.startswith(("http://", "https://")) and self.fetched is None:
            self.fetched = await self._fetch(audio, self.workdir)  # not fetched ahead yet: now
        recorded = self.fetched if audio and audio.startswith(("http://", "https://")) else (Path(audio) if audio else None)
        if recorded is not None:
            segments.append(Segment(recorded, first))
        elif not items:
            segments.append(Segment(await self._bed(folder / "bed0.wav", 3.0), "News: no headlines right now"))
        else:
            made = await asyncio.gather(*(self._segment(item, folder / f"h{i}.wav") for i, item in enumerate(items)))
            segments += [Segment(path, headline_title(item)) for path, item in zip(made, items, strict=True) if path]
        if self.config.outro:
            segments.append(Segment(self.config.outro, segments[-1].title if segments else first))
        return segments

    async def _segment(self, item: NewsItem, out: Path) -> Path | None:
        if self.espeak:
            text = item.title + (". " + item.summary if item.summary else "")
            proc = await asyncio.create_subprocess_exec(
                self.espeak, "-v", self.config.voice, "-w", str(out), text,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await proc.communicate()
            if proc.returncode == 0 and out.is_file() and out.stat().st_size > 44:
                return out
            log.warning("espeak-ng failed (%s); reading the headline as a title over the bed", err.decode(errors="replace").strip())
        return await self._bed(out, self.config.seconds_per_headline)

    async def _bed(self, out: Path, seconds: float) -> Path:
        """A stretch of news bed: the configured bed file, or a quiet synthesised pulse."""
        if self.config.bed and self.config.bed.is_file():
            source = ["-stream_loop", "-1", "-i", str(self.config.bed)]
        else:
            source = ["-f", "lavfi", "-i", "sine=frequency=220:sample_rate=44100,volume=0.08,apulsator=hz=1"]
        proc = await asyncio.create_subprocess_exec(
            self.ffmpeg, "-nostdin", "-v", "error", "-y", *source, "-t", f"{seconds:g}", "-ac", "2", str(out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await proc.wait()
        return out

    async def _fetch(self, url: str, folder: Path) -> Path:
        self._count += 1
        out = folder / f"bulletin-audio-{self._count}"
        async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as r:
            r.raise_for_status()
            data = await r.read()
        await asyncio.to_thread(out.write_bytes, data)
        return out
