"""One continuous Ogg Opus encoding re-wrapped as a run of chains, a new chain where each title
starts (pure: Ogg pages in, Ogg pages out).

Ogg players learn a title from a chain's comment header (OpusTags), so each title needs a new
chain. Instead of a new encoder per title, the one encoder's packets are re-paged: the old
chain ends at the title's sample (the EOS page's granule position trims the rest of its last
packet, RFC 7845 4.5), and the new chain starts with a copy of the 80 ms of packets before that
sample, which its OpusHead's pre-skip tells the decoder to decode and drop (the pre-roll RFC 7845
asks for after a seek), so the new decoder's output joins the old one's at that sample.

Positions are 48 kHz samples of the encoder's output ("raw": counted from its first packet,
priming included); a chain's granule positions count from its own first packet.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field

from mutagen.ogg import OggPage as PageWriter

from .framing import OggPage
from .text import MAX_TITLE_CHARS

PREROLL = 3840  # 80 ms at 48 kHz: what RFC 7845 asks a decoder to decode before the wanted sample
PAGE_LACING = 200  # lacing values on one page before it is closed (at most 255)
# CELT / hybrid / SILK frame sizes at 48 kHz by the TOC byte's config (RFC 6716 3.1)
_FRAME = [480, 960, 1920, 2880] * 3 + [480, 960] * 2 + [120, 240, 480, 960] * 4

Out = tuple[bytes, int, "str | None", bool]  # page, audible samples it adds, title it starts, header page


def opus_samples(packet: bytes) -> int:
    """48 kHz samples in an Opus packet, from its TOC byte (RFC 6716 3.1)."""
    if not packet:
        return 0
    toc = packet[0]
    count = toc & 3
    frames = 1 if count == 0 else 2 if count in (1, 2) else (packet[1] & 0x3F if len(packet) > 1 else 0)
    return _FRAME[toc >> 3] * frames


def opus_tags(vendor: bytes, comments: list[bytes]) -> bytes:
    fields = b"".join(struct.pack("<I", len(c)) + c for c in comments)
    return b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments)) + fields


def tags_vendor(packet: bytes) -> bytes:
    """The vendor string of an OpusTags packet (b"" if it is not one)."""
    if not packet.startswith(b"OpusTags") or len(packet) < 12:
        return b""
    size = struct.unpack_from("<I", packet, 8)[0]
    return packet[12 : 12 + size]


@dataclass(slots=True)
class _Chain:
    serial: int
    raw0: int  # raw position of its first packet
    pre_skip: int
    title: str
    sequence: int = 0
    granule: int = 0  # of the last page written
    packets: list[bytes] = field(default_factory=list)  # waiting for the next page
    end: int = 0  # raw position after the waiting packets
    lacing: int = 0
    started: bool = False  # its header pages are out


class OpusChains:
    """Feed it the encoder's Ogg pages (`feed`) and where titles start (`mark`); it returns the
    station's pages. `restart()` when a new encoder process begins (its own headers follow)."""

    def __init__(self, serial: int, in_rate: int, title: str = "") -> None:
        self.serial = serial & 0xFFFFFFFF  # the next chain's; each chain gets the next number
        self.in_rate = in_rate  # the station's sample rate, in which titles are marked
        self.title = title
        self.packets_out = 0  # audio packets since the last restart
        self.chains = 0
        self._marks: deque[tuple[int, str]] = deque()  # (station sample, title), ascending
        self.restart(0)

    def restart(self, station_sample: int) -> None:
        """A new encoder process starts at this station sample; its own header pages come first."""
        self._base = station_sample
        self._head: bytes | None = None
        self._pre_skip = 0  # the encoder's, from its OpusHead
        self._vendor = b""
        self._headers_seen = 0
        self._partial = b""
        self._raw = 0  # raw position of the next packet
        self._recent: deque[tuple[int, int, bytes]] = deque()  # (raw start, raw end, packet): the last PREROLL samples
        self._chain: _Chain | None = None
        self.packets_out = 0

    def mark(self, station_sample: int, title: str) -> None:
        """`title` starts at this station sample (not encoded yet)."""
        while self._marks and self._marks[-1][0] >= station_sample:
            self._marks.pop()
        self._marks.append((station_sample, title))

    def _raw_of(self, station_sample: int, pre_skip: int) -> int:
        return (station_sample - self._base) * 48000 // self.in_rate + pre_skip

    def feed(self, page: bytes) -> list[Out]:
        out: list[Out] = []
        for piece, complete in OggPage(page, False, 0, 0, page[27 : 27 + page[26]]).packets():
            self._partial += piece
            if complete:
                packet, self._partial = self._partial, b""
                self._packet(packet, out)
        if self._chain is not None and self._chain.packets:
            self._flush(self._chain, out, last=False)  # a page out for each page in: no added delay
        return out

    def _packet(self, packet: bytes, out: list[Out]) -> None:
        if self._headers_seen < 2:  # OpusHead, then OpusTags
            if self._headers_seen == 0:
                self._head = packet if packet.startswith(b"OpusHead") and len(packet) >= 19 else None
                self._pre_skip = struct.unpack_from("<H", packet, 10)[0] if self._head else 0
            else:
                self._vendor = tags_vendor(packet)
            self._headers_seen += 1
            return
        if self._head is None:
            return  # not an Opus stream: nothing to re-wrap
        pre_skip = self._pre_skip
        start = self._raw
        self._raw += opus_samples(packet)
        while self._recent and self._recent[0][1] <= start - PREROLL:
            self._recent.popleft()
        self._recent.append((start, self._raw, packet))
        self.packets_out += 1
        chain = self._chain or self._open(start + pre_skip, [], start)
        chain.packets.append(packet)
        chain.end, chain.lacing = self._raw, chain.lacing + len(packet) // 255 + 1
        # a title that starts within this packet (or at its end) ends the chain there
        while self._marks and self._raw_of(self._marks[0][0], pre_skip) <= self._raw:
            sample, title = self._marks.popleft()
            at = max(self._raw_of(sample, pre_skip), start + 1)  # a mark that came late: as soon as can be
            if at <= chain.raw0 + chain.pre_skip:
                if not chain.started:
                    chain.title = title  # at the chain's first sample: it is this chain's title
                    continue
                at = chain.raw0 + chain.pre_skip + 1
            chain.end = at
            self._flush(chain, out, last=True)
            chain = self._open(at, [q for q in self._recent if q[0] < at and q[1] > at - PREROLL], title=title)
        if chain.lacing > PAGE_LACING:
            self._flush(chain, out, last=False)

    def _open(self, at: int, preroll: list[tuple[int, int, bytes]], raw0: int = 0, title: str | None = None) -> _Chain:
        """A new chain whose first audible sample is raw position `at`; its packets begin with
        `preroll` (if none: the next packet, which starts at `raw0`)."""
        raw0 = preroll[0][0] if preroll else raw0
        chain = _Chain(self.serial, raw0, at - raw0, self.title if title is None else title)
        self.serial = (self.serial + 1) & 0xFFFFFFFF
        chain.packets = [p for _, _, p in preroll]
        chain.lacing = sum(len(p) // 255 + 1 for p in chain.packets)
        chain.end = preroll[-1][1] if preroll else raw0
        self._chain = chain
        return chain

    def _flush(self, chain: _Chain, out: list[Out], last: bool) -> None:
        if not chain.started:
            self._headers(chain, out)
        granule = chain.end - chain.raw0
        audible = max(0, granule - max(chain.granule, chain.pre_skip))
        out.append((self._page(chain, chain.packets, granule, eos=last), audible, None, False))
        chain.granule, chain.packets, chain.lacing = granule, [], 0

    def _headers(self, chain: _Chain, out: list[Out]) -> None:
        assert self._head is not None
        head = self._head[:10] + struct.pack("<H", chain.pre_skip) + self._head[12:]
        comments = [b"TITLE=" + chain.title[:MAX_TITLE_CHARS].encode("utf-8", "replace")] if chain.title else []
        self.title = chain.title
        self.chains += 1
        chain.started = True
        out.append((self._page(chain, [head], 0, bos=True), 0, chain.title, True))
        out.append((self._page(chain, [opus_tags(self._vendor, comments)], 0), 0, None, True))

    @staticmethod
    def _page(chain: _Chain, packets: list[bytes], granule: int, bos: bool = False, eos: bool = False) -> bytes:
        page = PageWriter()
        page.serial, page.sequence, page.position, page.packets = chain.serial, chain.sequence, granule, packets
        page.first, page.last = bos, eos
        chain.sequence += 1
        return page.write()
