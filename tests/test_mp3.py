from streamer.wire.mp3 import FrameSplitter, parse_header


def frame(bitrate_index: int = 9, rate_index: int = 0, padding: int = 0, mpeg1: bool = True, mono: bool = False) -> bytes:
    """A syntactically valid Layer III frame (header + zero payload)."""
    version = 3 if mpeg1 else 2
    word = (0x7FF << 21) | (version << 19) | (1 << 17) | (1 << 16) | (bitrate_index << 12) | (rate_index << 10) | (padding << 9)
    word |= (3 if mono else 0) << 6
    header = parse_header(word)
    assert header is not None
    return word.to_bytes(4, "big") + bytes(header.length - 4)


def test_mpeg1_layer3_128k_44100():
    h = parse_header(int.from_bytes(frame()[:4], "big"))
    assert (h.version, h.layer, h.bitrate, h.sample_rate, h.channels) == ("1", 3, 128, 44100, 2)
    assert h.length == 417 and h.samples == 1152
    assert abs(h.duration - 1152 / 44100) < 1e-12


def test_padding_adds_one_byte():
    assert len(frame(padding=1)) == 418


def test_mpeg2_lsf_has_576_samples_and_half_slot():
    h = parse_header(int.from_bytes(frame(bitrate_index=6, rate_index=0, mpeg1=False, mono=True)[:4], "big"))
    # MPEG-2 index 6 = 48 kbit/s at 22050 Hz: 72 * 48000 / 22050 = 156 bytes
    assert (h.sample_rate, h.bitrate, h.samples, h.length, h.channels) == (22050, 48, 576, 156, 1)


def test_invalid_headers_rejected():
    assert parse_header(0) is None
    assert parse_header(0xFFFFFFFF) is None  # bitrate index 15, rate index 3
    word = int.from_bytes(frame()[:4], "big")
    assert parse_header(word & ~(0xF << 12)) is None  # "free" bitrate


def test_splitter_skips_junk_and_keeps_partial_frames():
    f1, f2, f3 = frame(), frame(padding=1), frame()
    stream = b"ID3junk!" + f1 + f2 + f3
    s = FrameSplitter()
    out = s.feed(stream[:420])
    assert [len(f) for _, f in out] == []  # f1 is not complete yet
    out += s.feed(stream[420:])
    out += s.feed(b"", final=True)
    assert [f for _, f in out] == [f1, f2, f3]
    assert s.skipped == len(b"ID3junk!")


def test_splitter_resyncs_after_corruption():
    f = frame()
    stream = f + f[:100] + f + f
    s = FrameSplitter()
    out = s.feed(stream, final=True)
    assert len(out) == 3  # the truncated frame is dropped, its neighbours kept
    assert all(x == f for _, x in out)


def test_splitter_one_byte_at_a_time():
    frames = [frame(padding=i % 2) for i in range(5)]
    s = FrameSplitter()
    out = []
    for b in b"".join(frames):
        out += s.feed(bytes([b]))
    out += s.feed(b"", final=True)
    assert [f for _, f in out] == frames
