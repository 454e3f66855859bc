"""The station's programme as plain data: playlists, blocks, timed events, fades (pure).

programme.py reads the YAML files into these; the scheduler reads them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from ..yamldoc import Problem


@dataclass(slots=True)
class Fades:
    crossfade: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0


@dataclass(slots=True)
class PlaylistDef:
    name: str
    sources: list[str]
    order: str
    base: Path
    where: Problem
    no_repeat_track: float = 0.0  # minutes
    no_repeat_artist: float = 0.0
    fades: Fades | None = None  # overrides the block's when this playlist plays
    sources_where: list[Problem] = field(default_factory=list)  # where each of `sources` is written


@dataclass(slots=True)
class Jingles:
    playlist: str
    every_songs: int = 0
    every_minutes: float = 0.0
    where: Problem | None = None  # its play: line (for an error about the playlist it names)


@dataclass(slots=True)
class Block:
    name: str
    days: frozenset[int]
    start: dt.time
    end: dt.time
    priority: int
    play: dict[str, int]  # playlist → weight
    where: Problem
    date_from: dt.date | None = None
    date_until: dt.date | None = None
    jingles: Jingles | None = None
    fades: Fades = field(default_factory=Fades)
    live_djs: tuple[str, ...] = ()  # only these DJs may take over the live mount during this block
    play_where: dict[str, Problem] = field(default_factory=dict)  # where each playlist is named in play:

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(slots=True)
class Event:
    name: str
    play: str
    mode: str  # hard | soft | wait
    wait: float  # seconds, for mode "wait"
    where: Problem
    minute: int | None = None  # hourly events: at :MM:SS every hour
    second: int = 0
    time: dt.time | None = None  # daily events
    days: frozenset[int] = frozenset(range(7))
    fade_out: float = 1.0  # how a hard cut ends the current track
    bulletin: bool = False  # a news bulletin (intro, headlines, outro) instead of a playlist
    play_where: Problem | None = None  # its play: line


@dataclass(slots=True)
class Programme:
    timezone: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))
    playlists: dict[str, PlaylistDef] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    fallback: str | None = None
    fallback_where: Problem | None = None  # where `fallback:` is written (for errors about it)
    timezone_where: Problem | None = None  # where `timezone:` is written (a second, other one is an error)
    fades: Fades = field(default_factory=Fades)
    files: list[Path] = field(default_factory=list)
    texts: list[tuple[Path, str]] = field(default_factory=list)  # the files as read (kept as the last good programme)
    notes: list[Problem] = field(default_factory=list)  # not wrong, worth knowing (an empty value's default)


@dataclass(slots=True)
class LoadedProgramme:
    """A programme with what its playlists hold now, and the folders whose listings decide it."""

    programme: Programme
    files: dict[str, list[Path]]
    warnings: list[str]
    watched: list[Path]
    watched_stamp: tuple = ()  # the watched folders' stamp (sources.stamp), taken before they were read
    missing: list[Path] = field(default_factory=list)  # named files that are not there (listed in no playlist)


def block_active(block: Block, local: dt.datetime) -> bool:
    now = local.time().replace(tzinfo=None)
    today = local.date()
    if not block.crosses_midnight:
        return block.start <= now < block.end and _on(block, today)
    if now >= block.start and _on(block, today):
        return True
    return now < block.end and _on(block, today - dt.timedelta(days=1))


def _on(block: Block, day: dt.date) -> bool:
    """Does a run of `block` that starts on `day` exist?"""
    if day.weekday() not in block.days:
        return False
    if block.date_from and day < block.date_from:
        return False
    return not (block.date_until and day > block.date_until)
