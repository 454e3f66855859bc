"""ICY (SHOUTcast/Icecast) in-band metadata: sanitising titles, building blocks, and the
per-listener interleaver. Pure: numbers and strings in, bytes and spans out.
"""

from __future__ import annotations

import re
import unicodedata

from .text import decode_text, safe_text

MAX_BLOCK = 255 * 16  # the length byte counts 16-byte units
EMPTY_BLOCK = b"\x00"  # "title unchanged"

# control characters, line and paragraph separators, and the invisible ones that reorder or hide
# what players show: bidi embeddings, overrides and isolates, zero-width space, BOM (QA: a posted
# U+202E reversed the rest of the title). Marks that join letters (ZWJ, ZWNJ) and LRM/RLM stay.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b\ufeff]+")
_SPACES = re.compile(r"\s+")


def clean_title(text: str) -> str:
    """A title as players may show it: control characters (which some receivers print or choke
    on) become spaces, runs of spaces one, and the text is NFC-normalised (one code point per glyph)."""
    text = unicodedata.normalize("NFC", safe_text(text))
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def stream_title(artist: str, title: str) -> str:
    """What players show for a song: "Artist - Title", or whichever of the two there is."""
    return f"{artist} - {title}" if artist and title else (title or artist)


def split_title(text: str) -> tuple[str, str]:
    """(artist, title) from a whole "Artist - Title" (what most encoders send), split at its first
    " - " (a song's title holds one more often than an artist's name); ("", text) without one."""
    artist, sep, title = text.partition(" - ")
    return (artist.strip(), title.strip()) if sep else ("", text)


def sanitize_title(text: str) -> str:
    """Make a title safe inside StreamTitle='…';: clean_title, and as clients read up to the
    first `';`, an apostrophe before a semicolon becomes a typographic one."""
    return re.sub(r"'(?=\s*;)", "\u2019", clean_title(text))


def _cut_utf8(raw: bytes, limit: int) -> bytes:
    """Cut UTF-8 bytes to at most `limit` bytes without splitting a character."""
    if len(raw) <= limit:
        return raw
    cut = limit
    while cut > 0 and (raw[cut] & 0xC0) == 0x80:
        cut -= 1
    return raw[:cut]


def metadata_block(title: str, url: str | None = None) -> bytes:
    """The full metadata block (length byte + NUL-padded text) for a title, at most 4080 bytes.

    The text always ends with at least one NUL: some clients (icecast2 relaying us among them)
    write a terminator after the text and would overwrite the closing `;` of a text that fills
    its last 16-byte unit exactly."""
    title = sanitize_title(title)
    tail = b""
    if url:
        tail = b"StreamUrl='" + sanitize_title(url).encode("utf-8") + b"';"
    room = MAX_BLOCK - 1 - len(b"StreamTitle='';") - len(tail)
    if room < 0:  # an absurd URL is dropped rather than the title
        tail, room = b"", MAX_BLOCK - 1 - len(b"StreamTitle='';")
    body = b"StreamTitle='" + _cut_utf8(title.encode("utf-8"), room) + b"';" + tail
    units = len(body) // 16 + 1  # room for one NUL at least
    return bytes([units]) + body.ljust(units * 16, b"\x00")


def parse_block(block: bytes) -> dict[str, str]:
    """Read the fields of a metadata block's text (without its length byte). Servers that send
    Latin-1 titles are common (Icecast's default for MP3): bytes that are not UTF-8 are read as
    Windows-1252 rather than turned into replacement characters."""
    text = decode_text(block.rstrip(b"\x00"))
    return dict(re.findall(r"(\w+)='(.*?)';", text, flags=re.S))


class IcyCursor:
    """Where one listener's next metadata block goes, and what it last told the listener.

    Positions are absolute byte offsets in the mount's audio stream; the interleaving counter
    is the listener's own and carries on across track changes.
    """

    __slots__ = ("last_block", "metaint", "next_meta")

    def __init__(self, metaint: int, start: int) -> None:
        self.metaint = metaint
        self.next_meta = start + metaint
        self.last_block: bytes | None = None  # None: the first block is always sent in full

    def split(self, start: int, end: int, block_at) -> list[tuple[int, int] | bytes]:
        """Audio [start, end) as spans of audio and metadata blocks, in wire order.

        `block_at(offset)` gives the full block for the title playing at that offset. A block
        is sent in full only when it differs from the last one this listener got.
        """
        out: list[tuple[int, int] | bytes] = []
        while start < end:
            stop = self.next_meta if self.next_meta < end else end
            out.append((start, stop))
            start = stop
            if stop == self.next_meta:
                block = block_at(stop)
                if block is self.last_block or block == self.last_block:
                    out.append(EMPTY_BLOCK)
                else:
                    out.append(block)
                    self.last_block = block
                self.next_meta += self.metaint
        return out


class IcyReader:
    """Client side: strips metadata blocks out of an interleaved stream (for relays and tests)."""

    def __init__(self, metaint: int) -> None:
        self.metaint = metaint
        self._audio_left = metaint
        self._meta_left = -1  # -1: expecting audio; otherwise bytes of metadata still to read
        self._meta = bytearray()
        self.position = 0  # audio bytes seen

    def feed(self, data: bytes) -> tuple[bytes, list[tuple[int, dict[str, str]]]]:
        """Returns (audio bytes, [(audio offset, fields)] for each non-empty block)."""
        audio = bytearray()
        blocks: list[tuple[int, dict[str, str]]] = []
        i, n = 0, len(data)
        while i < n:
            if self._meta_left == -1:
                take = min(self._audio_left, n - i)
                audio += data[i : i + take]
                self.position += take
                self._audio_left -= take
                i += take
                if self._audio_left == 0:
                    self._meta_left = -2  # length byte next
            elif self._meta_left == -2:
                self._meta_left = data[i] * 16
                i += 1
                if self._meta_left == 0:
                    self._meta_left, self._audio_left = -1, self.metaint
            else:
                take = min(self._meta_left, n - i)
                self._meta += data[i : i + take]
                self._meta_left -= take
                i += take
                if self._meta_left == 0:
                    blocks.append((self.position, parse_block(bytes(self._meta))))
                    self._meta.clear()
                    self._meta_left, self._audio_left = -1, self.metaint
        return bytes(audio), blocks
