"""Every wire parser fed as the network feeds it: whole, byte by byte, and with trailing data;
its errors asserted by their message (plain values, no sockets)."""

from __future__ import annotations

import struct

import pytest

from streamer.wire.credentials import check_basic
from streamer.wire.formats import StreamInfo, format_of
from streamer.wire.framing import AdtsFramer, OggFramer
from streamer.wire.http import BadRequest, ChunkedDecoder, blank_lines_before, find_head_end, parse_request_head, parse_response_head
from streamer.wire.icecast import parse_audio_info
from streamer.wire.icy import IcyCursor, IcyReader, metadata_block
from streamer.wire.mp3 import FrameSplitter, parse_header

HEAD = b"GET /main?x=1 HTTP/1.1\r\nHost: radio\r\nIcy-MetaData: 1\r\n\r\n"


def byte_by_byte(feed, data: bytes) -> list:
    out: list = []
    for i in range(len(data)):
        out += feed(data[i : i + 1])
    return out


# --- request and response heads --------------------------------------------------------------------


def test_a_head_is_found_whole_byte_by_byte_and_before_a_body():
    assert find_head_end(HEAD) == len(HEAD)
    assert all(find_head_end(HEAD[:n]) == -1 for n in range(len(HEAD)))  # not before its blank line
    assert find_head_end(HEAD + b"body bytes\r\n\r\n") == len(HEAD)  # trailing data is the body's
    head = parse_request_head(HEAD)
    assert (head.method, head.path, head.header("host"), head.wants_metadata) == ("GET", "/main", "radio", True)


def test_icy_metadata_is_asked_for_as_icecast_reads_it_and_blank_lines_before_a_request_are_passed_over():
    """QA: `Icy-MetaData: 2` got no metadata; Icecast reads the value with atoi(), so any number but
    0 asks for it. Empty lines before a request line are skipped (RFC 9112, 2.2), not a 400."""
    asked = {
        v: parse_request_head(f"GET /main HTTP/1.0\r\nIcy-MetaData: {v}\r\n\r\n".encode()).wants_metadata
        for v in ("1", "2", " 1 ", "1x", "0", "yes", "", "-")
    }
    assert asked == {"1": True, "2": True, " 1 ": True, "1x": True, "0": False, "yes": False, "": False, "-": False}
    assert blank_lines_before(b"\r\n\r\nGET /main HTTP/1.0\r\n\r\n") == 4 and blank_lines_before(b"GET /\r\n") == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"GARBAGE\r\n\r\n", "malformed request line: 'GARBAGE'"),
        (b"GET / SPDY/3\r\n\r\n", "unsupported protocol version 'SPDY/3'"),
        (b"G3T / HTTP/1.1\r\n\r\n", "malformed method 'G3T'"),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", "malformed header line: 'no colon here'"),
        (b"GET / HTTP/1.1\r\n Host: a\r\n\r\n", "malformed header line: ' Host: a'"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length '-1'"),
        (b"POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n", "malformed Content-Length '12abc'"),
        (b"GET /main\xff HTTP/1.1\r\n\r\n", "the request target has bytes that are not ASCII: percent-encode them ('/main\xff')"),
    ],
)
def test_bad_request_heads_say_what_is_wrong(raw, message):
    with pytest.raises(BadRequest) as exc:
        parse_request_head(raw)
    assert exc.value.status == 400 and str(exc.value) == message


def test_response_heads_of_icecast_and_shoutcast():
    assert parse_response_head(b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint:8192\r\n\r\n") == (
        200,
        {"content-type": "audio/mpeg", "icy-metaint": "8192"},
    )
    assert parse_response_head(b"ICY 200 OK\r\nicy-name:Upstream\r\n\r\n")[0] == 200
    with pytest.raises(ValueError) as exc:
        parse_response_head(b"SSH-2.0-OpenSSH\r\n\r\n")
    assert str(exc.value) == "not an HTTP or ICY response: 'SSH-2.0-OpenSSH'"


def test_chunked_bodies_whole_byte_by_byte_and_with_what_follows():
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    assert ChunkedDecoder().feed(body) == b"hello world"
    decoder = ChunkedDecoder()
    assert b"".join(decoder.feed(body[i : i + 1]) for i in range(len(body))) == b"hello world" and decoder.done
    decoder = ChunkedDecoder()
    assert decoder.feed(body + b"trailing garbage") == b"hello world" and decoder.done  # nothing past the last chunk
    with pytest.raises(BadRequest) as exc:
        ChunkedDecoder().feed(b"x" * 1100)
    assert str(exc.value) == "malformed chunk size line"


def test_credentials_and_audio_info():
    import base64

    header = "Basic " + base64.b64encode(b"source:pw:with:colons").decode()
    assert check_basic(header, "source", "pw:with:colons") and not check_basic(header, "source", "pw")
    assert parse_audio_info("ice-samplerate=44100;ice-bitrate=128;ice-channels=2") == {"samplerate": 44100, "bitrate": 128, "channels": 2}
    assert parse_audio_info("samplerate=48000; channels=1; bogus=x; bitrate=") == {"samplerate": 48000, "channels": 1}


def test_one_format_table_and_no_icy_on_ogg_mounts():
    for content_type in ("audio/ogg", "application/ogg", "audio/opus", "audio/x-ogg", "audio/ogg; codecs=opus", "AUDIO/OGG", "video/webm"):
        assert not StreamInfo(content_type=content_type).supports_icy, content_type
    assert StreamInfo(content_type="audio/mpeg").supports_icy and StreamInfo(content_type="audio/aacp").supports_icy
    assert format_of("audio/opus").family == "ogg" and format_of("audio/x-aac").demuxer == "aac"
    assert format_of("application/x-unknown").family == "other"


# --- ICY --------------------------------------------------------------------------------------------


def test_icy_reader_whole_byte_by_byte_and_cut_mid_block():
    audio = bytes(range(256)) * 4
    cursor, wire = IcyCursor(100, 0), b""
    for span in cursor.split(0, len(audio), lambda offset: metadata_block("one" if offset < 500 else "two")):
        wire += audio[span[0] : span[1]] if isinstance(span, tuple) else span
    whole = IcyReader(100).feed(wire)
    reader = IcyReader(100)
    pieces = [reader.feed(wire[i : i + 1]) for i in range(len(wire))]
    assert whole[0] == audio == b"".join(a for a, _ in pieces)
    assert whole[1] == [b for _, blocks in pieces for b in blocks] == [(100, {"StreamTitle": "one"}), (500, {"StreamTitle": "two"})]
    reader = IcyReader(100)
    got, blocks = reader.feed(wire[: 101 + 5])  # stops inside the first block: nothing reported yet
    assert got == audio[:100] and blocks == []


# --- MP3 frames ------------------------------------------------------------------------------------


def mp3_frame(padding: int = 0) -> bytes:
    """A valid MPEG-1 Layer III header (128 kbit/s, 44.1 kHz, stereo) and a silent body."""
    word = 0xFFFB9000 | (padding << 9)
    header = parse_header(word)
    assert header is not None
    return struct.pack(">I", word) + bytes(header.length - 4)


def test_mp3_frames_whole_byte_by_byte_and_after_junk():
    frames = [mp3_frame(i % 2) for i in range(6)]
    stream = b"ID3junk\x00\xff\xfa" + b"".join(frames)
    whole = FrameSplitter()
    got = whole.feed(stream, final=True)
    assert [f for _, f in got] == frames and whole.skipped == 10
    split = FrameSplitter()
    got = byte_by_byte(split.feed, stream) + split.feed(b"", final=True)
    assert [f for _, f in got] == frames and split.skipped == 10
    held = FrameSplitter()
    assert len(held.feed(b"".join(frames) + frames[0][:3])) == 5  # the last is held until a whole next header confirms it


# --- Ogg pages and ADTS frames ------------------------------------------------------------------------


def ogg_page(serial: int, sequence: int, packets: list[bytes], granule: int = 0, bos: bool = False) -> bytes:
    lacing = b""
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, 0x02 if bos else 0, granule, serial, sequence, 0, len(lacing))
    return header + lacing + b"".join(packets)


def vorbis_stream() -> list[bytes]:
    ident = b"\x01vorbis" + struct.pack("<IBIiii", 0, 2, 44100, 0, 128000, 0) + b"\xb8\x01"
    vendor = b"test"
    comments = [b"ARTIST=Band", b"TITLE=Song"]
    comment = b"\x03vorbis" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    comment += b"".join(struct.pack("<I", len(c)) + c for c in comments) + b"\x01"
    return [
        ogg_page(7, 0, [ident], bos=True),
        ogg_page(7, 1, [comment, b"\x05vorbis setup"]),
        ogg_page(7, 2, [b"audio" * 30], granule=1024),
        ogg_page(7, 3, [b"audio" * 60], granule=2048),
    ]


def test_ogg_pages_whole_byte_by_byte_and_with_a_partial_page_after():
    pages = vorbis_stream()
    stream = b"junk" + b"".join(pages)
    whole = OggFramer()
    assert whole.feed(stream) == pages and whole.title == "Band - Song" and whole.headers == pages[0] + pages[1]
    assert whole.params == (128, 44100, 2)
    split = OggFramer()
    assert byte_by_byte(split.feed, stream) == pages and split.title == "Band - Song" and split.skipped == 4
    held = OggFramer()
    assert held.feed(b"".join(pages) + pages[2][:30]) == pages  # a page is complete or not given out


def adts_frame(size: int) -> bytes:
    """An ADTS header (AAC-LC, 44.1 kHz, stereo) for a frame of `size` bytes, then a body."""
    header = bytes([0xFF, 0xF1, 0x50, 0x80 | (size >> 11), (size >> 3) & 0xFF, ((size & 7) << 5) | 0x1F, 0xFC])
    return header + bytes(size - 7)


def test_adts_frames_whole_byte_by_byte_and_after_junk():
    frames = [adts_frame(200 + i) for i in range(5)]
    stream = b"\x00\xff\x01junk" + b"".join(frames)
    whole = AdtsFramer()
    assert whole.feed(stream) == frames[:-1]  # the last waits for the next header to confirm it
    split = AdtsFramer()
    assert byte_by_byte(split.feed, stream) == frames[:-1] and split.skipped == whole.skipped == 7
