"""Timed events and hot reload on the real server, measured from what a listener receives."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import decode_errors, make_tone, record, sse_events
from .test_history_live import Receiver

pytestmark = pytest.mark.interop

EVENT_TITLE = "News Desk - Top of the Hour"


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    d = tmp_path_factory.mktemp("tones")
    make_tone(d / "long.ogg", 440, 40.0, 44100, 2, ("-c:a", "libvorbis"), "Band", "Long Song")
    make_tone(d / "short1.mp3", 550, 3.0, 44100, 2, ("-c:a", "libmp3lame"), "Band", "Short One")
    make_tone(d / "short2.flac", 660, 3.0, 22050, 1, ("-c:a", "flac"), "Band", "Short Two")
    make_tone(d / "event.ogg", 880, 4.0, 32000, 1, ("-c:a", "libvorbis"), "News Desk", "Top of the Hour")
    return d


def base_yaml(tones, music: str) -> str:
    return (
        "timezone: UTC\n"
        f"playlists:\n  music: {{files: [{music}], order: sequential}}\n  event: {{files: ['{tones / 'event.ogg'}']}}\n"
        "fallback: music\n"
    )


def event_yaml(at: float, start: str) -> str:
    clock = time.strftime("%H:%M:%S", time.gmtime(at))
    return f"events:\n  toh: {{at: '{clock}', play: event, start: '{start}'}}\n"


def listen_while(server, seconds: float, action) -> object:
    got = {}
    t = threading.Thread(target=lambda: got.update(rec=record(server.port, "/main", seconds)))
    t.start()
    try:
        action()
    finally:
        t.join()
    return got["rec"]


def title_arrival(rec, title: str) -> float:
    times = [t for t, fields in rec.block_arrivals if fields.get("StreamTitle") == title]
    assert times, rec.block_arrivals
    return times[0]


MOUNT = "  /main: {bitrate: 128, metaint: 2048}"  # a block every 0.128 s: fine-grained title timing


def test_hard_event_starts_on_its_second(server_factory, tones, tmp_path):
    server = server_factory(base_yaml(tones, f"'{tones / 'long.ogg'}'"), mounts=MOUNT)
    at = float(int(time.time()) + 8)

    def add_event():
        time.sleep(1)  # added while on air: hot reload picks it up
        (tmp_path / "playlists" / "events.yaml").write_text(event_yaml(at, "hard"))

    rec = listen_while(server, at - time.time() + 5, add_event)
    heard = title_arrival(rec, EVENT_TITLE)
    print(f"hard event: title reached the listener {heard - at:+.3f} s from its second")
    assert abs(heard - at) <= 0.5, f"event title reached the listener {heard - at:+.3f} s from its second"
    assert decode_errors(rec.audio, tmp_path)[0] == []
    assert "Band - Long Song" in [f["StreamTitle"] for _, f in rec.block_arrivals]  # it cut the long song


def test_soft_event_waits_for_the_end_of_the_current_track(server_factory, tones, tmp_path):
    shorts = f"'{tones / 'short1.mp3'}', '{tones / 'short2.flac'}'"
    server = server_factory(base_yaml(tones, shorts), mounts=MOUNT)
    at = float(int(time.time()) + 6) + 0.5  # mid-track, most likely

    def add_event():
        (tmp_path / "playlists" / "events.yaml").write_text(event_yaml(at, "soft"))

    rec = listen_while(server, at - time.time() + 8, add_event)
    heard = title_arrival(rec, EVENT_TITLE)
    order = [f["StreamTitle"] for _, f in rec.block_arrivals]
    # It follows a music track's natural end: after the event time, within one 3 s track.
    assert -0.5 <= heard - (at - 0.5) <= 3.0 + 0.5, heard - at
    assert order[order.index(EVENT_TITLE) - 1] in ("Band - Short One", "Band - Short Two")


def test_wait_up_to_cuts_the_track_at_the_deadline(server_factory, tones, tmp_path):
    server = server_factory(base_yaml(tones, f"'{tones / 'long.ogg'}'"), mounts=MOUNT)
    at = float(int(time.time()) + 6)

    def add_event():
        (tmp_path / "playlists" / "events.yaml").write_text(event_yaml(at, "wait 3"))

    rec = listen_while(server, at - time.time() + 7, add_event)
    heard = title_arrival(rec, EVENT_TITLE)
    print(f"wait 3: title reached the listener {heard - at - 3:+.3f} s from the deadline")
    assert abs(heard - (at + 3)) <= 0.5, heard - at


def test_reload_keeps_the_audio_going_and_a_broken_edit_keeps_the_last_good_schedule(server_factory, tones, tmp_path):
    shorts = f"'{tones / 'short1.mp3'}', '{tones / 'short2.flac'}'"
    server = server_factory(base_yaml(tones, shorts), mounts=MOUNT)
    playlists = tmp_path / "playlists"
    seen = {}

    def edits():
        time.sleep(1)
        (playlists / "extra.yaml").write_text("playlists:\n  more: {files: ['%s']}\n" % (tones / "long.ogg"))
        time.sleep(2.5)
        seen["good"] = server.status()["schedule"]["reload"]
        (playlists / "extra.yaml").write_text("playlists:\n  more: {files: [x], ordr: shuffle}\n")
        time.sleep(2.5)
        seen["broken"] = server.status()["schedule"]
        (playlists / "extra.yaml").unlink()
        time.sleep(2.5)
        seen["fixed"] = server.status()["schedule"]["reload"]

    start = time.monotonic()
    rec = listen_while(server, 10, edits)
    elapsed = time.monotonic() - start
    assert seen["good"]["ok"] and any(f.endswith("extra.yaml") for f in seen["good"]["files"])
    broken = seen["broken"]["reload"]
    assert not broken["ok"]
    assert broken["errors"][0] == f"{playlists / 'extra.yaml'}:2:22: unknown key 'playlists.more.ordr' (did you mean 'order'?)"
    assert seen["broken"]["playlists"]["more"] == 1  # still the last good programme
    assert seen["fixed"]["ok"] and not any(f.endswith("extra.yaml") for f in seen["fixed"]["files"])
    # No gap: the listener got real time's worth of audio (plus the burst) and it decodes cleanly.
    assert len(rec.audio) >= 16000 * (elapsed - 0.5)
    assert decode_errors(rec.audio, tmp_path)[0] == []
    assert server.status()["silence_inserted_seconds"] == 0


def test_a_file_dropped_into_a_playlist_folder_goes_into_rotation(server_factory, tones, tmp_path):
    folder = tmp_path / "new-music"
    folder.mkdir()
    shutil.copy(tones / "short1.mp3", folder)
    server = server_factory(base_yaml(tones, f"'{folder}'"), mounts=MOUNT)
    assert server.status()["schedule"]["playlists"]["music"] == 1

    def drop():
        time.sleep(1)
        shutil.copy(tones / "short2.flac", folder / "incoming.tmp")
        (folder / "incoming.tmp").rename(folder / "short2.flac")  # as a careful upload lands
        dropped = time.monotonic()
        while server.status()["schedule"]["playlists"]["music"] != 2:
            assert time.monotonic() - dropped < 5, server.log_text()
            time.sleep(0.2)

    rec = listen_while(server, 12, drop)
    assert "Band - Short Two" in [f["StreamTitle"] for _, f in rec.blocks]
    assert decode_errors(rec.audio, tmp_path)[0] == []


def test_playing_next_names_the_song_that_then_plays(server_factory, tmp_path):
    """/api/nowplaying's `playing_next` is the scheduler's next choice made ahead (a shuffled
    playlist, so it cannot be guessed from the order): every new song is the one announced as
    next just before, and starts when announced (within 1.5 s)."""
    songs = tmp_path / "songs"
    songs.mkdir()
    for i, freq in enumerate((440, 550, 660, 770, 880)):
        make_tone(songs / f"s{i}.mp3", freq, 2.5, 44100, 2, ("-c:a", "libmp3lame"), "Band", f"Song {i}")
    server = server_factory(f"playlists:\n  music: {{files: ['{songs}'], order: shuffle}}\nfallback: music\n")

    def epoch(iso: str) -> float:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()

    seen: list[tuple[str, float, dict | None]] = []  # (now playing, when it started, next) as polled
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        doc = json.loads(server.get("/api/nowplaying")[2])
        seen.append((doc["now_playing"]["title"], epoch(doc["now_playing"]["start"]), doc["playing_next"]))
        time.sleep(0.15)
    changes = [(before, after) for before, after in itertools.pairwise(seen) if after[:2] != before[:2]]
    assert len(changes) >= 5, seen
    for before, after in changes:
        announced = before[2]
        assert announced is not None and announced["title"] == after[0], (before, after)
        assert announced["song"] == {"artist": "Band", "title": after[0].removeprefix("Band - ")}
        assert announced["kind"] == "song" and announced["playlist"] == "music"
        assert abs(epoch(announced["start"]) - after[1]) <= 1.5, (announced, after)


def test_an_edit_that_changes_the_next_song_reaches_the_pages_at_once(server_factory, tones, tmp_path):
    """A DJ swaps the song after the one on air: a `nowplaying` event names the new next song
    within the reload's time, while the same song plays on (no title change to wait for)."""
    server = server_factory(base_yaml(tones, f"'{tones / 'long.ogg'}', '{tones / 'short1.mp3'}'"))
    deadline = time.monotonic() + 10
    while json.loads(server.get("/api/nowplaying")[2])["now_playing"]["title"] != "Band - Long Song" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert json.loads(server.get("/api/nowplaying")[2])["playing_next"]["title"] == "Band - Short One"
    events: list = []
    reader = threading.Thread(target=sse_events, args=(server.port, 8.0, events))
    reader.start()
    time.sleep(1.0)
    edited = time.time()
    (tmp_path / "playlists" / "station.yaml").write_text(base_yaml(tones, f"'{tones / 'long.ogg'}', '{tones / 'short2.flac'}'"))
    reader.join()
    nexts = [(when, name, doc, (doc["playing_next"] or {}).get("title")) for when, name, doc in events if name == "nowplaying"]
    told = [(when, doc) for when, _, doc, title in nexts if title == "Band - Short Two"]
    assert told, [(name, doc and doc.get("playing_next")) for _, name, doc in events]
    assert "short2" not in [title for *_, title in nexts]  # never the file's name: its tags are read first
    when, doc = told[0]
    assert doc["now_playing"]["title"] == "Band - Long Song" and when - edited <= 4.0, when - edited


def test_a_fallback_pointed_at_a_missing_folder_leaves_no_dead_air(server_factory, tones, tmp_path):
    """A DJ's edit sends the only music playlist (the fallback too) to a folder that is not
    there: the reload says so, and what aired lately plays on instead of silence."""
    shorts = f"'{tones / 'short1.mp3'}', '{tones / 'short2.flac'}'"
    server = server_factory(base_yaml(tones, shorts), mounts=MOUNT)
    station_yaml = tmp_path / "playlists" / "station.yaml"
    seen = {}

    def edit():
        time.sleep(4)  # both songs have aired
        station_yaml.write_text(base_yaml(tones, "audio/musik/"))
        time.sleep(6)
        seen.update(server.status())

    start = time.monotonic()
    rec = listen_while(server, 11, edit)
    elapsed = time.monotonic() - start
    reload = seen["schedule"]["reload"]
    assert reload["ok"] and seen["schedule"]["playlists"]["music"] == 0
    warnings = seen["schedule"]["warnings"]
    assert any(w.endswith("playlist 'music': 'audio/musik/' no such folder") for w in warnings), warnings
    reasons = [p["reason"] for p in seen["problems"]]
    assert any("nothing playable" in r and "playing songs that aired lately instead" in r for r in reasons), reasons
    assert seen["silence_inserted_seconds"] == 0
    assert len(rec.audio) >= 16000 * (elapsed - 0.5)
    assert decode_errors(rec.audio, tmp_path)[0] == []
    titles = [fields.get("StreamTitle") for _, fields in rec.block_arrivals if fields.get("StreamTitle")]
    changes = [t for i, t in enumerate(titles) if i == 0 or t != titles[i - 1]]
    assert changes.count("Band - Short One") >= 2, changes  # aired before the edit and again after it


def test_with_nothing_playable_anywhere_the_apis_say_silence_not_the_last_song(server_factory, tones, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for name in ("short1.mp3", "short2.flac"):
        shutil.copy(tones / name, music / name)
    programme = "timezone: UTC\nplaylists:\n  music: {{files: ['{}'], order: sequential}}\nfallback: music\n"
    hook = Receiver()  # the operator's alerts: silence is the station going off air
    hooks = f"webhooks:\n  - {{url: '{hook.url}', events: [station_offline, station_online]}}\n"
    server = server_factory(programme.format(music), mounts=MOUNT, config_extra=hooks)
    station_yaml = tmp_path / "playlists" / "station.yaml"
    time.sleep(1)
    station_yaml.write_text(programme.format(tmp_path / "gone"))
    shutil.rmtree(music)  # what aired lately is gone too: nothing can stand in
    deadline = time.monotonic() + 15
    while json.loads(server.get("/api/nowplaying")[2])["now_playing"] is not None:
        assert time.monotonic() < deadline, "now_playing still names the last song during the silence"
        time.sleep(0.5)
    status = server.status()
    reasons = [p["reason"] for p in status["problems"]]
    assert any("silence until a playlist is fixed" in r for r in reasons), reasons
    assert status["now_playing"] is None  # the operator's view agrees with the listeners'
    code, _, body = server.get("/healthz")  # the mounts carry audio, but it is silence: not on air
    assert code == 503 and "silence until a playlist is fixed" in json.loads(body)["silence"], body
    assert status["health"]["ok"] is False and status["health"]["silence"] == json.loads(body)["silence"]
    deadline = time.monotonic() + 5
    while [event["event"] for _, event in hook.got] != ["station_online", "station_offline"]:
        assert time.monotonic() < deadline, hook.got
        time.sleep(0.2)
    # Players' titles are cleared, and the last song's play ends where the silence began (it
    # was credited with the silence, in the royalty reports too)
    silent = record(server.port, "/main", 2.0)
    assert silent.blocks and silent.blocks[-1][1]["StreamTitle"] == ""  # the burst may still carry the song's
    time.sleep(1.0)  # the history's batch is written
    with sqlite3.connect(tmp_path / "state" / "history.sqlite") as db:
        last = db.execute("SELECT title, ended, seconds FROM plays ORDER BY started DESC LIMIT 1").fetchone()
    assert last[1] is not None and last[2] < 5.0, last  # a 3 s clip's play, closed
    music.mkdir()
    shutil.copy(tones / "short1.mp3", music / "again.mp3")
    station_yaml.write_text(programme.format(music))
    deadline = time.monotonic() + 10
    while (now := json.loads(server.get("/api/nowplaying")[2])["now_playing"]) is None:
        assert time.monotonic() < deadline, "the fixed playlist did not come on air"
        time.sleep(0.5)
    assert now["song"]["title"] == "Short One"


def test_a_short_event_under_a_long_crossfade_is_heard_in_the_clear(server_factory, tones, tmp_path):
    """With a 4 s crossfade, the 4 s event went wholly under the next song: its title held for
    about 0.1 s (QA: 80 ms for a 5 s ident under 5 s). At most a quarter of it is overlapped."""
    programme = base_yaml(tones, f"'{tones / 'long.ogg'}'") + "defaults: {crossfade: 4}\n"
    server = server_factory(programme, mounts=MOUNT)
    at = float(int(time.time()) + 7)

    def add_event():
        time.sleep(1)
        (tmp_path / "playlists" / "events.yaml").write_text(event_yaml(at, "hard"))

    rec = listen_while(server, at - time.time() + 8, add_event)
    heard = title_arrival(rec, EVENT_TITLE)
    after = [t for t, f in rec.block_arrivals if t > heard and f.get("StreamTitle") not in (None, EVENT_TITLE)]
    assert after, rec.block_arrivals
    held = after[0] - heard
    print(f"event title held {held:.2f} s")
    assert 2.6 <= held <= 3.6, held  # 4 s less a quarter overlapped: 3 s
    assert decode_errors(rec.audio, tmp_path)[0] == []


def test_a_missing_file_is_a_problem_until_it_is_there(server_factory, tones, tmp_path):
    """QA: "file not found" stayed in /api/status's problems after the file was created (and
    aired), and after the playlist naming it was removed."""
    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(tones / "short1.mp3", music / "here.mp3")
    programme = f"timezone: UTC\nplaylists:\n  music: {{files: ['{music / 'here.mp3'}', '{music / 'later.mp3'}']}}\nfallback: music\n"
    server = server_factory(programme, mounts=MOUNT)

    def missing() -> list[str]:
        return [Path(p["file"]).name for p in server.status()["problems"] if p["reason"] == "file not found"]

    assert missing() == ["later.mp3"]
    shutil.copy(tones / "short2.flac", music / "later.tmp")
    (music / "later.tmp").rename(music / "later.mp3")  # as a DJ's copy lands: whole, at once
    deadline = time.monotonic() + 15
    while missing() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert missing() == [], server.status()["problems"]
    assert "file not found" not in json.dumps(server.status()["schedule"].get("warnings", []))


def test_a_hard_event_under_a_second_away_is_waited_for_in_silence(server_factory, tones, tmp_path):
    """QA: a track that ended 0.25 s before a hard event was followed by 0.25 s of the next (a
    sliver of a jingle before the news). Under a second before a cut nothing new starts: the
    event's second is waited for in silence. Two 3.3 s songs alternate; the event is put at the
    first whole second 0.3-0.85 s after one of their ends (from playing_next's start, exact to
    the millisecond)."""
    songs = tmp_path / "songs"
    songs.mkdir()
    for name, freq in (("a", 440), ("b", 550)):
        make_tone(songs / f"{name}.flac", freq, 3.3, 44100, 2, ("-c:a", "flac"), "Band", f"Song {name}")
    server = server_factory(base_yaml(tones, f"'{songs / 'a.flac'}', '{songs / 'b.flac'}'"), mounts=MOUNT)
    upcoming = json.loads(server.get("/api/nowplaying")[2])["playing_next"]
    first = dt.datetime.fromisoformat(upcoming["start"].replace("Z", "+00:00")).timestamp()
    ends = (first + 3.3 * k for k in itertools.count())
    end = next(e for e in ends if e >= time.time() + 4 and 0.3 <= math.ceil(e) - e <= 0.85)
    at = float(math.ceil(end))

    predicted: dict = {}

    def add_event():
        (tmp_path / "playlists" / "events.yaml").write_text(event_yaml(at, "hard"))
        time.sleep(max(0.0, end - 1.5 - time.time()))  # the last song before the event is on
        predicted.update(json.loads(server.get("/api/nowplaying")[2])["playing_next"] or {})

    rec = listen_while(server, at - time.time() + 2.5, add_event)
    titled = [(t, f["StreamTitle"]) for t, f in rec.block_arrivals if "StreamTitle" in f]
    changes = [(t, title) for i, (t, title) in enumerate(titled) if i == 0 or titled[i - 1][1] != title]
    event_at = next(t for t, title in changes if title == EVENT_TITLE)
    before = [(t, title) for t, title in changes if t < event_at]
    print(f"song end {end:.3f}, event {at:.0f}; title changes: {[(round(t - at, 2), title) for t, title in changes]}")
    assert abs(event_at - at) <= 0.5, changes
    # the last song before the event started a whole song before its end: no sliver of the next
    assert before and before[-1][1].startswith("Band - Song") and before[-1][0] <= end - 3.3 + 0.5, changes
    # and /api/nowplaying said so beforehand: the event next, at its second
    start = dt.datetime.fromisoformat(predicted.get("start", "1970-01-01T00:00:00Z").replace("Z", "+00:00")).timestamp()
    assert predicted.get("title") == EVENT_TITLE and abs(start - at) < 0.05, predicted
    assert decode_errors(rec.audio, tmp_path)[0] == []


def test_an_event_that_fell_due_just_before_a_start_airs_first(server_factory, tones, tmp_path):
    """QA: a restart at 10:00:00.1 lost the top-of-the-hour ID and the news without a word: an
    event due in the 30 s before the station starts (that the last run did not air) airs first."""
    at = float(int(time.time()) - 3)  # a second the station was down over
    programme = base_yaml(tones, f"'{tones / 'long.ogg'}'") + event_yaml(at, "hard")
    server = server_factory(programme, mounts=MOUNT)
    first = json.loads(server.get("/api/nowplaying")[2])["now_playing"]
    assert first["title"] == EVENT_TITLE and first["kind"] == "event", first
    assert "event toh fell due" in server.log_text() and "before the station started: it airs now" in server.log_text()
    time.sleep(1.0)  # the history's batch is written
    server.stop()  # and restarted at once: the last run aired it, so it does not air again
    again = server_factory(programme, mounts=MOUNT)
    first = json.loads(again.get("/api/nowplaying")[2])["now_playing"]
    assert first["title"] == "Band - Long Song" and "fell due" not in again.log_text(), first


def test_a_jingle_fills_the_seconds_before_a_hard_event_where_a_song_would_be_cut(server_factory, tones, tmp_path):
    """QA: a song started 3 s before the news aired those 3 s and was cut (and counted as a play).
    Songs a (3.3 s) and long (12 s) alternate; the event is put 2.2-3.0 s after one of a's ends:
    there the block's 2 s ident plays instead of the long song (fit.py), and the long song comes
    after the event, in its turn. /api/nowplaying says the ident beforehand."""
    songs = tmp_path / "songs"
    songs.mkdir()
    make_tone(songs / "a.flac", 440, 3.3, 44100, 2, ("-c:a", "flac"), "Band", "Song a")
    make_tone(songs / "long.flac", 550, 12.0, 44100, 2, ("-c:a", "flac"), "Band", "Long")
    make_tone(songs / "id.flac", 990, 2.0, 44100, 2, ("-c:a", "flac"), "Station", "Ident")
    programme = (
        "timezone: UTC\nplaylists:\n"
        f"  music: {{files: ['{songs / 'a.flac'}', '{songs / 'long.flac'}'], order: sequential}}\n"
        f"  ids: {{files: ['{songs / 'id.flac'}']}}\n  event: {{files: ['{tones / 'event.ogg'}']}}\nfallback: music\n"
        "blocks:\n  day: {start: '00:00', end: '00:00', play: music, jingles: {play: ids, every: 100 songs}}\n"
    )
    server = server_factory(programme, mounts=MOUNT)
    upcoming = json.loads(server.get("/api/nowplaying")[2])["playing_next"]
    start = dt.datetime.fromisoformat(upcoming["start"].replace("Z", "+00:00")).timestamp()
    first = start if upcoming["title"] == "Band - Long" else start + 3.3  # an end of a
    ends = (first + 15.3 * k for k in itertools.count())
    end = next(e for e in ends if e >= time.time() + 5 and math.ceil(e + 2.2) - e < 3.0)
    at = float(math.ceil(end + 2.2))
    predicted: dict = {}

    def add_event():
        (tmp_path / "playlists" / "events.yaml").write_text(event_yaml(at, "hard"))
        time.sleep(max(0.0, end - 1.5 - time.time()))  # song a, the last before the event, is on
        predicted.update(json.loads(server.get("/api/nowplaying")[2])["playing_next"] or {})

    rec = listen_while(server, at - time.time() + 7, add_event)
    titled = [(t, f["StreamTitle"]) for t, f in rec.block_arrivals if "StreamTitle" in f]
    changes = [(t, title) for i, (t, title) in enumerate(titled) if i == 0 or titled[i - 1][1] != title]
    print(f"a ends {end:.3f}, event {at:.0f}; title changes: {[(round(t - at, 2), title) for t, title in changes]}")
    near = [(round(t - end, 1), title) for t, title in changes if end - 1 <= t <= at + 6]  # (the 4 s event, then the long song)
    assert [title for _, title in near] == ["Station - Ident", EVENT_TITLE, "Band - Long"], near
    assert abs(near[0][0]) <= 0.5 and abs(near[1][0] - (at - end)) <= 0.5, near
    assert predicted.get("title") == "Station - Ident", predicted
    assert decode_errors(rec.audio, tmp_path)[0] == []


def test_a_broken_edit_found_at_a_restart_airs_the_last_good_programme(server_factory, tones, tmp_path):
    """QA: an open quote in week.yaml, which the running station rode out, took it off air at its
    next restart (exit 2), though playlists.yaml and its fallback were fine. The last good
    programme is kept in the state folder: the restart airs it, says why, and takes the fixed
    file when it comes; `streamer report` keeps the station's time zone meanwhile."""
    station = (
        f"timezone: Africa/Harare\nplaylists:\n  music: {{files: ['{tones / 'long.ogg'}']}}\n"
        f"  talk: {{files: ['{tones / 'short1.mp3'}']}}\nfallback: talk\n"
    )
    week = tmp_path / "playlists" / "week.yaml"
    (tmp_path / "playlists").mkdir()
    week.write_text('blocks:\n  day:\n    start: "00:00"\n    end: "00:00"\n    play: music\n')
    first = server_factory(station)
    assert first.status()["schedule"]["block"]["name"] == "day"
    time.sleep(1.0)  # (kept in a thread after the first load)
    first.stop()
    week.write_text('blocks:\n  day:\n    start: "00:00\n    end: "00:00"\n    play: music\n')  # the quote left open
    server = server_factory(station)  # on air: start_server waits for /healthz 200
    reload = server.status()["schedule"]["reload"]
    print(reload)
    assert reload["ok"] is False and any(e.startswith(f"{week}:3:") for e in reload["errors"]), reload
    assert server.status()["schedule"]["block"]["name"] == "day"  # the week as it was, not the fallback alone
    assert "playlists do not load; on air with the last good programme (kept " in server.log_text()
    rec = record(server.port, "/main", 3.0)
    assert rec.blocks and "Band - Long Song" in [f.get("StreamTitle") for _, f in rec.blocks]
    run = [sys.executable, "-m", "streamer", "report", "plays", "--config", str(tmp_path / "config.yaml")]
    done = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "dates are Africa/Harare, as in the last good programme" in done.stderr and "(Africa/Harare)" in done.stdout, done
    week.write_text('blocks:\n  evening:\n    start: "00:00"\n    end: "00:00"\n    play: talk\n')  # fixed, and changed
    deadline = time.time() + 10
    while server.status()["schedule"]["block"]["name"] != "evening":
        assert time.time() < deadline, server.status()["schedule"]
        time.sleep(0.2)
    assert server.status()["schedule"]["reload"]["ok"] is True
    kept = json.loads((tmp_path / "state" / "last-good-programme.json").read_text())
    assert any("evening" in text for _, text in kept["files"]), kept
