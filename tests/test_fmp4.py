"""HLS in fragmented MP4: the init segment, and media segments with timed ID3 in emsg boxes.

Pure checks take the boxes apart with a small reader written here from ISO/IEC 14496-12,
14496-1/-3 (the esds and its AudioSpecificConfig) and ISO/IEC 23009-1 (emsg), not with the
muxer's own helpers. The interop tests hand real AAC, muxed, to ffprobe (init and segments
joined), ffmpeg (our playlist through its HLS demuxer, heard sample for sample as the ADTS input),
mutagen and Chromium's MediaSource (buffered without a gap, and played).
"""

from __future__ import annotations

import base64
import itertools
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mutagen.mp4
import pytest

from streamer.wire.fmp4 import Fmp4Muxer, aac_config, init_segment
from streamer.wire.framing import AdtsFramer
from streamer.wire.hls import Segment, Variant, media_playlist
from streamer.wire.id3 import id3_tag, parse_id3
from streamer.wire.mpegts import TsMuxer

from .conftest import need
from .test_hls_wire import SEGMENT_FRAMES, fake_adts, probe, timed

RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)

# --- a reader for ISO BMFF, from the standard ---------------------------------------------------

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl", b"mvex", b"moof", b"traf"}
SKIP_BEFORE_CHILDREN = {b"stsd": 8, b"dref": 8, b"mp4a": 28}  # full box header + entry_count; sample entry fields


@dataclass
class Box:
    path: str  # e.g. "moov/trak/tkhd"
    offset: int  # of the box's first byte in the data walked
    payload: bytes  # after the 8-byte header

    @property
    def full(self) -> tuple[int, int, bytes]:
        """(version, flags, rest) of a full box."""
        return self.payload[0], int.from_bytes(self.payload[1:4], "big"), self.payload[4:]


def walk(data: bytes, prefix: str = "", base: int = 0) -> list[Box]:
    """Every box, depth first, checking that sizes tile the data exactly."""
    out, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        assert 8 <= size <= len(data) - pos, f"box {kind!r} at {base + pos}: size {size} overruns"
        payload = data[pos + 8 : pos + size]
        path = prefix + kind.decode("latin-1")
        out.append(Box(path, base + pos, payload))
        if kind in CONTAINERS or kind in SKIP_BEFORE_CHILDREN:
            skip = SKIP_BEFORE_CHILDREN.get(kind, 0)
            out += walk(payload[skip:], path + "/", base + pos + 8 + skip)
        pos += size
    return out


def one(boxes: list[Box], path: str) -> Box:
    (found,) = [b for b in boxes if b.path == path]
    return found


def cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\x00", pos)
    return data[pos:end].decode(), end + 1


def descriptors(data: bytes) -> dict[int, bytes]:
    """MPEG-4 descriptors (tag, expandable size) by tag, nested ones flattened (ISO/IEC 14496-1)."""
    out, pos = {}, 0
    while pos < len(data):
        tag, size, pos = data[pos], 0, pos + 1
        while True:
            size, more, pos = size << 7 | data[pos] & 0x7F, data[pos] & 0x80, pos + 1
            if not more:
                break
        body = data[pos : pos + size]
        out[tag] = body
        inner = {0x03: 3, 0x04: 13}.get(tag)  # ES_ID and flags; DecoderConfigDescriptor's fixed fields
        if inner is not None:
            out |= descriptors(body[inner:])
        pos += size
    return out


@dataclass
class Fragment:
    sequence: int
    decode_time: int
    durations: list[int]
    samples: list[bytes]


def fragments(segment: bytes) -> list[Fragment]:
    """Each moof with the sample data its trun points at, checked the way a demuxer reads it."""
    boxes, out = walk(segment), []
    moofs = [b for b in boxes if b.path == "moof"]
    for moof, mdat in zip(moofs, [b for b in boxes if b.path == "mdat"], strict=True):
        inside = [b for b in boxes if moof.offset < b.offset < moof.offset + 8 + len(moof.payload)]
        assert [b.path for b in inside] == ["moof/mfhd", "moof/traf", "moof/traf/tfhd", "moof/traf/tfdt", "moof/traf/trun"]
        tfhd, tfdt, trun = (one(inside, "moof/traf/" + k).full for k in ("tfhd", "tfdt", "trun"))
        assert tfhd == (0, 0x020000, b"\x00\x00\x00\x01"), "track 1, default-base-is-moof, no other defaults"
        assert tfdt[:2] == (1, 0), "64-bit baseMediaDecodeTime"
        assert trun[:2] == (0, 0x000301), "data offset, per-sample duration and size"
        count, data_offset = struct.unpack_from(">Ii", trun[2])
        assert moof.offset + data_offset == mdat.offset + 8, "data_offset points at the mdat's payload"
        entries = [struct.unpack_from(">II", trun[2], 8 + 8 * i) for i in range(count)]
        assert len(trun[2]) == 8 + 8 * count
        assert sum(size for _, size in entries) == len(mdat.payload), "the mdat holds these samples and nothing else"
        samples, pos = [], 0
        for _, size in entries:
            samples.append(mdat.payload[pos : pos + size])
            pos += size
        sequence = struct.unpack(">I", one(inside, "moof/mfhd").full[2])[0]
        out.append(Fragment(sequence, struct.unpack(">Q", tfdt[2])[0], [d for d, _ in entries], samples))
    return out


@dataclass
class Event:
    timescale: int
    presentation_time: int
    duration: int
    id: int
    scheme: str
    value: str
    message: bytes


def events(segment: bytes) -> list[Event]:
    out = []
    for b in walk(segment):
        if b.path == "emsg":
            version, flags, rest = b.full
            assert (version, flags) == (1, 0)
            timescale, time, duration, event_id = struct.unpack_from(">IQII", rest)
            scheme, pos = cstring(rest, 20)
            value, pos = cstring(rest, pos)
            out.append(Event(timescale, time, duration, event_id, scheme, value, rest[pos:]))
    return out


# --- the init segment ----------------------------------------------------------------------------

INIT_LAYOUT = [
    "ftyp", "moov", "moov/mvhd", "moov/trak", "moov/trak/tkhd", "moov/trak/mdia", "moov/trak/mdia/mdhd", "moov/trak/mdia/hdlr",
    "moov/trak/mdia/minf", "moov/trak/mdia/minf/smhd", "moov/trak/mdia/minf/dinf", "moov/trak/mdia/minf/dinf/dref",
    "moov/trak/mdia/minf/dinf/dref/url ", "moov/trak/mdia/minf/stbl", "moov/trak/mdia/minf/stbl/stsd",
    "moov/trak/mdia/minf/stbl/stsd/mp4a", "moov/trak/mdia/minf/stbl/stsd/mp4a/esds", "moov/trak/mdia/minf/stbl/stts",
    "moov/trak/mdia/minf/stbl/stsc", "moov/trak/mdia/minf/stbl/stsz", "moov/trak/mdia/minf/stbl/stco", "moov/mvex", "moov/mvex/trex",
]  # fmt: skip
STBL = "moov/trak/mdia/minf/stbl/"


def test_init_segment_boxes():
    boxes = walk(init_segment(fake_adts(1, rate_index=4)[0]))
    assert [b.path for b in boxes] == INIT_LAYOUT
    ftyp = one(boxes, "ftyp").payload
    assert ftyp[:8] == b"iso6\x00\x00\x00\x00" and [ftyp[i : i + 4] for i in range(8, len(ftyp), 4)] == [b"iso6", b"cmfc", b"aid3", b"mp41"]
    _, _, mvhd = one(boxes, "moov/mvhd").full
    assert struct.unpack_from(">III", mvhd, 8) == (44100, 0, 0x00010000) and struct.unpack(">I", mvhd[-4:]) == (2,)
    _, tkhd_flags, tkhd = one(boxes, "moov/trak/tkhd").full
    assert tkhd_flags == 3 and struct.unpack_from(">I", tkhd, 8) == (1,), "enabled, in the movie, track 1"
    assert struct.unpack_from(">hhh", tkhd, 28) == (0, 1, 0x0100), "layer 0, alternate group 1, full volume"
    _, _, mdhd = one(boxes, "moov/trak/mdia/mdhd").full
    timescale, duration, language = struct.unpack_from(">IIH", mdhd, 8)
    assert (timescale, duration) == (44100, 0), "the track's timescale is the sample rate"
    assert "".join(chr((language >> s & 0x1F) + 0x60) for s in (10, 5, 0)) == "und"
    assert one(boxes, "moov/trak/mdia/hdlr").full[2][4:8] == b"soun"
    assert one(boxes, "moov/trak/mdia/minf/dinf/dref/url ").full[:2] == (0, 1), "media data in the same file"
    for table, empty in (("stts", 4), ("stsc", 4), ("stsz", 8), ("stco", 4)):
        assert one(boxes, STBL + table).full[2] == bytes(empty), f"{table} holds no samples"
    assert struct.unpack(">IIIII", one(boxes, "moov/mvex/trex").full[2]) == (1, 1, 1024, 0, 0)


@pytest.mark.parametrize(
    ("rate_index", "channel_config", "profile"),
    [(4, 2, 1), (7, 1, 1), (3, 2, 1), (11, 6, 1), (5, 7, 1), (4, 2, 0), (0, 1, 3)],
)
def test_esds_carries_the_audio_specific_config_of_the_adts_header(rate_index, channel_config, profile):
    header = bytearray(fake_adts(1, rate_index=rate_index)[0])
    header[2] = profile << 6 | rate_index << 2 | channel_config >> 2
    header[3] = (header[3] & 0x3F) | (channel_config & 3) << 6
    boxes = walk(init_segment(bytes(header), bitrate=64_000))
    rate, channels = RATES[rate_index], {7: 8}.get(channel_config, channel_config)
    mp4a = one(boxes, STBL + "stsd/mp4a")
    assert mp4a.payload[6:8] == b"\x00\x01", "data_reference_index 1"
    assert struct.unpack_from(">HHHHI", mp4a.payload, 16) == (channels, 16, 0, 0, rate << 16 if rate < 65536 else 0)
    found = descriptors(one(boxes, STBL + "stsd/mp4a/esds").full[2])
    decoder_config = found[0x04]
    assert decoder_config[0] == 0x40 and decoder_config[1] == 0x15, "ISO/IEC 14496-3 audio, stream type audio"
    assert struct.unpack(">II", decoder_config[5:13]) == (64_000, 64_000)
    assert found[0x06] == b"\x02", "SLConfigDescriptor predefined for MP4"
    asc = int.from_bytes(found[0x05], "big")
    assert len(found[0x05]) == 2
    assert (asc >> 11, asc >> 7 & 0x0F, asc >> 3 & 0x0F, asc & 7) == (profile + 1, rate_index, channel_config, 0)
    assert aac_config(bytes(header)).codecs == f"mp4a.40.{profile + 1}"


def test_codecs_of_aac_lc_are_what_the_master_playlist_says():
    assert aac_config(fake_adts(1)[0]).codecs == Variant("a.m3u8", 1).codecs == "mp4a.40.2"


# --- media segments ------------------------------------------------------------------------------


def with_crc(frames: list[bytes]) -> list[bytes]:
    """The same frames with protection_absent 0 and a (dummy) CRC: a 9-byte header."""
    out = []
    for f in frames:
        size = len(f) + 2
        header = bytearray(f[:7])
        header[1] &= 0xFE
        header[3] = (header[3] & 0xFC) | size >> 11
        header[4], header[5] = (size >> 3) & 0xFF, (header[5] & 0x1F) | (size & 7) << 5
        out.append(bytes(header) + b"\xab\xcd" + f[7:])
    return out


@pytest.mark.parametrize("crc", [False, True])
def test_a_segment_is_styp_emsg_moof_mdat_with_the_raw_frames(crc):
    frames = fake_adts(SEGMENT_FRAMES, size=190)
    frames = with_crc(frames) if crc else frames
    stamped = timed(frames, 900_000)
    tag = id3_tag("Song")
    segment = Fmp4Muxer().segment(stamped, [(900_000, tag)])
    assert [b.path.split("/")[0] for b in walk(segment) if "/" not in b.path] == ["styp", "emsg", "moof", "mdat"]
    assert one(walk(segment), "styp").payload == b"msdh\x00\x00\x00\x00msdh"
    (fragment,) = fragments(segment)
    assert fragment.samples == [f[9 if crc else 7 :] for f in frames], "ADTS headers (and CRCs) stripped"
    assert fragment.durations == [1024] * SEGMENT_FRAMES and fragment.sequence == 1
    assert fragment.decode_time == 441_000, "10 s at 44.1 kHz"
    moof = 8 + 16 + 8 + 16 + 20 + 20 + 8 * SEGMENT_FRAMES
    emsg = 8 + 4 + 20 + len("https://aomedia.org/emsg/ID3") + 2 + len(tag)
    assert len(segment) == 20 + emsg + moof + 8 + sum(len(s) for s in fragment.samples), "nothing else"


EPOCH_PTS = 1_764_085_276 * 90_000 + 12_345  # PTS from the wall clock, as the station stamps them


@pytest.mark.parametrize(
    ("rate_index", "start"), [(4, 0), (4, 50), (4, 123_457), (3, 7 * 90_000 + 1), (7, 2**33 + 5), (11, 999), (3, EPOCH_PTS)]
)
def test_decode_times_continue_exactly_across_segments(rate_index, start):
    rate = RATES[rate_index]
    stamped = timed(fake_adts(700, rate_index=rate_index), start, rate)
    muxer, pos, got = Fmp4Muxer(), 0, []
    for count in (172, 171, 173, 1, 183):  # uneven segments, as a clock cutting on PTS makes
        got += fragments(muxer.segment(stamped[pos : pos + count]))
        pos += count
    assert [f.sequence for f in got] == [1, 2, 3, 4, 5]
    assert got[0].decode_time == (start * rate + 45_000) // 90_000, "the first PTS in samples, rounded half up"
    for a, b in itertools.pairwise(got):
        assert b.decode_time == a.decode_time + 1024 * len(a.samples), "tfdt = the previous tfdt + its durations"


def test_a_pts_jump_starts_a_new_fragment_at_the_new_time():
    frames = fake_adts(40)
    stamped = timed(frames[:5], 0) + timed(frames[5:20], 500_000) + timed(frames[20:], 900_000)
    muxer = Fmp4Muxer()
    first = fragments(muxer.segment(stamped[:12]))
    second = fragments(muxer.segment(stamped[12:]))
    assert [(f.sequence, f.decode_time, len(f.samples)) for f in first + second] == [
        (1, 0, 5),
        (2, 245_000, 7),  # 500,000 ticks at 44.1 kHz
        (3, 245_000 + 7 * 1024, 8),  # follows on exactly
        (4, 441_000, 20),
    ]
    assert [s for f in first + second for s in f.samples] == [f[7:] for f in frames]


def test_timed_id3_rides_in_emsg_boxes_before_the_audio():
    stamped = timed(fake_adts(SEGMENT_FRAMES), 10 * 90_000)
    mid = stamped[100][0] + 5
    tags = {mid: id3_tag("Mid", "B"), stamped[0][0]: id3_tag("Start", "A", {"url": "https://radio.example/a"})}
    segment = Fmp4Muxer().segment(stamped, list(tags.items()))
    found = events(segment)
    assert [e.presentation_time for e in found] == [stamped[0][0], mid], "in time order"
    # each event lasts to the next one, the last to the segment's end: no open-ended cue in a player
    last = stamped[-1][0] + round(1024 * 90_000 / 44_100)
    assert [e.duration for e in found] == [mid - stamped[0][0], last - mid]
    for e in found:
        assert (e.timescale, e.scheme, e.value) == (90_000, "https://aomedia.org/emsg/ID3", "")
        assert e.message == tags[e.presentation_time], "the whole ID3 tag"
    assert parse_id3(found[0].message) == {"TIT2": "Start", "TPE1": "A", "TXXX:url": "https://radio.example/a"}
    assert parse_id3(found[1].message) == {"TIT2": "Mid", "TPE1": "B"}
    assert found[0].id != found[1].id
    again = events(Fmp4Muxer().segment([], [(mid, tags[mid])]))
    assert again[0].id == found[1].id, "the same tag at the same time is the same event, whichever muxer wrote it"
    paths = [b.path for b in walk(segment) if "/" not in b.path]
    assert paths.index("moof") > max(i for i, p in enumerate(paths) if p == "emsg")


def test_a_segment_of_metadata_only_has_no_fragment():
    muxer = Fmp4Muxer()
    segment = muxer.segment([], [(1000, id3_tag("x"))])
    assert [b.path for b in walk(segment)] == ["styp", "emsg"]
    assert fragments(muxer.segment(timed(fake_adts(3), 0)))[0].sequence == 1


def test_what_the_muxer_refuses():
    frames = fake_adts(2)
    muxer = Fmp4Muxer()
    muxer.segment(timed(frames, 0))
    for bad in (
        fake_adts(1, rate_index=3)[0],  # another sample rate
        fake_adts(1, blocks=2)[0],  # two raw data blocks in one frame
        frames[0][:-1],  # frame_length says otherwise
        b"ID3\x04\x00\x00\x00\x00\x00\x00",
    ):
        with pytest.raises(ValueError):
            muxer.segment([(0, bad)])
    with pytest.raises(ValueError):
        Fmp4Muxer().segment([(-100_000, frames[0])])
    with pytest.raises(ValueError):
        init_segment(bytes((0xFF, 0xF1, 0x50, 0x00 | 0, 0x19, 0x1F, 0xFC)) + bytes(193))  # channel_configuration 0
    assert fragments(muxer.segment(timed(frames, 3_000)))[0].sequence == 2, "a refused segment changes nothing"


# --- real peers: ffmpeg's AAC encoder, ffprobe, ffmpeg's HLS demuxer, mutagen, Chromium ------------


def encode(rate: int, channels: int, bitrate: str, seconds: float = 13) -> list[bytes]:
    out = subprocess.run(
        [need("ffmpeg"), "-nostdin", "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={rate}:duration={seconds}",
         "-ac", str(channels), "-c:a", "aac", "-b:a", bitrate, "-f", "adts", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    framer = AdtsFramer()
    frames = framer.feed(out)
    assert framer.skipped == 0
    return frames


@dataclass
class Stream:
    rate: int
    channels: int
    frames: list[bytes]
    stamped: list[tuple[int, bytes]]
    init: bytes
    segments: list[bytes]
    tags: dict[int, bytes]


def mux_stream(rate: int, channels: int, bitrate: str, start: int = 10 * 90_000) -> Stream:
    frames = encode(rate, channels, bitrate)
    n = round(4 * rate / 1024)  # ~4 s segments
    frames = frames[: 3 * n]
    stamped = timed(frames, start, rate)
    muxer, segments, tags = Fmp4Muxer(), [], {}
    for k in range(3):
        pts = stamped[k * n + n // 2][0]
        tags[pts] = id3_tag(f"Song {k}", "Artist")
        segments.append(muxer.segment(stamped[k * n : (k + 1) * n], [(pts, tags[pts])]))
    return Stream(rate, channels, frames, stamped, init_segment(frames[0]), segments, tags)


@pytest.fixture(scope="module")
def stereo() -> Stream:
    return mux_stream(44100, 2, "64k")


@pytest.mark.interop
@pytest.mark.parametrize(("rate", "channels", "bitrate"), [(44100, 2, "64k"), (22050, 1, "48k"), (48000, 2, "128k")])
def test_ffprobe_reads_init_and_segments_as_aac(rate, channels, bitrate, tmp_path):
    stream = mux_stream(rate, channels, bitrate)
    path = tmp_path / "joined.mp4"
    path.write_bytes(stream.init + b"".join(stream.segments))
    (info,) = probe(path, "-show_streams")["streams"]
    assert (info["codec_name"], info["profile"], info["sample_rate"], info["channels"]) == ("aac", "LC", str(rate), channels)
    packets = probe(path, "-show_packets")["packets"]
    assert len(packets) == len(stream.frames), "every frame comes out"
    assert [int(p["size"]) for p in packets] == [len(f) - 7 for f in stream.frames]
    assert [p["pts"] for p in packets] == [10 * rate + 1024 * k for k in range(len(packets))], "back to back at 10 s"
    # ffmpeg 5.1's mov demuxer gives the first packet of a fragmented file no duration (its own too).
    assert {p.get("duration", 1024) for p in packets} == {1024} and "duration" in packets[-1]


@pytest.mark.interop
def test_mutagen_reads_the_init_segment(stereo, tmp_path):
    path = tmp_path / "joined.mp4"
    path.write_bytes(stereo.init + stereo.segments[0])
    info = mutagen.mp4.MP4(path).info
    assert (info.codec, info.sample_rate, info.channels) == ("mp4a.40.2", 44100, 2)


def write_playlist(stream: Stream, folder: Path) -> Path:
    (folder / "init.mp4").write_bytes(stream.init)
    n = len(stream.frames) // len(stream.segments)
    listed = []
    for k, data in enumerate(stream.segments):
        (folder / f"seg{k}.m4s").write_bytes(data)
        listed.append(Segment(f"seg{k}.m4s", n * 1024 / stream.rate))
    playlist = folder / "index.m3u8"
    playlist.write_text(media_playlist(listed, 4, 0, ended=True, map_uri="init.mp4"))
    return playlist


def pcm(source: Path) -> bytes:
    run = subprocess.run([need("ffmpeg"), "-nostdin", "-v", "error", "-i", str(source), "-f", "s16le", "-"], capture_output=True)
    assert run.returncode == 0 and run.stderr == b"", run.stderr.decode(errors="replace")
    return run.stdout


@pytest.mark.interop
def test_ffmpeg_plays_our_playlist_and_hears_exactly_the_input(stereo, tmp_path):
    playlist = write_playlist(stereo, tmp_path)
    adts = tmp_path / "input.aac"
    adts.write_bytes(b"".join(stereo.frames))
    decoded, expected = pcm(playlist), pcm(adts)
    assert len(decoded) == len(stereo.frames) * 1024 * 2 * 2, "the whole duration: 1024 samples a frame, 2 channels, 16 bits"
    assert decoded == expected, "the same samples as the ADTS input decoded"


@pytest.mark.interop
def test_fmp4_segments_are_smaller_than_ts(stereo):
    n = len(stereo.frames) // len(stereo.segments)
    ts = TsMuxer()
    for k, segment in enumerate(stereo.segments):
        chunk = stereo.stamped[k * n : (k + 1) * n]
        aac = sum(len(f) - 7 for _, f in chunk)
        tag_pts, tag = next((p, t) for p, t in stereo.tags.items() if chunk[0][0] <= p < chunk[-1][0])
        ts_size = len(ts.segment(chunk, [(tag_pts, tag)]))
        assert len(segment) - aac - len(tag) < 8 * n + 250, "8 bytes a frame and one set of boxes"
        assert len(segment) < ts_size


PAGE = """async ([type, parts]) => {
    if (!MediaSource.isTypeSupported(type)) return {supported: false};
    const media = new MediaSource(), audio = document.createElement('audio');
    audio.src = URL.createObjectURL(media);
    await new Promise(resolve => media.addEventListener('sourceopen', resolve, {once: true}));
    const buffer = media.addSourceBuffer(type), errors = [];
    buffer.addEventListener('error', () => errors.push('append error'));
    for (const part of parts) {
        buffer.appendBuffer(Uint8Array.from(atob(part), c => c.charCodeAt(0)));
        await new Promise(resolve => buffer.addEventListener('updateend', resolve, {once: true}));
    }
    const ranges = [], state = media.readyState;
    for (let i = 0; i < buffer.buffered.length; i++) ranges.push([buffer.buffered.start(i), buffer.buffered.end(i)]);
    if (ranges.length) {
        media.endOfStream();
        audio.currentTime = ranges[0][0];
        await audio.play();
        await new Promise(resolve => setTimeout(resolve, 1000));
    }
    const played = ranges.length ? audio.currentTime - ranges[0][0] : 0;
    return {supported: true, ranges, errors, state, played, mediaError: audio.error && audio.error.message};
}"""


@pytest.mark.interop
@pytest.mark.parametrize("start", [10 * 90_000, EPOCH_PTS])
def test_chromium_media_source_takes_the_segments(start, chromium):
    stereo = mux_stream(44100, 2, "64k", start)
    page = chromium.new_page()
    try:
        parts = [base64.b64encode(p).decode() for p in (stereo.init, *stereo.segments)]
        result = page.evaluate(PAGE, ['audio/mp4; codecs="mp4a.40.2"', parts])
    finally:
        page.close()
    assert result["supported"], "Chromium plays AAC in MP4 through MediaSource"
    assert (result["errors"], result["state"], result["mediaError"]) == ([], "open", None)
    (first, end), *rest = result["ranges"]
    assert rest == [], "one buffered range: the segments follow on without a gap"
    decode_time = (start * 44100 + 45_000) // 90_000 / 44100
    assert first == pytest.approx(decode_time, abs=1e-5) and end == pytest.approx(decode_time + len(stereo.frames) * 1024 / 44100, abs=1e-5)
    assert result["played"] > 0.5, "and it plays"
