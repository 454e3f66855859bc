"""No-repeat windows: how long ago a file, or its artist, last aired, as far as a playlist's
`no_repeat` cares (pure: the play history and the time are passed in)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import PlaylistDef
    from .scheduler import Played

ALLOWED = float("-inf")  # Windows.conflict of a file the windows let air


class Windows:
    """`spec`'s windows at `t` over the play history: `conflict(path)` is ALLOWED for a file
    they let air, else when it (or its artist) last aired; `played(path)` when the file itself
    last aired within them (ALLOWED if not)."""

    def __init__(self, spec: PlaylistDef, t: float, history: Sequence[Played], artist_of: Callable[[Path], str]) -> None:
        self.spec, self.t, self.artist_of = spec, t, artist_of
        self.tracks: dict[Path, float] = {}
        self.artists: dict[str, float] = {}
        horizon = t - max(spec.no_repeat_track, spec.no_repeat_artist) * 60
        for played in reversed(history):
            if played.time < horizon:
                break
            self.tracks.setdefault(played.path, played.time)
            artist = played.artist or artist_of(played.path)
            if artist:
                self.artists.setdefault(artist.casefold(), played.time)

    def played(self, path: Path) -> float:
        return self.tracks.get(path, ALLOWED)

    def conflict(self, path: Path) -> float:
        artist = self.artist_of(path).casefold()
        track_at = self.tracks.get(path, ALLOWED)
        artist_at = self.artists.get(artist, ALLOWED) if artist else ALLOWED
        if self.t - track_at >= self.spec.no_repeat_track * 60 and self.t - artist_at >= self.spec.no_repeat_artist * 60:
            return ALLOWED
        return max(track_at, artist_at)
