"""Listeners per mount, integrated minute by minute (pure bookkeeping): each minute's peak and
listener-seconds, exact to the join and the leave, so a report's peak and average concurrent
listeners per hour or day are sums over minutes, not samples that miss a surge.

The station as a whole is kept the same way (key STATION): its peak is the most listeners on
all mounts at once, which the mounts' peaks added up overstate when listeners move between
mounts (moveclients, a fallback) or each mount peaks at another moment in the minute."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Write = Callable[[int, str, int, float], None]  # (minute, mount, peak, listener-seconds)
STATION = ""  # the station-wide minute's key (no mount path is empty)


@dataclass(slots=True)
class Minute:
    minute: int  # Unix time // 60
    since: float  # time up to which listener-seconds are counted
    count: int  # listeners now
    peak: int
    seconds: float  # listener-seconds so far in this minute


class Audience:
    def __init__(self) -> None:
        self.mounts: dict[str, Minute] = {}

    def set(self, mount: str, count: int, now: float, write: Write) -> None:
        """The mount has `count` listeners from `now` on; finished minutes go to `write` (the
        station's with the mount STATION)."""
        state = self._state(mount, now, write)
        station = self._state(STATION, now, write)
        station.count += count - state.count
        station.peak = max(station.peak, station.count)
        state.count = count
        state.peak = max(state.peak, count)

    def _state(self, mount: str, now: float, write: Write) -> Minute:
        """The mount's minute, brought up to `now`."""
        state = self.mounts.get(mount)
        if state is None:
            state = self.mounts[mount] = Minute(int(now // 60), now, 0, 0, 0.0)
        self._advance(mount, state, now, write)
        return state

    def _advance(self, mount: str, s: Minute, now: float, write: Write) -> None:
        while now >= (s.minute + 1) * 60:
            boundary = (s.minute + 1) * 60
            s.seconds += s.count * (boundary - s.since)
            if s.peak or s.seconds:
                write(s.minute, mount, s.peak, s.seconds)
            s.minute, s.since, s.peak, s.seconds = s.minute + 1, boundary, s.count, 0.0
            if s.count == 0:  # nobody listening: skip the empty minutes at once
                s.minute, s.since = int(now // 60), max(boundary, int(now // 60) * 60)
        s.seconds += s.count * max(0.0, now - s.since)
        s.since = max(s.since, now)

    def resume(self, minute: int, rows: list[tuple[str, int, float]], now: float, write: Write) -> None:
        """The previous run's share of the minute it stopped in, `rows` of (mount, peak,
        listener-seconds), when that minute is this one: the minute's rows then add this run's
        listeners to it instead of replacing it (QA: a restart within a minute lost the 230
        listener-seconds before it)."""
        if minute != int(now // 60):
            return
        for mount, peak, seconds in rows:
            state = self._state(mount, now, write)
            state.peak = max(state.peak, peak)
            state.seconds += seconds

    def checkpoint(self, now: float, write: Write) -> None:
        """Bring every mount up to `now` and write the minute in progress too (replaced later)."""
        for mount, state in self.mounts.items():
            self._advance(mount, state, now, write)
            if state.peak or state.seconds:
                write(state.minute, mount, state.peak, state.seconds)
