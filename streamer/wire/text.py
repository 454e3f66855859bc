"""Text that is safe to show, log and serialise, made where it is made (pure).

File names on Linux are bytes; Python turns the ones that are not UTF-8 into lone surrogates
(`caf\\udce9`), which no UTF-8 encoder accepts. Upstream titles and headers arrive as bytes in
whatever charset the other side used. Every such string passes through here once, at the
point where it enters the station, so nothing further down can fail to encode it.
"""

from __future__ import annotations

import os
import time


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
