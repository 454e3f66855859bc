"""No-repeat windows: how long ago a file, or its artist, last aired, as far as a playlist's
`no_repeat` cares (pure: the play history and the time are passed in)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .model import PlaylistDef
    from .scheduler import Played

ALLOWED = float("-inf")  # Windows.conflict of a file the windows let air


def song_key(path: Path, artist: str, title: str) -> object:
    """What counts as one song for the track window: its artist and title when both are known
    (QA: a copy of a file under another name aired right after it, the same title twice), else
    the file."""
    return (artist.casefold(), title.casefold()) if artist and title else path


class Tagged(Protocol):  # a file's tags (library.tags.TrackInfo)
    @property
    def artist(self) -> str: ...

    @property
    def title(self) -> str: ...


def by_tags(tags: Mapping[Path, Tagged]) -> tuple[Callable[[Path], str], Callable[[Path], object]]:
    """A file's artist and its song (song_key), from the files' tags (looked up when asked: they grow)."""
    return (
        lambda p: info.artist if (info := tags.get(p)) else "",
        lambda p: song_key(p, info.artist, info.title) if (info := tags.get(p)) else p,
    )


class Windows:
    """`spec`'s windows at `t` over the play history: `conflict(path)` is ALLOWED for a file
    they let air, else when it (its song, `song_of`: a copy too) or its artist last aired;
    `played(path)` when its song last aired within them (ALLOWED if not)."""

    def __init__(
        self,
        spec: PlaylistDef,
        t: float,
        history: Sequence[Played],
        artist_of: Callable[[Path], str],
        song_of: Callable[[Path], object] = lambda path: path,
    ) -> None:
        self.spec, self.t, self.artist_of, self.song_of = spec, t, artist_of, song_of
        self.tracks: dict[object, float] = {}
        self.artists: dict[str, float] = {}
        horizon = t - max(spec.no_repeat_track, spec.no_repeat_artist) * 60
        for played in reversed(history):
            if played.time < horizon:
                break
            self.tracks.setdefault(song_of(played.path), played.time)
            artist = played.artist or artist_of(played.path)
            if artist:
                self.artists.setdefault(artist.casefold(), played.time)

    def played(self, path: Path) -> float:
        return self.tracks.get(self.song_of(path), ALLOWED)

    def conflict(self, path: Path) -> float:
        # only the windows that are set: when every file is held back, the one held back longest
        # plays (QA: with a track window only, a song whose artist had just aired with another
        # song counted as just aired, and a song that had aired later played before it)
        artist = self.artist_of(path).casefold() if self.spec.no_repeat_artist else ""
        track_at = self.tracks.get(self.song_of(path), ALLOWED) if self.spec.no_repeat_track else ALLOWED
        artist_at = self.artists.get(artist, ALLOWED) if artist else ALLOWED
        if self.t - track_at >= self.spec.no_repeat_track * 60 and self.t - artist_at >= self.spec.no_repeat_artist * 60:
            return ALLOWED
        return max(track_at, artist_at)
