"""What the history keeps in memory while it happens: the play on air and each open session
(an Icecast listener or an HLS player), until their rows are closed in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..audio.onair import NowPlaying, OnAir
from ..wire.text import display_path
from .heard import Heard


@dataclass(slots=True)
class Play:
    id: int
    started: float
    kind: str
    title: str
    item: NowPlaying | None
    unique: int  # listeners (heard.Key) that heard some of it, those at its start included
    prev_kind: str | None  # the kind of the play before it (live_connect / live_disconnect)
    heard: Heard = field(default_factory=lambda: Heard({}))
    left: int = 0  # listeners that left while it aired and did not come back while it did (heard.py)
    dirty: bool = False
    row: tuple = ()  # as inserted (again if the database is made afresh under it)


def play_fields(item: NowPlaying | None, title: str, dj: str | None) -> tuple:
    """A play's row from playlist to dj (schema.INSERT_PLAY): the announced item's, or for a
    title nobody announced (a live play) its artist and song as "Artist - Song" reads."""
    if item is None:
        artist, _, song = title.partition(" - ") if " - " in title else ("", "", title)
        return (None, None, None, None, artist, song, "", "", "", title, dj)
    info, live = item.info, item.kind == "live"
    return (
        item.playlist, item.block, item.event, None if live else display_path(info.path),
        info.artist, info.title, info.album, info.isrc, info.label, title, display_path(info.path) if live else None,
    )  # fmt: skip


class Who(Protocol):
    """A listener as the history sees it: an Icecast connection (stream/listener.py) or an HLS
    player (stream/hls_listeners.py)."""

    @property
    def id(self) -> int | str: ...
    @property
    def address(self) -> str: ...
    @property
    def user_agent(self) -> str: ...
    @property
    def referer(self) -> str: ...
    @property
    def request(self) -> str: ...
    @property
    def sent(self) -> int: ...

    reason: str


@dataclass(slots=True)
class Session:
    id: int
    started: float
    own: bool  # on one of the station's own mounts: it hears the plays
    ip: str  # as stored
    listener: Who
    path: str  # the mount (or /hls/<variant>) it started on
    saved: int = 0  # its bytes as last saved to the database (recorder.SESSION_BYTES_EVERY)
    row: tuple = ()  # as inserted (again if the database is made afresh under it)


def announced_item(onair: OnAir, last: NowPlaying | None, title: str, now: float) -> NowPlaying | None:
    """The announced item a title reaching listeners belongs to: the first with that title after
    `last`, the last one matched (announcements run ahead of the air by the lookahead, in order)."""
    items = list(reversed(onair.recent)) + ([onair.now] if onair.now is not None else [])
    for i, item in enumerate(items):
        if item is last:
            return next((it for it in items[i + 1 :] if it.title == title), None)
    return next((it for it in reversed(items) if it.title == title and it.started <= now + 5), None)
