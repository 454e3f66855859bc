"""A WAV file's RIFF INFO tags (artist, title, album, year, genre): what broadcast tools and
ffmpeg write into WAVs, and mutagen does not read (it reads only an ID3 chunk). Without them a
WAV aired under its file name. `info_tags` is pure (a LIST-INFO body in, tags out);
`read_info` walks the file's chunk headers to find it, wherever it sits (before or after the
audio), reading nothing else."""

from __future__ import annotations

import struct
from pathlib import Path

from ..wire.text import safe_text

INFO_FIELDS = {b"IART": "artist", b"INAM": "title", b"IPRD": "album", b"ICRD": "year", b"IGNR": "genre"}
MAX_INFO = 64 * 1024  # bytes of a LIST-INFO chunk read at most
MAX_CHUNKS = 256  # chunk headers looked at before giving up


def info_tags(body: bytes) -> dict[str, str]:
    """The known fields of a LIST-INFO chunk's body (after its "INFO" type)."""
    tags: dict[str, str] = {}
    pos = 0
    while pos + 8 <= len(body):
        key, size = body[pos : pos + 4], struct.unpack_from("<I", body, pos + 4)[0]
        raw = body[pos + 8 : pos + 8 + size].split(b"\0", 1)[0]
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
        if key in INFO_FIELDS and raw:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")  # the older tools' encoding
            if text := safe_text(text).strip():
                tags.setdefault(INFO_FIELDS[key], text)
    return tags


def read_info(path: Path) -> dict[str, str]:
    """Blocking: the INFO tags of a RIFF/WAVE file ({} when it has none or is not one)."""
    with path.open("rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return {}
        for _ in range(MAX_CHUNKS):
            header = f.read(8)
            if len(header) < 8:
                return {}
            key, size = header[:4], struct.unpack("<I", header[4:])[0]
            if key == b"LIST" and f.read(4) == b"INFO":
                return info_tags(f.read(max(0, min(size - 4, MAX_INFO))))  # (a bogus size: what fits)
            if key == b"data" and size in (0, 0xFFFFFFFF):  # a stream's open-ended data: nothing after it
                return {}
            f.seek(f.tell() - (4 if key == b"LIST" else 0) + size + (size & 1))
    return {}
