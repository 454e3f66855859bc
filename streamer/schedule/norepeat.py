"""No-repeat windows: how long ago a file, or its artist, last aired, as far as a playlist's
`no_repeat` cares (pure: the play history and the time are passed in)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import PlaylistDef
    from .scheduler import Played

ALLOWED = float("-inf")  # what held_back's answer is for a file the windows let air


def held_back(spec: PlaylistDef, t: float, history: Sequence[Played], artist_of: Callable[[Path], str]) -> Callable[[Path], float]:
    """A function of a file: ALLOWED if `spec`'s windows let it air at `t`, else when it (or its
    artist) last aired (the smaller, the longer ago)."""
    recent_tracks: dict[Path, float] = {}
    recent_artists: dict[str, float] = {}
    horizon = t - max(spec.no_repeat_track, spec.no_repeat_artist) * 60
    for played in reversed(history):
        if played.time < horizon:
            break
        recent_tracks.setdefault(played.path, played.time)
        artist = played.artist or artist_of(played.path)
        if artist:
            recent_artists.setdefault(artist.casefold(), played.time)

    def last_conflict(path: Path) -> float:
        artist = artist_of(path).casefold()
        track_at = recent_tracks.get(path, ALLOWED)
        artist_at = recent_artists.get(artist, ALLOWED) if artist else ALLOWED
        if t - track_at >= spec.no_repeat_track * 60 and t - artist_at >= spec.no_repeat_artist * 60:
            return ALLOWED
        return max(track_at, artist_at)

    return last_conflict
