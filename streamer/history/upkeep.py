"""The history database's upkeep, run in its store's thread: closing what a crash left open,
and deleting what is older than `history.keep_days`."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..stamp import read_stamp

PRUNE_BATCH = 20_000  # rows deleted per transaction (writes queued meanwhile wait less)


GAP_MAX = 60.0  # s between the heartbeat row and the stamp past which the gap is a clock's step, not audience


def last_heartbeat(conn: sqlite3.Connection) -> float | None:
    """The last moment the station is known to have run: the stamp beside the database (each
    batch's) or the heartbeat row (every recorder.AUDIENCE_EVERY), the later of the two."""
    return _latest(*_heartbeats(conn))


def _latest(*times: float | None) -> float | None:
    return max((t for t in times if t is not None), default=None)


def _heartbeats(conn: sqlite3.Connection) -> tuple[float | None, float | None]:
    """The heartbeat row's time and the stamp's (None where there is none)."""
    found = conn.execute("SELECT value FROM meta WHERE key = 'heartbeat'").fetchone()
    file = conn.execute("PRAGMA database_list").fetchone()[2]
    return (float(found[0]) if found else None), (read_stamp(Path(file)) if file else None)


def fill_audience(conn: sqlite3.Connection, since: float, until: float) -> None:
    """Add to the audience minutes what a kill left out: each session's time from the heartbeat
    row (written with the minute in progress) to the stamp (the last batch, whose sessions are
    closed at it by now). The peak is raised to the sessions open at the stamp at least. The
    recorder saves the minute at each new minute's first batch, so an ended minute's row is never
    older than the heartbeat row: its last seconds are not added twice."""
    for minute in range(int(since // 60), int(until // 60) + 1):
        a, b = max(since, minute * 60.0), min(until, (minute + 1) * 60.0)
        rows = conn.execute(
            "SELECT mount, sum(ended >= :b), sum(max(0.0, min(ended, :b) - max(started, :a))) FROM sessions"
            " WHERE ended > :a AND +started <= :b GROUP BY mount",
            {"a": a, "b": b},
        ).fetchall()
        for mount, open_, seconds in rows:
            conn.execute(
                "INSERT INTO audience VALUES (?, ?, ?, ?) ON CONFLICT (minute, mount) DO UPDATE SET"
                " peak = max(peak, excluded.peak), listener_seconds = listener_seconds + excluded.listener_seconds",
                (minute, mount, open_, round(seconds, 3)),
            )
        if rows:
            conn.execute(
                "INSERT INTO station_audience VALUES (?, ?, ?) ON CONFLICT (minute) DO UPDATE SET"
                " peak = max(peak, excluded.peak), listener_seconds = listener_seconds + excluded.listener_seconds",
                (minute, sum(r[1] for r in rows), round(sum(r[2] for r in rows), 3)),
            )


def recover(conn: sqlite3.Connection, before_id: int) -> dict:
    """Close the plays and sessions a previous run left open (it was killed, or the power
    went): they end at its last heartbeat, the last batch it committed; a session's bytes are
    those saved last (SESSION_BYTES_EVERY) and, to the heartbeat, more at the rate it had
    had (only a session too young to have any saved is guessed from its bitrate). Returns what was found,
    the highest id in use, the salt for hashed addresses (made once per database), and the
    sessions closed (`closed`: ip, mount, user agent, referer, ended, seconds, bytes) for the
    access log, which had no line for them."""
    row, stamp = _heartbeats(conn)
    heartbeat = _latest(row, stamp)
    conn.execute("BEGIN")
    closed = conn.execute(
        "UPDATE sessions SET ended = max(started, coalesce(:hb, started)), seconds = max(0, coalesce(:hb, started) - started),"
        " bytes = CASE WHEN bytes_at > started"
        " THEN bytes + CAST(bytes * max(0, coalesce(:hb, bytes_at) - bytes_at) / (bytes_at - started) AS INTEGER)"
        " ELSE coalesce(bytes, CAST(max(0, coalesce(:hb, started) - started) * coalesce(kbps, 0) * 125 AS INTEGER)) END,"
        " reason = 'server stop', estimated = 1 WHERE ended IS NULL AND id < :before"
        " RETURNING ip, mount, coalesce(user_agent, ''), coalesce(referer, ''), ended, seconds, bytes",
        {"hb": heartbeat, "before": before_id},
    ).fetchall()
    plays = conn.execute(
        "UPDATE plays SET ended = max(started, coalesce(:hb, started)), seconds = max(0, coalesce(:hb, started) - started),"
        " estimated = 1 WHERE ended IS NULL AND id < :before",
        {"hb": heartbeat, "before": before_id},
    ).rowcount
    if row is not None and stamp is not None and 0 < stamp - row <= GAP_MAX:
        fill_audience(conn, row, stamp)
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('heartbeat', ?)", (repr(stamp),))  # filled once
    salt = conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
    if salt is None:
        salt = (os.urandom(16).hex(),)
        conn.execute("INSERT INTO meta (key, value) VALUES ('salt', ?)", salt)
    conn.execute("COMMIT")
    top = max(
        conn.execute("SELECT coalesce(max(id), 0) FROM sessions").fetchone()[0],
        conn.execute("SELECT coalesce(max(id), 0) FROM plays").fetchone()[0],
    )
    minute, audience = -1, []  # the minute it stopped in, and its rows: this run adds to it
    if heartbeat is not None:
        minute = int(heartbeat // 60)
        audience = conn.execute(
            "SELECT mount, peak, listener_seconds FROM audience WHERE minute = :m UNION ALL"
            " SELECT '', peak, listener_seconds FROM station_audience WHERE minute = :m",
            {"m": minute},
        ).fetchall()
    return {
        "heartbeat": heartbeat, "sessions_closed": len(closed), "plays_closed": plays, "max_id": top, "salt": salt[0], "closed": closed,
        "audience": (minute, audience),
    }  # fmt: skip


def prune(conn: sqlite3.Connection, cutoff: float) -> int:
    """Delete plays, sessions, headlines and audience minutes from before `cutoff`."""
    deleted = 0
    for table, column in (("sessions", "started"), ("plays", "started"), ("headlines", "time")):
        while True:
            n = conn.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < ? LIMIT {PRUNE_BATCH})", (cutoff,)
            ).rowcount
            deleted += n
            if n < PRUNE_BATCH:
                break
    for table in ("audience", "station_audience"):
        deleted += conn.execute(f"DELETE FROM {table} WHERE minute < ?", (int(cutoff // 60),)).rowcount
    return deleted


def recent_plays(conn: sqlite3.Connection, since: float, limit: int) -> list[tuple[float, str, str, str, str, str | None]]:
    """The last `limit` files that aired since `since`, oldest first: (started, file, artist,
    playlist, kind, block), for the scheduler's no-repeat windows and jingle counts."""
    rows = conn.execute(
        "SELECT started, file, coalesce(artist, ''), coalesce(playlist, ''), kind, block FROM plays"
        " WHERE started >= ? AND file IS NOT NULL AND kind IN ('song', 'jingle', 'event') ORDER BY started DESC LIMIT ?",
        (since, limit),
    ).fetchall()
    return rows[::-1]


LastItem = tuple[float, float | None, str, str, str | None, str | None, str, str, str, str]


def last_items(conn: sqlite3.Connection, limit: int) -> list[LastItem]:
    """The last `limit` items that reached listeners, newest first: (started, seconds, kind,
    playlist, block, event, file (a live source's name), artist, title, stream title), for
    /api/nowplaying's history and the dashboard's recent list after a restart."""
    return conn.execute(
        "SELECT started, seconds, kind, coalesce(playlist, ''), block, event, coalesce(file, dj, ''), coalesce(artist, ''),"
        " coalesce(title, ''), coalesce(stream_title, '') FROM plays ORDER BY started DESC LIMIT ?",
        (limit,),
    ).fetchall()


def audience_minutes(conn: sqlite3.Connection, since_minute: int) -> list[tuple[int, str, int]]:
    """(minute, mount, peak) since `since_minute`, the station's own under mount '' (audience.STATION),
    for the dashboard's graph after a restart."""
    return conn.execute(
        "SELECT minute, mount, peak FROM audience WHERE minute >= :m"
        " UNION ALL SELECT minute, '', peak FROM station_audience WHERE minute >= :m ORDER BY minute",
        {"m": since_minute},
    ).fetchall()
