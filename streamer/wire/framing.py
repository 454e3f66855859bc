"""Cutting pass-through streams that are not MP3 into their own units: Ogg pages and ADTS frames.

Pure: bytes in, whole units out. A listener who joins an Ogg stream mid-way needs the codec's
header pages (Vorbis: identification, comments, setup; Opus: OpusHead, OpusTags) before any
audio page, then audio from a page boundary — as Icecast sends it. An AAC listener should start
on an ADTS frame. So a pass-through mount appends only whole units to its buffer, and keeps the
Ogg headers of the current chain to send ahead of a new listener's burst.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from mutagen.ogg import OggPage as PageWriter

from .icy import stream_title

OGG_CAPTURE = b"OggS"
OGG_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, sequence, crc, segments
BOS, EOS = 0x02, 0x04
MAX_UNIT = 65_307  # the largest Ogg page (27 + 255 + 255 * 255); ADTS frames are far smaller


@dataclass(frozen=True, slots=True)
class OggPage:
    data: bytes
    bos: bool
    granule: int
    serial: int
    lacing: bytes

    def packets(self) -> list[tuple[bytes, bool]]:
        """(bytes, complete) per packet piece on this page; the last may continue on the next."""
        out: list[tuple[bytes, bool]] = []
        pos = 27 + len(self.lacing)
        start = pos
        for size in self.lacing:
            pos += size
            if size < 255:
                out.append((self.data[start:pos], True))
                start = pos
        if start < pos:
            out.append((self.data[start:pos], False))
        return out


def _header_packets(first: bytes) -> int | None:
    """How many header packets a logical stream starts with, from its first packet."""
    if first.startswith(b"\x01vorbis"):
        return 3
    if first.startswith(b"OpusHead"):
        return 2
    if first.startswith(b"Speex   ") and len(first) >= 72:
        return 2 + struct.unpack_from("<I", first, 68)[0]
    if first.startswith(b"\x7fFLAC") and len(first) >= 9:
        return 1 + struct.unpack_from(">H", first, 7)[0]
    return None  # unknown codec: pages with granule 0 count as headers


StreamParams = tuple[int | None, int | None, int | None]  # kbit/s, sample rate, channels (None: not said)


def codec_params(first: bytes) -> StreamParams:
    """What a logical stream's first (identification) packet says about it."""
    try:
        if first.startswith(b"\x01vorbis") and len(first) >= 28:
            channels, rate = first[11], struct.unpack_from("<I", first, 12)[0]
            nominal = struct.unpack_from("<i", first, 20)[0]
            return (nominal // 1000 if nominal > 0 else None), rate, channels
        if first.startswith(b"OpusHead") and len(first) >= 19:
            return None, 48000, first[9]  # Opus always decodes at 48 kHz
        if first.startswith(b"\x7fFLAC") and len(first) >= 17 + 18:
            info = first[17:]  # STREAMINFO, after the mapping header, "fLaC" and its block header
            rate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4)
            return None, rate, ((info[12] >> 1) & 0x07) + 1
    except (struct.error, IndexError):
        pass
    return None, None, None


def _comment_fields(packet: bytes) -> dict[str, str]:
    """The KEY=value fields of a Vorbis comment header (Vorbis, Opus and FLAC-in-Ogg use it)."""
    if packet.startswith(b"\x03vorbis"):
        body = packet[7:]
    elif packet.startswith(b"OpusTags"):
        body = packet[8:]
    elif packet[:1] and packet[0] & 0x7F == 4:  # a FLAC VORBIS_COMMENT metadata block
        body = packet[4:]
    else:
        return {}
    try:
        (vendor,) = struct.unpack_from("<I", body, 0)
        pos = 4 + vendor
        (count,) = struct.unpack_from("<I", body, pos)
        pos += 4
        fields: dict[str, str] = {}
        for _ in range(min(count, 1000)):
            (length,) = struct.unpack_from("<I", body, pos)
            key, _, value = body[pos + 4 : pos + 4 + length].decode("utf-8", "replace").partition("=")
            fields.setdefault(key.upper(), value)
            pos += 4 + length
        return fields
    except struct.error:
        return {}


class OggFramer:
    """Splits an Ogg byte stream into pages and tracks the header pages of the current chain.

    `feed` returns the whole pages now complete. After it, `headers` holds the header pages of
    the latest chain whose headers are all in, and `title` its "ARTIST - TITLE" from its comment
    header; `chain_began` is the index among the returned pages where a new chain's first page
    is (or None), and `headers_ended` the index just past its last header page (or None).
    """

    def __init__(self) -> None:
        self._buf = b""
        self.skipped = 0  # bytes that were not Ogg pages
        self.headers = b""
        self.chain_began: int | None = None
        self.headers_ended: int | None = None
        self.title = ""
        self.parts = ("", "")  # (artist, title) as the comments give them
        self.params: StreamParams = (None, None, None)  # of the latest chain
        self._pending = b""  # header pages of a chain whose headers are not all in yet
        self._needed: int | None = None
        self._packets: list[bytes] = []
        self._partial = b""
        self._in_headers = False

    def feed(self, data: bytes) -> list[bytes]:
        self.chain_began = self.headers_ended = None
        buf = self._buf + data
        pages: list[bytes] = []
        pos = 0
        while True:
            at = buf.find(OGG_CAPTURE, pos)
            if at < 0:
                keep = max(pos, len(buf) - 3)  # a capture pattern may straddle the next read
                self.skipped += keep - pos
                pos = keep
                break
            self.skipped += at - pos
            pos = at
            if len(buf) - pos < 27:
                break
            _, version, flags, granule, serial, _, _, segments = OGG_HEADER.unpack_from(buf, pos)
            if version != 0:
                pos += 1
                continue
            if len(buf) - pos < 27 + segments:
                break
            lacing = buf[pos + 27 : pos + 27 + segments]
            end = pos + 27 + segments + sum(lacing)
            if end > len(buf):
                break
            page = OggPage(buf[pos:end], bool(flags & BOS), granule, serial, lacing)
            began, ended = self._track_headers(page)
            if began:
                self.chain_began = len(pages)
            if ended is not None:
                self.headers_ended = len(pages) + ended
            pages.append(page.data)
            pos = end
        self._buf = buf[pos:]
        return pages

    def joining_bytes(self) -> bytes:
        """What a second reader of this stream that joins now needs ahead of the bytes fed next:
        the current chain's header pages (as many as are in) and the start of a page not yet
        complete (QA: a DJ retaking the air just after their next chain's first page never decoded)."""
        return (self._pending if self._in_headers else self.headers) + self._buf

    def _track_headers(self, page: OggPage) -> tuple[bool, int | None]:
        """(a new chain begins with this page, where its headers end: None if not yet, 1 if with
        this page, 0 if just before it)."""
        began = False
        if page.bos:
            if not self._in_headers:  # a new chain (or the first): its headers start here
                self._pending, self._packets, self._partial, self._needed = b"", [], b"", None
                self._in_headers = began = True
        elif not self._in_headers:
            return False, None
        elif self._needed is None and page.granule not in (0, -1):
            self._complete()  # unknown codec: the first page with a position is audio
            return False, 0
        self._pending += page.data
        return began, (1 if self._take_packets(page) else None)

    def _take_packets(self, page: OggPage) -> bool:
        for piece, complete in page.packets():
            if not complete:
                self._partial += piece
                continue
            packet, self._partial = self._partial + piece, b""
            if not self._packets:
                self._needed = _header_packets(packet)
                self.params = codec_params(packet)
            self._packets.append(packet)
        if self._needed is not None and len(self._packets) >= self._needed:
            self._complete()
            return True
        return False

    def _complete(self) -> None:
        self.headers, self._pending, self._in_headers = self._pending, b"", False
        fields: dict[str, str] = {}
        for packet in self._packets[1:3]:
            fields = fields or _comment_fields(packet)
        artist, title = fields.get("ARTIST", "").strip(), fields.get("TITLE", "").strip()
        self.title, self.parts = stream_title(artist, title), (artist, title)


def ogg_chain_end(tail: bytes) -> bytes:
    """An EOS page ending the chain of the last page in `tail` (the bytes a listener got last),
    for a listener who leaves the stream there for another: a chained Ogg stream ends each chain
    before the next begins (RFC 3533). The page carries no packet, so its granule position is the
    last page's and nothing is trimmed. b"" when that page ended its chain already, or when `tail`
    does not end with a whole Ogg page."""
    at = len(tail)
    while (at := tail.rfind(OGG_CAPTURE, max(0, len(tail) - MAX_UNIT), at)) >= 0:
        if len(tail) - at >= 27:
            _, version, flags, granule, serial, sequence, _, segments = OGG_HEADER.unpack_from(tail, at)
            lacing = tail[at + 27 : at + 27 + segments]
            if version == 0 and len(lacing) == segments and at + 27 + segments + sum(lacing) == len(tail):
                if flags & EOS:
                    return b""
                page = PageWriter()
                page.serial, page.sequence, page.position, page.packets, page.last = serial, sequence + 1, granule, [], True
                return page.write()
    return b""


ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def adts_frame_length(buf: bytes, pos: int) -> int | None:
    """The length of the ADTS frame whose header starts at `pos`, or None if none starts there."""
    if len(buf) - pos < 7:
        return None
    b0, b1, b2, b3, b4, b5 = buf[pos : pos + 6]
    if b0 != 0xFF or b1 & 0xF6 != 0xF0 or (b2 >> 2) & 0x0F >= len(ADTS_RATES):
        return None  # sync word, layer 0, a real sample-rate index
    length = ((b3 & 0x03) << 11) | (b4 << 3) | (b5 >> 5)
    return length if length >= 7 else None


def adts_params(frame: bytes) -> StreamParams:
    """Sample rate and channels from an ADTS header (the bitrate is not in it)."""
    if len(frame) < 4:
        return None, None, None
    index = (frame[2] >> 2) & 0x0F
    channels = ((frame[2] & 0x01) << 2) | (frame[3] >> 6)
    return None, ADTS_RATES[index] if index < len(ADTS_RATES) else None, channels or None


class AdtsFramer:
    """Splits an ADTS (raw AAC) stream into whole frames; bytes between frames are skipped."""

    def __init__(self) -> None:
        self._buf = b""
        self.skipped = 0

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf + data
        frames: list[bytes] = []
        pos = 0
        while len(buf) - pos >= 7:
            length = adts_frame_length(buf, pos)
            if length is None:
                nxt = buf.find(b"\xff", pos + 1)
                nxt = len(buf) if nxt < 0 else nxt
                self.skipped += nxt - pos
                pos = nxt
                continue
            # Emit a frame once the next one's header is seen too: a false sync in junk is rare,
            # two in a row at the right distance are not. That holds back one frame (~23 ms).
            if pos + length + 7 > len(buf):
                break
            if adts_frame_length(buf, pos + length) is None:
                self.skipped += 1
                pos += 1
                continue
            frames.append(buf[pos : pos + length])
            pos += length
        self._buf = buf[pos:]
        if len(self._buf) > MAX_UNIT:  # never a frame: do not hoard
            self.skipped += len(self._buf)
            self._buf = b""
        return frames


def adts_samples(frame: bytes) -> int:
    """PCM samples per channel in an ADTS frame: 1024 per raw data block."""
    return 1024 * ((frame[6] & 0x03) + 1) if len(frame) >= 7 else 1024
