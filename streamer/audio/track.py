"""One file on its way to air: its tags, its level (gain and cue points; taken up mid-track when
its analysis comes late), its decoder, and reading it a chunk at a time while a late decoder is
covered with silence."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..library.catalog import Entry
from ..library.tags import TrackInfo, read_track_info
from ..schedule.scheduler import Choice
from ..wire.icy import clean_title
from ..wire.text import display_path
from .decoder import DecodeError, Decoder
from .leveling import LateLevel, Level, aired_span
from .output import SILENCE_STEP, Cut, Output

log = logging.getLogger("streamer.feeder")

FIRST_AUDIO_TIMEOUT = 5.0  # seconds a decoder may take to produce its first audio
# seconds of silence covering a late decoder before the track is given up: a local file decodes
# at 100x real time, so a decoder 2 s late has hung (QA: a stopped one aired 5.2 s of silence)
STALLED_DECODER = 2.0
SHORT_END = 2.0  # seconds short of its length (and 5 %) at which a file's early end is said


@dataclass(slots=True)
class Track:
    """One file being played: what it is, its decoder, and how far it has got."""

    choice: Choice
    info: TrackInfo
    decoder: Decoder
    level: Level
    offset: int = 0  # bytes decoded so far
    late: LateLevel | None = None  # for a file whose analysis was not done when it started
    failed: bool = False  # its decoder died, hung or stalled


async def track_info(cache: dict[Path, TrackInfo], path: Path, title: str | None = None) -> TrackInfo:
    """The file's tags, read once, off the loop and with a timeout (a hung file system must not
    hang the station). A file aired under a title of its own (a bulletin's headline) has that
    title as its song's too, in /api/nowplaying and the play history, not its tag or name (h0)."""
    info = cache.get(path)
    if info is None:
        try:
            info = await asyncio.wait_for(asyncio.to_thread(read_track_info, path), FIRST_AUDIO_TIMEOUT)
        except TimeoutError:
            raise DecodeError(path, f"the file system did not answer within {FIRST_AUDIO_TIMEOUT:g} s") from None
        cache[path] = info
    return replace(info, artist="", title=clean_title(title)) if title else info


async def start_decoder(ffmpeg: str, rate: int, channels: int, path: Path, level: Level) -> Decoder:
    """`path`'s decoder, started: from its cue-in to its cue-out, at its gain, as station PCM."""
    decoder = Decoder(ffmpeg, path, rate, channels, level.start, level.end, level.gain_db, level.mono)
    await decoder.start()
    return decoder


def decoded_length(info: TrackInfo, analysis: Entry | None) -> TrackInfo:
    """`info` with the length the library decoded, where it has: an MP3's container length counts
    the encoder's padding (12.04 s for 12 s of audio), which put `playing_next` 40 ms late."""
    return replace(info, duration=analysis.duration) if analysis is not None and analysis.duration else info


def aired(info: TrackInfo, level: Level) -> TrackInfo:
    """`info` with its duration the part that airs, cue-in to cue-out: what /api/nowplaying's
    progress and the next item's time count on (the file's own length ran past the handover)."""
    return info if info.duration is None else replace(info, duration=aired_span(info.duration, level.start, level.end))


def late_level(
    row: Callable[[], Entry | None], analysed: Callable[[Entry], Level], level: Level, rate: int, channels: int
) -> LateLevel | None:
    """A file's LateLevel when it starts with no analysis (`row`: its library row, or None yet)."""
    if row() is not None:
        return None
    return LateLevel(level, lambda: None if (entry := row()) is None else analysed(entry), rate, channels)


def take_up_analysis(track: Track, chunk: bytes) -> bytes | None:
    """`chunk` at the level of an analysis that came mid-track (LateLevel); None past its cue-out."""
    late = track.late
    assert late is not None
    waiting, looking = late.waiting, late.looking
    out = late.apply(chunk, track.offset)
    if looking and not late.looking:  # its sound starts: the leading silence before it is not aired
        track.level = late.level
        if late.skipped:
            skipped = late.seconds(late.skipped)
            if track.info.duration is not None:
                track.info = replace(track.info, duration=max(0.0, track.info.duration - skipped))
            log.info("%s: not analysed yet; its %.2f s of leading silence is not aired", display_path(track.decoder.path), skipped)
    if waiting and not late.waiting:
        track.level = late.level
        cut = ""
        if late.end is not None and track.info.duration is not None:
            track.info = replace(track.info, duration=min(track.info.duration, late.seconds(late.end - late.skipped)))
            cut = f", ends at its cue-out ({track.info.duration:.1f} s)"
        at = late.seconds(track.offset)
        log.info("%s: analysed %.1f s into the track: gain %+.1f dB from here%s", display_path(track.decoder.path), at, late.goal_db, cut)
    return out


async def next_chunk(track: Track, output: Output) -> bytes | None:
    """The track's next chunk to air, None at its end (a LateLevel holds back leading silence)."""
    while True:
        chunk = await _decoded(track, output)
        if chunk is None:
            _say_if_short(track)
        if chunk is None or track.late is None:
            return chunk
        aired = take_up_analysis(track, chunk)
        if aired != b"":
            return aired


def _say_if_short(track: Track) -> None:
    """A file that ends well before its length was cut or rewritten while it aired (QA: a file
    overwritten in place ended early with no word): say so, for the operator to look at it."""
    decoder, expected = track.decoder, track.info.duration
    got = decoder.bytes_out / (decoder.sample_rate * decoder.frame_bytes)
    if ended_short(expected, got) and not track.failed:
        path = display_path(decoder.path)
        log.warning("%s: ended after %.1f s of its %.1f s: was it changed or cut while it aired?", path, got, expected)


def ended_short(expected: float | None, decoded: float) -> bool:
    """Did a file end well short of its length (SHORT_END seconds and 5 %: an MP3's length from
    its header may be a little off)?"""
    return expected is not None and expected - decoded > max(SHORT_END, 0.05 * expected)


async def _decoded(track: Track, output: Output) -> bytes | None:
    """The decoder's next chunk, covering a late decoder with silence; a decoder silent for too
    long (or before the first sample airs, past FIRST_AUDIO_TIMEOUT) is given up."""
    covered = 0.0
    since = 0.0  # loop time silence began to cover for it
    loop = asyncio.get_running_loop()
    pending = asyncio.ensure_future(track.decoder.read())
    try:
        while True:
            budget = output.budget()
            done, _ = await asyncio.wait({pending}, timeout=FIRST_AUDIO_TIMEOUT if budget is None else budget)
            if done:
                if covered:
                    log.warning("%s: the decoder came back after %.1f s of silence", display_path(track.decoder.path), covered)
                return pending.result()
            # (given up after that long in real time too: audio owed after a held loop is covered faster)
            if budget is None or (covered >= STALLED_DECODER and loop.time() - since >= STALLED_DECODER - SILENCE_STEP):
                track.failed = True
                raise DecodeError(track.decoder.path, f"the decoder produced no audio for {covered or FIRST_AUDIO_TIMEOUT:g} s")
            if not covered:  # (one line, not one per step of silence: QA saw 52 in 5 s)
                left, since = output.ahead(), loop.time()
                log.warning("%s: decoder late (%.2f s of audio left); covering with silence", display_path(track.decoder.path), left)
            covered += SILENCE_STEP  # what output.cover() below feeds
            if not await output.cover():
                raise Cut
    finally:
        if not pending.done():
            pending.cancel()


async def close_track(track: Track) -> None:
    decoder = track.decoder
    await decoder.close()
    if decoder.killed:
        track.failed = True
        log.error("%s: the decoder was %s mid-track; going on with the next track", display_path(decoder.path), decoder.killed)
    elif decoder.warnings:
        log.warning("%s: decoded with warnings: %s", display_path(decoder.path), "; ".join(decoder.warnings))
