"""Who heard a play, counted in listeners, not connections (pure: keys in, counts out).

A royalty report's performance is one listener hearing any part of a recording. A player that
drops and reconnects (a phone between cells, flaky Wi-Fi, a player that retries every second)
opens a new session each time, often before the station has noticed that the old one is gone;
counted per session, one listener was five performances of one song and four listeners who
left it. So a listener is its address and user agent, as AzuraCast's unique listeners are: a
play is credited once per key, and a key has left a play when its last session ended and it did
not come back while the play aired. The price: players with one address and the very same user
agent at the same time (an office behind one NAT) count as one listener.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Config
    from .records import Play

Key = tuple[str, str]  # (address, user agent)
RECENT_PLAYS = 16  # closed plays a new listener's burst may still reach


class Heard:
    """One play's listeners: the keys it has been credited with, and those that left it while it
    aired (with no session of theirs open) and have not come back."""

    __slots__ = ("credited", "gone")

    def __init__(self, at_start: Iterable[Key]) -> None:
        self.credited = set(at_start)
        self.gone: set[Key] = set()

    def joined(self, key: Key) -> tuple[bool, bool]:
        """A session of `key` began: (a listener this play had not been credited with, one that
        had left it came back)."""
        if key not in self.credited:
            self.credited.add(key)
            return True, False
        if key in self.gone:
            self.gone.discard(key)
            return False, True
        return False, False

    def left(self, key: Key) -> None:
        self.gone.add(key)


class Credits:
    """The listeners on the station's own mounts, by key, and the plays they are credited with:
    the one on air and the last ones a new listener's burst may still reach (at most RECENT_PLAYS,
    none that ended more than `reach` seconds ago: each holds its listeners' keys, 35 MB for 17
    plays at 20,000 listeners)."""

    __slots__ = ("closed", "open", "reach")

    def __init__(self, reach: float = float("inf")) -> None:
        self.open: dict[Key, int] = {}  # sessions open, by key
        self.closed: deque[tuple[int, float, Heard]] = deque(maxlen=RECENT_PLAYS)  # (id, ended, heard), newest first
        self.reach = reach  # seconds: the longest a listener's first audio aired before it joined

    def joined(self, key: Key, play: Play | None, heard_from: float) -> list[int]:
        """A session of `key` began, hearing what aired since `heard_from`: `play` (on air) is
        credited in place; the ids of the closed plays newly credited are returned."""
        self.open[key] = self.open.get(key, 0) + 1
        if play is not None:
            new, back = play.heard.joined(key)
            play.unique, play.left = play.unique + new, play.left - back
            play.dirty = True
        credited = []
        for play_id, ended, heard in self.closed:
            if ended <= heard_from:
                break
            if heard.joined(key)[0]:
                credited.append(play_id)
        return credited

    def left(self, key: Key, play: Play | None) -> None:
        """A session of `key` ended; with it the key's last, it left `play` (None: it was the
        station that stopped)."""
        n = self.open.get(key, 0) - 1
        if n > 0:
            self.open[key] = n
            return
        self.open.pop(key, None)
        if play is not None:
            play.left += 1
            play.heard.left(key)
            play.dirty = True

    @property
    def listeners(self) -> int:
        return len(self.open)

    def play_began(self) -> Heard:
        return Heard(self.open)

    def play_ended(self, play: Play, ended: float) -> None:
        self.closed.appendleft((play.id, ended, play.heard))
        while self.closed[-1][1] < ended - self.reach:  # (no burst reaches it now: its keys go)
            self.closed.pop()


def burst_reach(config: Config) -> float:
    """The longest ago a listener's first audio can have aired (pure): a mount's burst at its
    bitrate, or an HLS player starting as far back as the playlist goes; a second more."""
    bursts = [m.burst_size / (m.bitrate * 125) for m in config.mounts if m.bitrate and not m.source]
    return max([*bursts, config.hls.segment * config.hls.window if config.hls.variants else 0.0]) + 1.0
