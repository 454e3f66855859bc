"""What stands in for the block's playlist and the fallback when neither has anything playable.

Anything but dead air: the other blocks' playlists, then songs that aired lately, then any
playlist at all. Pure: the scheduler's state and the time are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scheduler import Played, Scheduler


def stand_in(s: Scheduler, t: float, history: Sequence[Played]) -> tuple[str, Path, str] | None:
    """(playlist, file, what was chosen from, for the log), or None: nothing anywhere plays."""
    music = [name for block in s.programme.blocks for name in block.play]
    for name in dict.fromkeys(music):
        if (path := s.pick(name, t, history)) is not None:
            return name, path, f"playlist {name!r}"
    aired: dict[Path, Played] = {}
    for played in history:  # oldest first: the song heard longest ago wins
        if played.kind == "song":
            aired.pop(played.path, None)
            aired[played.path] = played
    for path, played in aired.items():
        if s.playable(path) and (len(aired) == 1 or path != history[-1].path):
            return played.playlist, path, "songs that aired lately"
    for name in s.programme.playlists:
        if (path := s.pick(name, t, history)) is not None:
            return name, path, f"playlist {name!r}"
    return None
