"""What the benchmarks read out of streams, written independently of streamer's own wire/
code so a bug there cannot hide itself: ICY metadata taken out of MP3/AAC streams, titles
from the comment headers of chained Ogg streams (Opus, Vorbis, FLAC), timed ID3 titles in
HLS segments (MPEG-TS metadata PES packets, or fMP4 'emsg' boxes), and HLS media playlists.
Pure: bytes and text in, values out.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from datetime import datetime


class IcyParser:
    """Audio bytes and StreamTitle values out of a stream with ICY metadata every `metaint` bytes."""

    def __init__(self, metaint: int) -> None:
        self.metaint = metaint
        self.left = metaint  # audio bytes before the next length byte
        self.pending = b""  # a metadata block not complete yet (length byte included)

    def feed(self, data: bytes) -> tuple[bytes, list[str]]:
        audio, titles = bytearray(), []
        while data:
            if self.left:
                audio += data[: self.left]
                data, self.left = data[self.left :], self.left - min(self.left, len(data))
                continue
            self.pending += data
            size = 1 + self.pending[0] * 16
            if len(self.pending) < size:
                return bytes(audio), titles
            block, data, self.pending = self.pending[1:size], self.pending[size:], b""
            self.left = self.metaint
            match = re.search(rb"StreamTitle='(.*?)';", block, re.S)
            if match:
                titles.append(match[1].decode("utf-8", "replace"))
        return bytes(audio), titles


def vorbis_comments(data: bytes) -> dict[str, str]:
    """A Vorbis comment structure (vendor, then KEY=value list), keys upper-cased."""
    vendor = struct.unpack_from("<I", data)[0]
    pos = 4 + vendor
    count = struct.unpack_from("<I", data, pos)[0]
    pos += 4
    out = {}
    for _ in range(count):
        size = struct.unpack_from("<I", data, pos)[0]
        key, _, value = data[pos + 4 : pos + 4 + size].decode("utf-8", "replace").partition("=")
        out[key.upper()] = value
        pos += 4 + size
    return out


def _comment_packet(first: bytes, packet: bytes) -> dict[str, str] | None:
    """The comments, if `packet` is the comment header of a stream whose first packet is `first`."""
    if packet.startswith(b"OpusTags"):
        return vorbis_comments(packet[8:])
    if packet.startswith(b"\x03vorbis"):
        return vorbis_comments(packet[7:])
    if first.startswith(b"\x7fFLAC") and packet and packet[0] & 0x7F == 4:  # FLAC VORBIS_COMMENT block
        return vorbis_comments(packet[4:])
    return None


def _display(comments: dict[str, str]) -> str:
    title, artist = comments.get("TITLE", ""), comments.get("ARTIST", "")
    return f"{artist} - {title}" if artist and title else title or artist


@dataclass
class OggScanner:
    """Ogg pages in, each new chain's title out (from its comment header)."""

    buf: bytes = b""
    chains: int = 0  # beginning-of-stream pages seen
    pages: int = 0
    lost_sync: int = 0  # bytes skipped to find a page: should stay 0
    _first: dict[int, bytes] = field(default_factory=dict)  # serial -> first packet
    _partial: dict[int, bytes] = field(default_factory=dict)
    _index: dict[int, int] = field(default_factory=dict)  # serial -> packets completed

    def feed(self, data: bytes) -> list[str]:
        self.buf += data
        titles: list[str] = []
        while len(self.buf) >= 27:
            if not self.buf.startswith(b"OggS"):
                skip = self.buf.find(b"OggS", 1)
                skip = len(self.buf) - 3 if skip < 0 else skip
                self.lost_sync += skip
                self.buf = self.buf[skip:]
                continue
            nseg = self.buf[26]
            lacing = self.buf[27 : 27 + nseg]
            end = 27 + nseg + sum(lacing)
            if len(lacing) < nseg or len(self.buf) < end:
                break
            titles += self._page(self.buf[5], struct.unpack_from("<I", self.buf, 14)[0], lacing, self.buf[27 + nseg : end])
            self.buf = self.buf[end:]
        return titles

    def _page(self, flags: int, serial: int, lacing: bytes, body: bytes) -> list[str]:
        self.pages += 1
        if flags & 0x02:  # beginning of a logical stream: a new chain
            self.chains += 1
            self._index[serial], self._partial[serial] = 0, b""
        titles, pos = [], 0
        for size in lacing:
            self._partial[serial] = self._partial.get(serial, b"") + body[pos : pos + size]
            pos += size
            if size < 255:
                title = self._packet(serial, self._partial.pop(serial))
                if title is not None:
                    titles.append(title)
        return titles

    def _packet(self, serial: int, packet: bytes) -> str | None:
        index = self._index.get(serial, 0)
        self._index[serial] = index + 1
        if index == 0:
            self._first[serial] = packet
            return None
        if index > 3:  # headers are over (Opus/Vorbis: 2-3 packets; FLAC: comments come second)
            return None
        comments = _comment_packet(self._first.get(serial, b""), packet)
        return None if comments is None else _display(comments)


def id3_title(tag: bytes) -> str | None:
    """TIT2 of an ID3v2.3/2.4 tag (the whole display title as streamer writes it)."""
    if len(tag) < 10 or not tag.startswith(b"ID3"):
        return None
    version, size = tag[3], _synchsafe(tag[6:10])
    pos, end = 10, min(len(tag), 10 + size)
    while pos + 10 <= end:
        frame, raw = tag[pos : pos + 4], tag[pos + 4 : pos + 8]
        length = _synchsafe(raw) if version == 4 else struct.unpack(">I", raw)[0]
        if frame == b"TIT2":
            body = tag[pos + 10 : pos + 10 + length]
            encoding = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}.get(body[0], "utf-8")
            return body[1:].decode(encoding, "replace").rstrip("\x00")
        if not frame.strip(b"\x00"):
            break
        pos += 10 + length
    return None


def _synchsafe(b: bytes) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def ts_id3_titles(data: bytes) -> list[str]:
    """Titles of the ID3 tags in an MPEG-TS segment's metadata streams (PMT stream_type 0x15)."""
    payloads: dict[int, list[bytes]] = {}  # pid -> PES packets (payload units)
    metadata: set[int] = set()
    pmt_pids: set[int] = set()
    for pos in range(0, len(data) - 187, 188):
        packet = data[pos : pos + 188]
        if packet[0] != 0x47:
            continue
        pid, start, payload = _ts_payload(packet)
        if pid == 0 and start:
            pmt_pids |= _pat(payload)
        elif pid in pmt_pids and start:
            metadata |= _pmt(payload)
        elif pid in metadata:
            units = payloads.setdefault(pid, [])
            if start:
                units.append(b"")
            if units:
                units[-1] += payload
    titles = []
    for units in payloads.values():
        for pes in units:
            body = pes[9 + pes[8] :] if len(pes) > 9 else b""  # past the PES header
            title = id3_title(body)
            if title is not None:
                titles.append(title)
    return titles


def _ts_payload(packet: bytes) -> tuple[int, bool, bytes]:
    pid = ((packet[1] & 0x1F) << 8) | packet[2]
    start = bool(packet[1] & 0x40)
    control = (packet[3] >> 4) & 0x3
    pos = 4 + (1 + packet[4] if control & 0x2 else 0)
    return pid, start, packet[pos:] if control & 0x1 else b""


def _section(payload: bytes) -> bytes:
    section = payload[1 + payload[0] :]  # pointer field
    length = ((section[1] & 0x0F) << 8) | section[2]
    return section[: 3 + length - 4]  # without the CRC


def _pat(payload: bytes) -> set[int]:
    section = _section(payload)
    return {((section[i + 2] & 0x1F) << 8) | section[i + 3] for i in range(8, len(section), 4) if section[i : i + 2] != b"\0\0"}


def _pmt(payload: bytes) -> set[int]:
    section = _section(payload)
    pos = 12 + (((section[10] & 0x0F) << 8) | section[11])
    out = set()
    while pos + 5 <= len(section):
        stream_type, pid = section[pos], ((section[pos + 1] & 0x1F) << 8) | section[pos + 2]
        if stream_type == 0x15:
            out.add(pid)
        pos += 5 + (((section[pos + 3] & 0x0F) << 8) | section[pos + 4])
    return out


def fmp4_id3_titles(data: bytes) -> list[str]:
    """Titles of the ID3 tags carried in the top-level 'emsg' boxes of an fMP4 segment."""
    titles, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size < 8:
            break
        if kind == b"emsg":
            title = id3_title(emsg_message(data[pos + 8 : pos + size]))
            if title is not None:
                titles.append(title)
        pos += size
    return titles


def emsg_message(body: bytes) -> bytes:
    """The message_data of an 'emsg' box (ISO/IEC 23009-1 5.10.3.3), versions 0 and 1."""
    version, pos = body[0], 4
    if version == 1:
        pos += 4 + 8 + 4 + 4  # timescale, presentation_time, event_duration, id
    for _ in range(2):  # scheme_id_uri, value: NUL-terminated
        pos = body.index(b"\0", pos) + 1
    return body[pos + (16 if version == 0 else 0) :]  # v0: timescale, time delta, duration, id


@dataclass(frozen=True)
class Entry:
    seq: int
    uri: str
    duration: float
    pdt: float | None  # EXT-X-PROGRAM-DATE-TIME as epoch seconds
    discontinuity: bool


def media_playlist(text: str) -> tuple[int, list[Entry]]:
    """(EXT-X-MEDIA-SEQUENCE, entries) of an HLS media playlist."""
    sequence, entries = 0, []
    duration, pdt, disc = 0.0, None, False
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00")).timestamp()
        elif line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line and not line.startswith("#"):
            entries.append(Entry(sequence + len(entries), line, duration, pdt, disc))
            duration, pdt, disc = 0.0, None, False
    return sequence, entries
