"""Formats and HLS with plain values: Ogg chains for late listeners, HLS segments on the
station's clock, the HLS answers, and the format rules a config must follow."""

from __future__ import annotations

import itertools
from pathlib import Path

import m3u8
import pytest

from streamer.config import parse_config
from streamer.stream import hls_keep
from streamer.stream.chains import Chains
from streamer.stream.hls import CLOCK, HlsVariant
from streamer.stream.hls_listeners import HlsListeners
from streamer.stream.hls_server import HlsOutput
from streamer.wire.id3 import parse_id3, tag_length
from streamer.yamldoc import ConfigError

F = Path("/etc/streamer/config.yaml")


def test_a_late_ogg_listener_gets_the_headers_of_the_chain_its_burst_begins_in():
    chains = Chains()
    chains.begin(0)
    chains.headers_done(b"H1" * 10, 20)
    chains.begin(5000)
    chains.headers_done(b"H2" * 10, 5020)
    assert chains.listen_start(3000, base=0) == (3000, b"H1" * 10)  # in chain 1's audio: its headers first
    assert chains.listen_start(5010, base=0) == (5000, b"")  # inside chain 2's headers: begin at them
    assert chains.listen_start(6000, base=4000) == (6000, b"H2" * 10)
    assert chains.listen_start(10, base=0) == (0, b"")  # inside chain 1's headers
    chains.begin(9000)  # chain 3's headers are not all in yet
    assert chains.listen_start(9000, base=0) == (9000, b"")
    assert chains.listen_start(8000, base=0) == (8000, b"H2" * 10)


def frame(samples: int = 1024) -> bytes:
    size = 100
    return bytes([0xFF, 0xF1, 0x50, 0x80 | (size >> 11), (size >> 3) & 0xFF, ((size & 7) << 5) | 0x1F, 0xFC]) + bytes(size - 7)


def feed(variant: HlsVariant, frames: int, title_at: dict[int, str] | None = None) -> None:
    for k in range(frames):
        variant.frame(frame(), 1024, (title_at or {}).get(k), k * 1024)


def test_segments_cover_the_same_wall_clock_interval_in_every_variant():
    wall0 = 1_000_000.0  # sample 0 airs at this wall time (a multiple of 4 s: segments start with it)
    a = HlsVariant("lo", 64, 44100, 4.0, 3, lambda s: wall0 + s / 44100)
    b = HlsVariant("hi", 128, 44100, 4.0, 3, lambda s: wall0 + s / 44100)
    feed(a, 700, {0: "First", 300: "Second"})
    feed(b, 700)
    for v in (a, b):
        v.publish(wall0 + 60)
    assert [s.seq for s in a.segments] == [s.seq for s in b.segments] == [250000, 250001, 250002, 250003]  # 16.25 s fed
    counts = [s.samples // 1024 for s in a.segments]
    assert all(n in (172, 173) for n in counts) and sum(counts) == 690  # frames 0..689 start within the first 16 s
    first = a.segments[0]
    assert first.start == wall0 and first.discontinuity and not a.segments[1].discontinuity
    data = a.segments[1].data
    assert len(data) % 188 == 0 and data[0] == 0x47
    text = a.playlist()
    assert "#EXT-X-MEDIA-SEQUENCE:250001" in text and "#EXT-X-TARGETDURATION:4" in text and "250003.ts" in text  # a window of 3
    assert "#EXT-X-PROGRAM-DATE-TIME:1970-01-12T13:46:44.0" in text


def test_a_segment_is_published_when_its_last_sample_airs():
    v = HlsVariant("lo", 64, 44100, 4.0, 6, lambda s: 100.0 + s / 44100)
    feed(v, 350)  # two segments finished, a third begun
    v.publish(100.0 + 3.9)
    assert not v.segments
    v.publish(100.0 + 4.02)
    assert [s.seq for s in v.segments] == [25]


def test_titles_travel_as_id3_at_their_pts_and_at_each_segment_start():
    wall0 = 400.0
    v = HlsVariant("lo", 64, 44100, 4.0, 6, lambda s: wall0 + s / 44100)
    feed(v, 600, {10: "Artist - Song", 200: "Next - One"})
    v.publish(1e9)
    tags = []
    for seg in v.segments:
        data, pos = seg.data, 0
        while (i := data.find(b"ID3\x04", pos)) >= 0:  # (the PMT says "ID3 " too)
            tags.append(parse_id3(data[i : i + tag_length(data[i:])])["TIT2"])
            pos = i + 3
    assert tags == ["", "Artist - Song", "Artist - Song", "Next - One", "Next - One"]  # 3 segments of 4 s done
    assert round((wall0 + 10 * 1024 / 44100) * CLOCK) % (1 << 33) > 0


def test_hls_answers_cache_for_caches_and_say_what_is_missing():
    v = HlsVariant("lo", 64, 44100, 4.0, 3, lambda s: 1000.0 + s / 44100)
    feed(v, 900)
    out = HlsOutput([v], 4.0)
    out.publish(1e9)
    master = out.answer("GET", "/hls/live.m3u8", {}, ("1.2.3.4", "ua"), 0)
    assert b"200 OK" in master.split(b"\r\n")[0] and b'CODECS="mp4a.40.2"' in master and b"lo/live.m3u8" in master
    playlist = out.answer("GET", "/hls/lo/live.m3u8", {}, ("1.2.3.4", "ua"), 0)
    assert b"Cache-Control: public, max-age=2\r\n" in playlist and b"application/vnd.apple.mpegurl" in playlist
    seq = v.live[-1].seq
    segment = out.answer("GET", f"/hls/lo/{seq}.ts", {}, ("1.2.3.4", "ua"), 0)
    etag = next(line.split(b": ")[1] for line in segment.split(b"\r\n") if line.startswith(b"ETag"))
    assert b"max-age=3600, immutable" in segment and segment.endswith(v.live[-1].data)
    again = out.answer("GET", f"/hls/lo/{seq}.ts", {"if-none-match": etag.decode()}, ("1.2.3.4", "ua"), 0)
    assert again.startswith(b"HTTP/1.1 304")
    assert out.answer("GET", "/hls/lo/1.ts", {}, ("1.2.3.4", "ua"), 0).startswith(b"HTTP/1.1 404")  # expired
    future = out.answer("GET", f"/hls/lo/{seq + 5}.ts", {}, ("1.2.3.4", "ua"), 0)
    assert future.startswith(b"HTTP/1.1 404") and b"live now" in future  # not a hang
    assert out.answer("GET", "/hls/nope/live.m3u8", {}, ("1.2.3.4", "ua"), 0).startswith(b"HTTP/1.1 404")
    assert out.answer("HEAD", f"/hls/lo/{seq}.ts", {}, ("1.2.3.4", "ua"), 0).endswith(b"\r\n\r\n")


def _numbered_by_place(playlist: str) -> m3u8.M3U8:
    """The playlist, checked: every segment's number is its place (RFC 8216's media sequence
    numbers are implicit), so `_HLS_msn` and a player's count agree with our segment names."""
    parsed = m3u8.loads(playlist)
    assert [int(s.uri.split(".")[0]) for s in parsed.segments] == [parsed.media_sequence + i for i in range(len(parsed.segments))]
    return parsed


def test_a_hole_in_a_variants_audio_is_bridged_with_silence():
    """An HLS encoder that restarts leaves a hole in the variant's audio (QA: 2.86 s, across a
    segment boundary: timestamps jumped, and a segment number was skipped when the hole held a
    whole segment, so the playlist's implicit numbers no longer matched the names). The hole is
    filled with silent frames: every number is there, the audio's time runs on frame after
    frame, and no discontinuity is needed. A hole of a few frames (under 0.1 s) stays."""
    v = HlsVariant("lo", 64, 44100, 4.0, 10, lambda s: 1_000_000.0 + s / 44100)
    kept = [*range(0, 100), *range(103, 300), *range(720, 1000)]  # 3 frames missing at 100; 420 (9.75 s) at 300
    for k in kept:
        v.frame(frame(), 1024, None, k * 1024)
    v.publish(1e9)
    parsed = _numbered_by_place(v.playlist())
    assert [s.discontinuity for s in parsed.segments] == [i == 0 for i in range(len(parsed.segments))]
    step = 1024 / 44100
    holes = [round((b.start - a.start - a.samples / 44100) / step, 3) for a, b in zip(v.segments, list(v.segments)[1:], strict=False)]
    assert holes[0] == 3 and all(0 <= h < 1 for h in holes[1:])  # the short hole; the rest within a frame
    assert v.current is not None and sum(b.samples for b in v.segments) + v.current.samples == (1000 - 3) * 1024  # all but the short hole
    hole = [b for b in v.segments if b.start > 1_000_000.0 + 301 * step and b.start + b.samples / 44100 < 1_000_000.0 + 719 * step]
    assert len(hole) == 2 and all(v.silence in b.data and frame() not in b.data for b in hole)  # whole segments of silence


def test_a_hole_longer_than_the_window_is_bridged_for_the_window_and_is_a_discontinuity():
    """Silence for what the playlist can still show: the window before the audio resumes, after
    a discontinuity (the timestamps jump from where the audio stopped); numbers stay by place."""
    v = HlsVariant("lo", 64, 44100, 4.0, 3, lambda s: 1_000_000.0 + s / 44100)
    run = None
    for k in [*range(0, 300), *range(3000, 3005)]:  # 63 s missing
        v.frame(frame(), 1024, None, k * 1024)
        v.publish(1_000_000.0 + (k + 1) * 1024 / 44100)  # as it airs: the window slides
        run = v.discontinuity_sequence if run is None else run
    parsed = _numbered_by_place(v.playlist())
    resumed = v.current.seq if v.current else 0
    assert [s.discontinuity for s in parsed.segments] == [True, False, False]  # the fill's first segment
    assert [int(s.uri.split(".")[0]) for s in parsed.segments] == [resumed - 3, resumed - 2, resumed - 1]
    assert parsed.segments[0].current_program_date_time.timestamp() == (resumed - 3) * 4.0  # from its slot's start
    assert parsed.discontinuity_sequence == run + 1  # the run's first segment (before the hole) left the window
    for k in range(3005, 3400):
        v.frame(frame(), 1024, None, k * 1024)
        v.publish(1_000_000.0 + (k + 1) * 1024 / 44100)
    parsed = _numbered_by_place(v.playlist())
    assert not any(s.discontinuity for s in parsed.segments) and parsed.discontinuity_sequence == run + 2


THREE_CHANNELS, HE_AAC = bytes([0xFF, 0xF1, 0x50, 0xC0, 0, 0, 0]), bytes([0xFF, 0xF1, 0x90, 0x80, 0, 0, 0])


@pytest.mark.parametrize("header", [THREE_CHANNELS, HE_AAC], ids=["3 channels", "HE-AAC"])
def test_a_hole_that_cannot_be_bridged_is_a_discontinuity(header):
    """No silent frame for a layout or profile the builder does not make: the segment after a
    hole across a boundary is marked EXT-X-DISCONTINUITY instead (its timestamps jump)."""
    size = 100
    odd = header[:3] + bytes([header[3] | (size >> 11), (size >> 3) & 0xFF, ((size & 7) << 5) | 0x1F, 0xFC]) + bytes(size - 7)
    v = HlsVariant("lo", 64, 44100, 4.0, 10, lambda s: 1_000_000.0 + s / 44100)
    for k in [*range(0, 300), *range(420, 800)]:
        v.frame(odd, 1024, None, k * 1024)
    v.publish(1e9)
    assert v.silence == b""
    after = next(i for i, b in enumerate(v.segments) if b.start >= 1_000_000.0 + 420 * 1024 / 44100)
    assert [b.discontinuity for b in v.segments] == [i in (0, after) for i in range(len(v.segments))]


def test_the_discontinuity_sequence_counts_the_discontinuities_that_left_the_window():
    """RFC 8216 4.3.3.3: removing a segment with EXT-X-DISCONTINUITY from the playlist raises
    EXT-X-DISCONTINUITY-SEQUENCE, or a player loses its place in the discontinuity numbering."""
    v = HlsVariant("lo", 64, 44100, 4.0, 3, lambda s: 1_000_000.0 + s / 44100)
    out = HlsOutput([v], 4.0)
    feed(v, 520)  # three segments
    v.publish(1e9)
    first, _ = out.playlist(v)
    run = v.segments[0].seq  # the run's first segment: its discontinuity count starts there
    assert b"#EXT-X-DISCONTINUITY\n" in first and f"#EXT-X-DISCONTINUITY-SEQUENCE:{run}\n".encode() in first
    for k in range(520, 1100):
        v.frame(frame(), 1024, None, k * 1024)
    v.publish(1e9)
    later, _ = out.playlist(v)
    parsed = m3u8.loads(later.decode())
    assert parsed.discontinuity_sequence == run + 1 and not any(s.discontinuity for s in parsed.segments)
    assert parsed.media_sequence == v.live[0].seq and v.live[0].seq > v.segments[0].seq
    # the station restarts 100 s later: segment numbers go on from the wall clock, and the
    # discontinuity count must not go back either (RFC 8216 6.2.2), or a player that reloads
    # across the restart loses its place
    again = HlsVariant("lo", 64, 44100, 4.0, 3, lambda s: 1_000_000.0 + 100 + s / 44100)
    feed(again, 520)
    again.publish(1e9)
    after = m3u8.loads(HlsOutput([again], 4.0).playlist(again)[0].decode())
    assert after.media_sequence > parsed.media_sequence and after.discontinuity_sequence > parsed.discontinuity_sequence


def test_a_playlist_is_made_once_per_published_segment():
    v = HlsVariant("lo", 64, 44100, 4.0, 3, lambda s: 1000.0 + s / 44100)
    out = HlsOutput([v], 4.0)
    feed(v, 600)
    v.publish(1e9)
    body, etag = out.playlist(v)
    assert out.playlist(v)[0] is body  # the same bytes, not made again
    for k in range(600, 800):
        v.frame(frame(), 1024, None, k * 1024)
    v.publish(1e9)
    newer, new_etag = out.playlist(v)
    assert newer != body and new_etag != etag and newer == v.playlist().encode()


def test_hls_listeners_are_clients_seen_within_two_segments():
    seen = HlsListeners(4.0)
    seen.saw("1.1.1.1", "Safari", "lo", 100.0)
    seen.saw("1.1.1.1", "Safari", "lo", 103.0)  # the same player polling
    seen.saw("2.2.2.2", "hls.js", "hi", 101.0)
    assert seen.count(104.0) == 2 and seen.count(104.0, "hi") == 1 and seen.count(111.5) == 0


def test_hls_players_have_sessions_from_first_request_to_a_segment_after_the_last():
    seen = HlsListeners(4.0)
    events: list[tuple[str, str, float]] = []
    seen.on_start = lambda c, t: events.append(("start", c.id, t))
    seen.on_end = lambda c, t: events.append(("end", c.id, t))
    a = seen.saw("1.1.1.1", "Safari", "lo", 100.0, "https://radio.example/")
    assert a is not None and a.referer == "https://radio.example/" and a.request == "GET /hls/lo/live.m3u8 HTTP/1.1"
    for t in (104.0, 108.0, 112.0):
        assert seen.saw("1.1.1.1", "Safari", "hi", t) is a  # polling (and switching variant): one session
    a.sent += 5000
    b = seen.saw("2.2.2.2", "hls.js", "hi", 101.0)
    assert b is not None and b.id != a.id
    seen.sweep(115.0)  # b last seen 14 s ago (> 2 segments): ended a segment after its request
    assert events == [("start", a.id, 100.0), ("start", b.id, 101.0), ("end", b.id, 105.0)]
    seen.sweep(115.5)  # at most once a second: a is not looked at again yet
    assert seen.count(115.5) == 1 and seen.count(115.5, "hi") == 1 and a.sent == 5000
    c = seen.saw("1.1.1.1", "Safari", "lo", 130.0)  # back after a silence: a new session, the old one ends first
    assert c is not None and c is not a and events[-2:] == [("end", a.id, 116.0), ("start", c.id, 130.0)]


def test_two_players_behind_one_address_and_agent_count_once_and_on_each_variant_they_poll():
    """QA: two ffmpegs from 127.0.0.1, one on aac64 and one on aac128: one listener (the
    documented rule), but aac64 said 0 while it was polled."""
    seen = HlsListeners(2.0)
    for t in (100.0, 101.0, 102.0):
        seen.saw("127.0.0.1", "Lavf/59.27.100", "aac64", t)
        seen.saw("127.0.0.1", "Lavf/59.27.100", "aac128", t + 0.5)
    assert (seen.count(103.0), seen.count(103.0, "aac64"), seen.count(103.0, "aac128")) == (1, 1, 1)
    seen.saw("127.0.0.1", "Lavf/59.27.100", "aac128", 106.0)  # aac64's player went quiet 4 s (two segments) ago
    assert (seen.count(106.5), seen.count(106.5, "aac64"), seen.count(106.5, "aac128")) == (1, 0, 1)


def test_hls_clients_followed_at_once_are_bounded(monkeypatch):
    monkeypatch.setattr("streamer.stream.hls_listeners.MAX_CLIENTS", 3)
    seen = HlsListeners(4.0)
    assert all(seen.saw(f"10.0.0.{i}", "bot", "lo", 100.0) is not None for i in range(3))
    assert seen.saw("10.0.0.9", "bot", "lo", 101.0) is None  # answered, not followed
    assert seen.saw("10.0.0.9", "bot", "lo", 109.0) is not None  # the first three went quiet: room again
    assert seen.count(109.0) == 1


@pytest.mark.parametrize(
    ("mount", "message"),
    [
        ("{format: wav}", "mounts./x.format: must be one of mp3, aac, opus, vorbis, flac, not 'wav'"),
        ("{format: AAC}", "mounts./x.format: must be one of mp3, aac, opus, vorbis, flac, not 'AAC' (did you mean 'aac'?)"),
        ("{format: flac, bitrate: 128}", "mounts./x.bitrate: flac is lossless and takes no bitrate (remove it)"),
        ("{format: opus, sample_rate: 44100}", "mounts./x.sample_rate: must be one of 48000, not 44100"),
        ("{format: aac, bitrate: 1000}", "mounts./x.bitrate: must be between 8 and 320, not 1000"),
        # (QA: taken, and nothing came of it)
        ("{format: opus, metaint: 8192}", "mounts./x.metaint: opus mounts send their titles in Ogg chains, not ICY metadata (remove it)"),
    ],
)
def test_formats_take_only_what_they_can(mount, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(f"mounts:\n  /main: {{}}\n  /x: {mount}\n", F, env={})
    assert any(str(p).endswith(message) for p in exc.value.problems), exc.value.problems
    assert str(exc.value.problems[0]).startswith("/etc/streamer/config.yaml:3:")


def test_an_hls_window_holds_three_target_durations_and_an_hls_section_without_variants_is_said():
    """QA: window 2 (4 s of 2 s segments) and 3 (5.99 s: segments end on AAC frames) were taken,
    under RFC 8216 6.2.2's three target durations; `variants: []` made no HLS and said nothing."""
    hls = "hls:\n  segment: {}\n  window: {}\n  variants: [{{name: lo, bitrate: 48}}]\n"
    for segment, window, needed in ((2, 3, 4), (2, 2, 4), (1.5, 4, 5), (4, 3, 4)):
        with pytest.raises(ConfigError) as exc:
            parse_config(hls.format(segment, window), F, env={})
        assert str(exc.value.problems[0]).endswith(f"RFC 8216 6.2.2): use window: {needed} or more"), exc.value.problems
        assert str(exc.value.problems[0]).startswith("/etc/streamer/config.yaml:3:")
    for segment, window in ((2, 4), (4, 6), (1, 4), (1.5, 5)):
        assert parse_config(hls.format(segment, window), F, env={}).hls.window == window
    empty = parse_config("hls:\n  segment: 4\n  variants: []\n", F, env={})
    assert [str(n) for n in empty.notes] == [
        "/etc/streamer/config.yaml:3:13: hls has no variants: no HLS is made (add variants: [{name: aac64, bitrate: 64}])"
    ]
    assert parse_config("mounts:\n  /main: {}\n", F, env={}).notes == ()
    with pytest.raises(ConfigError) as exc:  # a list item's field as hand-written messages say it (it was hls.variants.0.bitrate)
        parse_config("hls:\n  variants:\n    - {name: lo, bitrate: 5}\n", F, env={})
    assert str(exc.value.problems[0]).endswith("hls.variants[0].bitrate: must be between 16 and 320, not 5"), exc.value.problems


def test_format_defaults():
    c = parse_config("mounts:\n  /a: {format: aac}\n  /o: {format: opus}\n  /f: {format: flac}\n", F, env={})
    assert [(m.format, m.bitrate, m.sample_rate) for m in c.mounts] == [("aac", 96, 44100), ("opus", 96, 48000), ("flac", 0, 44100)]


def test_a_variant_that_publishes_nothing_for_three_segments_is_off_air():
    """QA: an HLS encoder failing again and again froze the playlists while /healthz said ok."""
    wall0 = 1000.0
    v = HlsVariant("lo", 64, 44100, 4.0, 3, lambda s: wall0 + s / 44100)
    out = HlsOutput([v], 4.0)
    out.publish(wall0)
    assert out.off_air(wall0 + 12) == []  # (the first segment is still being made)
    assert out.off_air(wall0 + 12.5) == ["/hls/lo"]
    feed(v, 200)  # 4.6 s of frames: the first segment is made, and published once it has aired
    out.publish(wall0 + 13)
    assert out.off_air(wall0 + 13) == [] and out.view(wall0 + 13)[0]["on_air"]
    assert out.off_air(wall0 + 25.1) == ["/hls/lo"] and not out.view(wall0 + 25.1)[0]["on_air"]


@pytest.mark.parametrize(("parts", "container"), [(0.0, "ts"), (1.0, "ts"), (0.0, "fmp4")], ids=["segments", "low-latency parts", "fMP4"])
def test_a_kept_window_goes_on_after_a_restart_with_the_gap_bridged_and_nothing_else_changed(tmp_path, parts, container, caplog):
    """hls_keep: what the last run published is listed and served as it was; the next run's
    numbers and times go on, the restart bridged with silence (no discontinuity); a window made
    with other settings, one too old or a broken file is not carried on, the last with a warning."""
    wall0, step = 1_000_000.0, 1024 / 44100
    old = HlsVariant("lo", 64, 44100, 2.0, 6, lambda s: wall0 + s / 44100, container, parts)
    for k in range(400):  # 9.3 s
        old.frame(frame(), 1024, "Artist - Song" if k == 0 else None, k * 1024)
        old.publish(wall0 + (k + 1) * step)
    before = old.playlist()
    assert hls_keep.save(tmp_path, [old], wall0 + 400 * step) == len(old.segments)
    restart = wall0 + 450 * step  # 1.2 s later
    new = HlsVariant("lo", 64, 44100, 2.0, 6, lambda s: restart + s / 44100, container, parts)
    other = HlsVariant("lo", 96, 44100, 2.0, 6, lambda s: restart + s / 44100, container, parts)
    assert hls_keep.resume(tmp_path, [new], restart) == 1 and hls_keep.resume(tmp_path, [other], restart) == 0
    assert new.playlist() == before and [b.data for b in new.segments] == [b.data for b in old.segments] and new.init == old.init
    if not parts:  # the segment it was filling goes on from its last frame (QA: from the last published one, 2 s of aired audio lost)
        assert new.current is not None and new.current.frames == old.current.frames and new._next_wall == pytest.approx(wall0 + 400 * step)
    for k in range(300):
        new.frame(frame(), 1024, None, k * 1024)
        new.publish(restart + (k + 1) * step)
    parsed = m3u8.loads(new.playlist())
    listed = [s for s in parsed.segments if s.uri]  # (m3u8 lists the parts after the last segment as one without a URI)
    numbers = [int(s.uri.split(".")[0]) for s in listed]
    assert numbers == list(range(parsed.media_sequence, parsed.media_sequence + len(numbers))) and len(numbers) == 6
    assert not any(s.discontinuity for s in listed)
    kept = list(new.segments)
    for a, b in itertools.pairwise(kept):
        assert abs(a.start + a.samples / 44100 - b.start) < step, (a.seq, b.seq)  # no time missing: the gap is silence
    assert any(new.silence[7:] in b.data for b in kept) and new.title == "Artist - Song"  # (fMP4 keeps no ADTS header)
    later = HlsVariant("lo", 64, 44100, 2.0, 6, lambda s: s)
    assert hls_keep.resume(tmp_path, [later], wall0 + 400 * step + 11.0) == 0  # past the window less a segment
    (tmp_path / hls_keep.FILE).write_bytes(b"not a database")
    assert hls_keep.resume(tmp_path, [later], restart) == 0 and "starting afresh" in caplog.text


def test_a_mounts_burst_is_said_in_its_own_bytes_per_second():
    """QA: /vorbis (112 kbit/s nominal, about 35 on the shipped music) said burst_seconds 4.68
    while its 64 KB burst held 12 s of audio; /hifi (FLAC) said none."""
    from types import SimpleNamespace

    from streamer.documents import burst_seconds

    def mount(bitrate: int, made: int, seconds: float | None) -> SimpleNamespace:
        clock = None if seconds is None else SimpleNamespace(samples_sent=int(seconds * 44100))
        return SimpleNamespace(clock=clock, sample_rate=44100, buffer=SimpleNamespace(end=made),
                               info=SimpleNamespace(bitrate=bitrate), config=SimpleNamespace(burst_size=65536))  # fmt: skip

    assert burst_seconds(mount(112, 35_000 // 8 * 600, 600.0)) == pytest.approx(65536 / 4375, abs=0.01)  # 15 s, not 4.68
    assert burst_seconds(mount(0, 88_000 * 60, 60.0)) == pytest.approx(65536 / 88_000, abs=0.01)  # FLAC: its own rate
    assert burst_seconds(mount(128, 16_000 * 30, 30.0)) == pytest.approx(4.1, abs=0.01)  # CBR: as before
    assert burst_seconds(mount(128, 0, None)) == pytest.approx(4.1, abs=0.01) and burst_seconds(mount(0, 0, None)) is None
    assert burst_seconds(mount(128, 16_000 * 2, 2.0)) == pytest.approx(4.1, abs=0.01)  # the whole burst (read before connecting)
