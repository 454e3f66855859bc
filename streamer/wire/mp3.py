"""MPEG audio frame parsing and timing (pure: bytes in, frames out).

The pacing clock, burst alignment and title placement all count in MP3 frames, so this
module is the one place that knows the header layout.
"""

from __future__ import annotations

from dataclasses import dataclass

# Bitrates in kbit/s by [version is MPEG-1][layer][index]; index 0 is "free", 15 invalid.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_VERSIONS = {3: "1", 2: "2", 0: "2.5"}


@dataclass(frozen=True, slots=True)
class FrameHeader:
    version: str  # "1", "2" or "2.5"
    layer: int
    bitrate: int  # kbit/s
    sample_rate: int
    channels: int
    length: int  # bytes, header included
    samples: int  # PCM samples per channel in this frame

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


_cache: dict[int, FrameHeader | None] = {}


def parse_header(word: int) -> FrameHeader | None:
    """Decode a 32-bit big-endian frame header, or None if it is not a valid one."""
    if word in _cache:
        return _cache[word]
    header = _decode(word)
    if len(_cache) < 4096:
        _cache[word] = header
    return header


def _decode(word: int) -> FrameHeader | None:
    if (word >> 21) & 0x7FF != 0x7FF:
        return None
    version_bits = (word >> 19) & 3
    layer_bits = (word >> 17) & 3
    bitrate_index = (word >> 12) & 0xF
    rate_index = (word >> 10) & 3
    if version_bits == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits
    mpeg1 = version_bits == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index]
    sample_rate = _RATES[version_bits][rate_index]
    padding = (word >> 9) & 1
    channels = 1 if (word >> 6) & 3 == 3 else 2
    if layer == 1:
        length = (12 * bitrate * 1000 // sample_rate + padding) * 4
        samples = 384
    elif layer == 2 or mpeg1:
        length = 144 * bitrate * 1000 // sample_rate + padding
        samples = 1152
    else:  # Layer III, MPEG-2/2.5: half the samples, half the slot factor
        length = 72 * bitrate * 1000 // sample_rate + padding
        samples = 576
    return FrameHeader(_VERSIONS[version_bits], layer, bitrate, sample_rate, channels, length, samples)


class FrameSplitter:
    """Cuts an MP3 byte stream into whole frames, resynchronising over junk.

    Junk (ID3 tags, Xing frames' neighbours, a corrupt stretch) is skipped and counted.
    A sync word is trusted once the next frame's header also parses, or at end of data
    when `final` is given.
    """

    __slots__ = ("_pending", "skipped")

    def __init__(self) -> None:
        self._pending = bytearray()
        self.skipped = 0

    def feed(self, data: bytes, final: bool = False) -> list[tuple[FrameHeader, bytes]]:
        buf = self._pending
        buf += data
        frames: list[tuple[FrameHeader, bytes]] = []
        i = 0
        n = len(buf)
        while n - i >= 4:
            header = parse_header(int.from_bytes(buf[i : i + 4], "big"))
            if header is None:
                i += 1
                self.skipped += 1
                continue
            end = i + header.length
            if end + 4 <= n:
                following = parse_header(int.from_bytes(buf[end : end + 4], "big"))
                if following is None or following.sample_rate != header.sample_rate:
                    i += 1
                    self.skipped += 1
                    continue
            elif not (final and end <= n):
                break
            frames.append((header, bytes(buf[i:end])))
            i = end
        if final:
            self.skipped += n - i
            i = n
        del buf[:i]
        return frames
