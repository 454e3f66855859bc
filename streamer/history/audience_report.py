"""The audience report: peak and average concurrent listeners per hour and per day, listening
hours, unique listeners, sessions by length, by player, by mount, by country, and per track.

Concurrency comes from the per-minute audience table (exact peaks and listener-seconds),
grouped to quarter hours in SQL (every time zone's offset is a whole number of quarter hours)
and then to the station's local hours and days. Sessions are grouped once in SQL by mount,
user agent, country and length; players are named from the few distinct user agents. The
summary's listening hours are the listening inside the range (`listened`), as the days' rows
count it; its sessions and their average length are those that began in the range.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from datetime import tzinfo

from .privacy import player
from .reports import Section, tracks
from .upkeep import last_heartbeat

BUCKETS = ["<30 s", "30-60 s", "1-5 min", "5-10 min", "10-30 min", "30-60 min", "1-2 h", ">2 h"]
# A session still open (a listener connected now, a relay connected for days) counts as long as
# it has lasted: to the last heartbeat, which is now while the station runs and, after a crash
# not yet recovered, the last moment it is known to have run (QA: open sessions were filed
# under ">2 h" with no hours, and left out of the summary's listening hours).
LENGTH_SQL = "coalesce(seconds, max(0.0, :heartbeat - started))"
BUCKET_SQL = (
    "CASE WHEN length < 30 THEN 0 WHEN length < 60 THEN 1 WHEN length < 300 THEN 2 WHEN length < 600 THEN 3"
    " WHEN length < 1800 THEN 4 WHEN length < 3600 THEN 5 WHEN length < 7200 THEN 6 ELSE 7 END"
)
TOP_TRACKS = 50


def _days(t0: float, t1: float, tz: tzinfo) -> list[tuple[str, float, float]]:
    """Local days in [t0, t1): (date, start, end) as Unix times (DST days are 23 or 25 h)."""
    out = []
    day = dt.datetime.fromtimestamp(t0, tz).date()
    while True:
        a = max(t0, dt.datetime.combine(day, dt.time(), tz).timestamp())
        b = min(t1, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).timestamp())
        if a >= t1:
            return out
        out.append((day.isoformat(), a, b))
        day += dt.timedelta(days=1)


def concurrency(conn: sqlite3.Connection, t0: float, t1: float, tz: tzinfo, days: list[tuple[str, float, float]]) -> list[Section]:
    # A minute's station-wide peak is its station_audience row; minutes recorded before that table
    # existed have only the mounts' rows, whose peaks added up are the best there is.
    quarters = conn.execute(
        "SELECT a.minute / 15, max(coalesce(st.peak, a.p)), sum(a.s) FROM (SELECT minute, sum(peak) AS p, sum(listener_seconds) AS s"
        " FROM audience WHERE minute >= ? AND minute < ? GROUP BY minute) AS a"
        " LEFT JOIN station_audience AS st ON st.minute = a.minute GROUP BY a.minute / 15 ORDER BY 1",
        (int(t0 // 60), int(t1 // 60)),
    ).fetchall()
    hours: dict[str, list[float]] = {}
    by_day: dict[str, list[float]] = {}
    for quarter, peak, seconds in quarters:
        when = dt.datetime.fromtimestamp(quarter * 900, tz)
        for key, table in ((when.strftime("%Y-%m-%d %H:00"), hours), (when.date().isoformat(), by_day)):
            cell = table.setdefault(key, [0, 0.0])
            cell[0] = max(cell[0], peak)
            cell[1] += seconds
    hour_rows = [(h, int(p), round(s / 3600, 2), round(s / 3600, 2)) for h, (p, s) in hours.items()]
    day_rows = []
    for day, a, b in days:
        peak, seconds = by_day.get(day, (0, 0.0))
        day_rows.append((day, int(peak), round(seconds / (b - a), 2), round(seconds / 3600, 2)))
    columns = ["peak_listeners", "average_listeners", "listening_hours"]
    return [Section("hours", ["hour", *columns], hour_rows), Section("days", ["day", *columns], day_rows)]


def sessions_grouped(conn: sqlite3.Connection, t0: float, t1: float, heartbeat: float) -> list[tuple]:
    return conn.execute(
        f"SELECT mount, coalesce(user_agent, ''), coalesce(country, ''), {BUCKET_SQL}, count(*), sum(length)"
        f" FROM (SELECT *, {LENGTH_SQL} AS length FROM sessions WHERE started >= :t0 AND started < :t1) GROUP BY 1, 2, 3, 4",
        {"t0": t0, "t1": t1, "heartbeat": heartbeat},
    ).fetchall()


def listened(conn: sqlite3.Connection, t0: float, t1: float, heartbeat: float) -> float:
    """Listener-seconds inside [t0, t1): each session's time in it, whenever it began (an open
    one's to the heartbeat), as the days' rows count them from the audience minutes. Those that
    ended in or after it come by their end (+started: not by the index on the start), the open ones
    by theirs."""
    inside = "max(0.0, min(coalesce(ended, :hb), :t1) - max(started, :t0))"
    parts = conn.execute(
        f"SELECT coalesce(sum({inside}), 0.0) FROM sessions WHERE ended > :t0 AND +started < :t1"
        f" UNION ALL SELECT coalesce(sum({inside}), 0.0) FROM sessions WHERE ended IS NULL AND +started < :t1",
        {"t0": t0, "t1": t1, "hb": heartbeat},
    )
    return sum(part for (part,) in parts)


def _table(name: str, key: str, groups: dict[str, list[float]]) -> Section:
    rows = sorted(groups.items(), key=lambda kv: -kv[1][1])
    total = sum(v[1] for v in groups.values()) or 1.0
    out = [(k, int(v[0]), round(v[1] / 3600, 2), round(100 * v[1] / total, 1)) for k, v in rows]
    return Section(name, [key, "sessions", "listening_hours", "percent_of_hours"], out)


def audience(conn: sqlite3.Connection, t0: float, t1: float, tz: tzinfo) -> list[Section]:
    days = _days(t0, t1, tz)
    heartbeat = last_heartbeat(conn) or 0.0
    groups = sessions_grouped(conn, t0, t1, heartbeat)
    buckets = [[0, 0.0] for _ in BUCKETS]
    players: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    mounts: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    countries: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for mount, agent, country, bucket, count, seconds in groups:
        buckets[bucket][0] += count
        buckets[bucket][1] += seconds
        for table, key in ((players, player(agent)), (mounts, mount), (countries, country or "(unknown)")):
            cell = table[key]
            cell[0] += count
            cell[1] += seconds
    unique_all = conn.execute("SELECT count(DISTINCT nullif(ip, '')) FROM sessions WHERE started >= ? AND started < ?", (t0, t1)).fetchone()
    per_day = day_sessions(conn, days)
    hours, day_section = concurrency(conn, t0, t1, tz, days)
    day_section.columns += ["sessions", "unique_listeners"]
    day_section.rows = [(*row, *per_day.get(row[0], (0, 0))) for row in day_section.rows]
    total = sum(b[0] for b in buckets)
    whole = sum(b[1] for b in buckets) / 3600  # the sessions that began in the range, whole
    listening = listened(conn, t0, t1, heartbeat) / 3600
    peak = max(day_section.rows, key=lambda r: r[1], default=("", 0))
    summary = Section(
        "summary",
        ["sessions", "unique_listeners", "listening_hours", "average_session_minutes", "peak_listeners", "peak_day", "average_listeners"],
        [(total, unique_all[0] if unique_all[0] else None, round(listening, 2), round(whole * 60 / total, 1) if total else 0.0,
          peak[1], peak[0], round(listening * 3600 / (t1 - t0), 2))],
    )  # fmt: skip
    lengths = Section("lengths", ["length", "sessions", "percent", "listening_hours"], [
        (BUCKETS[i], n, round(100 * n / total, 1) if total else 0.0, round(s / 3600, 2)) for i, (n, s) in enumerate(buckets)
    ])  # fmt: skip
    sections = [summary, day_section, hours, lengths, _table("players", "player", players), _table("mounts", "mount", mounts)]
    if any(key != "(unknown)" for key in countries):
        sections.append(_table("countries", "country", countries))
    sections.append(tracks(conn, t0, t1, TOP_TRACKS))
    return sections


def day_sessions(conn: sqlite3.Connection, days: list[tuple[str, float, float]]) -> dict[str, tuple[int, int]]:
    """Sessions and unique listeners per local day (one indexed range per day)."""
    out = {}
    for day, a, b in days:
        n, unique = conn.execute(
            "SELECT count(*), count(DISTINCT nullif(ip, '')) FROM sessions WHERE started >= ? AND started < ?", (a, b)
        ).fetchone()
        out[day] = (n, unique)
    return out
