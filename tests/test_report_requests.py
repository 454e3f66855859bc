"""Reports asked for over HTTP: made in the offload worker (the event loop keeps its pace while a
large one is made), bounded in the days one request may cover, and strict about their parameters."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import time
from types import SimpleNamespace

import pytest

from streamer.history import schema
from streamer.history.reports import WEB_MAX_DAYS, ReportError, parse_range
from streamer.offload import Offload
from streamer.state import Store, connect
from streamer.station import Station

from .test_state import run

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()


def plays_every_two_minutes(path, days: int) -> None:
    conn = connect(path, schema.MIGRATIONS)
    conn.executescript(f"""
        BEGIN;
        WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < {days * 720 - 1})
        INSERT INTO plays (id, started, ended, seconds, kind, artist, title, album, isrc, label, stream_title, listeners_start,
                           listeners_unique, listeners_left)
        SELECT k + 1, {START} + k * 120, {START} + k * 120 + 120, 120, 'song', 'Artist ' || (k % 97), 'Song ' || (k % 389),
               'Album', 'ZWAAA26' || printf('%05d', k % 389), 'Label', 'Artist - Song', 20, 25, 1 FROM i;
        COMMIT;
    """)  # fmt: skip
    conn.close()


def station_with(path) -> SimpleNamespace:
    """What Station.report reads of a station: the history store, the offload worker, the name, the zone."""
    return SimpleNamespace(
        feeder=SimpleNamespace(scheduler=None),
        history=SimpleNamespace(store=Store(path, schema.MIGRATIONS)),
        offload=Offload(),
        config=SimpleNamespace(station_name="Test Radio"),
    )


def test_a_large_report_is_made_off_the_event_loop(tmp_path):
    """QA: a year of plays as JSON (50 MB) was formatted on the event loop: it stalled 1.9 s and
    every mount fell behind. Made in the offload worker, the loop's ticks stay on time."""
    db = tmp_path / "history.sqlite"
    plays_every_two_minutes(db, 300)  # 216,000 plays
    station = station_with(db)

    async def main():
        await station.offload.run(30, time.time)  # the worker started (a spawn costs a second, not the loop's)
        late = []

        async def ticking():
            while True:
                t = time.monotonic()
                await asyncio.sleep(0.01)
                late.append(time.monotonic() - t - 0.01)

        ticker = asyncio.create_task(ticking())
        body, content_type, _ = await Station.report(station, "plays", "2025-01-01", "2025-10-27", "json")
        ticker.cancel()
        await station.history.store.close()
        return body, content_type, max(late)

    try:
        body, content_type, worst = run(main())
    finally:
        station.offload.close()
    assert content_type == "application/json" and len(json.loads(body)["plays"]) == 216_000
    assert worst < 0.25, f"the event loop stalled {worst:.2f} s"


def test_one_request_covers_a_bounded_number_of_days():
    with pytest.raises(ReportError, match=r"^from 1970-01-01 and to 2999-12-31 span \d+ days: one request covers"):
        parse_range("1970-01-01", "2999-12-31", dt.UTC, names=("from", "to"), max_days=WEB_MAX_DAYS)
    with pytest.raises(ReportError, match=f"one request covers {WEB_MAX_DAYS} days at most"):
        parse_range("2025-01-01", None, dt.UTC, now=START + 500 * 86400, names=("from", "to"), max_days=WEB_MAX_DAYS)
    t0, t1, _, _ = parse_range("2025-01-01", "2026-02-04", dt.UTC, names=("from", "to"), max_days=WEB_MAX_DAYS)
    assert round((t1 - t0) / 86400) == WEB_MAX_DAYS
    # the command line is not on the event loop: it reports any range
    assert parse_range("1970-01-01", "2999-12-31", dt.UTC)[2:] == ("1970-01-01", "2999-12-31")


def test_a_web_report_is_refused_beyond_its_days_and_the_worker_says_why(tmp_path):
    db = tmp_path / "history.sqlite"
    connect(db, schema.MIGRATIONS).close()
    station = station_with(db)

    async def main():
        try:
            await Station.report(station, "listeners", "1970-01-01", "2999-12-31", "json")
        finally:
            await station.history.store.close()

    try:
        with pytest.raises(ReportError, match=r"^from 1970-01-01 and to 2999-12-31 span \d+ days: one request covers 400 days at most"):
            run(main())
    finally:
        station.offload.close()
    assert sqlite3.connect(db).execute("SELECT count(*) FROM plays").fetchone() == (0,)


def test_report_files_keep_one_record_a_line_and_no_formulas():
    """A title with a line break split a SoundExchange record and a text table's row over two
    lines; titles like '=cmd|calc!A1' went raw into CSVs that operators open in spreadsheets
    (found by QA)."""
    from streamer.history.render import render
    from streamer.history.reports import Report, Section

    rows = [("Line1\nLine2", "=cmd|calc!A1", 5), ("+Formula", "@x", -3), ("-x", "plain", 1)]
    report = Report("soundexchange", "2026-11-28", "2026-11-28", "UTC", [Section("plays", ["artist", "title", "count"], rows)])
    txt, _ = render(report, "txt")
    assert txt.count("\n") == 4 and "^LINE1 LINE2^" in txt, txt
    csv_text, _ = render(report, "csv")
    assert "'=cmd|calc!A1" in csv_text and "'+Formula" in csv_text and "'@x" in csv_text and ",-3" in csv_text
    tables, _ = render(
        Report("plays", "2026-11-28", "2026-11-28", "UTC", [Section("plays", ["artist", "title", "count"], rows[:1])]), "txt"
    )
    assert "Line1 Line2" in tables and "Line1\n" not in tables


def test_report_parameters_are_named_and_dates_are_strict():
    """`?frm=2026-11-28` gave the default 30 days without a word, a repeated from= took the first,
    and from=20261128 was read as a moment, not a day (found by QA)."""
    from streamer.history.reports import query_problem

    assert query_problem([("from", "2026-11-01"), ("to", "2026-11-30"), ("format", "csv"), ("variant", "ath")]) == ""
    assert query_problem([("frm", "2026-11-01")]) == "unknown parameter(s) 'frm': a report takes from, to, format, variant"
    assert query_problem([("from", "2026-11-01"), ("from", "2026-11-02")]) == "from given more than once: give each once"
    assert query_problem([("from", ""), ("to", " ")]) == "from and to are empty: give a value, or leave it out for the default"
    for bad in ("20261128", "2026-W48", "2026-11-28T06"):
        with pytest.raises(ReportError, match="is not a date: use YYYY-MM-DD"):
            parse_range(bad, None, dt.UTC, names=("from", "to"))
    for good in ("2026-11-28", "2026-11-28 06:00", "2026-11-28T06:00:00+02:00", "2026-11-28T06:00Z"):
        parse_range(good, "2026-11-29", dt.UTC, names=("from", "to"))
