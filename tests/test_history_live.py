"""The station remembers, tested with the real server, real listeners and the real database
file: plays where listeners got the titles, every session with its duration, bytes and why it
ended, Icecast's access log (reopened on SIGHUP), SoundExchange performances counted from the
listeners themselves, and a kill -9 that loses no more than the last second."""

from __future__ import annotations

import itertools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from streamer.audio.ffmpeg import ffmpeg_exe

from .conftest import Server
from .history_ears import Ear, Staller, admin_get, kill_client, wait_change
from .test_history import ICECAST_LINE

pytestmark = pytest.mark.interop

MOUNTS = """  /main: {bitrate: 128, metaint: 2000, burst_size: 32000, queue_size: 48000}
  /low: {bitrate: 48, sample_rate: 22050, channels: 1, metaint: 750, burst_size: 12000, queue_size: 24000}"""
SONGS = [("Oliver Mtukudzi", "Neria", "ZWAAA2600001"), ("Thomas Mapfumo", "Chitima", "ZWAAA2600002"),
         ("Jah Prayzah", "Mdhara Vachauya", "ZWAAA2600003"), ("Winky D", "Ijipita", "ZWAAA2600004"),
         ("Sulumani Chimbetu", "Sean Timba", "ZWAAA2600005")]  # fmt: skip


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> Path:
    """Five tagged 6 s songs played in order, a 4 s station ID after every two."""
    d = tmp_path_factory.mktemp("history-station")
    (d / "songs").mkdir()
    (d / "ids").mkdir()
    for i, (artist, title, isrc) in enumerate(SONGS):
        tags = ["-metadata", f"artist={artist}", "-metadata", f"title={title}", "-metadata", f"album={title} (Album)",
                "-metadata", f"TSRC={isrc}", "-metadata", "publisher=Gramma Records"]  # fmt: skip
        tone(d / "songs" / f"{i}.mp3", 300 + 100 * i, 6.0, tags)
    tone(d / "ids" / "id.mp3", 1200, 4.0, ["-metadata", "title=Station ID"])
    return d


def tone(path: Path, freq: float, seconds: float, tags: list[str]) -> None:
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}", "-ac", "2",
         "-c:a", "libmp3lame", "-b:a", "128k", *tags, str(path)],
        check=True,
    )  # fmt: skip


def programme(d: Path) -> str:
    return (
        f"timezone: Africa/Harare\nplaylists:\n  music: {{files: ['{d}/songs/'], order: sequential}}\n  ids: {{files: ['{d}/ids/']}}\n"
        "blocks:\n  all-day: {start: '00:00', end: '00:00', play: music, jingles: {play: ids, every: 2 songs}}\nfallback: music\n"
    )


def db_rows(tmp: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(tmp / "state" / "history.sqlite")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def at(t: float) -> None:
    time.sleep(max(0.0, t - time.time()))


def run_scenario(server: Server, tmp: Path) -> dict:
    """Listeners join and leave between title changes (never near one): L1 and L6 from the
    start, L2/L3 join and leave, L4 is killed, L5 stops reading and is evicted, an operator sets
    a title through /admin/metadata, the access log is rotated; then a clean stop."""
    port = server.port
    l1, l6 = Ear(port, "/main", "L1-whole", "http://radio.example/player"), Ear(port, "/low", "L6-until-stop")
    l1.start()
    l6.start()
    at(wait_change(l1, 2) + 2.6)  # joins 2.6 s into an item: the 2 s burst starts inside it
    l2, l3 = Ear(port, "/main", "L2-leaves"), Ear(port, "/low", "L3-leaves")
    l2.start()
    l3.start()
    at(wait_change(l1, 3) + 2.6)
    l4, l5 = Ear(port, "/main", "L4-killed"), Staller(port, "/main", "L5-evicted")
    l4.start()
    l5.start()
    at(wait_change(l1, 4) + 2.0)  # leaves 2 s into an item (every item is 4 s or longer)
    l2.leave()
    log = tmp / "logs" / "access.log"
    deadline = time.time() + 3
    while not (log.exists() and log.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    log.rename(tmp / "logs" / "access.log.1")  # logrotate, then SIGHUP
    server.proc.send_signal(signal.SIGHUP)
    at(wait_change(l1, 5) + 2.0)
    kill_client(port, "/main", "L4-killed")
    l3.leave()
    at(wait_change(l1, 6) + 2.0)
    admin_get(port, "/admin/metadata?mount=/main&mode=updinfo&song=Live%20Desk%20-%20Special%20Report")
    l5.join(60)
    at(wait_change(l1, 8) + 2.0)
    l1.leave()
    reports = {"api": admin_get(port, "/api/reports/plays?format=json"), "status": server.status()}
    try:
        urllib.request.urlopen(server.url("/api/reports/plays"), timeout=5)
        reports["anonymous"] = 200
    except urllib.error.HTTPError as e:
        reports["anonymous"] = e.code
    time.sleep(1.0)
    server.stop()
    l4.join(5)
    l6.join(5)
    return {"ears": [e.heard for e in (l1, l2, l3, l4, l5, l6)], **reports}


def test_a_run_with_listeners_joining_and_leaving_is_remembered(server_factory, station, tmp_path):
    server = server_factory(programme(station), mounts=MOUNTS)
    result = run_scenario(server, tmp_path)
    ears = {h.name: h for h in result["ears"]}
    assert result["anonymous"] == 401 and '"report": "plays"' in result["api"]

    # Plays: every title change a listener got is a play that started within 1 s of it.
    plays = db_rows(tmp_path, "SELECT started, ended, kind, stream_title, artist, title, isrc, label, dj FROM plays ORDER BY started")
    offsets = []
    for arrival, title in ears["L1-whole"].titles[1:]:
        match = [p for p in plays if p[3] == title and abs(arrival - p[0]) <= 1.0]
        assert match, f"{title!r} reached L1 at {arrival:.2f}; plays: {[(round(p[0], 2), p[3]) for p in plays]}"
        offsets.append(arrival - match[0][0])
    print(f"ICY title arrival minus play start: {min(offsets):.3f} .. {max(offsets):.3f} s over {len(offsets)} changes")
    kinds = {p[3]: p[2] for p in plays}
    assert kinds["Station ID"] == "jingle" and kinds["Oliver Mtukudzi - Neria"] == "song"
    assert kinds["Live Desk - Special Report"] == "live"
    neria = next(p for p in plays if p[3] == "Oliver Mtukudzi - Neria")
    assert neria[6:8] == ("ZWAAA2600001", "Gramma Records")
    assert all(p[1] is not None and p[1] >= p[0] for p in plays)  # every play closed at the clean stop

    # Sessions: one per listener, with its duration (±1 s), bytes (±1 s of audio) and reason.
    sessions = {r[0]: r[1:] for r in db_rows(tmp_path, "SELECT user_agent, mount, seconds, bytes, reason, referer FROM sessions")}
    reasons = {"L1-whole": "left", "L2-leaves": "left", "L3-leaves": "left", "L4-killed": "killed", "L5-evicted": "evicted",
               "L6-until-stop": "server stop"}  # fmt: skip
    assert set(sessions) == set(reasons)
    for name, heard in ears.items():
        mount, seconds, sent, reason, referer = sessions[name]
        assert (mount, reason) == (heard.mount, reasons[name])
        assert abs(seconds - (heard.closed - heard.connected)) <= 1.0, (name, seconds, heard.closed - heard.connected)
        if name != "L5-evicted":  # it read nothing: what was sent sat in kernel buffers
            rate = 16000 if mount == "/main" else 6000
            assert abs(sent - heard.audio) <= rate, (name, sent, heard.audio)
    assert sessions["L1-whole"][4] == "http://radio.example/player"

    # The access log: one Icecast line per session, split where it was rotated.
    rotated = (tmp_path / "logs" / "access.log.1").read_text().splitlines()
    current = (tmp_path / "logs" / "access.log").read_text().splitlines()
    assert [ICECAST_LINE.match(line).group(8) for line in rotated] == ["L2-leaves"]
    assert len(rotated) + len(current) == 6
    for line in rotated + current:
        m = ICECAST_LINE.match(line)
        mount, seconds, sent, _, referer = sessions[m.group(8)]
        assert m.group(4).startswith(f"GET {mount} HTTP/1.1") and int(m.group(6)) == sent and int(m.group(9)) == int(seconds)
        assert m.group(7) == (referer or "-")

    # SoundExchange: each song's performances = the listeners who heard any part of it.
    expected = expected_performances(ears)
    out = subprocess.run(
        [sys.executable, "-m", "streamer", "report", "soundexchange", "--config", str(tmp_path / "config.yaml")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lines = out.strip().split("\n")
    assert lines[0].startswith("^NAME_OF_SERVICE^|^TRANSMISSION_CATEGORY^|^FEATURED_ARTIST^")
    got = {}
    for line in lines[1:]:
        fields = line.split("|")
        assert fields[:2] == ["^TEST RADIO^", "^A^"] and re.fullmatch(r"\^ZWAAA26\d{5}\^", fields[4]), line
        got[f"{fields[2].strip('^')} - {fields[3].strip('^')}"] = int(fields[7])
    print("SoundExchange performances:", got, "expected:", expected)
    for song, (low, high) in expected.items():
        assert low <= got.pop(song) <= high, song
    assert got == {}  # songs only: no jingle, no live title


def expected_performances(ears: dict) -> dict[str, tuple[int, int]]:
    """Per song, how many listeners heard part of it, from the listeners' own ICY titles (one
    run of a title is one play); the evicted listener, which read nothing, by time: from its
    connection less its 2 s burst to its eviction, against L1's title changes (an eviction
    within 0.5 s of a change may count either way)."""
    counts: dict[str, list[int]] = {}
    for name, heard in ears.items():
        if name == "L5-evicted":
            continue
        for title in heard.runs():
            if " - " in title and title != "Live Desk - Special Report":
                counts.setdefault(title.upper(), [0, 0])
                counts[title.upper()][0] += 1
                counts[title.upper()][1] += 1
    staller, changes = ears["L5-evicted"], ears["L1-whole"].titles
    for (start, title), (end, _) in itertools.pairwise(changes):
        if " - " not in title or title.startswith("Live Desk"):
            continue
        overlap = start < staller.closed and end > staller.connected - 2.0
        sure = overlap and not (abs(staller.closed - start) < 0.5)
        cell = counts.setdefault(title.upper(), [0, 0])
        cell[0] += 1 if sure else 0
        cell[1] += 1 if overlap or abs(staller.closed - start) < 0.5 else 0
    return {k: (v[0], v[1]) for k, v in counts.items()}


def test_kill_9_loses_no_more_than_a_second_and_closes_open_sessions(server_factory, station, tmp_path):
    server = server_factory(programme(station), mounts=MOUNTS)
    early, stay, stay_low = Ear(server.port, "/main", "early"), Ear(server.port, "/main", "stays"), Ear(server.port, "/low", "stays-low")
    for ear in (early, stay, stay_low):
        ear.start()
    time.sleep(2.0)
    early.leave()
    time.sleep(1.6)
    killed_at = time.time()
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    for ear in (stay, stay_low):
        ear.join(5)
    again = server_factory(programme(station), mounts=MOUNTS)
    recovered = again.status()["history"]["recovered"]
    assert recovered["sessions_closed"] == 2 and recovered["plays_closed"] == 1
    assert killed_at - 1.0 <= recovered["heartbeat"] <= killed_at
    print(f"kill -9: last heartbeat {killed_at - recovered['heartbeat']:.3f} s before the kill")
    again.stop()
    rows = {r[0]: r[1:] for r in db_rows(tmp_path, "SELECT user_agent, ended, reason, estimated, bytes FROM sessions")}
    assert rows["early"][1:3] == ("left", 0) and abs(rows["early"][0] - early.heard.closed) <= 1.0  # older than 1 s: kept
    for name in ("stays", "stays-low"):
        ended, reason, estimated, sent = rows[name]
        assert (reason, estimated) == ("server stop", 1) and killed_at - 1.0 <= ended <= killed_at and sent > 0
    open_plays = db_rows(tmp_path, f"SELECT count(*) FROM plays WHERE ended IS NULL OR (estimated = 1 AND ended < {killed_at - 1.0})")
    assert open_plays == [(0,)]
