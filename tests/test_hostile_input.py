"""Bad input met by the pure cores: each case here once took the station off air or worse
(issue 9), and is fed here with plain values."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
import zoneinfo
from pathlib import Path

import pytest

from streamer.config import mount_path_problem, parse_config
from streamer.library.tags import read_track_info
from streamer.news.bulletin import spoken_text
from streamer.news.parse import NewsItem
from streamer.news.post import news_item_from_json
from streamer.schedule.programme import Event, PlaylistDef, Programme
from streamer.schedule.scheduler import Scheduler
from streamer.schedule.sources import expand_sources, glob_regex, watched_folders
from streamer.schedule.timeline import render_timeline
from streamer.sources.logins import FREE_FAILURES, LOCKOUT_AFTER, LoginGuard
from streamer.web.auth import cross_site
from streamer.wire.cors import safe_origin
from streamer.wire.credentials import check_basic
from streamer.wire.formats import StreamInfo
from streamer.wire.http import BadRequest, ChunkedDecoder, listener_head, options_response, safe_host
from streamer.wire.icy import MAX_BLOCK, metadata_block, parse_block
from streamer.wire.text import decode_text, display_path, safe_text
from streamer.yamldoc import ConfigError, Doc, Problem

HERE = Problem("t.yaml", 1, 1, "")
DATE = "Tue, 24 Nov 2026 18:36:58 GMT"

# --- 1. titles made safe where they are made -------------------------------------------------


def test_a_file_name_that_is_not_utf8_makes_a_title_that_encodes(tmp_path):
    path = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.mp3"))
    path.write_bytes(b"\xff\xfb\x90\x00" * 10)  # untagged: the name becomes the title
    info = read_track_info(path)
    assert info.title == "café"
    block = metadata_block(info.display)  # raised UnicodeEncodeError in every pacer before
    assert parse_block(block[1:])["StreamTitle"] == "café"
    assert display_path(path).endswith("/café.mp3")


def test_safe_text_and_decode_text():
    assert safe_text("caf\udce9") == "café"  # an undecodable file-name byte, read as Windows-1252
    assert safe_text("plain ✓") == "plain ✓"
    assert "\ud800" not in safe_text("x\ud800y")  # a lone surrogate from JSON
    assert decode_text("Zvichanaka “”".encode()) == "Zvichanaka “”"
    assert decode_text(b"Beyonc\xe9 \x93Halo\x94") == "Beyoncé “Halo”"  # Latin-1/Windows-1252 senders


def test_a_block_always_ends_with_a_nul():
    for n in range(1, 80):  # every length, the multiples of 16 among them
        block = metadata_block("x" * n)
        text = block[1:]
        assert len(text) == block[0] * 16 and text.endswith(b"\x00"), n
        assert text.rstrip(b"\x00").endswith(b"';")
    assert len(metadata_block("y" * 5000)) - 1 <= MAX_BLOCK


def test_latin1_titles_from_an_upstream_are_read_as_windows_1252():
    raw = b"StreamTitle='Beyonc\xe9 - D\xe9j\xe0 Vu';\x00\x00"
    assert parse_block(raw)["StreamTitle"] == "Beyoncé - Déjà Vu"
    assert parse_block("StreamTitle='Ümit \u2013 Ça';".encode())["StreamTitle"] == "Ümit \u2013 Ça"


# --- credentials, origins, hosts ------------------------------------------------------------


def basic(user: str, password: str, encoding: str = "utf-8") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode(encoding)).decode()


def test_credentials_in_any_encoding_never_raise():
    assert check_basic(basic("tïno", "pässword"), "tïno", "pässword")
    assert check_basic(basic("tïno", "pässword", "latin-1"), "tïno", "pässword")
    assert not check_basic("Basic dGïno", "tino", "x")  # non-ASCII in the base64 itself: was a 500
    assert not check_basic("Basic ====", "a", "b") and not check_basic("Bearer x", "a", "b") and not check_basic("", "a", "b")


def test_failed_logins_are_slowed_then_refused():
    guard, now = LoginGuard(), 1000.0
    delays = [guard.failed("198.51.100.7", now + i * 0.01)[0] for i in range(LOCKOUT_AFTER)]
    assert delays[:FREE_FAILURES] == [0.0] * FREE_FAILURES  # typos are free
    assert delays[FREE_FAILURES] > 0 and delays == sorted(delays) and max(delays) <= 2.0
    assert guard.locked("198.51.100.7", now + 1) > 50  # locked out after LOCKOUT_AFTER in a minute
    assert guard.locked("198.51.100.8", now + 1) == 0  # per address
    assert guard.locked("198.51.100.7", now + 100) == 0  # for a while only
    # A good login does not forget the failures (they age out of the window): a known password
    # of one account (a partner's relay login) must not reset the count between guesses at another
    for i in range(LOCKOUT_AFTER):
        guard.failed("203.0.113.1", now + i)
        guard.succeeded("203.0.113.1")
    assert guard.locked("203.0.113.1", now + LOCKOUT_AFTER) > 0
    assert guard.failed("203.0.113.1", now + 200)[1] == 1  # a minute later: counted afresh
    # Good credentials of another kind are not counted, but held back as the next failure would
    # be: their timing must not tell an attacker the password was right
    prober = LoginGuard()
    for i in range(FREE_FAILURES + 1):
        waited = prober.delay("192.0.2.9", now + i)
        assert waited == prober.failed("192.0.2.9", now + i)[0]
    assert prober.delay("192.0.2.9", now + 10) > 0 and prober.delay("192.0.2.10", now) == 0.0


def test_cross_site_requests_are_refused():
    hosts = ("radio.example:8000", "")
    assert cross_site("POST", {"sec-fetch-site": "cross-site"}, hosts)
    assert cross_site("POST", {"sec-fetch-site": "same-site"}, hosts)  # a sibling subdomain is another site
    assert cross_site("POST", {"origin": "http://evil.example"}, hosts)
    assert cross_site("POST", {"origin": "null"}, hosts)  # sandboxed frames, file: pages
    assert cross_site("GET", {"sec-fetch-site": "cross-site"}, hosts)  # <img src=/admin/killsource…>
    assert cross_site("POST", {"origin": "http://radio.example:8000", "sec-fetch-site": "same-origin"}, hosts) is None
    assert cross_site("POST", {}, hosts) is None  # curl, source clients, Icecast tools
    assert cross_site("GET", {"sec-fetch-site": "none"}, hosts) is None  # typed into the address bar
    assert cross_site("POST", {"origin": "https://radio.example"}, ("x:1", "radio.example")) is None  # behind a TLS proxy


def test_origin_and_host_are_echoed_only_when_plain():
    assert safe_origin("https://player.example:8443") == "https://player.example:8443"
    for bad in ("http://a\rb", "http://a\r\nX-Evil: 1", "javascript:alert(1)", "http://a/b", "", None):
        assert safe_origin(bad) is None
    raw = options_response(DATE, "http://a\rInjected: 1")
    assert b"Injected" not in raw and b"Access-Control-Allow-Origin: *" in raw
    assert safe_host("radio.example:8000") == "radio.example:8000" and safe_host("[::1]:8000") == "[::1]:8000"
    for bad in ("caf\udce9", "a b", "x\r\ny", "evil.example/path", "a" * 300):
        assert safe_host(bad) is None


def test_chunk_sizes_are_hex_digits_only():
    for bad in (b"-5\r\n", b"+5\r\n", b"0x5\r\n", b"5 5\r\n", b"ffffffffff\r\n", b"\r\n"):
        with pytest.raises(BadRequest) as exc:
            ChunkedDecoder().feed(bad + b"hello\r\n")
        assert "malformed chunk size" in str(exc.value)
    assert ChunkedDecoder().feed(b"5;ext=1\r\nhello\r\n0\r\n\r\n") == b"hello"


def test_pass_through_streams_report_only_what_they_carry():
    raw = listener_head(StreamInfo(content_type="audio/ogg", bitrate=None, sample_rate=48000, channels=2), None, DATE)
    assert b"\r\nicy-br:" not in raw and b"\r\nice-audio-info:ice-samplerate=48000;ice-channels=2\r\n" in raw
    raw = listener_head(StreamInfo(bitrate=None, sample_rate=None, channels=None), None, DATE)
    assert b"\r\nicy-br:" not in raw and b"\r\nice-audio-info:" not in raw
    # a relayed upstream that sent no description, genre or URL: those headers are left out, as
    # Icecast does, not sent empty (QA)
    raw = listener_head(StreamInfo(name="Upstream2", description="", genre=" ", url=""), None, DATE)
    assert b"\r\nicy-name:Upstream2\r\n" in raw
    assert all(b"\r\n" + h + b":" not in raw for h in (b"icy-description", b"icy-genre", b"icy-url"))


def test_default_metaint_is_about_a_second_of_audio():
    c = parse_config(
        "mounts:\n  /main: {bitrate: 128}\n  /low: {bitrate: 48, sample_rate: 22050}\n  /x: {metaint: 8192}\n", Path("c.yaml"), env={}
    )
    assert [m.icy_interval for m in c.mounts] == [16000, 6000, 8192]


# --- 10. numbers that are not numbers -------------------------------------------------------


@pytest.mark.parametrize("expires", ["NaN", "Infinity", "-Infinity", "1e309", "-5", "0"])
def test_news_expiry_must_be_a_finite_time_ahead(expires):
    with pytest.raises(ValueError) as exc:
        news_item_from_json(f'{{"title": "T", "expires": {expires}}}'.encode(), 1000.0)
    assert "expires must be seconds from now" in str(exc.value)


def test_news_items_never_carry_non_finite_times():
    item = NewsItem(title="T", published=float("nan"), expires=float("inf"))
    assert item.published == 0.0 and item.expires is None
    json.dumps(item.to_json(), allow_nan=False)


# --- 6. YAML that would eat the machine -------------------------------------------------------


def test_billion_laughs_stops_at_the_node_limit_quickly():
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]\n"
    assert len(bomb) < 700
    start = time.monotonic()
    with pytest.raises(ConfigError) as exc:
        Doc("bomb.yaml", bomb)
    assert time.monotonic() - start < 2.0
    assert "bomb.yaml:" in str(exc.value) and "aliases" in str(exc.value)


def test_a_huge_yaml_file_is_refused_unparsed():
    with pytest.raises(ConfigError) as exc:
        Doc("big.yaml", "x: " + "y" * 2_000_000)
    assert "big.yaml:1:1: file too large" in str(exc.value)


# --- 2. and the folder walks: only regular files, no endless loops ------------------------------


def test_fifos_devices_and_symlink_loops_are_passed_over(tmp_path):
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    (music / "a.mp3").write_bytes(b"x")
    (music / "sub" / "b.ogg").write_bytes(b"x")
    os.mkfifo(music / "fifo.mp3")
    (music / "zero.mp3").symlink_to("/dev/zero")
    for i in range(3):  # three loops: a naive ** walk grows exponentially
        (music / "sub" / f"loop{i}").symlink_to("..")
    spec = PlaylistDef("m", ["music/", "music/**/*.mp3", "music/*"], "shuffle", tmp_path, HERE)
    start = time.monotonic()
    files, _ = expand_sources(spec)
    folders = watched_folders(spec)
    assert time.monotonic() - start < 2.0
    assert [f.relative_to(music).as_posix() for f in files] == ["a.mp3", "sub/b.ogg", "a.mp3", "a.mp3"]  # once per source
    assert {f.relative_to(tmp_path).as_posix() for f in folders} == {"music", "music/sub"}


def test_glob_patterns():
    cases = [("*.mp3", "a.mp3", True), ("*.mp3", "d/a.mp3", False), ("**/*.mp3", "d/e/a.mp3", True), ("**/*.mp3", "a.mp3", True)]
    cases += [("a?[0-9].ogg", "ab1.ogg", True), ("[!x]*", "y", True), ("[!x]*", "x", False), ("a.mp3", "aXmp3", False)]
    for pattern, path, expected in cases:
        assert bool(glob_regex(pattern).match(path)) == expected, (pattern, path)


# --- 7. and 8. mount names and accounts --------------------------------------------------------


def test_one_list_of_reserved_paths():
    for path in ("/", "/healthz", "/api", "/api/status", "/admin/stats", "/status-json.xsl", "/hls/main", "/main.m3u", "/x/"):
        assert mount_path_problem(path), path
    assert mount_path_problem("/live\r\nX-Injected: 1") and mount_path_problem("/a b")
    for path in ("/main", "/radio.mp3", "/apiary", "/studio/b", "/healthzone"):
        assert mount_path_problem(path) is None, path


def test_public_address_rule_covers_every_account():
    text = "users:\n  source: {password: long-enough-1}\n  admin: {password: long-enough-2}\n  relay: {password: long-enough-3}\n"
    assert parse_config(text, Path("c.yaml"), env={}).public_passwords() == []
    c = parse_config(
        text + "djs: {tino: hackme}\nmounts:\n  /main: {}\n  /studio: {source: true, users: {alice: short}}\n", Path("c.yaml"), env={}
    )
    assert c.public_passwords() == ["DJ tino", "/studio user alice"]


# --- 5. bulletins are bounded ------------------------------------------------------------------


def test_spoken_summaries_end_at_a_sentence():
    summary = "First sentence here. Second one, longer than the first! " * 2000  # ~110 KB
    text = spoken_text(NewsItem(title="Headline", summary=summary))
    assert len(text) <= 400 + len("Headline. ")
    assert text.startswith("Headline. First sentence here.") and text.endswith(("!", "."))
    assert spoken_text(NewsItem(title="T", summary="word " * 500)).endswith("…")
    assert spoken_text(NewsItem(title="T")) == "T"


# --- all-unplayable playlists fall back ----------------------------------------------------------


def test_a_playlist_whose_files_all_fail_gives_way_to_the_fallback():
    p = Programme()
    p.playlists = {n: PlaylistDef(n, [], "shuffle", Path("."), HERE) for n in ("broken", "good")}
    p.fallback = "good"
    from streamer.schedule.programme import Block, Fades

    p.blocks = [Block("b", frozenset(range(7)), dt.time(0), dt.time(0), 0, {"broken": 1}, HERE, fades=Fades())]
    bad = [Path(f"bad{i}.mp3") for i in range(5)]
    s = Scheduler(p, {"broken": bad, "good": [Path("ok.mp3")]}, playable=lambda f: f not in bad)
    picks = {s.next_choice(1000.0 + i, []).path for i in range(10)}
    assert picks == {Path("ok.mp3")}


# --- DST: hourly events, and the schedule on a fall-back night -------------------------------------


def test_hourly_events_do_not_fire_twice_on_a_spring_forward_night():
    tz = zoneinfo.ZoneInfo("Europe/London")
    p = Programme(timezone=tz)
    p.events.append(Event("half", "x", "hard", 0, HERE, minute=30))
    s = Scheduler(p, {})
    start = dt.datetime(2027, 3, 28, 0, 0, tzinfo=tz).timestamp()
    got = [dt.datetime.fromtimestamp(o.time, tz).strftime("%H:%M") for o in s.events_between(start, start + 2 * 3600)]
    assert got == ["00:30", "02:30"]  # two real hours; 01:30 does not exist; 02:00 was fired too before the fix


def test_the_schedule_shows_which_0130_on_a_fall_back_night():
    tz = zoneinfo.ZoneInfo("Europe/London")
    p = Programme(timezone=tz)
    p.events.append(Event("half", "x", "hard", 0, HERE, minute=30))
    start = dt.datetime(2026, 10, 25, 0, 0, tzinfo=tz).timestamp()
    lines = [line for line in render_timeline(Scheduler(p, {}), start, 4) if "event half" in line]
    assert [line.split("  ")[0] for line in lines] == ["00:30", "01:30 BST", "01:30 GMT", "02:30"]


def test_multi_valued_tags_are_kept_whole(tmp_path):
    import subprocess

    import mutagen

    from streamer.audio.ffmpeg import ffmpeg_exe

    path = tmp_path / "leftovers.ogg"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "libvorbis", str(path)], check=True)
    tags = mutagen.File(path)
    tags["title"], tags["artist"], tags["isrc"], tags["album"] = (
        ["Living Caves", "Crossroads"],
        ["NeonCorridor"],
        ["ZWABC2600001"],
        ["Caves"],
    )
    tags.save()
    info = read_track_info(path)
    assert info.display == "NeonCorridor - Living Caves / Crossroads"  # was "NeonCorridor - Living Caves"
    assert (info.isrc, info.album) == ("ZWABC2600001", "Caves")


def test_tags_with_line_breaks_and_tabs_are_one_line_everywhere(tmp_path):
    """A title tagged 'tab\\there\\r\\nCRLF end' reached ICY listeners cleaned but /api/nowplaying,
    the pages, the history and the royalty files raw, line breaks and all (found by QA): the
    tags are cleaned where they are read, once for everyone."""
    import subprocess

    import mutagen

    from streamer.audio.ffmpeg import ffmpeg_exe

    path = tmp_path / "multi\nline.ogg"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "libvorbis", str(path)], check=True)
    tags = mutagen.File(path)
    tags["title"], tags["artist"], tags["album"] = ["tab\there\r\nCRLF end"], ["Multi\nLine"], ["A\x00B"]
    tags.save()
    info = read_track_info(path)
    assert (info.artist, info.title, info.album) == ("Multi Line", "tab here CRLF end", "A B")
    assert info.display == "Multi Line - tab here CRLF end"
    untagged = tmp_path / "line\nbreak.mp3"
    untagged.write_bytes(b"\xff\xfb\x90\x00" * 10)
    assert read_track_info(untagged).title == "line break"


def test_an_isrc_in_an_id3_user_frame_or_an_itunes_atom_is_read(tmp_path):
    """ffmpeg's `-metadata ISRC=` writes an MP3's ISRC as TXXX:ISRC, and iTunes-style taggers an
    M4A's as a freeform atom: both were read as no ISRC, so royalty lines had none (found by QA)."""
    import subprocess

    from mutagen.mp4 import MP4

    from streamer.audio.ffmpeg import ffmpeg_exe

    mp3, m4a = tmp_path / "a.mp3", tmp_path / "b.m4a"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=0.5", "-metadata", "ISRC=ZWABC2600001", str(mp3)], check=True)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "aac", str(m4a)], check=True)
    tags = MP4(m4a)
    tags["----:com.apple.iTunes:ISRC"] = [b"ZWABC2600002"]
    tags.save()
    assert read_track_info(mp3).isrc == "ZWABC2600001"
    assert read_track_info(m4a).isrc == "ZWABC2600002"


def test_a_tag_of_lyrics_is_cut_where_it_is_read(tmp_path):
    """QA: a 70 KB title (and a 10 MB one) went whole into every title, log line, status
    document and history row, and stopped HLS and the Opus mount."""
    import subprocess

    import mutagen

    from streamer.audio.ffmpeg import ffmpeg_exe
    from streamer.library.tags import MAX_TAG_CHARS

    path = tmp_path / "lyrics.mp3"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=d=0.5", str(path)], check=True)
    tags = mutagen.File(path, easy=True)
    tags["title"], tags["album"] = ["Lyrics line la la la. " * 3200], ["Caves"]
    tags.save()
    info = read_track_info(path)
    assert len(info.title) == MAX_TAG_CHARS and info.title.startswith("Lyrics line la la la.") and info.title.endswith("\u2026")
    assert info.album == "Caves"


def test_a_control_character_in_a_name_or_agent_leaves_the_admin_xml_well_formed():
    """QA: a source's `ice-name: Evil\\x01Name` made /admin/stats not well-formed XML."""
    import xml.etree.ElementTree as ET

    from streamer.wire.icecast import iceresponse, listclients_xml, listmounts_xml, xml_text

    assert xml_text("Evil\x01Name <b>&\ufffe") == "Evil Name &lt;b&gt;&amp; "
    documents = [
        listclients_xml("/live\x02", [("127.0.0.1", "VLC\x1b[31m", 5, 1)]),
        listmounts_xml([("/x\x00", 1, 2, "audio/mpeg\x07")]),
        iceresponse("no source on \x01"),
    ]
    for doc in documents:
        ET.fromstring(doc)  # raised "not well-formed (invalid token)"


def test_a_line_break_in_a_file_name_cannot_forge_a_log_line():
    """QA: a file named "evil\\n2026-11-28 00:00:00,000 CRITICAL fake line.mp3" put a line of
    its own into the log."""
    import logging

    from streamer.logs import FORMAT, OneLineFormatter

    name = "evil\n2026-11-28 00:00:00,000 CRITICAL fake line.mp3\r\x1b[2J"
    record = logging.LogRecord("streamer.feeder", logging.WARNING, __file__, 1, "skipping %s:\tnot audio", (name,), None)
    line = OneLineFormatter(FORMAT).format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.endswith("skipping evil\\n2026-11-28 00:00:00,000 CRITICAL fake line.mp3\\r\\x1b[2J:\tnot audio")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert OneLineFormatter(FORMAT).format(record).splitlines()[1] == "Traceback (most recent call last):"


def test_news_expiry_as_a_time_is_capped_at_ten_years_as_seconds_are():
    """QA: expires "9999-12-31T23:59:59+00:00" was taken, while seconds are capped at ten years."""
    with pytest.raises(ValueError, match="more than ten years away"):
        news_item_from_json(b'{"title": "T", "expires": "9999-12-31T23:59:59+00:00"}', 1000.0)
    assert news_item_from_json(b'{"title": "T", "expires": "1970-01-02T00:00:00Z"}', 1000.0).expires == 86400.0
