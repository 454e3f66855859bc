"""A silent AAC-LC frame in ADTS, shaped like a given frame (its sample rate and channels).

HLS bridges a hole in a variant's audio (its encoder restarted) with these, so its segment
numbers, timestamps and alignment with the other variants go on as if it had played (Safari
fills an EXT-X-GAP with silence too; many players know no such tag). Pure: bytes in, bytes out.

The raw data block is the smallest the AAC syntax allows (ISO/IEC 14496-3, 4.4.2): one single
channel element (mono) or channel pair element (stereo) whose long window has no scale-factor
bands (max_sfb 0), so no spectral data, then the END element. A decoder makes 1024 zero
samples per channel from it (after overlapping the tail of the frame before: no click).
"""

from __future__ import annotations

SCE, CPE, END = 0, 1, 7  # syntactic element ids
GLOBAL_GAIN = 100  # any value: with no bands nothing is scaled by it


class _Bits:
    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, value: int, bits: int) -> None:
        self.value = (self.value << bits) | (value & ((1 << bits) - 1))
        self.length += bits

    def bytes(self) -> bytes:
        pad = -self.length % 8
        return (self.value << pad).to_bytes((self.length + pad) // 8, "big")


def _empty_channel_stream(bits: _Bits) -> None:
    bits.put(GLOBAL_GAIN, 8)
    # ics_info, all zero: reserved bit (1), ONLY_LONG_SEQUENCE (2), sine window (1), max_sfb 0 (6),
    # no prediction (1); then no pulse, TNS or gain control data (1 each)
    bits.put(0, 11 + 3)


def silent_raw_block(channels: int) -> bytes:
    """An AAC-LC raw_data_block of silence for 1 or 2 channels (b"" for any other layout)."""
    if channels not in (1, 2):
        return b""
    bits = _Bits()
    bits.put(SCE if channels == 1 else CPE, 3)
    bits.put(0, 4)  # element instance tag
    if channels == 2:
        bits.put(0, 1)  # no common window: each channel says its own (empty) window
    for _ in range(channels):
        _empty_channel_stream(bits)
    bits.put(END, 3)
    return bits.bytes()


def silent_adts_frame(like: bytes) -> bytes:
    """A silent frame with the header of the ADTS frame `like` (profile, rate, channels), one raw
    data block and no CRC; b"" if `like` is no ADTS frame of AAC-LC with 1 or 2 channels."""
    if len(like) < 7 or like[0] != 0xFF or like[1] & 0xF6 != 0xF0:
        return b""
    profile, channels = like[2] >> 6, ((like[2] & 0x01) << 2) | (like[3] >> 6)
    block = silent_raw_block(channels)
    if profile != 1 or not block:  # 1: AAC-LC (the object type less one)
        return b""
    length = 7 + len(block)
    header = bytes([
        0xF1 | (like[1] & 0x08),  # keep the MPEG version bit; protection absent (no CRC)
        like[2],  # profile, sample-rate index, private bit, channel configuration's high bit
        (like[3] & 0xF0) | ((length >> 11) & 0x03),  # channel configuration, original/home, copyright bits
        (length >> 3) & 0xFF,
        ((length & 0x07) << 5) | 0x1F,  # buffer fullness 0x7FF: variable bitrate
        0xFC,  # the rest of the buffer fullness; one raw data block
    ])  # fmt: skip
    return b"\xff" + header + block
