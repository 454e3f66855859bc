"""Reports from the history database, computed in SQL (in the store's thread, or the CLI's own
read-only connection): plays, tracks, SoundExchange and the audience (`audience.py`).

Dates are the station's: `--from 2026-11-01 --to 2026-11-30` is from local midnight on the 1st
to local midnight after the 30th. Items and sessions are in a report when they started in it.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import tzinfo

KINDS = ("plays", "listeners", "soundexchange", "tracks")
FORMATS = ("json", "csv", "txt")
DEFAULT_DAYS = 30
WEB_MAX_DAYS = 400  # days one request over HTTP may cover (history.keep_days is 400 by default)
FLAGS = ("--from", "--to")  # how the dates are named on the command line,
QUERY = ("from", "to")  # and in a URL's query: each names what the asker typed
# Dates a report may ask for: Unix times begin in 1970, and far-off years overflow date arithmetic
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2999, 12, 31)


class ReportError(ValueError):
    """A request for a report that cannot be made (bad or reversed dates, unknown kind)."""


@dataclass(slots=True)
class Section:
    name: str
    columns: list[str]
    rows: list[tuple]


@dataclass(slots=True)
class Report:
    kind: str
    start: str  # the first day (local), as asked
    end: str  # the last day (local), as asked
    timezone: str
    sections: list[Section] = field(default_factory=list)
    filename: str = ""


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# a date, or a date and time ('2026-11-28 06:00', ISO's T, seconds, a zone): not ISO's other forms
# that Python takes ('20261128' was read as a moment, not a day: found by QA)
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
QUERY_KEYS = ("from", "to", "format", "variant")


def query_problem(items: list[tuple[str, str]]) -> str:
    """What is wrong with a report request's parameters, each (name, value) as sent (pure): ''
    when nothing (QA: `?frm=` gave the default 30 days without a word, a repeated `from=` took
    the first, and an empty `from=` was the default)."""
    keys = [key for key, _ in items]
    unknown = sorted({k for k in keys if k not in QUERY_KEYS})
    if unknown:
        return f"unknown parameter(s) {', '.join(repr(k[:30]) for k in unknown[:5])}: a report takes {', '.join(QUERY_KEYS)}"
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        return f"{', '.join(twice)} given more than once: give each once"
    empty = [k for k, value in items if not value.strip()]
    return (
        f"{' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty: give a value, or leave it out for the default" if empty else ""
    )


def _parse(value: str, name: str, tz: tzinfo) -> tuple[dt.datetime, bool]:
    """(local time, whether it was a whole day)."""
    text = value.strip()
    try:
        if not _MOMENT.match(text):
            raise ValueError(text)
        whole = bool(_DATE.match(text))
        moment = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tz) if whole else dt.datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{name} {value!r} is not a date: use YYYY-MM-DD (or 'YYYY-MM-DD HH:MM')") from None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise ReportError(f"{name} {value!r} is out of range: reports cover {FIRST_DAY} to {LAST_DAY}")
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)), whole


def parse_range(
    start: str | None,
    end: str | None,
    tz: tzinfo,
    now: float | None = None,
    names: tuple[str, str] = FLAGS,
    max_days: int | None = None,
) -> tuple[float, float, str, str]:
    """(from, to) as Unix times for dates given on the command line or in a URL (pure), errors
    naming them as `names` says (FLAGS or QUERY), and each end as a report's header says it: a
    day, or a day and a time when one was given. A whole day given as `to` includes that day.
    Defaults: the last 30 days up to today. `max_days` bounds the range (a web request's)."""
    today = dt.datetime.fromtimestamp(now, tz).date() if now is not None else dt.datetime.now(tz).date()
    end_whole = True
    if end:
        t1, whole = _parse(end, names[1], tz)
        end_whole = whole
        if whole:
            t1 = dt.datetime.combine(t1.date() + dt.timedelta(days=1), dt.time(), tz)
    else:
        t1 = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tz)
    start_whole = True
    if start:
        t0, start_whole = _parse(start, names[0], tz)
    else:
        t0 = dt.datetime.combine(t1.date() - dt.timedelta(days=DEFAULT_DAYS), dt.time(), tz)
    if t0 >= t1:
        raise ReportError(f"{names[0]} {start or t0.date()} is after {names[1]} {end or today}: the range is reversed or empty")
    last = (t1 - dt.timedelta(seconds=1)).date()
    if max_days is not None and (last - t0.date()).days + 1 > max_days:
        raise ReportError(
            f"{names[0]} {start or t0.date()} and {names[1]} {end or last} span {(last - t0.date()).days + 1} days:"
            f" one request covers {max_days} days at most (ask for several ranges, or use `streamer report`)"
        )
    first_said = t0.date().isoformat() if start_whole else f"{t0:%Y-%m-%d %H:%M}"
    last_said = last.isoformat() if end_whole else f"{t1:%Y-%m-%d %H:%M}"
    return t0.timestamp(), t1.timestamp(), first_said, last_said


def local(t: float | None, tz: tzinfo) -> str:
    return "" if t is None else dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


EPOCH = dt.datetime(1970, 1, 1)


class LocalTimes:
    """`local` for many times: the zone's offset looked up once per hour of UTC, not per time
    (a year of plays is 262,800 times, and isoformat with a zone asked it each time: 1.1 s).
    An hour whose two ends have different offsets holds a clock change: its times are
    converted one by one."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._hours: dict[int, tuple[float, str] | None] = {}

    def __call__(self, t: float | None) -> str:
        if t is None:
            return ""
        hour = int(t // 3600)
        known = self._hours.get(hour, False)
        if known is False:
            known = self._hours[hour] = self._offset(hour)
        if known is None:
            return local(t, self.tz)
        seconds, suffix = known
        return (EPOCH + dt.timedelta(seconds=t + seconds)).isoformat(timespec="seconds") + suffix

    def _offset(self, hour: int) -> tuple[float, str] | None:
        first, last = (dt.datetime.fromtimestamp(hour * 3600 + s, self.tz).utcoffset() for s in (0, 3599.999))
        if first is None or first != last:
            return None
        suffix = dt.datetime.fromtimestamp(hour * 3600, self.tz).isoformat(timespec="seconds")[19:]
        return first.total_seconds(), suffix


PLAY_COLUMNS = [
    "started", "ended", "seconds", "kind", "artist", "title", "album", "isrc", "label", "playlist", "block", "event", "dj",
    "stream_title", "listeners_start", "listeners_unique", "listeners_left",
]  # fmt: skip


def plays(conn: sqlite3.Connection, t0: float, t1: float, tz: tzinfo) -> Section:
    """What aired, when, to how many (in order)."""
    rows = conn.execute(
        f"SELECT {', '.join(PLAY_COLUMNS)} FROM plays WHERE started >= ? AND started < ? ORDER BY started", (t0, t1)
    ).fetchall()
    at = LocalTimes(tz)
    out = [(at(r[0]), at(r[1]), None if r[2] is None else round(r[2], 1), *r[3:]) for r in rows]  # (None: on air)
    return Section("plays", PLAY_COLUMNS, out)


TRACK_COLUMNS = [
    "artist", "title", "album", "isrc", "label", "kind", "plays", "seconds_aired", "listeners_at_start", "performances",
    "left_during", "left_percent",
]  # fmt: skip


def tracks(conn: sqlite3.Connection, t0: float, t1: float, limit: int | None = None) -> Section:
    """Each recording aired: how often, to how many at its start, heard by how many (performances:
    sessions that heard any part of it), how many left while it played."""
    rows = conn.execute(
        "SELECT coalesce(artist, ''), coalesce(title, ''), coalesce(album, ''), coalesce(isrc, ''), coalesce(label, ''), kind,"
        " count(*), round(sum(coalesce(seconds, 0)), 1), sum(listeners_start), sum(listeners_unique), sum(listeners_left)"
        " FROM plays WHERE started >= ? AND started < ? AND kind IN ('song', 'jingle', 'event')"
        " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 10 DESC, 7 DESC" + (f" LIMIT {int(limit)}" if limit else ""),
        (t0, t1),
    ).fetchall()
    out = [(*r, round(100.0 * r[10] / r[9], 1) if r[9] else 0.0) for r in rows]
    return Section("tracks", TRACK_COLUMNS, out)


SOUNDEXCHANGE = [
    "NAME_OF_SERVICE", "TRANSMISSION_CATEGORY", "FEATURED_ARTIST", "SOUND_RECORDING_TITLE", "ISRC", "ALBUM_TITLE", "MARKETING_LABEL",
    "ACTUAL_TOTAL_PERFORMANCES",
]  # fmt: skip
SOUNDEXCHANGE_ATH = [*SOUNDEXCHANGE, "AGGREGATE_TUNING_HOURS", "CHANNEL_OR_PROGRAM_NAME", "PLAY_FREQUENCY"]


def soundexchange(conn: sqlite3.Connection, t0: float, t1: float, service: str, tuning_hours: bool = False) -> Section:
    """Songs only, one row per recording: census performances (a listener hearing any portion),
    or, in the aggregate-tuning-hours variant, the period's tuning hours and each song's plays."""
    rows = conn.execute(
        "SELECT coalesce(artist, ''), coalesce(title, ''), coalesce(isrc, ''), coalesce(album, ''), coalesce(label, ''),"
        " sum(listeners_unique), count(*) FROM plays WHERE started >= ? AND started < ? AND kind = 'song'"
        " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2",
        (t0, t1),
    ).fetchall()
    if not tuning_hours:
        return Section("soundexchange", SOUNDEXCHANGE, [(service, "A", a, t, i, al, lb, perf) for a, t, i, al, lb, perf, _ in rows])
    seconds = conn.execute(
        "SELECT coalesce(sum(listener_seconds), 0) FROM audience WHERE minute >= ? AND minute < ?", (int(t0 // 60), int(t1 // 60))
    ).fetchone()[0]
    ath = round(seconds / 3600, 2)
    out = [(service, "A", a, t, i, al, lb, "", ath, service, n) for a, t, i, al, lb, _, n in rows]
    return Section("soundexchange", SOUNDEXCHANGE_ATH, out)


def soundexchange_name(service: str, first: str, last: str) -> str:
    """SoundExchange's file name: SHORTNAMEddmmYYYY-ddmmYYYY_A.txt (as AzuraCast names it)."""
    short = re.sub(r"[^A-Za-z0-9]", "", service).upper()[:20] or "STATION"
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return f"{short}{a:%d%m%Y}-{b:%d%m%Y}_A.txt"
