"""Text that is safe to show, log and serialise, made where it is made (pure).

File names on Linux are bytes; Python turns the ones that are not UTF-8 into lone surrogates
(`caf\\udce9`), which no UTF-8 encoder accepts. Upstream titles and headers arrive as bytes in
whatever charset the other side used. Every such string passes through here once, at the
point where it enters the station, so nothing further down can fail to encode it.
"""

from __future__ import annotations

import os
import time
import unicodedata

# characters of a title in the formats that carry it whole (ID3, Ogg comments, ffmpeg's -metadata):
# one value stays far inside a PES packet (64 KB), an Ogg page (65,025 bytes) and an argument (128 KB)
MAX_TITLE_CHARS = 2000


def decode_text(raw: bytes) -> str:
    """Bytes from the outside world as text: UTF-8 when valid, else Windows-1252 (what Latin-1
    senders mean in practice), never failing."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def safe_text(text: str) -> str:
    """A str with no lone surrogates: undecodable file-name bytes are re-read as text."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return decode_text(text.encode("utf-8", errors="surrogateescape"))
    except UnicodeEncodeError:  # surrogates that are not escaped bytes (e.g. from JSON "\\ud800")
        return text.encode("utf-8", errors="replace").decode("utf-8")


def display_path(path: str | os.PathLike[str]) -> str:
    """A file path as an operator reads it in the log, JSON and reports."""
    return safe_text(os.fspath(path))


def iso_utc(ts: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, to the millisecond: 2026-11-24T18:00:00.950Z (a start
    cut to the second, with durations in tenths, gave ends up to a second early)."""
    ms = round(ts * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


# What NFKD leaves outside ASCII in Latin names and typography, spelled in ASCII.
_ASCII_SPELLING = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2033": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00ab": '"', "\u00bb": '"', "\u00a0": " ", "\u00d7": "x", "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe",
    "\u0152": "OE", "\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u0111": "d", "\u0110": "D", "\u00f0": "d",
    "\u00d0": "D", "\u00fe": "th", "\u00de": "TH", "\u0131": "i",
})  # fmt: skip


def ascii_text(text: str) -> str:
    """`text` in ASCII, for files that must be (SoundExchange's): accents dropped (Beyonc\u00e9 ->
    Beyonce), typographic quotes and dashes made plain (\u2018LIVE\u2019 \u2013 x -> 'LIVE' - x), what has
    no ASCII spelling (another script) a '?' each."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_SPELLING))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_ASCII_SPELLING)
    return plain.encode("ascii", "replace").decode("ascii")
