"""Clock times, days and durations as DJs write them in the programme (pure)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_GROUPS = {"daily": range(7), "everyday": range(7), "weekdays": range(5), "weekends": range(5, 7), "weekend": range(5, 7)}
CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
HOURLY = re.compile(r"^:(\d{2})(?::(\d{2}))?$")
EVERY = re.compile(r"^\s*(\d+)\s*(songs?|tracks?|min|mins|minutes?|m)\s*$", re.I)
WAIT = re.compile(r"^\s*wait\s+(?:up\s+to\s+)?(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?)?\s*$", re.I)
MAX_WAIT = 24 * 3600.0  # seconds an event may wait for the current track (a day: longer is no wait)


def parse_clock(text: str) -> dt.time | None:
    m = CLOCK.match(text.strip())
    if not m:
        return None
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    if h == 24 and mi == 0 and s == 0:
        return dt.time(0, 0)  # "24:00" means midnight at the end of the day
    if h > 23 or mi > 59 or s > 59:
        return None
    return dt.time(h, mi, s)


def parse_days(value: Any) -> frozenset[int] | str:
    """A set of weekday numbers (Monday 0), or an error message."""
    items = value if isinstance(value, list) else [value]
    days: set[int] = set()
    for item in items:
        word = str(item).strip().lower().replace(" ", "")
        if word in DAY_GROUPS:
            days.update(DAY_GROUPS[word])
        elif "-" in word and all(p[:3] in DAY_NAMES for p in word.split("-", 1)):
            a, b = (DAY_NAMES.index(p[:3]) for p in word.split("-", 1))
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
        elif word.rstrip("s") in FULL_DAY_NAMES or word in DAY_NAMES:
            days.add(DAY_NAMES.index(word[:3]))
        else:
            return f"unknown day {item!r} (use mon..sun, weekdays, weekends, daily, or a range like mon-fri)"
    return frozenset(days)


def parse_seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?)?\s*$", str(value))
    return float(m[1]) if m else None


@functools.lru_cache(maxsize=4096)  # the scheduler asks for the same hours over and over as it walks a day
def wall_times(wall: dt.datetime, tz: dt.tzinfo, both_folds: bool) -> tuple[float, ...]:
    """UTC epoch seconds of a local wall time.

    Ambiguous (clocks go back): the first occurrence, or both when `both_folds` (an hourly
    event happens in each of the two real hours). Non-existent (clocks go forward): for a daily
    event the moment the clocks change, so it still happens, on time as near as can be; for an
    hourly one (`both_folds`) none, as every real hour still has its own occurrence.
    """
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    t0, t1 = first.timestamp(), second.timestamp()
    if t0 == t1:
        return (t0,)
    if t0 < t1:  # ambiguous: 01:30 happens twice
        return (t0, t1) if both_folds else (t0,)
    if both_folds:
        # Non-existent, for an hourly event: it happens every real hour, and the real hour that
        # would hold it is already covered by the next wall-clock hour (02:30 after a 01:00 jump).
        return ()
    # Non-existent: fold=1 reads it with the new offset (earlier), fold=0 with the old one.
    lo, hi = t1, t0
    offset_before = dt.datetime.fromtimestamp(lo, tz).utcoffset()
    while hi - lo > 0.5:
        mid = (lo + hi) / 2
        if dt.datetime.fromtimestamp(mid, tz).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return (float(round(hi)),)


def next_time(days: frozenset[int], clock: dt.time | None, minute: int | None, second: int, after: float, tz: dt.tzinfo) -> float | None:
    """The first time strictly after `after` (UTC epoch seconds) of an event on `days` at the daily
    `clock`, or every hour at :`minute`:`second` when `minute` is set; None if it never falls."""
    day0 = dt.datetime.fromtimestamp(after, tz).date()
    candidates: set[float] = set()
    for offset in range(-1, 9):
        day = day0 + dt.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        if minute is not None:
            for hour in range(24):
                wall = dt.datetime(day.year, day.month, day.day, hour, minute, second)
                candidates.update(t for t in wall_times(wall, tz, both_folds=True) if t > after)
        else:
            assert clock is not None
            wall = dt.datetime.combine(day, clock)
            candidates.update(t for t in wall_times(wall, tz, both_folds=False) if t > after)
        if candidates and offset >= 1:
            break
    return min(candidates) if candidates else None
