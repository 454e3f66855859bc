"""The last minute before a cut: what fits in it, rather than a song cut after a few seconds.

A hard event (or a wait-up-to deadline) stops what plays at its second. With under FIT_ROOM
seconds to go, an item that would run past the cut is put back (it comes next in its turn) for
the longest song of the block's playlists that fits and has not aired in the last hour; failing that, with under JINGLE_ROOM to go,
for the longest of the block's jingles that fits, unless a jingle has just aired (two IDs back to
back sound like a fault); failing that it starts and is cut, faded, as before. Longest first, so
the least is left over for the next pick. Only known lengths count (the library's analysis, or the
tags of a file read before): a file of unknown length never counts as fitting (QA: 3 s of a 20 s
song aired before the news, and counted as a play).

Pure: the scheduler's state and the time are passed in; the scheduler takes the file from its rotation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .norepeat import ALLOWED, Windows

if TYPE_CHECKING:
    from .scheduler import Played, Scheduler

FIT_ROOM = 60.0  # seconds before a cut under which what runs past it is swapped for what fits
JINGLE_ROOM = 20.0  # seconds before a cut under which a jingle fills it when no song fits
RECENT = 3600.0  # seconds: a song heard this lately is no filler (with no no-repeat window, it would be the last one)
SLACK = 0.5  # seconds an item may run past the cut and still count as fitting (its fade takes them)

Length = Callable[[Path], float | None]


def runs_past(length: float | None, room: float) -> bool:
    """Whether an item of `length` seconds (None: unknown) would be cut with `room` seconds left."""
    return length is not None and length > room + SLACK


def longest_fitting(candidates: Iterable[tuple[str, Path]], length: Length, room: float) -> tuple[str, Path] | None:
    """The longest (playlist, file) that fits in `room` (ties: the first given)."""
    best, best_length = None, -1.0
    for playlist, path in candidates:
        n = length(path)
        if n is not None and n > best_length and not runs_past(n, room):
            best, best_length = (playlist, path), n
    return best


@dataclass(frozen=True, slots=True)
class Fit:
    playlist: str
    path: Path
    kind: str  # "song" or "jingle"


def fitting(s: Scheduler, t: float, history: Sequence[Played], room: float) -> Fit | None:
    """What fits in the `room` seconds left before a cut at `t`, by the rules above (None: nothing)."""
    block = s.block_at(t)
    names = list(block.play) if block else [s.programme.fallback or ""]
    heard = {played.path for played in history if played.time > t - RECENT}
    songs = ((n, f) for n in names for f in allowed(s, n, t, history, room) if f not in heard)
    if (pick := longest_fitting(songs, s.length, room)) is not None:
        return Fit(*pick, "song")
    jingles = block.jingles.playlist if block is not None and block.jingles else None
    if jingles is None or room >= JINGLE_ROOM or (history and history[-1].playlist == jingles):
        return None
    pick = longest_fitting(((jingles, f) for f in allowed(s, jingles, t, history, room)), s.length, room)
    return None if pick is None else Fit(*pick, "jingle")


def allowed(s: Scheduler, playlist: str, t: float, history: Sequence[Played], room: float) -> list[Path]:
    """The playlist's playable files that fit in `room` and its no-repeat windows allow at `t`, in
    the order of its turn (the windows asked only about what fits: a playlist may hold 10,000)."""
    rotation, spec = s.rotations.get(playlist), s.programme.playlists.get(playlist)
    if rotation is None or spec is None:
        return []
    windows = Windows(spec, t, history, s.artist_of, s.song_of) if spec.no_repeat_track or spec.no_repeat_artist else None
    files = dict.fromkeys([*rotation.upcoming(), *rotation.files])
    fit = [f for f in files if (n := s.length(f)) is not None and not runs_past(n, room) and s.playable(f)]
    return [f for f in fit if windows is None or windows.conflict(f) == ALLOWED]
