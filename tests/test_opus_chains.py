"""An Opus mount's chains made from one continuous encoding (wire/opus_chains.py): plain pages
in and out, then ffmpeg's own encoder and decoder on both sides of the re-wrapping."""

from __future__ import annotations

import array
import io
import struct
import subprocess

import pytest
from mutagen.ogg import OggPage

from streamer.audio.codecs import encoder_command, feed_format
from streamer.audio.ffmpeg import ffmpeg_exe
from streamer.settings import MountConfig
from streamer.wire.framing import OggFramer
from streamer.wire.opus_chains import OpusChains, opus_samples

HEAD = b"OpusHead" + bytes([1, 2]) + struct.pack("<H", 312) + struct.pack("<I", 48000) + b"\x00\x00\x00"
TAGS = b"OpusTags" + struct.pack("<I", 7) + b"encoder" + struct.pack("<I", 0)


def page(packets: list[bytes], sequence: int, bos: bool = False) -> bytes:
    p = OggPage()
    p.serial, p.sequence, p.packets, p.first = 99, sequence, packets, bos
    return p.write()


def packet(n: int) -> bytes:
    return bytes([0xFC]) + n.to_bytes(2, "big") + bytes(237)  # CELT fullband 20 ms, stereo: 960 samples


def parsed(data: bytes) -> list[dict]:
    out = []
    for raw in OggFramer().feed(data):
        flags, granule, serial, sequence = raw[5], *struct.unpack_from("<qII", raw, 6)
        segments = raw[26]
        body, packets, pos, acc = raw[27 + segments :], [], 0, b""
        for size in raw[27 : 27 + segments]:
            acc += body[pos : pos + size]
            pos += size
            if size < 255:
                packets.append(acc)
                acc = b""
        out.append(
            {"bos": bool(flags & 2), "eos": bool(flags & 4), "granule": granule, "serial": serial, "seq": sequence, "packets": packets}
        )
        assert OggPage(io.BytesIO(raw)).write() == raw  # its checksum too
    return out


def test_opus_packet_durations_come_from_the_toc_byte():
    assert opus_samples(bytes([0xFC])) == 960  # CELT 20 ms, one frame
    assert opus_samples(bytes([0xFD, 0])) == 1920  # two frames
    assert opus_samples(bytes([0xF3, 3])) == 3 * 480  # CELT 10 ms, code 3 with 3 frames
    assert opus_samples(bytes([0x08])) == 960  # SILK NB 20 ms
    assert opus_samples(b"") == 0


def test_a_title_ends_one_chain_at_its_sample_and_starts_the_next_with_80_ms_of_pre_roll():
    chains = OpusChains(serial=1000, in_rate=48000)
    chains.mark(0, "First")
    chains.mark(10_000, "Second")  # raw 10_312: in packet 10 (9600..10560), 712 samples into it
    out = [chains.feed(page([HEAD], 0, bos=True)), chains.feed(page([TAGS], 1))]
    assert out == [[], []]  # the encoder's own headers are kept, not sent
    for k in range(4):
        out.append(chains.feed(page([packet(5 * k + i) for i in range(5)], k + 2)))
    pieces = [p for batch in out for p in batch]
    pages = parsed(b"".join(p[0] for p in pieces))
    assert [p[2] for p in pieces if p[2]] == ["First", "Second"]
    assert [(p["serial"], p["bos"], p["eos"]) for p in pages if p["bos"] or p["eos"]] == [
        (1000, True, False),
        (1000, False, True),
        (1001, True, False),
    ]
    first, second = [p for p in pages if p["serial"] == 1000], [p for p in pages if p["serial"] == 1001]
    assert [p["seq"] for p in first] == list(range(len(first))) and [p["seq"] for p in second] == list(range(len(second)))
    assert struct.unpack_from("<H", first[0]["packets"][0], 10)[0] == 312
    assert b"TITLE=First" in first[1]["packets"][0] and b"TITLE=Second" in second[1]["packets"][0]
    assert first[-1]["granule"] == 10_312  # the EOS page trims packet 10 at the title's sample
    assert [int.from_bytes(p[1:3], "big") for p in first[-1]["packets"]] == [10]
    # the next chain: packets 6..10 (80 ms before the title and the packet it starts in), its
    # pre-skip the samples of them before the title
    pre_skip = struct.unpack_from("<H", second[0]["packets"][0], 10)[0]
    assert pre_skip == 10_312 - 6 * 960
    audio = [n for p in second[2:] for n in (int.from_bytes(x[1:3], "big") for x in p["packets"])]
    assert audio == list(range(6, 20))
    assert second[-1]["granule"] == (20 - 6) * 960
    # pacing: what the pages add up to is the audio, once, without the priming or the pre-roll
    assert sum(p[1] for p in pieces) == 20 * 960 - 312
    assert all(p[1] == 0 for p in pieces if p[3])


def test_titles_before_an_encoders_first_sample_name_its_first_chain_and_one_at_a_packet_boundary_cuts_there():
    chains = OpusChains(serial=7, in_rate=48000)
    chains.mark(0, "Old")
    chains.mark(3000, "Opening")
    chains.restart(5000)  # a new encoder process from station sample 5000 (after a failure)
    chains.mark(5000 + 9600 - 312, "Next")  # raw 9600: the end of packet 9
    pieces = [x for i, p in enumerate([[HEAD], [TAGS], *([packet(i)] for i in range(12))]) for x in chains.feed(page(p, i, bos=i == 0))]
    assert [p[2] for p in pieces if p[2]] == ["Opening", "Next"]
    pages = parsed(b"".join(p[0] for p in pieces))
    ending = next(p for p in pages if p["eos"])
    assert ending["granule"] == 9600 and [int.from_bytes(x[1:3], "big") for x in ending["packets"]] == [9]  # nothing trimmed
    second = [p for p in pages if p["serial"] == 8]
    assert struct.unpack_from("<H", second[0]["packets"][0], 10)[0] == 3840  # pre-roll: packets 6-9, all dropped
    assert [int.from_bytes(x[1:3], "big") for p in second[2:] for x in p["packets"]] == [6, 7, 8, 9, 10, 11]
    assert sum(p[1] for p in pieces) == 12 * 960 - 312 and chains.chains == 2 and chains.title == "Next"


def test_a_restarted_encoder_starts_a_new_chain_with_its_own_headers_and_the_current_title():
    chains = OpusChains(serial=1, in_rate=48000, title="Song")
    for p in [page([HEAD], 0, bos=True), page([TAGS], 1), page([packet(0), packet(1)], 2)]:
        chains.feed(p)
    chains.restart(station_sample=5000)
    chains.mark(5000 + 960, "Later")
    out = [x for p in (page([HEAD], 0, bos=True), page([TAGS], 1), page([packet(0), packet(1), packet(2)], 2)) for x in chains.feed(p)]
    pages = parsed(b"".join(x[0] for x in out))
    assert pages[0]["bos"] and pages[0]["serial"] == 2 and out[0][2] == "Song"
    assert [x[2] for x in out if x[2]] == ["Song", "Later"]


def pcm(seconds: float, rate: int, sample_format: str) -> bytes:
    lavfi = f"sine=f=440:d={seconds},volume=0.5[a];sine=f=660:d={seconds}[b];[a][b]amix=2,aformat=channel_layouts=stereo"
    command = [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", lavfi, "-f", sample_format, "-ar", str(rate), "-ac", "2", "-"]
    return subprocess.run(command, capture_output=True, check=True).stdout


def decode(ogg: bytes) -> tuple[array.array, str]:
    command = [ffmpeg_exe(), "-v", "error", "-f", "ogg", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "-"]
    done = subprocess.run(command, input=ogg, capture_output=True, check=True)
    return array.array("h", done.stdout), done.stderr.decode()


@pytest.mark.parametrize("rate", [44100, 48000])
def test_chains_cut_from_one_encoding_decode_to_the_same_audio_as_the_encoding(rate):
    """The re-wrapped stream decodes sample for sample as the encoder's own stream does (the
    pre-roll settles each new chain's decoder), with no error at the chain changes."""
    mount = MountConfig("/opus", format="opus", bitrate=96, sample_rate=48000, channels=2)
    fed = pcm(6.0, rate, feed_format(mount))  # as the station feeds the mount's encoder
    encoded = subprocess.run(encoder_command(ffmpeg_exe(), mount, rate, 2), input=fed, capture_output=True, check=True).stdout
    chains = OpusChains(serial=77, in_rate=rate)
    for at, title in ((0, "One"), (int(2.2 * rate), "Two"), (int(4.4 * rate) + 3, "Three")):
        chains.mark(at, title)
    pieces = [p for raw in OggFramer().feed(encoded) for p in chains.feed(raw)]
    rewrapped = b"".join(p[0] for p in pieces)
    (plain, _), (chained, errors) = decode(encoded), decode(rewrapped)
    assert errors == ""
    assert len(chained) == pytest.approx(len(plain), abs=1000)  # the last chain keeps the encoder's end padding
    worst = max(abs(a - b) for a, b in zip(plain, chained, strict=False))
    assert worst <= 2, worst  # 16-bit steps: the same audio through both title changes
    assert [p[2] for p in pieces if p[2]] == ["One", "Two", "Three"]
    assert sum(p[1] for p in pieces) == pytest.approx(6.0 * 48000, abs=960)


def test_any_titles_on_any_packet_sizes_give_chains_that_add_up_to_the_encoding():
    """Random title samples over packets of 2.5 to 60 ms (their sizes as the test states them): every chain's audio (its last granule
    less its pre-skip) is exactly the span from its title to the next, every pre-skip covers at
    least 80 ms of pre-roll or all there was, and the pacing counts add up to the whole."""
    import random

    rng = random.Random(5)
    for _ in range(20):
        tocs = [rng.choice([(0xFC, 960), (0xF4, 480), (0xE8, 240), (0xE0, 120), (0x18, 2880), (0xFD, 1920)]) for _ in range(300)]
        packets = [bytes([toc]) + (b"\x00" if toc == 0xFD else b"") + bytes(30) for toc, _ in tocs]
        assert [opus_samples(p) for p in packets] == [n for _, n in tocs]
        total = sum(n for _, n in tocs)
        marks = sorted(rng.sample(range(1, total - 312 - 2000), 6))
        chains = OpusChains(serial=rng.getrandbits(32), in_rate=48000)
        chains.mark(0, "T0")
        for k, at in enumerate(marks, 1):
            chains.mark(at, f"T{k}")
        pieces = chains.feed(page([HEAD], 0, bos=True)) + chains.feed(page([TAGS], 1))
        for i in range(0, len(packets), 7):
            pieces += chains.feed(page(packets[i : i + 7], 2 + i))
        pages = parsed(b"".join(p[0] for p in pieces))
        by_serial: dict[int, list[dict]] = {}
        for p in pages:
            by_serial.setdefault(p["serial"], []).append(p)
        chain_pages = list(by_serial.values())
        assert [p[2] for p in pieces if p[2]] == [f"T{k}" for k in range(7)]
        bounds = [0, *marks, None]
        for k, pages_of in enumerate(chain_pages):
            pre_skip = struct.unpack_from("<H", pages_of[0]["packets"][0], 10)[0]
            samples = [opus_samples(x) for p in pages_of[2:] for x in p["packets"]]
            assert pre_skip <= sum(samples) and (pre_skip >= 3840 or k == 0 or pre_skip == bounds[k] + 312), (k, pre_skip)
            assert pre_skip < 3840 + 2880  # no more pre-roll than 80 ms and the packet that reaches past it
            if k < len(chain_pages) - 1:
                assert pages_of[-1]["eos"] and pages_of[-1]["granule"] - pre_skip == bounds[k + 1] - bounds[k]
                assert pages_of[-1]["granule"] <= sum(samples) < pages_of[-1]["granule"] + max(samples[-1], 1)
        assert sum(p[1] for p in pieces) == total - 312


def test_a_title_of_lyrics_makes_a_comment_header_that_fits_its_page():
    """QA: a 70 KB title raised in the chain's comment page and the Opus mount went off air."""
    long = "Lyrics line la la la. " * 3200
    chains = OpusChains(serial=1, in_rate=48000, title=long)
    out = [x for p in (page([HEAD], 0, bos=True), page([TAGS], 1), page([packet(0), packet(1)], 2)) for x in chains.feed(p)]
    tags = parsed(b"".join(x[0] for x in out))[1]["packets"][0]
    assert tags.startswith(b"OpusTags") and b"TITLE=Lyrics line" in tags and len(tags) < 3000
