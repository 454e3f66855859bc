"""HLS wire formats: ID3 tags, the MPEG-TS muxer and playlist text.

Pure checks take the bytes apart with a small demuxer written here from ISO/IEC 13818-1 (not
the muxer's own helpers); the interop tests hand real AAC, muxed, to ffprobe/ffmpeg, and our
playlists to the `m3u8` package and ffmpeg's HLS demuxer; ID3 tags go through mutagen.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import m3u8
import mutagen.id3
import pytest

from streamer.wire.framing import AdtsFramer
from streamer.wire.hls import Segment, Variant, master_playlist, media_playlist, program_date_time
from streamer.wire.id3 import id3_tag, parse_id3, tag_length
from streamer.wire.mpegts import AUDIO_PID, ID3_PID, PCR_LEAD, PMT_PID, TsMuxer, adts_ticks, crc32_mpeg2

from .conftest import need

WRAP = 1 << 33
RATE = 44100
FRAME = 1024 * 90_000 / RATE  # 90 kHz ticks per AAC frame at 44.1 kHz
SEGMENT_FRAMES = 172  # ~3.99 s


# --- a reader for what the muxer writes, from the standard -------------------------------------


@dataclass
class Packet:
    pid: int
    start: bool
    cc: int
    has_payload: bool
    adaptation: bytes  # the adaptation field after its length byte
    payload: bytes

    @property
    def pcr(self) -> int | None:
        """PCR in 27 MHz units, or None."""
        if not self.adaptation or not self.adaptation[0] & 0x10:
            return None
        v = int.from_bytes(self.adaptation[1:7], "big")
        return (v >> 15) * 300 + (v & 0x1FF)

    @property
    def random_access(self) -> bool:
        return bool(self.adaptation) and bool(self.adaptation[0] & 0x40)


def packets(data: bytes) -> list[Packet]:
    assert len(data) % 188 == 0, "a whole number of 188-byte packets"
    out = []
    for i in range(0, len(data), 188):
        p = data[i : i + 188]
        assert p[0] == 0x47, f"sync byte at {i}"
        control = (p[3] >> 4) & 3
        pos, adaptation = 4, b""
        if control & 2:
            length = p[4]
            adaptation, pos = p[5 : 5 + length], 5 + length
        out.append(Packet(((p[1] & 0x1F) << 8) | p[2], bool(p[1] & 0x40), p[3] & 0x0F, bool(control & 1), adaptation, p[pos:]))
    return out


def pes_units(pkts: list[Packet], pid: int) -> list[tuple[bytes, list[Packet]]]:
    """Reassembled PES packets of `pid`, each with the TS packets that carried it."""
    units: list[tuple[bytearray, list[Packet]]] = []
    for p in pkts:
        if p.pid != pid:
            continue
        if p.start:
            units.append((bytearray(), []))
        units[-1][0].extend(p.payload)
        units[-1][1].append(p)
    return [(bytes(b), ps) for b, ps in units]


def read_pts(b: bytes) -> int:
    assert b[0] & 0xF1 == 0x21 and b[2] & 1 and b[4] & 1, "PTS-only prefix and marker bits"
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def parse_pes(pes: bytes) -> tuple[int, int, bytes]:
    """(stream_id, PTS, payload), checking the header the way a demuxer would."""
    assert pes[:3] == b"\x00\x00\x01"
    length = int.from_bytes(pes[4:6], "big")
    assert len(pes) == 6 + length, "PES_packet_length matches what was carried: no stray stuffing"
    assert pes[6] == 0x84 and pes[7] & 0xC0 == 0x80, "data aligned; PTS only"
    header_length = pes[8]
    return pes[3], read_pts(pes[9:14]), pes[9 + header_length :]


def crc_bitwise(data: bytes) -> int:
    """CRC-32/MPEG-2 bit by bit, straight from the polynomial."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def section(p: Packet) -> bytes:
    assert p.start and p.payload[0] == 0, "pointer_field 0"
    length = ((p.payload[2] & 0x0F) << 8) | p.payload[3]
    assert p.payload[4 + length :] == b"\xff" * (183 - 3 - length), "stuffed with 0xFF after the section"
    return p.payload[1 : 4 + length]


def fake_adts(count: int, rate_index: int = 4, size: int = 200, blocks: int = 1) -> list[bytes]:
    """ADTS frames with real headers (AAC-LC, stereo) and filler payloads: all the muxer reads."""
    frames = []
    for i in range(count):
        header = bytes((
            0xFF, 0xF1, 0x40 | rate_index << 2, 0x80 | size >> 11, (size >> 3) & 0xFF, (size & 7) << 5 | 0x1F, 0xFC | (blocks - 1),
        ))  # fmt: skip
        frames.append(header + bytes([i & 0xFF]) * (size - 7))
    return frames


def timed(frames: list[bytes], start: int, rate: int = RATE) -> list[tuple[int, bytes]]:
    """Frames stamped on a sample clock, as the station will: frame k at round(k * 1024 * 90000 / rate)."""
    return [(start + round(k * 1024 * 90_000 / rate), f) for k, f in enumerate(frames)]


def mux(stamped: list[tuple[int, bytes]], metadata: dict[int, list[tuple[int, bytes]]] | None = None) -> list[bytes]:
    """Consecutive segments of SEGMENT_FRAMES frames from one muxer; `metadata` by segment index."""
    muxer = TsMuxer()
    n = SEGMENT_FRAMES
    return [muxer.segment(stamped[i : i + n], (metadata or {}).get(i // n, [])) for i in range(0, len(stamped), n)]


# --- MPEG-TS, pure -------------------------------------------------------------------------------


def test_crc32_mpeg2():
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7  # the catalogued check value of CRC-32/MPEG-2
    data = bytes(range(256)) * 3
    assert crc32_mpeg2(data) == crc_bitwise(data)


def test_each_segment_starts_with_pat_and_pmt_describing_timed_id3():
    for seg in mux(timed(fake_adts(400), 900_000)):
        pat, pmt = packets(seg)[:2]
        assert (pat.pid, pmt.pid) == (0, PMT_PID)
        pat_section, pmt_section = section(pat), section(pmt)
        assert crc_bitwise(pat_section) == 0 and crc_bitwise(pmt_section) == 0, "CRC_32 leaves a zero remainder"
        assert pat_section[0] == 0x00 and pat_section[8:12] == b"\x00\x01" + (0xE000 | PMT_PID).to_bytes(2, "big")
        assert pmt_section[0] == 0x02 and pmt_section[3:5] == b"\x00\x01"
        assert int.from_bytes(pmt_section[8:10], "big") & 0x1FFF == AUDIO_PID, "PCR on the audio PID"
        info_length = int.from_bytes(pmt_section[10:12], "big") & 0x0FFF
        # Apple's Timed Metadata spec 2.3: metadata_pointer_descriptor, formats 0xFFFF 'ID3 ' / 0xFF 'ID3 ',
        # service 0, no locator, carried in this stream (flags 0x1F with the reserved bits), program 1.
        assert pmt_section[12 : 12 + info_length] == bytes.fromhex("250f ffff 49443320 ff 49443320 00 1f 0001")
        streams, pos = [], 12 + info_length
        while pos < len(pmt_section) - 4:
            es_length = int.from_bytes(pmt_section[pos + 3 : pos + 5], "big") & 0x0FFF
            pid = int.from_bytes(pmt_section[pos + 1 : pos + 3], "big") & 0x1FFF
            streams.append((pmt_section[pos], pid, pmt_section[pos + 5 : pos + 5 + es_length]))
            pos += 5 + es_length
        assert streams == [
            (0x0F, AUDIO_PID, b""),  # ADTS AAC
            (0x15, ID3_PID, bytes.fromhex("260d ffff 49443320 ff 49443320 00 0f")),  # metadata_descriptor
        ]


def test_continuity_counters_carry_on_across_segments():
    segments = mux(timed(fake_adts(3 * SEGMENT_FRAMES), 0), {1: [(500_000, id3_tag("A"))], 2: [(900_000, id3_tag("B"))]})
    last: dict[int, int] = {}
    for p in packets(b"".join(segments)):
        assert p.has_payload, "every packet of ours carries payload"
        if p.pid in last:
            assert p.cc == (last[p.pid] + 1) % 16, f"PID {p.pid:#x} continuity"
        last[p.pid] = p.cc
    assert set(last) == {0, PMT_PID, AUDIO_PID, ID3_PID}


def test_audio_pes_carry_the_frames_with_the_first_frames_pts():
    stamped = timed(fake_adts(2 * SEGMENT_FRAMES, size=371), 123_456)
    got: list[bytes] = []
    for seg in mux(stamped):
        units = pes_units(packets(seg), AUDIO_PID)
        for n, (pes, _) in enumerate(units):
            stream_id, pts, payload = parse_pes(pes)
            assert stream_id == 0xC0 and pts == stamped[len(got)][0]
            frames = [payload[i : i + 371] for i in range(0, len(payload), 371)]
            assert len(frames) == 13 or (n == len(units) - 1 and len(frames) < 13), "~0.3 s per PES (13 frames at 44.1 kHz)"
            got += frames
    assert got == [f for _, f in stamped]


@pytest.mark.parametrize("size", [60, 150, 700])  # ~21, 52 and 241 kbit/s
def test_pcr_random_access_and_stuffing(size):
    stamped = timed(fake_adts(3 * SEGMENT_FRAMES, size=size), 900_000)
    pcrs = []
    for seg in mux(stamped):
        units = pes_units(packets(seg), AUDIO_PID)
        assert units[0][1][0].random_access, "random_access_indicator on the segment's first audio packet"
        for pes, carriers in units:
            first = carriers[0]
            assert first.pcr is not None and first.random_access, "PCR and RAP flag at each PES start"
            assert first.pcr <= parse_pes(pes)[1] * 300, "PCR not after the PTS"
            pcrs += [p.pcr for p in carriers if p.pcr is not None]
            last = carriers[-1]
            if len(last.payload) < 184:  # the PES ends mid-packet: the adaptation field takes up the rest
                assert set(last.adaptation[1 + (6 if last.pcr is not None else 0) :]) <= {0xFF}, "stuffing bytes are 0xFF"
    gaps = [b - a for a, b in itertools.pairwise(pcrs)]
    assert all(0 < g < 27_000_000 // 10 for g in gaps), "PCR at least every 100 ms, always forward, across segments"


def test_metadata_pes_of_any_size_fills_packets_exactly():
    for size in range(400):  # one to three packets, with every amount of room left in the last
        tag = (bytes(range(256)) * 2)[:size]
        seg = TsMuxer().segment([], [(90_000, tag)])
        units = pes_units(packets(seg), ID3_PID)
        assert len(units) == 1
        assert parse_pes(units[0][0]) == (0xBD, 90_000, tag)  # private_stream_1, as Apple's spec says
    one_short = TsMuxer().segment([], [(0, bytes(184 - 14 - 1))])[2 * 188 :]  # PES header 14 bytes
    assert (one_short[3] >> 4, one_short[4]) == (3, 0), "a zero-length adaptation field: the one byte of stuffing"


def in_stream_order(seg: bytes) -> list[tuple[int, int, bytes]]:
    """(PID, PTS, payload) of every audio and ID3 PES, in the order they start in the stream."""
    pkts = packets(seg)
    units = {pid: iter(pes_units(pkts, pid)) for pid in (AUDIO_PID, ID3_PID)}
    return [(p.pid, *parse_pes(next(units[p.pid])[0])[1:]) for p in pkts if p.start and p.pid in units]


def test_id3_goes_just_before_the_audio_it_belongs_to():
    stamped = timed(fake_adts(SEGMENT_FRAMES), 0)
    mid = stamped[100][0] + 5  # a PES holds frames 91-103
    order = in_stream_order(TsMuxer().segment(stamped, [(mid, id3_tag("Mid")), (0, id3_tag("Start")), (10**7, id3_tag("After"))]))
    titles = [(i, parse_id3(payload)["TIT2"]) for i, (pid, _, payload) in enumerate(order) if pid == ID3_PID]
    i = titles[1][0]
    assert [t for _, t in titles] == ["Start", "Mid", "After"]
    assert titles[0][0] == 0 and titles[2][0] == len(order) - 1
    assert order[i - 1][1] == stamped[78][0] and order[i + 1][1] == stamped[91][0] <= mid < stamped[104][0]


def test_pts_and_pcr_wrap_at_2_pow_33():
    start = WRAP - 20 * round(FRAME)
    stamped = timed(fake_adts(SEGMENT_FRAMES), start)
    metadata = [(WRAP + 1000, id3_tag("past the wrap"))]
    seg = TsMuxer().segment(stamped, metadata)
    pts = [parse_pes(pes)[1] for pes, _ in pes_units(packets(seg), AUDIO_PID)]
    assert pts[0] == start and pts[1] > pts[0] and pts[2] < pts[1] == start + round(13 * FRAME)
    assert pts[2] == (start + round(26 * 1024 * 90_000 / RATE)) % WRAP
    assert [parse_pes(pes)[1] for pes, _ in pes_units(packets(seg), ID3_PID)] == [1000]
    bases = [p.pcr // 300 for p in packets(seg) if p.pcr is not None]
    assert bases[0] == start - PCR_LEAD and min(bases) < 90_000, "the PCR base wraps too"
    assert all(0 < (b - a) % WRAP < 9_000 for a, b in itertools.pairwise(bases))


def test_a_pts_jump_starts_a_new_pes():
    frames = fake_adts(20)
    stamped = timed(frames[:5], 0) + timed(frames[5:], 500_000)
    pts = [parse_pes(pes)[1] for pes, _ in pes_units(packets(TsMuxer().segment(stamped, [])), AUDIO_PID)]
    assert pts == [0, 500_000, 500_000 + round(13 * FRAME)]


def test_frame_durations_follow_the_adts_header():
    assert adts_ticks(fake_adts(1, rate_index=3)[0]) == 1920  # 1024 samples at 48 kHz
    assert adts_ticks(fake_adts(1, rate_index=7, blocks=2)[0]) == 2 * 1024 * 90_000 / 22050
    with pytest.raises(ValueError):
        adts_ticks(b"ID3\x04\x00\x00\x00\x00\x00\x00")
    with pytest.raises(ValueError):
        TsMuxer().segment([], [(0, b"x" * 70_000)])


# --- ID3, pure and with mutagen ------------------------------------------------------------------


def test_id3_tag_bytes():
    assert id3_tag("Hi") == b"ID3\x04\x00\x00" + b"\x00\x00\x00\x0d" + b"TIT2" + b"\x00\x00\x00\x03" + b"\x00\x00" + b"\x03Hi"
    tag = id3_tag("T" * 300, "A")
    size = tag[6:10]
    assert all(b < 0x80 for b in size) and (size[2] << 7 | size[3]) == len(tag) - 10 and size[2] > 0


def test_id3_round_trip_and_trailing_bytes():
    extra = {"url": "https://radio.example/np", "station": "Radio Kwedu"}
    tag = id3_tag("Kwedu \u2013 Ngoma \U0001f3b6", "Tendai M\u00fcller", extra)
    fields = {"TIT2": "Kwedu \u2013 Ngoma \U0001f3b6", "TPE1": "Tendai M\u00fcller"}
    fields |= {"TXXX:url": extra["url"], "TXXX:station": "Radio Kwedu"}
    assert parse_id3(tag) == fields
    assert parse_id3(tag + b"\x47\x40\x11 the next packet") == fields and tag_length(tag + b"xyz") == len(tag)
    assert parse_id3(id3_tag("a\x00b")) == {"TIT2": "ab"}, "a NUL would split the value"
    with pytest.raises(ValueError):
        parse_id3(tag[:-1])
    with pytest.raises(ValueError):
        parse_id3(b"\xff\xf1" + tag)


def test_mutagen_reads_our_tags(tmp_path):
    path = tmp_path / "tag.id3"
    path.write_bytes(id3_tag("Ngoma \u2013 Live", "Tendai", {"comment": "\u00e9t\u00e9"}))
    tags = mutagen.id3.ID3(path)
    assert tags.version == (2, 4, 0)
    assert tags["TIT2"].text == ["Ngoma \u2013 Live"] and tags["TPE1"].text == ["Tendai"]
    assert tags["TXXX:comment"].text == ["\u00e9t\u00e9"] and tags["TIT2"].encoding == mutagen.id3.Encoding.UTF8


@pytest.mark.parametrize("version", [3, 4])
def test_we_read_mutagens_tags(tmp_path, version):
    path = tmp_path / "tag.id3"
    tags = mutagen.id3.ID3()
    tags.add(mutagen.id3.TIT2(encoding=mutagen.id3.Encoding.UTF16, text=["Kwedu \u2013 Ngoma"]))
    tags.add(mutagen.id3.TPE1(encoding=mutagen.id3.Encoding.LATIN1, text=["Tendai", "Rudo"]))
    tags.add(mutagen.id3.TXXX(encoding=mutagen.id3.Encoding.UTF16, desc="mood", text=["calm"]))
    tags.add(mutagen.id3.WOAF(url="https://radio.example/a"))
    tags.save(path, v2_version=version)  # with padding after the frames
    fields = parse_id3(path.read_bytes())
    assert fields == {"TIT2": "Kwedu \u2013 Ngoma", "TPE1": "Tendai/Rudo", "TXXX:mood": "calm", "WOAF": "https://radio.example/a"}


def test_unsynchronised_v24_frame():
    body = b"\x00a\xff\x00b"  # Latin-1 "a\xffb" with the 0x00 stuffed after 0xFF
    frame = b"TIT2" + len(body).to_bytes(4, "big") + b"\x00\x02" + body
    assert parse_id3(b"ID3\x04\x00\x00" + len(frame).to_bytes(4, "big") + frame) == {"TIT2": "a\u00ffb"}


# --- playlists -----------------------------------------------------------------------------------

PDT = datetime(2026, 11, 25, 15, 41, 16, 123000, tzinfo=UTC).timestamp()


def example_segments() -> list[Segment]:
    return [
        Segment("seg/41.ts", 4.017, PDT),
        Segment("seg/42.ts", 3.994, PDT + 4.017),
        Segment("seg/43.ts", 4.5, PDT + 8.011, discontinuity=True),
    ]


def test_media_playlist_text():
    assert media_playlist(example_segments(), 4, 41, discontinuity_sequence=2) == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:5\n"
        "#EXT-X-MEDIA-SEQUENCE:41\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:2\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T15:41:16.123Z\n"
        "#EXTINF:4.017,\n"
        "seg/41.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T15:41:20.140Z\n"
        "#EXTINF:3.994,\n"
        "seg/42.ts\n"
        "#EXT-X-DISCONTINUITY\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T15:41:24.134Z\n"
        "#EXTINF:4.500,\n"
        "seg/43.ts\n"
    )


def test_fmp4_media_playlist_names_the_init_segment():
    segments = [Segment("seg/41.m4s", 4.017), Segment("seg/42.m4s", 3.994)]
    assert media_playlist(segments, 4, 41, map_uri="init.mp4") == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:7\n"
        "#EXT-X-TARGETDURATION:4\n"
        "#EXT-X-MEDIA-SEQUENCE:41\n"
        '#EXT-X-MAP:URI="init.mp4"\n'
        "#EXTINF:4.017,\n"
        "seg/41.m4s\n"
        "#EXTINF:3.994,\n"
        "seg/42.m4s\n"
    )
    assert media_playlist(segments, 4, 41).startswith("#EXTM3U\n#EXT-X-VERSION:3\n"), "MPEG-TS playlists as before"
    parsed = m3u8.loads(media_playlist(segments, 4, 41, map_uri="init.mp4"))
    assert parsed.version == 7 and [s.init_section.uri for s in parsed.segments] == ["init.mp4", "init.mp4"]
    for bad in ({"map_uri": 'in"it.mp4'}, {"map_uri": "init.mp4\n#EXT-X-ENDLIST"}, {"map_uri": "init.mp4", "version": 5}):
        with pytest.raises(ValueError):
            media_playlist(segments, 4, 41, **bad)


@pytest.mark.parametrize(
    ("durations", "configured", "tag"),
    [([4.017, 3.994], 4, 4), ([4.4996], 4, 5), ([4.4994], 4, 4), ([2.0], 6, 6), ([], 0, 1), ([6.2], 5.5, 6)],
)
def test_target_duration_is_the_rounded_longest_segment(durations, configured, tag):
    text = media_playlist([Segment(f"{i}.ts", d) for i, d in enumerate(durations)], configured, 0)
    assert f"#EXT-X-TARGETDURATION:{tag}\n" in text


def test_master_playlist_text():
    variants = [Variant("hi/index.m3u8", 140_800, 136_000, name="High\nquality"), Variant("lo/index.m3u8", 70_400)]
    assert master_playlist(variants) == (
        "#EXTM3U\n"
        "# High quality\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=140800,AVERAGE-BANDWIDTH=136000,CODECS="mp4a.40.2"\n'
        "hi/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=70400,CODECS="mp4a.40.2"\n'
        "lo/index.m3u8\n"
    )


def test_playlist_values_are_checked():
    with pytest.raises(ValueError):
        media_playlist([Segment("a.ts\n#EXT-X-ENDLIST", 4)], 4, 0)
    with pytest.raises(ValueError):
        media_playlist([Segment("a.ts", -1)], 4, 0)
    with pytest.raises(ValueError):
        media_playlist([], 4, 0, version=2)
    with pytest.raises(ValueError):
        master_playlist([Variant("a.m3u8", 64_000, codecs='mp4a"')])
    assert program_date_time(PDT) == "2026-11-25T15:41:16.123Z"
    assert program_date_time(PDT + 0.0004) == "2026-11-25T15:41:16.123Z"


def test_m3u8_package_reads_our_playlists():
    media = m3u8.loads(media_playlist(example_segments(), 4, 41, discontinuity_sequence=2, ended=True))
    assert media.media_sequence == 41 and media.discontinuity_sequence == 2 and media.target_duration == 5
    assert [s.uri for s in media.segments] == ["seg/41.ts", "seg/42.ts", "seg/43.ts"]
    assert [s.duration for s in media.segments] == [4.017, 3.994, 4.5]
    assert [s.discontinuity for s in media.segments] == [False, False, True] and media.is_endlist
    assert [s.program_date_time.timestamp() for s in media.segments] == pytest.approx([PDT, PDT + 4.017, PDT + 8.011], abs=0.0005)
    master = m3u8.loads(master_playlist([Variant("hi.m3u8", 140_800, 136_000, name="High"), Variant("lo.m3u8", 70_400)]))
    assert master.is_variant
    info = [(p.uri, p.stream_info.bandwidth, p.stream_info.average_bandwidth, p.stream_info.codecs) for p in master.playlists]
    assert info == [("hi.m3u8", 140_800, 136_000, "mp4a.40.2"), ("lo.m3u8", 70_400, None, "mp4a.40.2")]


# --- real peers: ffmpeg's AAC encoder, ffprobe, ffmpeg's demuxers ----------------------------------


@pytest.fixture(scope="module")
def aac_frames(tmp_path_factory) -> list[bytes]:
    ffmpeg = need("ffmpeg")
    out = subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={RATE}:duration=13",
         "-ac", "2", "-c:a", "aac", "-b:a", "64k", "-f", "adts", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    framer = AdtsFramer()
    frames = framer.feed(out)
    assert framer.skipped == 0 and len(frames) >= 3 * SEGMENT_FRAMES
    return frames[: 3 * SEGMENT_FRAMES]


@dataclass
class Muxed:
    paths: list[Path]
    stamped: list[tuple[int, bytes]]
    tags: dict[int, bytes]  # PTS → ID3 tag


@pytest.fixture
def muxed(aac_frames, tmp_path) -> Muxed:
    stamped = timed(aac_frames, 10 * 90_000)
    first, mid2 = stamped[0][0], stamped[SEGMENT_FRAMES + SEGMENT_FRAMES // 2][0]
    tags = {first: id3_tag("Song One", "Artist A"), mid2: id3_tag("Song Two", "Artist B", {"url": "https://radio.example/2"})}
    segments = mux(stamped, {0: [(first, tags[first])], 1: [(mid2, tags[mid2])]})
    paths = []
    for k, data in enumerate(segments):
        paths.append(tmp_path / f"seg{k}.ts")
        paths[-1].write_bytes(data)
    return Muxed(paths, stamped, tags)


def probe(path: Path, *args: str) -> dict:
    out = subprocess.run([need("ffprobe"), "-v", "error", *args, "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.interop
def test_ffprobe_sees_aac_and_timed_id3_in_every_segment(muxed):
    for path in muxed.paths:
        streams = probe(path, "-show_streams")["streams"]
        assert [(s["codec_type"], s["codec_name"]) for s in streams] == [("audio", "aac"), ("data", "timed_id3")]
        assert (streams[0]["sample_rate"], streams[0]["channels"], streams[0]["profile"]) == (str(RATE), 2, "LC")


@pytest.mark.interop
def test_ffmpeg_decodes_the_segments_and_our_playlist_without_errors(muxed, tmp_path):
    ffmpeg = need("ffmpeg")
    joined = tmp_path / "all.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in muxed.paths))
    segments = [Segment(p.name, SEGMENT_FRAMES * FRAME / 90_000, PDT + k * 4) for k, p in enumerate(muxed.paths)]
    playlist = tmp_path / "index.m3u8"
    playlist.write_text(media_playlist(segments, 4, 0, ended=True))
    for source in (joined, playlist):  # the bytes joined, then through ffmpeg's HLS demuxer
        run = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(source), "-f", "null", "-"], capture_output=True, text=True)
        assert run.returncode == 0 and run.stderr == "", source.name


@pytest.mark.interop
def test_audio_pts_continue_from_segment_to_segment(muxed):
    ends = []
    for k, path in enumerate(muxed.paths):
        audio = probe(path, "-show_packets", "-select_streams", "a")["packets"]
        assert len(audio) == SEGMENT_FRAMES, "every frame comes out"
        assert audio[0]["pts"] == muxed.stamped[k * SEGMENT_FRAMES][0], "the segment starts at its first frame's PTS"
        if ends:
            assert abs(audio[0]["pts"] - ends[-1]) < FRAME, "no gap, no overlap"
            assert abs(audio[0]["pts"] - ends[-1]) <= 2, "in fact within rounding"
        ends.append(audio[-1]["pts"] + audio[-1]["duration"])


@pytest.mark.interop
def test_id3_tags_come_out_at_their_pts(muxed):
    ffmpeg = need("ffmpeg")
    seen: dict[int, dict[str, str]] = defaultdict(dict)
    for path in muxed.paths:
        meta = probe(path, "-show_packets", "-select_streams", "d")["packets"]
        data = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:d", "-c", "copy", "-f", "data", "-"],
                              capture_output=True, check=True).stdout  # fmt: skip
        assert sum(int(m["size"]) for m in meta) == len(data)
        pos = 0
        for m in meta:
            payload, pos = data[pos : pos + int(m["size"])], pos + int(m["size"])
            tag = muxed.tags[m["pts"]]
            # ffmpeg 5.1 takes every stream_type 0x15 PES for metadata access units and drops the
            # 5-byte cell header they would have; later ffmpeg does that only for KLV in 0xFC
            # streams. Our PES follow Apple's spec (a bare ID3 tag), so the tag comes out whole or
            # missing exactly "ID3\x04\x00".
            assert payload in (tag, tag[5:])
            seen[m["pts"]] = parse_id3(tag[: len(tag) - len(payload)] + payload)
    first, mid2 = muxed.stamped[0][0], muxed.stamped[SEGMENT_FRAMES + SEGMENT_FRAMES // 2][0]
    assert seen == {
        first: {"TIT2": "Song One", "TPE1": "Artist A"},
        mid2: {"TIT2": "Song Two", "TPE1": "Artist B", "TXXX:url": "https://radio.example/2"},
    }


@pytest.mark.interop
def test_ffmpeg_follows_the_pts_wrap(aac_frames, tmp_path):
    start = WRAP - 6 * 90_000  # the 33-bit PTS wraps 6 s in, in the middle of segment 2
    stamped = timed(aac_frames, start)
    path = tmp_path / "wrap.ts"
    path.write_bytes(b"".join(mux(stamped, {1: [(start + 7 * 90_000, id3_tag("after the wrap"))]})))
    run = subprocess.run([need("ffmpeg"), "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stderr == ""
    audio = [p["pts"] for p in probe(path, "-show_packets", "-select_streams", "a")["packets"]]
    assert len(audio) == len(stamped) and all(abs(b - a - FRAME) < 2 for a, b in itertools.pairwise(audio)), "ffmpeg unwraps it seamlessly"
    (meta,) = probe(path, "-show_packets", "-select_streams", "d")["packets"]
    assert meta["pts"] - audio[0] == 7 * 90_000


def test_a_title_of_lyrics_fits_one_id3_pes_packet():
    """QA: a 70 KB title made a PES packet over 64 KB and every HLS variant failed until a restart."""
    tag = id3_tag("Lyrics line la la la. " * 3200, "Artist", {"x": "y" * 70_000})
    segments = mux(timed(fake_adts(SEGMENT_FRAMES), 0), {0: [(0, tag)]})
    assert parse_id3(tag)["TIT2"].startswith("Lyrics line") and len(b"".join(segments)) > len(tag)
