"""M3U playlists a DJ names as a source: `parse_m3u` is pure (text in, entries out); `m3u_files`
reads the file and looks at its entries. Each entry keeps its line, so what is wrong with it is
said at `list.m3u:LINE`, where the DJ fixes it."""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

M3U_SUFFIXES = (".m3u", ".m3u8")
PLAYLIST_SUFFIXES = (*M3U_SUFFIXES, ".pls", ".xspf")
STREAMS_IN_M3U = "streams in M3U files are not supported (relay it instead: README, Live DJs, sources and relays)"
_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)  # http://, https://, rtmp://…: a stream, not a file


@dataclass(frozen=True, slots=True)
class M3uEntry:
    line: int
    text: str  # as written
    path: Path | None  # None: a stream URL, which is no file to play


def parse_m3u(text: str, folder: Path) -> list[M3uEntry]:
    """The entries of an M3U's text (comments and #EXT lines skipped); relative paths are taken
    from `folder`, the M3U's own. A byte-order mark, as Windows editors save UTF-8, is no entry."""
    out = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("file://"):
            path: Path | None = Path(unquote(urlsplit(line).path))
        elif _URL.match(line):
            path = None
        else:
            path = Path(line).expanduser()
        out.append(M3uEntry(number, line, path if path is None or path.is_absolute() else folder / path))
    return out


def m3u_text(raw: bytes, suffix: str) -> str:
    """An M3U's text. `.m3u8` is UTF-8 by definition; a plain `.m3u` that is not UTF-8 was saved
    by Winamp, foobar2000 or Windows Notepad in the Windows code page (cp1252), whose accented
    names then match the files' UTF-8 names on disk instead of becoming U+FFFD."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252" if suffix.lower() == ".m3u" else "utf-8", errors="replace")


def read_m3u(file: Path) -> list[M3uEntry]:
    try:
        return parse_m3u(m3u_text(file.read_bytes(), file.suffix), file.parent)
    except OSError:
        return []


def m3u_files(file: Path, playlist: str, warnings: list[str], missing: list[Path]) -> list[Path]:
    """The M3U's files that are there. A stream URL or a missing file is said at its line and left
    out, as a missing named file is (so the running station warns where `streamer check` fails)."""
    found = []
    for entry in read_m3u(file):
        where = f"{file}:{entry.line}: playlist {playlist!r}: {entry.text[:200]!r}"
        if entry.path is None:
            warnings.append(f"{where} is a stream: {STREAMS_IN_M3U}")
        elif entry.path.suffix.lower() in PLAYLIST_SUFFIXES:  # (QA: one listing itself got ffmpeg's own error text at air time)
            itself = " (this very playlist)" if os.path.realpath(entry.path) == os.path.realpath(file) else ""
            warnings.append(f"{where} is a playlist{itself}, not audio: an M3U lists audio files; left out")
        elif (kind := entry_kind(entry.path)) == "file":
            found.append(entry.path)
        elif kind:
            warnings.append(f"{where} {kind}: left out")
        else:
            garbled = " (this line is not UTF-8: save the playlist as UTF-8)" if "\ufffd" in entry.text else ""
            warnings.append(f"{where} file not found{garbled}")
            missing.append(entry.path)
    return found


FOLDER = "is a folder, not a file"
UNREADABLE = "cannot be looked at"


def entry_kind(path: Path) -> str:
    """ "file" for a regular file, "" for none there, else what is wrong with the entry (a name too
    long for the system raised from `exists()` and stopped the playlist watcher: QA)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:  # not there, as Path.exists() says it (a dangling link or a link loop too)
        return "" if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP) else f"{UNREADABLE} ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return "file"
    return FOLDER if stat.S_ISDIR(mode) else "is not a regular file (a device, FIFO or socket)"
