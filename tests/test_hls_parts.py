"""Low-latency HLS with plain values: partial segments cut on the station's clock and published
as they air, the playlist that lists them, blocking playlist reloads, and the title tag at a
segment's first frame."""

from __future__ import annotations

from pathlib import Path

import m3u8
import pytest

from streamer.config import parse_config
from streamer.stream.hls import HlsVariant
from streamer.stream.hls_server import FIRST_WAIT, HlsOutput, Hold
from streamer.wire.id3 import parse_id3, tag_length
from streamer.yamldoc import ConfigError

from .test_formats_units import feed

WALL0 = 1_000_000.0  # sample 0 airs at this wall time, on a segment boundary
RATE = 44100
CLIENT = ("1.2.3.4", "ua")


def variant(parts: float = 1.0, window: int = 6) -> HlsVariant:
    return HlsVariant("lo", 64, RATE, 4.0, window, lambda s: WALL0 + s / RATE, "ts", parts)


def titles(data: bytes) -> list[str]:
    found, pos = [], 0
    while (i := data.find(b"ID3\x04", pos)) >= 0:  # (the PMT says "ID3 " too)
        found.append(parse_id3(data[i : i + tag_length(data[i:])])["TIT2"])
        pos = i + 3
    return found


def test_a_title_starting_on_a_segments_first_frame_is_the_only_title_tagged_there():
    """The tag that repeats the title at each segment's start carried the old title at the same
    PTS as the new one: hls.js showed the new title a whole segment late (measured: 7.7 s)."""
    v = variant(parts=0)
    per_segment = 173  # frame 173 starts at 4.017 s: the first frame of segment 2
    feed(v, 600, {0: "First", per_segment: "Second"})
    v.publish(1e9)
    assert [titles(s.data) for s in list(v.segments)[:2]] == [["First"], ["Second"]]


def test_parts_are_cut_on_the_clock_and_published_as_they_air():
    v = variant(parts=1.0)
    feed(v, 300)  # 6.97 s: segment 0 whole, segment 1 in parts
    v.publish(WALL0 + 4.5)
    assert [s.seq for s in v.segments] == [250000] and v.pending is None  # segment 1's first part has not aired
    whole = v.segments[0]
    assert [round(p.samples / RATE, 3) for p in whole.parts] == [1.022, 0.998, 0.998, 0.998]  # 44, 43, 43, 43 frames
    assert all(p.data[0] == 0x47 and len(p.data) % 188 == 0 for p in whole.parts)
    assert whole.samples == sum(p.samples for p in whole.parts)
    v.publish(WALL0 + 5.1)  # segment 1's first part (4.017-5.016 s) has aired; its second not yet
    assert v.pending is not None and v.pending.aired == 1
    text = v.playlist()
    parsed = m3u8.loads(text)
    assert parsed.server_control.can_block_reload == "YES" and parsed.part_inf.part_target == pytest.approx(1.023)
    assert float(parsed.server_control.part_hold_back) == pytest.approx(3 * 1.023)
    assert [p.uri for p in parsed.segments[0].parts] == [f"250000.{n}.ts" for n in range(4)]
    assert [p.uri for p in parsed.segments[-1].parts] == ["250001.0.ts"] and parsed.segments[-1].uri is None  # pending
    assert all(p.duration <= parsed.part_inf.part_target for s in parsed.segments for p in s.parts)
    assert v.part(250001, 0) is v.pending.parts[0] and v.part(250001, 1) is None  # not aired yet
    assert v.reached(250001, 0) and not v.reached(250001, 1) and not v.reached(250001, None) and v.reached(250000, None)


def test_no_part_is_longer_than_the_part_target_even_when_the_clock_steps_back():
    walls = iter([WALL0 + k * 1024 / RATE for k in range(30)] + [WALL0 + 0.1 + k * 1024 / RATE for k in range(60)])
    v = HlsVariant("lo", 64, RATE, 4.0, 6, lambda s: next(walls), "ts", 1.0)
    feed(v, 90)  # from frame 30 on the station's clock says 0.6 s earlier than it did
    v.publish(1e9)
    assert v.current is not None and max(p.samples for p in v.current.parts) / RATE <= v.part_target
    assert m3u8.loads(v.playlist())  # the playlist is still written


def test_a_segment_is_its_parts_back_to_back():
    v = variant(parts=1.0)
    feed(v, 200)
    v.publish(1e9)
    whole = v.segments[0]
    assert whole.data == b"".join(p.data for p in whole.parts) and whole.data.count(b"\x47\x40\x00") == 4  # a PAT per part
    plain = variant(parts=0)
    feed(plain, 200)
    plain.publish(1e9)
    assert plain.segments[0].data is plain.segments[0].parts[0].data  # without parts: one part, not copied


def test_parts_of_older_segments_leave_the_playlist_and_titles_open_every_part():
    v = variant(parts=1.0)
    feed(v, 1200, {100: "Song"})  # 27.9 s: six whole segments
    v.publish(1e9)
    parsed = m3u8.loads(v.playlist())
    assert [len(s.parts) for s in parsed.segments[:-1]] == [0, 0, 0, 4, 4, 4]  # the last three (3 target durations)
    assert parsed.segments[-1].uri is None and len(parsed.segments[-1].parts) == 3  # and the one being made
    assert titles(v.segments[-1].parts[2].data) == ["Song"]  # a listener joining at any part gets the title


def test_a_blocking_reload_waits_for_its_part_and_is_woken_when_it_airs():
    v = variant(parts=1.0)
    out = HlsOutput([v], 4.0)
    feed(v, 300)
    out.publish(WALL0 + 5.1)  # parts 250001.0 published
    now = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0, "_HLS_msn=250001&_HLS_part=0")
    assert isinstance(now, bytes) and now.startswith(b"HTTP/1.1 200") and b"250001.0.ts" in now
    held = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0, "_HLS_msn=250001&_HLS_part=1")
    assert isinstance(held, Hold) and held.seconds == 12 and not held.ready()
    woken: list[int] = []
    held.wait(lambda: woken.append(1), WALL0 + 5.1)
    out.publish(WALL0 + 5.5)
    assert woken == []
    out.publish(WALL0 + 6.1)  # part 1 (5.016-6.037 s) has aired
    assert woken == [1] and out.waiters == []
    again = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0, "_HLS_msn=250001&_HLS_part=1")
    assert isinstance(again, bytes) and b"250001.1.ts" in again
    assert held.expired().startswith(b"HTTP/1.1 503") and b"not published within 12 s" in held.expired()
    part = out.answer("GET", "/hls/lo/250001.1.ts", {}, CLIENT, 0)
    assert isinstance(part, bytes) and b"immutable" in part and part.endswith(v.part(250001, 1).data)  # type: ignore[union-attr]


def test_the_next_part_is_hinted_and_a_request_for_it_is_answered_when_it_airs():
    v = variant(parts=1.0)
    out = HlsOutput([v], 4.0)
    feed(v, 300)
    out.publish(WALL0 + 5.1)  # part 250001.0 published: 250001.1 comes next
    playlist = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0)
    assert isinstance(playlist, bytes)
    text = playlist.split(b"\r\n\r\n", 1)[1].decode()
    assert text.rstrip().endswith('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="250001.1.ts"'), text
    assert m3u8.loads(text).preload_hint.uri == "250001.1.ts"
    held = out.answer("GET", "/hls/lo/250001.1.ts", {}, CLIENT, 0)
    assert isinstance(held, Hold) and held.seconds == pytest.approx(3 * v.part_target) and not held.ready()  # three part targets
    assert held.expired().startswith(b"HTTP/1.1 404") and b"not published within 3.1 s" in held.expired()
    beyond = out.answer("GET", "/hls/lo/250001.2.ts", {}, CLIENT, 0)  # not the hint: no waiting
    assert isinstance(beyond, bytes) and beyond.startswith(b"HTTP/1.1 404")
    woken: list[int] = []
    held.wait(lambda: woken.append(1), WALL0 + 5.1)
    out.publish(WALL0 + 5.5)
    assert woken == []
    out.publish(WALL0 + 6.1)  # part 1 has aired
    assert woken == [1] and out.waiters == []
    part = out.answer("GET", "/hls/lo/250001.1.ts", {}, CLIENT, 0)
    assert isinstance(part, bytes) and part.startswith(b"HTTP/1.1 200") and part.endswith(v.part(250001, 1).data)  # type: ignore[union-attr]
    assert b'URI="250001.2.ts"' in out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0)  # type: ignore[operator]


def test_a_playlist_asked_for_before_the_first_segment_waits_for_it():
    v = variant(parts=0)
    out = HlsOutput([v], 4.0)
    held = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0)
    assert isinstance(held, Hold) and held.seconds == FIRST_WAIT and not held.ready()
    low_latency = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0, "_HLS_msn=250001")
    assert isinstance(low_latency, Hold)  # held too, not a 400 for asking beyond a newest that is not there
    woken: list[int] = []
    held.wait(lambda: woken.append(1), WALL0)
    feed(v, 300)
    out.publish(WALL0 + 3.9)  # the first segment (0-4 s) has not aired to its end
    assert woken == [] and out.listeners.count(WALL0 + 3.9, "lo") == 0
    out.publish(WALL0 + 4.1)
    assert woken == [1] and out.waiters == []
    answer = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0)
    assert isinstance(answer, bytes) and answer.startswith(b"HTTP/1.1 200") and b"#EXTINF" in answer and b"250000.ts" in answer
    late = held.expired()
    assert late.startswith(b"HTTP/1.1 404") and b"Retry-After: 2" in late and b"lo has no segment yet (none published within 8 s)" in late


def test_a_playlist_held_for_a_first_segment_that_never_comes_is_dropped_at_its_deadline():
    out = HlsOutput([variant(parts=0)], 4.0)
    held = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0)
    assert isinstance(held, Hold)
    held.wait(lambda: pytest.fail("woken without a segment"), WALL0)
    out.publish(WALL0 + FIRST_WAIT - 0.1)
    assert len(out.waiters) == 1
    out.publish(WALL0 + FIRST_WAIT + 0.1)  # the encoder never delivered: the front door's timer answers 404
    assert out.waiters == []


def test_a_held_reload_that_never_comes_true_is_dropped_at_its_deadline():
    v = variant(parts=1.0)
    out = HlsOutput([v], 4.0)
    feed(v, 300)
    out.publish(WALL0 + 5.1)
    held = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0, "_HLS_msn=250002")
    assert isinstance(held, Hold)
    held.wait(lambda: pytest.fail("woken without its segment"), WALL0 + 5.1)
    out.publish(WALL0 + 5.1 + 12)  # no new frames: the segment never comes
    assert out.waiters == []


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("_HLS_msn=250004", b"400", b"more than 2 segments beyond the newest (250001)"),
        ("_HLS_msn=x", b"400", b"whole numbers"),
        ("_HLS_part=1", b"400", b"_HLS_part needs _HLS_msn"),
        ("other=1", b"200", b"#EXTM3U"),
    ],
)
def test_bad_blocking_reloads_are_told_at_once(query, status, says):
    v = variant(parts=1.0)
    out = HlsOutput([v], 4.0)
    feed(v, 300)
    out.publish(WALL0 + 5.1)
    answer = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0, query)
    assert isinstance(answer, bytes) and answer.split(b" ")[1] == status and says in answer


def test_without_parts_a_blocking_query_is_ignored_and_no_part_is_served():
    v = variant(parts=0)
    out = HlsOutput([v], 4.0)
    feed(v, 300)
    out.publish(1e9)
    answer = out.answer("GET", "/hls/lo/live.m3u8", {}, CLIENT, 0, "_HLS_msn=999999999")
    assert isinstance(answer, bytes) and answer.startswith(b"HTTP/1.1 200") and b"PART" not in answer
    assert out.answer("GET", "/hls/lo/250000.0.ts", {}, CLIENT, 0).startswith(b"HTTP/1.1 404")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("hls", "says"),
    [
        ("{segment: 2, parts: 0.1, variants: [{name: a}]}", "hls.parts must be 0 (off) or 0.2 to half the segment (1) seconds, not 0.1"),
        ("{segment: 2, parts: 1.5, variants: [{name: a}]}", "not 1.5"),
        ("{segment: 2, parts: 0.5, container: fmp4, variants: [{name: a}]}", "needs container: ts"),
    ],
)
def test_parts_settings_that_cannot_work_are_errors_at_their_line(hls, says):
    with pytest.raises(ConfigError) as exc:
        parse_config(f"mounts:\n  /main: {{}}\nhls: {hls}\n", Path("/etc/streamer/config.yaml"), env={})
    assert "config.yaml:3" in str(exc.value) and says in str(exc.value)
    good = parse_config("mounts:\n  /main: {}\nhls: {segment: 2, parts: 0.5, variants: [{name: a}]}\n", Path("c.yaml"), env={})
    assert good.hls.parts == 0.5
