"""The track library with real ffmpeg and the real command line: `streamer library scan` and
`list`, `streamer check` naming the files that will not play and why, a rescan that finds
nothing to do, files that change or vanish, a decoder that hangs, a three-hour file, a damaged
database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamer.audio.ffmpeg import ffmpeg_exe
from streamer.library.analyser import AnalysisHung, analyse
from streamer.library.catalog import Entry
from streamer.library.scanner import Library, open_store

from .conftest import decode_errors, make_tone, record, start_server

pytestmark = pytest.mark.interop


def streamer(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamer", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def station(tmp_path) -> Path:
    """A station folder: good files at different levels and every kind of bad one."""
    music = tmp_path / "music"
    music.mkdir()
    make_tone(music / "loud.mp3", 440, 6.0, 44100, 2, ("-c:a", "libmp3lame", "-af", "volume=0dB"), "A", "Loud")
    make_tone(music / "quiet.flac", 550, 6.0, 44100, 2, ("-c:a", "flac", "-af", "volume=-12dB"), "B", "Quiet")
    make_tone(music / "whisper.ogg", 660, 4.0, 44100, 2, ("-c:a", "libvorbis", "-af", "volume=-30dB"), "C", "Whisper")
    make_tone(music / "hush.ogg", 770, 4.0, 44100, 2, ("-c:a", "libvorbis", "-af", "volume=-60dB"), "E", "Hush")
    full = make_tone(tmp_path / "full.flac", 330, 20.0, 44100, 2, ("-c:a", "flac"), "D", "Cut Short")
    (music / "cut-short.flac").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    (music / "damaged.mp3").write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(range(256)) * 40)
    (music / "notes.mp3").write_text("Call the studio on 555-0100 before the show.\n")
    (music / "empty.ogg").write_bytes(b"")
    (tmp_path / "playlists").mkdir()
    (tmp_path / "playlists" / "station.yaml").write_text(f"playlists:\n  music: {{files: ['{music}/']}}\nfallback: music\n")
    (tmp_path / "config.yaml").write_text("mounts:\n  /main: {}\n")
    return tmp_path


def test_scan_list_and_check_name_every_problem_in_a_djs_words(station):
    scan = streamer("library", "scan", cwd=station)
    print(scan.stdout)
    assert scan.returncode == 0, scan.stderr
    out = scan.stdout
    assert "8 file(s) in the programme; 8 to analyse" in out and "analysed 8 file(s)" in out
    assert "damaged.mp3: will not play: header damaged: it starts like an MP3 file" in out
    assert "notes.mp3: will not play: not an audio file (it is text)" in out
    assert "empty.ogg: will not play: empty file" in out
    assert "cut-short.flac" in out and "truncated after 10 s (the file says 20 s)" in out
    assert "whisper.ogg: -" in out and "gain +12.0 dB (nothing above -34 dBFS: aired at the most gain allowed)" in out
    assert "hush.ogg: will not play: silent: no sound in it (nothing over -70 LUFS), so nothing to air" in out  # dead air
    assert "quiet.flac: -33.7 LUFS" in out and "gain +12.0 dB\n" in out
    assert "the collection spans" in out
    listed = streamer("library", "list", "--problems", cwd=station).stdout
    assert {line.split()[0] for line in listed.splitlines()[1:]} == {"unplayable", "truncated", "silent"}
    assert "loud.mp3" not in listed
    check = streamer("check", cwd=station)
    assert check.returncode == 1
    assert "station.yaml:2: playlist 'music': " in check.stderr and "damaged.mp3: will not play: header damaged" in check.stderr
    assert "4 problem(s)" in check.stderr  # damaged, text, empty, no sound: truncated and quiet ("silent") files still play

    def rows() -> list:
        return sqlite3.connect(station / "state" / "library.sqlite").execute("SELECT * FROM tracks ORDER BY path").fetchall()

    before = rows()
    again = streamer("library", "scan", cwd=station)
    # Nothing re-analysed: every row, its analysed_at included, is as it was (a wall-clock bound here
    # failed under the loaded suite, at 2.5 s of interpreter start-up)
    assert "0 to analyse" in again.stdout and "8 unchanged" in again.stdout and "analysed 0 file(s)" in again.stdout
    assert rows() == before and len(before) == 8
    os.utime(station / "music" / "loud.mp3")  # touched: analysed again
    (station / "music" / "notes.mp3").unlink()  # gone: its row goes
    third = streamer("library", "scan", cwd=station).stdout
    assert "1 to analyse" in third and "analysed 1 file(s)" in third
    rows = sqlite3.connect(station / "state" / "library.sqlite").execute("SELECT path FROM tracks").fetchall()
    assert len(rows) == 7 and not any(b"notes.mp3" in r[0] for r in rows)


def test_a_file_that_changes_or_vanishes_while_analysed_gets_no_row(tmp_path):
    long = make_tone(tmp_path / "long.flac", 440, 600.0, 44100, 2, ("-c:a", "flac"))

    async def during(action) -> tuple:
        library = Library(open_store(tmp_path / "state"), ffmpeg_exe())
        await library.load()
        task = asyncio.create_task(library.analyse_one(long))
        await asyncio.sleep(0.3)
        action()
        result = await task
        await library.store.close()
        return result, library

    changed, library = asyncio.run(during(lambda: long.open("ab").write(b"\0" * 100)))
    assert changed is None and str(long) in library.pending  # looked at again later
    vanished, library = asyncio.run(during(long.unlink))
    assert vanished is None and library.lookup(long) is None


@pytest.mark.parametrize("scan_first", [False, True])
def test_the_first_track_is_analysed_once_whoever_starts_first(tmp_path, monkeypatch, scan_first):
    """At start the feeder analyses its first track at once while the scan sweeps the same
    files: each file is analysed exactly once (counted around the real analysis)."""
    import streamer.library.scanner as scanner

    songs = [make_tone(tmp_path / f"{i}.flac", 440 + 110 * i, 20.0, 44100, 2, ("-c:a", "flac")) for i in range(3)]
    analysed: list[str] = []

    async def counted(ffmpeg, path, nice, *args, **kw):
        analysed.append(path.name)
        return await analyse(ffmpeg, path, nice, *args, **kw)

    monkeypatch.setattr(scanner, "analyse", counted)

    async def start() -> Entry | None:
        library = Library(open_store(tmp_path / "state"), ffmpeg_exe())
        library.want(songs)
        scan = asyncio.create_task(library.run())
        if scan_first:  # the scan is at the first track when the feeder asks for it
            while library._scanning != str(songs[0]):
                await asyncio.sleep(0.01)
        first = await library.analyse_now(songs[0], 10.0)
        while len(library.entries) < 3:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # anything queued twice would start by now
        scan.cancel()
        await library.store.close()
        return first

    first = asyncio.run(start())
    assert first is not None and first.duration == pytest.approx(20.0, abs=0.1)
    assert sorted(analysed) == ["0.flac", "1.flac", "2.flac"], analysed


def test_an_analysis_that_hangs_is_killed_and_not_held_against_the_file(tmp_path, monkeypatch):
    """A hung analysis says nothing about the file (a busy machine or a stalled disk hangs good
    files' too; marking them unplayable took a station off air in QA): it is killed, the file
    gets no row (it airs meanwhile), and it is tried again later, twice as late each time."""
    import streamer.library.scanner as scanner

    hangs = tmp_path / "ffmpeg-that-hangs"
    hangs.write_text("#!/bin/sh\nexec sleep 30\n")
    hangs.chmod(0o755)
    song = make_tone(tmp_path / "a.ogg", 440, 2.0, 44100, 2, ("-c:a", "libvorbis"))
    started = time.monotonic()
    with pytest.raises(AnalysisHung, match="its analysis made no progress for 1 s"):
        asyncio.run(analyse(str(hangs), song, stall=1.0))
    assert time.monotonic() - started < 5
    monkeypatch.setattr(scanner, "analyse", lambda ffmpeg, path, nice: analyse(ffmpeg, path, nice, stall=1.0))

    async def go() -> tuple[Entry | None, Entry | None, list[dict], float, list[dict]]:
        library = Library(open_store(tmp_path / "state"), str(hangs))
        library.want([song])
        first = await library.analyse_now(song, 10.0)  # the feeder's wait: no row, no exception
        stalled = library.problems(unplayable_only=False)
        later = library._later[str(song)] - time.time()
        await library.analyse_one(song)  # the scan's try: again no row, tried twice as late
        await library.store.close()
        return first, library.lookup(song), stalled, later, library.problems(unplayable_only=False)

    first, row, stalled, later, again = asyncio.run(go())
    assert first is None and row is None
    why = "its analysis made no progress for 1 s (a busy machine or a slow disk?); analysed again in 300 s"
    assert [(p["file"].endswith("a.ogg"), p["status"], p["reason"]) for p in stalled] == [(True, "stalled", why)]
    assert 295 < later <= 300 and again[0]["reason"].endswith("analysed again in 600 s")


def test_a_three_hour_file_is_analysed_whole_and_airs_at_once(tmp_path):
    """Three hours (a 440 Hz tone at -18 dBFS; 8 kHz mono FLAC keeps the test short): analysis
    reads to the end without being taken for a hung decoder, and the station plays the file
    from its first second, never decoding it whole."""
    long = tmp_path / "three-hours.flac"
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=8000:d=10800", "-c:a", "flac",
                    str(long)], check=True, timeout=120)  # fmt: skip
    entry = asyncio.run(analyse(ffmpeg_exe(), long, stall=5.0))
    assert entry is not None and entry.status == "ok", entry
    assert abs(entry.duration - 10800) < 0.1 and abs(entry.cue_out - 10800) < 1.0 and entry.cue_in < 0.5
    assert -19.5 < entry.integrated < -17.5 and abs(entry.true_peak + 18.06) < 0.3, entry
    started = time.monotonic()
    server = start_server(tmp_path, f"playlists:\n  music: {{files: ['{long}']}}\nfallback: music\n")
    try:
        assert time.monotonic() - started < 5, "on air at once, whatever the file's length"
        rec = record(server.port, "/main", 3.0)
        assert len(rec.audio) > 16000 * 2 and decode_errors(rec.audio, tmp_path)[0] == []
    finally:
        server.stop()


def test_a_damaged_database_is_moved_aside_and_the_station_plays_on(tmp_path):
    song = make_tone(tmp_path / "a.ogg", 440, 5.0, 44100, 2, ("-c:a", "libvorbis"), "A", "Song")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "library.sqlite").write_bytes(b"not a database, a disk error's leftovers " * 200)
    server = start_server(tmp_path, f"playlists:\n  m: {{files: ['{song}']}}\nfallback: m\n")
    try:
        deadline = time.monotonic() + 10
        while server.status()["library"]["analysed"] < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        status = server.status()
    finally:
        server.stop()
    assert status["library"]["analysed"] == 1 and status["library"]["database"]["ok"]
    assert "is not a usable database" in server.log_text() and "moved aside" in server.log_text()
    assert [p.name for p in (tmp_path / "state").iterdir() if ".damaged-" in p.name]


def test_a_file_known_to_be_silent_is_passed_over_from_the_first_choice_after_a_restart(tmp_path):
    """An hour of silence, first in a sequential playlist and already found silent by the
    library: the restarted station's first choice is the next file. (The library's rows were
    read after the first choice, and an hour of silence takes longer to analyse than the first
    track may wait: the station aired it.)"""
    music = tmp_path / "music"
    music.mkdir()
    subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "3600",
                    "-c:a", "flac", str(music / "a-silent-hour.flac")], check=True, timeout=60)  # fmt: skip
    make_tone(music / "b-song.ogg", 440, 20.0, 44100, 2, ("-c:a", "libvorbis"), "B", "Song")
    programme = f"playlists:\n  music: {{files: ['{music}/'], order: sequential}}\nfallback: music\n"
    (tmp_path / "playlists").mkdir()
    (tmp_path / "playlists" / "station.yaml").write_text(programme)
    (tmp_path / "config.yaml").write_text("mounts:\n  /main: {}\n")
    scan = streamer("library", "scan", cwd=tmp_path)
    assert "silent" in scan.stdout + scan.stderr, scan
    server = start_server(tmp_path, programme)
    try:
        now = server.status()["now_playing"]
    finally:
        server.stop()
    assert now is not None and now["file"].endswith("b-song.ogg"), now


def test_an_mp3_cut_short_cleanly_is_flagged_truncated(tmp_path):
    """An MP3 whose LAME header says 20 s, cut after about 4 s at a byte count (an interrupted
    copy): ffmpeg decodes it without a complaint, and the library called it ok (found by QA)."""
    whole = make_tone(tmp_path / "whole.mp3", 440, 20.0, 44100, 2, ("-c:a", "libmp3lame", "-b:a", "128k"), "A", "Whole")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[:64000])
    entry = asyncio.run(analyse(ffmpeg_exe(), cut, stall=5.0))
    assert entry is not None and entry.status == "truncated", entry
    assert entry.reason == "truncated after 4 s (the file says 20 s)", entry.reason
    assert asyncio.run(analyse(ffmpeg_exe(), whole, stall=5.0)).status == "ok"


def test_an_mp3s_next_item_is_announced_for_when_it_starts(tmp_path):
    """`playing_next.start` of an MP3 counted the container's length, encoder padding included
    (4.04 s for 4 s of audio): it named a time 40-48 ms after the next item's real start (found
    by QA). The library's decoded length is what airs. The first item's start was announced
    0.5 s early (the station's start-up delay was not counted before audio flowed)."""
    a = make_tone(tmp_path / "a.mp3", 440, 4.0, 44100, 2, ("-c:a", "libmp3lame", "-b:a", "128k"), "A", "First")
    b = make_tone(tmp_path / "b.mp3", 550, 4.0, 44100, 2, ("-c:a", "libmp3lame", "-b:a", "128k"), "B", "Second")
    server = start_server(tmp_path, f"playlists:\n  m: {{files: ['{a}', '{b}'], order: sequential}}\nfallback: m\n")
    items: list[tuple[str, str, tuple | None]] = []  # (title, start, what it promised next)
    try:
        deadline = time.monotonic() + 20
        while len(items) < 3 and time.monotonic() < deadline:
            doc = json.loads(server.get("/api/nowplaying")[2])
            now, ahead = doc["now_playing"], doc["playing_next"]
            if now and now["elapsed"] > 0.5 and (not items or items[-1][1] != now["start"]):  # a new item, heard
                items.append((now["title"], now["start"], (ahead["title"], ahead["start"]) if ahead else None))
            time.sleep(0.1)
    finally:
        server.stop()
    assert [title for title, _, _ in items] == ["A - First", "B - Second", "A - First"], items
    assert items[1][2] is not None and items[1][2][0] == "A - First", items
    iso = "%Y-%m-%dT%H:%M:%S.%fZ"
    for promised, came in ((items[0][2], items[1]), (items[1][2], items[2])):
        assert promised is not None and promised[0] == came[0], items
        gap = (dt.datetime.strptime(promised[1], iso) - dt.datetime.strptime(came[1], iso)).total_seconds()
        assert abs(gap) <= 0.005, items


def test_metrics_count_the_files_the_library_will_not_play(station):
    """streamer_unplayable_files read 0 while the library listed the damaged, text, empty and
    silent files as unplayable: it counted only files that had failed on air (found by QA)."""
    server = start_server(station, (station / "playlists" / "station.yaml").read_text())
    try:
        deadline = time.monotonic() + 20
        while server.status()["library"]["pending"] > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        metrics = server.get("/metrics")[2].decode()
    finally:
        server.stop()
    value = next(line for line in metrics.splitlines() if line.startswith("streamer_unplayable_files "))
    assert float(value.split()[1]) == 4, value  # damaged.mp3, notes.mp3, empty.ogg, hush.ogg
    # a truncated file airs what it has, and the log says so (QA: a 2.5 s stub aired without a word)
    assert "cut-short.flac is truncated after 10 s (the file says 20 s): it airs what it has" in server.log_text()
