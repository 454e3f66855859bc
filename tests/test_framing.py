"""Ogg page and ADTS frame cutting for pass-through mounts, on streams ffmpeg made."""

from __future__ import annotations

import random
import subprocess

import numpy as np
import pytest
from mutagen.ogg import OggPage

from streamer.audio.ffmpeg import ffmpeg_exe
from streamer.wire.aac_silence import silent_adts_frame
from streamer.wire.framing import AdtsFramer, OggFramer, adts_frame_length, adts_params, ogg_chain_end

from .conftest import decode_errors


def encode(tmp_path, name: str, codec: list[str], fmt: str, title: str, freq: int = 440, seconds: float = 3.0) -> bytes:
    out = tmp_path / name
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine={freq}:duration={seconds}", "-ac", "2", *codec,
         "-metadata", "artist=Tendai", "-metadata", f"title={title}", "-f", fmt, str(out)],
        check=True,
    )  # fmt: skip
    return out.read_bytes()


def feed_in_pieces(framer, data: bytes, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    units, pos = [], 0
    while pos < len(data):
        n = rng.randint(1, 3000)
        units += framer.feed(data[pos : pos + n])
        pos += n
    return units


@pytest.mark.parametrize(
    ("codec", "header_pages"),
    [(["-c:a", "libvorbis"], 2), (["-c:a", "libopus"], 2), (["-c:a", "flac"], 2)],
    ids=["vorbis", "opus", "flac"],
)
def test_ogg_pages_headers_and_title(tmp_path, codec, header_pages):
    data = encode(tmp_path, "a.ogg", codec, "ogg", "Kwedu \u2013 Ngoma")
    framer = OggFramer()
    pages = feed_in_pieces(framer, data)
    assert b"".join(pages) == data and framer.skipped == 0
    assert all(p.startswith(b"OggS") for p in pages)
    assert framer.headers == b"".join(pages[:header_pages])
    assert framer.title == "Tendai - Kwedu \u2013 Ngoma"
    # A listener who joins at a later page, given the headers first, decodes cleanly.
    late = framer.headers + b"".join(pages[len(pages) // 2 :])
    errors, stream = decode_errors(late, tmp_path, "late.ogg")
    assert errors == [] and stream


def test_a_late_ogg_listener_without_headers_cannot_decode(tmp_path):
    """Why the headers are kept: the same pages without them are not a playable stream."""
    data = encode(tmp_path, "a.ogg", ["-c:a", "libvorbis"], "ogg", "Song")
    pages = OggFramer().feed(data)
    errors, stream = decode_errors(b"".join(pages[len(pages) // 2 :]), tmp_path, "bare.ogg")
    assert errors or not stream


def test_ogg_chains_junk_and_where_headers_are(tmp_path):
    one = encode(tmp_path, "1.ogg", ["-c:a", "libvorbis"], "ogg", "First")
    two = encode(tmp_path, "2.ogg", ["-c:a", "libvorbis"], "ogg", "Second", freq=660)
    framer = OggFramer()
    first = framer.feed(b"junk before" + one)
    assert framer.skipped == len(b"junk before")
    assert framer.chain_began == 0 and framer.headers_ended == 2 and framer.title == "Tendai - First"
    second = framer.feed(two[:100])  # the first page only
    assert framer.chain_began == 0 and framer.title == "Tendai - First"  # the new headers are not all in yet
    rest = framer.feed(two[100:])
    assert framer.title == "Tendai - Second" and framer.headers == two[: len(framer.headers)]
    assert framer.headers_ended is not None and b"".join(second + rest[: framer.headers_ended]).startswith(framer.headers)
    assert b"".join(first) == one and b"".join(second + rest) == two


def test_a_reader_joining_mid_headers_gets_the_pages_so_far_and_the_page_begun(tmp_path):
    """A DJ's decoder started again just after their next chain's first page: it needs that page
    and the part of the next one already read, or nothing of the chain decodes (QA)."""
    one = encode(tmp_path, "1.ogg", ["-c:a", "libvorbis"], "ogg", "First")
    two = encode(tmp_path, "2.ogg", ["-c:a", "libvorbis"], "ogg", "Second", freq=660)
    framer = OggFramer()
    framer.feed(one)
    assert framer.joining_bytes() == framer.headers  # between pages, mid-chain: its headers
    bos = len(framer.feed(two[:100])[0])  # the next chain's first page, and 100 - bos bytes of its second
    assert framer.joining_bytes() == two[:100] and bos < 100
    framer.feed(two[100:])
    assert framer.joining_bytes() == framer.headers == two[: len(framer.headers)]


def test_adts_frames(tmp_path):
    data = encode(tmp_path, "a.aac", ["-c:a", "aac", "-b:a", "96k"], "adts", "Song")
    framer = AdtsFramer()
    frames = feed_in_pieces(framer, b"\xff\xf1junk" + data + data[:7])
    assert framer.skipped == 6
    lengths = [adts_frame_length(f, 0) for f in frames]
    assert lengths == [len(f) for f in frames]
    assert b"".join(frames) == data  # the last frame is out once the next frame's header is seen
    errors, _ = decode_errors(b"".join(frames[len(frames) // 2 :]), tmp_path, "late.aac")
    assert errors == []


def test_where_a_late_ogg_listener_starts(tmp_path):
    """Mount.listen_start: the burst as is, moved back to the headers, or with them sent first."""
    from streamer.config import MountConfig
    from streamer.sources.ingest import Ingest
    from streamer.stream.mount import Mount

    data = encode(tmp_path, "a.ogg", ["-c:a", "libvorbis", "-b:a", "192k"], "ogg", "Song", seconds=6.0)
    mount = Mount(MountConfig("/pass", burst_size=20_000, queue_size=100_000), 0.1)
    ingest = Ingest(mount, "application/ogg")
    ingest.feed(data[:100])  # the first page only: the headers are not all in yet
    mount.buffer.append(b"".join(mount.pending_raw))
    mount.pending_raw.clear()
    assert mount.listen_start(20_000) == (0, b"")
    for i in range(100, len(data), 4000):  # one buffer chunk per piece, as the pacer appends them
        ingest.feed(data[i : i + 4000])
        mount.buffer.append(b"".join(mount.pending_raw))
        mount.pending_raw.clear()
    chain = mount.chains.current
    assert chain is not None and chain.end is not None
    assert chain.start == 0 and data[: chain.end] == chain.headers and mount.title == "Tendai - Song"
    start, prefix = mount.listen_start(20_000)
    assert start > chain.end and prefix == chain.headers  # far into the stream: headers first
    assert data[start : start + 4] == b"OggS"  # then from a page boundary
    assert mount.listen_start(mount.buffer.end) == (0, b"")  # a burst from the very start has them


def _page(sequence: int, granule: int, packets: list[bytes], eos: bool = False) -> bytes:
    page = OggPage()
    page.serial, page.sequence, page.position, page.packets, page.last = 77, sequence, granule, packets, eos
    return page.write()


def test_a_listener_leaving_mid_chain_gets_an_eos_page_that_ends_it():
    import io

    # the last page's body holds a false capture pattern, found first when looking back
    tail = _page(3, 1000, [b"x" * 300]) + _page(4, 2000, [b"aOggS" + bytes(40), b"y" * 100])
    ending = ogg_chain_end(tail)
    page = OggPage(io.BytesIO(ending))  # mutagen checks its CRC on write: the same bytes back
    assert page.write() == ending
    assert (page.serial, page.sequence, page.position, page.last, page.packets) == (77, 5, 2000, True, [])
    assert ogg_chain_end(tail[:-1]) == b"" and ogg_chain_end(b"") == b"" and ogg_chain_end(b"no pages") == b""
    assert ogg_chain_end(tail + _page(5, 2000, [], eos=True)) == b""  # ended already


@pytest.mark.parametrize("paced_out", [True, False])
def test_a_source_that_dropped_mid_chain_has_its_chain_ended_when_the_next_source_begins(tmp_path, paced_out):
    """A DJ's Ogg source drops mid-chain and a new one connects to the pass-through mount: the
    mount's stream gets the EOS page the first never sent before the second's first chain
    (whether the first's last pages were paced out to the buffer yet or not), and ffmpeg
    decodes the whole stream, both chains, with no error."""
    from streamer.config import MountConfig
    from streamer.sources.ingest import Ingest
    from streamer.stream.mount import Mount

    first = encode(tmp_path, "a.ogg", ["-c:a", "libvorbis", "-b:a", "128k"], "ogg", "One", seconds=4.0)
    second = encode(tmp_path, "b.ogg", ["-c:a", "libvorbis", "-b:a", "128k"], "ogg", "Two", freq=660, seconds=3.0)
    mount = Mount(MountConfig("/pass", burst_size=20_000, queue_size=1_000_000), 0.1)

    def pace_out() -> None:
        mount.buffer.append(b"".join(mount.pending_raw))
        mount.pending_raw.clear()

    Ingest(mount, "application/ogg").feed(first[: len(first) * 2 // 3])  # whole pages only: it drops mid-chain
    if paced_out:
        pace_out()
    Ingest(mount, "application/ogg").feed(second)
    pace_out()
    stream = b"".join(mount.buffer.slices(0, mount.buffer.end))
    pages = OggFramer().feed(stream)
    serials = [int.from_bytes(p[14:18], "little") for p in pages]
    one = [p[5] for p, s in zip(pages, serials, strict=True) if s == serials[0]]
    two = [p[5] for p, s in zip(pages, serials, strict=True) if s != serials[0]]
    assert one[-1] == 4 and one.count(4) == 1 and two[0] == 2 and two[-1] == 4  # each chain ends before the next
    assert stream[mount.chains.current.start :] == second  # a late listener's chain starts at its headers, after the EOS
    decoded = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "ogg", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
        input=stream, capture_output=True,
    )  # fmt: skip
    assert decoded.stderr == b"" and len(decoded.stdout) / 96000 > 5.0


def test_a_chain_left_open_within_one_read_is_ended_and_the_earlier_headers_stay_where_they_were():
    """One read holds chain A's headers and audio (no EOS) and chain B's first page: the EOS page
    goes in before B, A's header pages end where they did, and B begins after the EOS."""
    from streamer.config import MountConfig
    from streamer.sources.ingest import Ingest
    from streamer.stream.mount import Mount

    def page(serial: int, sequence: int, packets: list[bytes], bos: bool = False) -> bytes:
        p = OggPage()
        p.serial, p.sequence, p.position, p.packets, p.first = serial, sequence, 960 * sequence, packets, bos
        return p.write()

    head = b"OpusHead" + bytes([1, 2, 0, 0]) + (48000).to_bytes(4, "little") + bytes(3)
    tags = b"OpusTags" + (1).to_bytes(4, "little") + b"x" + bytes(4)
    a = [page(1, 0, [head], bos=True), page(1, 1, [tags]), page(1, 2, [b"\xfc" + bytes(99)])]
    b = page(2, 0, [head], bos=True)
    mount = Mount(MountConfig("/pass", burst_size=0, queue_size=100_000), 0.1)
    Ingest(mount, "application/ogg").feed(b"".join(a) + b)
    stream = b"".join(mount.pending_raw)
    eos = ogg_chain_end(b"".join(a))
    assert eos and stream == b"".join(a) + eos + b
    first, second = mount.chains.chains
    assert (first.start, first.end, first.headers) == (0, len(a[0]) + len(a[1]), a[0] + a[1])
    assert second.start == len(b"".join(a)) + len(eos) and second.end is None


@pytest.mark.parametrize(("channels", "rate"), [(2, 44100), (1, 22050), (2, 48000)])
def test_a_silent_aac_frame_decodes_to_silence_between_real_frames(tmp_path, channels, rate):
    """The frames that bridge a hole in an HLS variant (stream/hls.py): ffmpeg decodes them with
    no error, to exact zeros, at the layout of the frames around them."""
    aac = encode(tmp_path, "tone.aac", ["-c:a", "aac", "-b:a", "64k", "-ar", str(rate), "-ac", str(channels)], "adts", "Tone")
    frames = AdtsFramer().feed(aac + aac[:7])
    silent = silent_adts_frame(frames[5])
    assert silent and adts_frame_length(silent, 0) == len(silent) and adts_params(silent) == adts_params(frames[5])
    stream = b"".join(frames[:40]) + silent * 50 + b"".join(frames[40:60])
    out = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "warning", "-f", "aac", "-i", "pipe:0", "-f", "f32le", "-ac", str(channels), "-"],
        input=stream, capture_output=True, check=True,
    )  # fmt: skip
    assert out.stderr == b""
    pcm = np.frombuffer(out.stdout, np.float32).reshape(-1, channels)
    assert len(pcm) == 110 * 1024
    assert np.abs(pcm[10 * 1024 : 38 * 1024]).max() > 0.05  # the tone
    assert np.abs(pcm[42 * 1024 : 88 * 1024]).max() == 0.0  # the silence (after one frame's overlap)
    assert np.abs(pcm[92 * 1024 :]).max() > 0.05  # and the tone again
