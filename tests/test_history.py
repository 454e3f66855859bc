"""The station's memory, its pure parts and its reports on real SQLite files: addresses kept as
configured, Icecast's access-log line, the audience integrated per minute, SoundExchange's
layout, report dates, webhook bodies, players named, countries from a real .mmdb, a year of
data reported within 5 s, and `streamer report`'s errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import sqlite3
import time
import zoneinfo
from pathlib import Path

import pytest
from aiohttp import web

from streamer.cli import main
from streamer.history import schema
from streamer.history.accesslog import access_line
from streamer.history.audience import STATION, Audience
from streamer.history.command import write_problem
from streamer.history.heard import Credits
from streamer.history.privacy import GeoIP, keep_ip, player
from streamer.history.records import Play
from streamer.history.render import build, render, soundexchange_text
from streamer.history.reports import QUERY, LocalTimes, ReportError, Section, local, parse_range, soundexchange_name
from streamer.history.upkeep import prune, recover
from streamer.history.webhooks import Webhooks, render_body
from streamer.settings import WebhookConfig
from streamer.state import connect

from .conftest import free_port

HARARE = zoneinfo.ZoneInfo("Africa/Harare")
# The line icecast2 2.4.4 writes (seen from the real server): address - user [time] "request" status bytes "referer" "agent" seconds
ICECAST_LINE = re.compile(
    r'^(\S+) - (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([A-Z]+ \S+ HTTP/1\.[01])" (\d{3}) (\d+) "(.*)" "(.*)" (\d+)$'
)


def test_addresses_are_kept_as_privacy_ip_says():
    assert keep_ip("203.0.113.77", "full") == "203.0.113.77"
    assert keep_ip("203.0.113.77", "truncated") == "203.0.113.0"
    assert keep_ip("2001:db8:abcd:12:1:2:3:4", "truncated") == "2001:db8:abcd::"
    assert keep_ip("::ffff:198.51.100.9", "truncated") == "198.51.100.0"
    assert keep_ip("203.0.113.77", "none") == ""
    hashed = keep_ip("203.0.113.77", "hashed", b"salt")
    assert re.fullmatch(r"[0-9a-f]{16}", hashed) and hashed == keep_ip("203.0.113.77", "hashed", b"salt")
    assert hashed != keep_ip("203.0.113.77", "hashed", b"other") != keep_ip("203.0.113.78", "hashed", b"salt")


def test_a_listener_is_its_address_and_player_credited_once_per_play_and_gone_only_with_its_last_session():
    credits = Credits()
    phone, other = ("198.51.100.7", "Radio/2.0"), ("198.51.100.7", "VLC/3.0")
    assert credits.joined(phone, None, 0.0) == []
    old = Play(1, 0.0, "song", "A - Old", None, credits.listeners, None, credits.play_began())
    credits.play_ended(old, 100.0)
    song = Play(2, 100.0, "song", "B - Song", None, credits.listeners, None, credits.play_began())
    assert song.unique == 1
    assert credits.joined(phone, song, 98.0) == []  # reconnected before its old session was seen to end: the old play has it
    credits.left(phone, song)  # the old session ends: one of its sessions is still open, it has not left
    assert (song.unique, song.left) == (1, 0)
    credits.left(phone, song)
    assert (song.unique, song.left) == (1, 1)
    assert credits.joined(phone, song, 99.0) == []  # back during the song: it did not leave it, and is no new listener
    assert (song.unique, song.left) == (1, 0)
    assert credits.joined(other, song, 99.0) == [1]  # another player at the same address; its burst reached the old play
    assert credits.joined(other, song, 99.0) == [] and song.unique == 2
    credits.left(phone, None)  # the station stopping is no listener leaving the song
    assert song.left == 0 and credits.listeners == 1


def test_the_access_line_is_icecasts():
    line = access_line("127.0.0.1", 1795552000.0, "GET /main HTTP/1.1", 31044, "http://ref.example/page", 'Odd "agent"', 2.7)
    m = ICECAST_LINE.match(line)
    assert m, line
    assert m.group(4) == "GET /main HTTP/1.1" and m.group(5) == "200" and m.group(6) == "31044"
    assert m.group(7) == "http://ref.example/page" and m.group(8) == 'Odd \\"agent\\"' and m.group(9) == "2"
    assert ICECAST_LINE.match(access_line("", 0.0, "GET /low HTTP/1.0", 0, "", "", 0)).group(7) == "-"


def test_the_audience_is_integrated_exactly_per_minute():
    rows: dict[tuple[int, str], tuple[int, float]] = {}

    def write(minute, mount, peak, seconds):
        rows[(minute, mount)] = (peak, seconds)

    a = Audience()
    base = 1_000_000 * 60
    a.set("/main", 1, base + 10, write)  # 1 listener from :10
    a.set("/main", 3, base + 40, write)  # 3 from :40 (a surge)
    a.set("/main", 2, base + 70, write)  # 2 from the next minute's :10
    a.set("/main", 0, base + 190, write)  # gone at minute 3's :10
    a.checkpoint(base + 600, write)
    assert rows[(1_000_000, "/main")] == (3, 30 * 1 + 20 * 3)
    assert rows[(1_000_001, "/main")] == (3, 10 * 3 + 50 * 2)
    assert rows[(1_000_002, "/main")] == (2, 60 * 2)
    assert rows[(1_000_003, "/main")] == (2, 10 * 2)
    assert (1_000_004, "/main") not in rows  # nobody: no rows for empty minutes


def test_a_restart_within_a_minute_adds_to_the_minute_the_last_run_began():
    """QA: a restart within a minute replaced the old run's row (7 listeners, 230 listener-s)
    with the new run's share (50.7). The new run takes up the old share and adds its own."""
    rows: dict[tuple[int, str], tuple[int, float]] = {}

    def write(minute, mount, peak, seconds):
        rows[(minute, mount)] = (peak, seconds)

    base = 1_000_000 * 60
    a = Audience()
    a.resume(1_000_000, [("/main", 7, 230.0), (STATION, 9, 300.0)], base + 40, write)
    a.set("/main", 5, base + 41, write)
    a.checkpoint(base + 50, write)
    assert rows[(1_000_000, "/main")] == (7, 230.0 + 9 * 5) and rows[(1_000_000, STATION)] == (9, 300.0 + 9 * 5)
    a.set("/main", 8, base + 55, write)
    a.checkpoint(base + 61, write)
    assert rows[(1_000_000, "/main")] == (8, 230.0 + 14 * 5 + 5 * 8) and rows[(1_000_001, "/main")] == (8, 8.0)
    stale = Audience()
    stale.resume(999_999, [("/main", 7, 230.0)], base + 40, write)  # stopped in an earlier minute: nothing to take up
    assert stale.mounts == {}


def test_open_sessions_count_as_long_as_they_have_lasted_in_the_listeners_report(tmp_path):
    """QA: the listeners connected while the report ran were filed under ">2 h" with no hours,
    and left out of the summary's listening hours (0.63 h where the day's row said 1.14)."""
    conn = connect(tmp_path / "h.sqlite", schema.MIGRATIONS)
    noon = dt.datetime(2026, 11, 20, 12, tzinfo=HARARE).timestamp()
    conn.execute(schema.HEARTBEAT, (repr(noon + 400),))  # the station runs: its last heartbeat is now
    conn.execute(schema.INSERT_SESSION, (1, "/main", "10.0.0.1", None, "VLC/3.0.18 LibVLC/3.0.18", "", noon, 128))
    conn.execute(schema.END_SESSION, (noon + 100, 100.0, 1_600_000, "left", 1))
    conn.execute(schema.INSERT_SESSION, (2, "/main", "10.0.0.2", None, "mpv 0.35.1", "", noon + 100, 128))  # open, 300 s so far
    conn.commit()
    report = build(conn, "listeners", "2026-11-20", "2026-11-20", HARARE, "Streamer Radio")
    sections = {section.name: section for section in report.sections}
    lengths = {row[0]: row[1:] for row in sections["lengths"].rows}
    assert lengths["1-5 min"] == (1, 50.0, round(100 / 3600, 2)) and lengths["5-10 min"] == (1, 50.0, round(300 / 3600, 2))
    assert lengths[">2 h"][0] == 0
    summary = dict(zip(sections["summary"].columns, sections["summary"].rows[0], strict=True))
    assert summary["sessions"] == 2 and summary["listening_hours"] == round(400 / 3600, 2) and summary["average_session_minutes"] == 3.3
    assert {row[0]: row[2] for row in sections["players"].rows} == {"VLC": round(100 / 3600, 2), "mpv": round(300 / 3600, 2)}


def test_the_listeners_reports_summary_counts_the_hours_its_days_count_across_midnight(tmp_path):
    """QA: the summary's listening hours were the whole lengths of the sessions that started in
    the report's days, the days' those of the audience minutes inside them: a session from the
    evening before (10 min of it in the day) was missing from the summary and one running past
    midnight counted whole. Both now count the listening inside the report's days."""
    conn = connect(tmp_path / "h.sqlite", schema.MIGRATIONS)
    day = dt.datetime(2026, 11, 20, tzinfo=HARARE).timestamp()
    night = day + 86400
    minutes: dict[tuple[int, str], tuple[int, float]] = {}
    audience = Audience()

    def write(minute: int, mount: str, peak: int, seconds: float) -> None:
        minutes[(minute, mount)] = (peak, seconds)

    sessions = [(1, day - 600, day + 600), (2, night - 300, night + 300)]  # 10 and 5 of their minutes in the day
    for n, started, ended in sessions:
        conn.execute(schema.INSERT_SESSION, (n, "/main", f"10.0.0.{n}", None, "VLC/3.0.18 LibVLC/3.0.18", "", started, 128))
        conn.execute(schema.END_SESSION, (ended, ended - started, 1_000_000, "left", n))
    for t, count in sorted([(day - 600, 1), (day + 600, 0), (night - 300, 1), (night + 300, 0)]):
        audience.set("/main", count, t, write)
    audience.checkpoint(night + 400, write)
    for (minute, mount), (peak, seconds) in minutes.items():
        conn.execute(schema.STATION_MINUTE if mount == STATION else schema.AUDIENCE_MINUTE,
                     (minute, peak, seconds) if mount == STATION else (minute, mount, peak, seconds))  # fmt: skip
    conn.commit()
    sections = {s.name: s for s in build(conn, "listeners", "2026-11-20", "2026-11-20", HARARE, "Streamer Radio").sections}
    summary = dict(zip(sections["summary"].columns, sections["summary"].rows[0], strict=True))
    days = [dict(zip(sections["days"].columns, row, strict=True)) for row in sections["days"].rows]
    assert [d["listening_hours"] for d in days] == [0.25]  # 15 minutes inside the day
    assert summary["listening_hours"] == 0.25 and summary["average_listeners"] == round(900 / 86400, 2)
    assert summary["sessions"] == 1 and summary["average_session_minutes"] == 10.0  # the session that began in it, whole


def test_soundexchange_is_azuracasts_layout():
    columns = ["NAME_OF_SERVICE", "TRANSMISSION_CATEGORY", "FEATURED_ARTIST", "SOUND_RECORDING_TITLE", "ISRC", "ALBUM_TITLE",
               "MARKETING_LABEL", "ACTUAL_TOTAL_PERFORMANCES"]  # fmt: skip
    section = Section("soundexchange", columns, [("Streamer Radio", "A", "Oliver Mtukudzi", "Neria | ^live^", "ZWAAA9900001", "Neria",
                                                  "Tuku Music", 42)])  # fmt: skip
    assert soundexchange_text(section) == (
        "^NAME_OF_SERVICE^|^TRANSMISSION_CATEGORY^|^FEATURED_ARTIST^|^SOUND_RECORDING_TITLE^|^ISRC^|^ALBUM_TITLE^|"
        "^MARKETING_LABEL^|^ACTUAL_TOTAL_PERFORMANCES^\n"
        "^STREAMER RADIO^|^A^|^OLIVER MTUKUDZI^|^NERIA  LIVE^|^ZWAAA9900001^|^NERIA^|^TUKU MUSIC^|42\n"
    )
    assert soundexchange_name("Streamer Radio", "2026-11-01", "2026-11-30") == "STREAMERRADIO01112026-30112026_A.txt"


def test_the_soundexchange_file_is_ascii():
    """station-facts: SoundExchange takes ASCII. QA found curly quotes and an en dash in one
    ('NGIYABONGA, LIVE, EVENING'): accents go, typography is made plain, another script is '?'."""
    section = Section("soundexchange", ["FEATURED_ARTIST", "SOUND_RECORDING_TITLE", "ACTUAL_TOTAL_PERFORMANCES"],
                      [("Beyoncé & Mötley Crüe", "Ngiyabonga \u2018Live\u2019 \u2013 Evening", 3), ("坂本龍一", "Straße", 1)])  # fmt: skip
    text = soundexchange_text(section)
    assert text.isascii()
    assert "^BEYONCE & MOTLEY CRUE^|^NGIYABONGA 'LIVE' - EVENING^|3\n" in text and "^????^|^STRASSE^|1\n" in text


def test_report_dates_are_the_stations_days_and_bad_ones_are_said():
    t0, t1, first, last = parse_range("2026-11-01", "2026-11-30", HARARE)
    assert t0 == dt.datetime(2026, 11, 1, tzinfo=HARARE).timestamp() and t1 == dt.datetime(2026, 12, 1, tzinfo=HARARE).timestamp()
    assert (first, last) == ("2026-11-01", "2026-11-30")
    t0, t1, first, last = parse_range("2026-11-01 06:00", "2026-11-01 10:00", HARARE)
    assert t1 - t0 == 4 * 3600 and (first, last) == ("2026-11-01 06:00", "2026-11-01 10:00")  # (the header said 2026-11-01 twice)
    assert parse_range("2026-11-01 06:00", "2026-11-02", HARARE)[2:] == ("2026-11-01 06:00", "2026-11-02")
    with pytest.raises(ReportError, match=r"--from '2026-02-30' is not a date"):
        parse_range("2026-02-30", None, HARARE)
    with pytest.raises(ReportError, match=r"--to 'last week' is not a date"):
        parse_range(None, "last week", HARARE)
    with pytest.raises(ReportError, match=r"^--from 2026-11-30 is after --to 2026-11-01: the range is reversed"):
        parse_range("2026-11-30", "2026-11-01", HARARE)
    # over HTTP the same checks name the query's parameters, not the command line's flags
    with pytest.raises(ReportError, match=r"^from 2026-11-30 is after to 2026-11-01: the range is reversed"):
        parse_range("2026-11-30", "2026-11-01", HARARE, names=QUERY)
    with pytest.raises(ReportError, match=r"^to 'last week' is not a date"):
        parse_range(None, "last week", HARARE, names=QUERY)
    t0, t1, first, last = parse_range(None, None, HARARE, now=dt.datetime(2026, 11, 25, 12, tzinfo=HARARE).timestamp())
    assert (first, last) == ("2026-10-27", "2026-11-25")


def test_far_off_report_dates_are_refused_naming_the_field_and_the_range(tmp_path, capsys):
    for start, end, said in (("1900-01-01", "9999-12-31", "--to '9999-12-31'"), (None, "9999-12-31", "--to '9999-12-31'"),
                             ("0001-01-01", None, "--from '0001-01-01'"), ("1900-01-01", None, "--from '1900-01-01'")):  # fmt: skip
        with pytest.raises(ReportError, match=f"^{said} is out of range: reports cover 1970-01-01 to 2999-12-31$"):
            parse_range(start, end, HARARE)
    with pytest.raises(ReportError, match=r"^from '0001-01-01' is out of range"):
        parse_range("0001-01-01", None, HARARE, names=QUERY)
    t0, _, first, last = parse_range("1970-01-01", "2999-12-31", dt.UTC)  # the edges themselves are fine
    assert (t0, first, last) == (0.0, "1970-01-01", "2999-12-31")
    (tmp_path / "playlists").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("station: {name: Test Radio}\n")
    connect(tmp_path / "state" / "history.sqlite", schema.MIGRATIONS).close()
    for kind, flags in (("plays", ["--from", "1900-01-01", "--to", "9999-12-31"]), ("listeners", ["--from", "0001-01-01"])):
        assert main(["report", kind, *flags, "--config", str(config)]) == 2
        assert "is out of range: reports cover 1970-01-01 to 2999-12-31" in capsys.readouterr().err


def test_webhook_bodies():
    doc = {"event": "song_changed", "station": {"name": "Test"}, "listeners": 3, "live": False,
           "now_playing": {"title": 'A - "B"', "song": {"artist": "A", "title": '"B"'}, "kind": "song"}}  # fmt: skip
    body, kind = render_body("", doc)
    assert json.loads(body) == doc and kind == "application/json"
    body, kind = render_body('{"content": "Now on $station: $title ($listeners listening)"}', doc)
    assert json.loads(body) == {"content": 'Now on Test: A - "B" (3 listening)'} and kind == "application/json"
    body, kind = render_body("$artist / $song / $unknown", doc)
    assert body.decode() == 'A / "B" / $unknown' and kind.startswith("text/plain")


def test_station_online_goes_out_when_the_audio_starts():
    """The watch finds the station off air at start; station_online must not wait a whole watch
    period after the audio starts, or a live_connect in the first second would overtake it."""

    async def run() -> float:
        loop = asyncio.get_running_loop()
        hooks = Webhooks((WebhookConfig("http://127.0.0.1:9/", events=("station_online",)),), lambda: {})
        on_at = loop.time() + 0.35
        task = asyncio.create_task(hooks.watch(lambda: loop.time() >= on_at, lambda: 0))
        while not hooks.queued():
            assert loop.time() < on_at + 2, "no station_online"
            await asyncio.sleep(0.01)
        task.cancel()
        return loop.time() - on_at

    late = asyncio.run(run())
    assert late < 0.2, f"station_online {late:.2f} s after the audio started"


def test_webhook_failures_are_logged_without_the_path_or_query(caplog):
    """A token in a webhook's query must not reach the log: neither when nothing answers nor when
    the receiver redirects in a loop (aiohttp's own error text carries the URL)."""

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.path_qs)

    async def run() -> tuple[list[str], list[dict]]:
        app = web.Application()
        app.router.add_route("*", "/hooks/radio", redirect)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        ports = [free_port(), runner.addresses[0][1]]
        configs = tuple(WebhookConfig(f"http://127.0.0.1:{p}/hooks/radio?token=SECRET", events=("song_changed",)) for p in ports)
        hooks = Webhooks(configs, lambda: {})
        hooks.fire("song_changed")
        task = asyncio.create_task(hooks.run())
        deadline = time.monotonic() + 10
        while hooks.counts["failed"] < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        names = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("webhook")]
        task.cancel()
        await runner.cleanup()
        return [f"127.0.0.1:{p}/…" for p in ports], [*hooks.status(), {"tasks": names}]

    with caplog.at_level(logging.WARNING, logger="streamer.webhooks"):
        shown, status = asyncio.run(run())
    lines = [r.getMessage() for r in caplog.records if r.name == "streamer.webhooks"]
    assert len(lines) == 2 and all(f"webhook http://{s}: " in line for s, line in zip(shown, lines, strict=True)), lines
    assert "too many redirects (more than" in lines[1], lines
    assert "SECRET" not in caplog.text and "/hooks" not in caplog.text and "SECRET" not in json.dumps(status)


def test_players_are_named_from_user_agents():
    assert player("VLC/3.0.18 LibVLC/3.0.18") == "VLC"
    assert player("Lavf/59.27.100") == "FFmpeg"
    assert player("mpv 0.35.1") == "mpv"
    assert player("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36") == "Chrome"
    assert player("") == "(none)"


def country_mmdb(path: Path) -> Path:
    """A real MaxMind-format country database: loopback in Zimbabwe, 198.51.100.0/24 in South Africa."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["127.0.0.0/8"]), {"country": {"iso_code": "ZW", "names": {"en": "Zimbabwe"}}})
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "ZA", "names": {"en": "South Africa"}}})
    writer.to_db_file(str(path))
    return path


def test_countries_come_from_a_real_mmdb_and_nothing_breaks_without_one(tmp_path):
    geo = GeoIP(country_mmdb(tmp_path / "country.mmdb"))
    assert (geo.country("127.0.0.1"), geo.country("198.51.100.20"), geo.country("192.0.2.1")) == ("ZW", "ZA", None)
    assert GeoIP(None).country("127.0.0.1") is None
    broken = GeoIP(tmp_path / "missing.mmdb")
    assert broken.country("127.0.0.1") is None and "missing.mmdb" in broken.error


def year_of_data(path: Path, sessions_per_day: int = 2000) -> float:
    """A year of a station in SQL: plays every 4 minutes, sessions spread over the day, per-minute
    audience on two mounts (peaking together, so the station's minutes peak at their sum). Returns
    the start (Unix time) of the year."""
    conn = connect(path, schema.MIGRATIONS)
    start = dt.datetime(2025, 1, 1, tzinfo=HARARE).timestamp()
    days, n = 365, 365 * sessions_per_day
    conn.executescript(f"""
        BEGIN;
        WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < {days * 360 - 1})
        INSERT INTO plays (id, started, ended, seconds, kind, artist, title, album, isrc, label, stream_title, listeners_start,
                           listeners_unique, listeners_left)
        SELECT k + 1, {start} + k * 240, {start} + k * 240 + 240, 240, CASE WHEN k % 5 = 4 THEN 'jingle' ELSE 'song' END,
               'Artist ' || (k % 389 % 97), 'Song ' || (k % 389), 'Album ' || (k % 389 % 41), 'ZWAAA26' || printf('%05d', k % 389), 'Label',
               'Artist ' || (k % 389 % 97) || ' - Song ' || (k % 389), 20 + k % 50, 25 + k % 60, k % 7 FROM i;
        WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < {n - 1})
        INSERT INTO sessions (id, mount, ip, country, user_agent, referer, started, ended, seconds, bytes, reason, kbps)
        SELECT 10000000 + k, CASE WHEN k % 4 = 0 THEN '/low' ELSE '/main' END, '10.' || (k % 251) || '.' || (k % 199) || '.1',
               CASE k % 3 WHEN 0 THEN 'ZW' WHEN 1 THEN 'ZA' ELSE NULL END,
               CASE k % 5 WHEN 0 THEN 'VLC/3.0.18 LibVLC/3.0.18' WHEN 1 THEN 'Lavf/59.27.100' WHEN 2 THEN 'mpv 0.35.1'
                    ELSE 'Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/' || (100 + k % 20) || '.0 Safari/537.36' END,
               '', {start} + k * {86400 / sessions_per_day}, {start} + k * {86400 / sessions_per_day} + (k * 37) % 9000,
               (k * 37) % 9000, ((k * 37) % 9000) * 16000, 'left', 128 FROM i;
        WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < {days * 1440 - 1})
        INSERT INTO audience (minute, mount, peak, listener_seconds)
        SELECT {int(start // 60)} + k, m.mount, 10 + (k % 1440) / 20, (10 + (k % 1440) / 20) * 60.0
        FROM i, (SELECT '/main' AS mount UNION ALL SELECT '/low') AS m;
        INSERT INTO station_audience (minute, peak, listener_seconds)
        SELECT minute, sum(peak), sum(listener_seconds) FROM audience GROUP BY minute;
        COMMIT;
    """)  # fmt: skip
    conn.close()
    return start


def test_a_play_still_on_air_has_no_length_yet_in_the_plays_report(tmp_path):
    """It said 0 seconds, as if it had aired for none (found by a run of the station)."""
    conn = connect(tmp_path / "history.sqlite", schema.MIGRATIONS)
    start = dt.datetime(2026, 11, 20, 9, tzinfo=HARARE).timestamp()
    conn.execute("INSERT INTO plays (started, ended, seconds, kind, title) VALUES (?, ?, 40.04, 'song', 'Aired')", (start, start + 40.04))
    conn.execute("INSERT INTO plays (started, kind, title) VALUES (?, 'song', 'On air')", (start + 40.04,))
    conn.commit()
    report = build(conn, "plays", "2026-11-20", "2026-11-20", HARARE, "Streamer Radio")
    rows = json.loads(render(report, "json")[0])["plays"]
    assert [(r["title"], r["ended"], r["seconds"]) for r in rows] == [("Aired", "2026-11-20T09:00:40+02:00", 40.0), ("On air", "", None)]
    csv_lines = render(report, "csv")[0].splitlines()
    assert csv_lines[2].startswith("2026-11-20T09:00:40+02:00,,,song,")


@pytest.mark.volume  # a million rows of SQL: 8-9 s
def test_a_year_of_data_reports_what_it_holds(tmp_path):
    """Every report over a year of a station adds up. How long they take on a year at 2,000 and
    3,000 sessions a day is measured by `python bench/history.py year` (README), not here: a
    timed test measures the machine it runs on (2.4 s for the listeners report on one, 4.6 s on
    another half as fast, 5-7 s beside the suite's other worker)."""
    db = tmp_path / "history.sqlite"
    per_day = 200
    year_of_data(db, per_day)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    reports = {}
    for kind in ("plays", "tracks", "soundexchange", "listeners"):
        report = reports[kind] = build(conn, kind, "2025-01-01", "2025-12-31", HARARE, "Streamer Radio")
        assert json.loads(render(report, "json")[0])["report"] == kind
    summary = dict(zip(report.sections[0].columns, report.sections[0].rows[0], strict=True))
    assert summary["sessions"] == 365 * per_day and summary["peak_listeners"] == 2 * (10 + 1439 // 20)
    lengths = {r[0]: r[1] for r in next(s for s in report.sections if s.name == "lengths").rows}
    assert sum(lengths.values()) == 365 * per_day and lengths["<30 s"] > 0 and lengths[">2 h"] > 0
    assert {r[0] for r in next(s for s in report.sections if s.name == "players").rows} >= {"VLC", "FFmpeg", "mpv", "Chrome"}
    assert {r[0] for r in next(s for s in report.sections if s.name == "countries").rows} == {"ZW", "ZA", "(unknown)"}
    sx = reports["soundexchange"].sections[0]
    assert len(sx.rows) == 389 and all(r[1] == "A" for r in sx.rows)  # songs only, one row per recording


@pytest.mark.parametrize("zone", ["Africa/Harare", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"])
def test_local_times_in_bulk_are_the_times_one_by_one_across_clock_changes(zone):
    """The plays report's local times (an offset per hour of UTC) equal a zone lookup per time,
    through spring and autumn clock changes (Lord Howe's are half an hour, Kathmandu is +05:45)."""
    tz = zoneinfo.ZoneInfo(zone)
    at = LocalTimes(tz)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()
    times = [start + k * 1799.37 for k in range(365 * 48)]  # every half hour or so, odd fractions of seconds
    times += [t + d for t in (1743296400.0, 1761440400.0, 1743865200.0, 1759593600.0) for d in (-1.5, -0.0001, 0.0, 0.0001, 1799.0, 3600.0)]
    assert [at(t) for t in times] == [local(t, tz) for t in times]
    assert at(None) == ""


def test_recovery_closes_what_a_crash_left_open_and_pruning_keeps_keep_days(tmp_path):
    conn = connect(tmp_path / "h.sqlite", schema.MIGRATIONS)
    conn.execute(schema.HEARTBEAT, ("1000.5",))
    conn.execute(schema.INSERT_SESSION, (1, "/main", "127.0.0.1", None, "ua", "", 990.0, 128))
    conn.execute(schema.INSERT_SESSION, (2, "/main", "127.0.0.1", None, "ua", "", 995.0, 128))
    conn.execute(schema.END_SESSION, (998.0, 3.0, 48000, "left", 2))
    conn.execute(schema.INSERT_SESSION, (3, "/flac", "127.0.0.1", None, "ua", "", 980.0, 0))  # no nominal bitrate
    conn.execute(schema.SESSION_BYTES, (1_000_000, 995.0, 3))  # 1 MB in its first 15 s, saved at 995
    conn.execute(schema.AUDIENCE_MINUTE, (16, "/main", 3, 44.5))  # the minute it stopped in (1000.5 // 60)
    conn.execute(schema.AUDIENCE_MINUTE, (15, "/main", 9, 60.0))
    conn.execute(schema.STATION_MINUTE, (16, 4, 50.0))
    found = recover(conn, 100)
    assert found["sessions_closed"] == 2 and found["heartbeat"] == 1000.5 and found["max_id"] == 3
    # its saved bytes, and at its own rate (1 MB per 15 s) to the heartbeat 5.5 s later
    assert conn.execute("SELECT ended, bytes, estimated FROM sessions WHERE id = 3").fetchone() == (1000.5, 1_366_666, 1)
    assert found["audience"] == (16, [("/main", 3, 44.5), ("", 4, 50.0)])
    assert conn.execute("SELECT ended, seconds, bytes, reason, estimated FROM sessions WHERE id = 1").fetchone() == (
        1000.5,
        10.5,
        168000,
        "server stop",
        1,
    )
    assert conn.execute("SELECT ended, reason, estimated FROM sessions WHERE id = 2").fetchone() == (998.0, "left", 0)
    assert recover(conn, 100)["salt"] == found["salt"]  # one salt per database
    assert prune(conn, 993.0) == 3 and conn.execute("SELECT id FROM sessions").fetchall() == [(2,)]


def test_streamer_report_says_what_is_wrong_with_its_dates(tmp_path, capsys):
    (tmp_path / "playlists").mkdir()
    (tmp_path / "playlists" / "p.yaml").write_text("timezone: Africa/Harare\nplaylists: {music: {files: []}}\nfallback: music\n")
    config = tmp_path / "config.yaml"
    config.write_text("station: {name: Test Radio}\n")
    assert main(["report", "plays", "--config", str(config)]) == 1
    assert "no history at" in capsys.readouterr().err
    connect(tmp_path / "state" / "history.sqlite", schema.MIGRATIONS).close()
    assert main(["report", "plays", "--from", "2026-11-31", "--config", str(config)]) == 2
    assert "--from '2026-11-31' is not a date: use YYYY-MM-DD" in capsys.readouterr().err
    assert main(["report", "soundexchange", "--from", "2026-11-30", "--to", "2026-11-01", "--config", str(config)]) == 2
    assert "is after --to 2026-11-01" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["report", "royalties", "--config", str(config)])
    assert exit_.value.code == 2 and "invalid choice: 'royalties'" in capsys.readouterr().err
    args = ["report", "soundexchange", "--from", "2026-11-01", "--to", "2026-11-30", "-o", str(tmp_path), "--config", str(config)]
    assert main(args) == 0
    assert (tmp_path / "TESTRADIO01112026-30112026_A.txt").read_text().startswith("^NAME_OF_SERVICE^|")
    timed = tmp_path / "timed"  # times in the range: the file is still named by the days it covers
    timed.mkdir()
    assert main([*args[:2], "--from", "2026-11-01 06:00", "--to", "2026-12-01 00:00", "-o", str(timed), *args[-2:]]) == 0
    assert [p.name for p in timed.iterdir()] == ["TESTRADIO01112026-30112026_A.txt"]


def test_streamer_report_says_why_it_cannot_write_its_output(tmp_path, capsys):
    (tmp_path / "playlists").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("station: {name: Test Radio}\n")
    connect(tmp_path / "state" / "history.sqlite", schema.MIGRATIONS).close()
    for kind in ("soundexchange", "plays"):
        target = tmp_path / "nonexistent" / "dir" / "x.txt"
        assert main(["report", kind, "-o", str(target), "--config", str(config)]) == 2
        assert capsys.readouterr().err.splitlines()[-1] == f"streamer report: cannot write {target}: no such folder"
    assert write_problem(PermissionError(13, "Permission denied")) == "permission denied"
    assert main(["report", "plays", "-o", "/proc/x", "--config", str(config)]) == 2  # a folder there, that makes no files
    assert capsys.readouterr().err.splitlines()[-1] == "streamer report: cannot write /proc/x: the folder does not take new files"


def test_streamer_report_names_files_by_their_format_and_refuses_tuning_hours_but_for_soundexchange(tmp_path, capsys):
    (tmp_path / "playlists").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("station: {name: Test Radio}\n")
    connect(tmp_path / "state" / "history.sqlite", schema.MIGRATIONS).close()
    dates = ["--from", "2026-11-01", "--to", "2026-11-30", "--config", str(config)]
    assert main(["report", "soundexchange", "-o", str(tmp_path), "--format", "json", *dates]) == 0
    assert json.loads((tmp_path / "TESTRADIO01112026-30112026_A.json").read_text())["report"] == "soundexchange"
    assert not (tmp_path / "TESTRADIO01112026-30112026_A.txt").exists()
    assert main(["report", "soundexchange", "-o", str(tmp_path), *dates]) == 0
    text = (tmp_path / "TESTRADIO01112026-30112026_A.txt").read_text()
    assert text.startswith("^NAME_OF_SERVICE^|") and text.endswith("^ACTUAL_TOTAL_PERFORMANCES^\n")  # a text file's last line ends
    assert main(["report", "tracks", "-o", str(tmp_path), "--format", "csv", *dates]) == 0
    assert (tmp_path / "tracks-2026-11-01-2026-11-30.csv").read_text().startswith("artist,title,")
    capsys.readouterr()
    for kind in ("tracks", "plays", "listeners"):
        assert main(["report", kind, "--tuning-hours", *dates]) == 2
        assert capsys.readouterr().err.splitlines()[-1] == (
            f"streamer report: --tuning-hours is SoundExchange's aggregate-tuning-hours variant: it means nothing for the {kind} report"
        )
    assert main(["report", "soundexchange", "--tuning-hours", *dates]) == 0
    assert "^AGGREGATE_TUNING_HOURS^" in capsys.readouterr().out
    conn = sqlite3.connect(tmp_path / "state" / "history.sqlite")
    with pytest.raises(ReportError, match=r"^variant=ath is SoundExchange's aggregate-tuning-hours variant: it means nothing for"):
        build(conn, "tracks", None, None, HARARE, "Test Radio", tuning_hours=True, names=QUERY)
    conn.close()


def test_the_first_song_changed_comes_after_station_online():
    """QA: the first song_changed went out before station_online (the title reached listeners
    before the watch's next look); an event of the air now sends station_online first, once."""

    async def run() -> list[str]:
        hook = WebhookConfig("http://127.0.0.1:9/", events=("song_changed", "station_online", "station_offline"))
        hooks = Webhooks((hook,), lambda: {})
        hooks.online = False  # the watch's first look: off air, nothing said
        hooks.on_air_event("song_changed", True)
        hooks.on_air_event("song_changed", True)
        task = asyncio.create_task(hooks.watch(lambda: True, lambda: 0))
        await asyncio.sleep(0.05)
        task.cancel()
        hooks.on_air_event("song_changed", False)  # off air by the watch's reckoning: no station_online
        return [d.event for d in hooks.hooks[0].queue]

    assert asyncio.run(run()) == ["station_online", "song_changed", "song_changed", "song_changed"]


def test_closed_plays_are_kept_for_credits_only_as_long_as_a_burst_reaches_back():
    """Each closed play holds its listeners' keys (35 MB for 17 plays at 20,000 listeners): it is
    let go once no new listener's burst can reach it."""
    from streamer.history.heard import burst_reach
    from streamer.settings import Config, HlsConfig, HlsVariantConfig, MountConfig

    config = Config(file=Path("c.yaml"), mounts=(MountConfig("/main", bitrate=128), MountConfig("/low", bitrate=48, burst_size=65536)))
    assert burst_reach(config) == pytest.approx(65536 / 6000 + 1)  # /low's 10.9 s burst, a second more
    hls = HlsConfig(segment=4.0, window=6, variants=(HlsVariantConfig("lo"),))
    assert burst_reach(Config(file=Path("c.yaml"), mounts=config.mounts, hls=hls)) == 25.0  # an HLS player can start the window back
    credits = Credits(reach=12.0)
    for n, ended in enumerate((100.0, 190.0, 195.0, 300.0)):
        credits.play_ended(Play(n, ended - 60, "song", "A - B", None, 0, None, credits.play_began()), ended)
    assert [play_id for play_id, _, _ in credits.closed] == [3]
    assert credits.joined(("198.51.100.7", "VLC"), None, 289.0) == [3]
