"""The library's table: one row per audio file, in `library.sqlite` in the state folder.

A row says what the file was when it was analysed (size and modification time: a file whose
size or mtime differ is analysed again), what it is (tags, codec, rate, channels, duration),
how loud it is (integrated loudness, loudness range, true peak), where its sound starts and
ends (cue-in, cue-out), and, for a file that will not play, why, in a DJ's words. The
functions here run in the Store's thread (state.py) and take its connection.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import astuple, dataclass, fields

OK, SILENT, TRUNCATED, UNPLAYABLE = "ok", "silent", "truncated", "unplayable"
PLAYABLE = (OK, SILENT, TRUNCATED)


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    size: int
    mtime_ns: int
    status: str  # ok | silent (nothing above the cue-in threshold) | truncated (plays, ends early) | unplayable
    reason: str = ""  # why, for anything but ok
    duration: float = 0.0  # seconds decoded
    codec: str = ""
    sample_rate: int = 0
    channels: int = 0
    artist: str = ""
    title: str = ""
    album: str = ""
    isrc: str = ""
    label: str = ""
    year: str = ""
    genre: str = ""
    integrated: float | None = None  # LUFS
    lra: float | None = None  # LU
    true_peak: float | None = None  # dBTP (None for digital silence)
    cue_in: float = 0.0  # seconds
    cue_out: float = 0.0
    analysed_at: float = 0.0  # wall time
    analysis_seconds: float = 0.0  # how long the analysis took

    @property
    def playable(self) -> bool:
        return self.status in PLAYABLE

    @property
    def display(self) -> str:
        return f"{self.artist} - {self.title}" if self.artist else self.title

    def unchanged(self, size: int, mtime_ns: int) -> bool:
        return self.size == size and self.mtime_ns == mtime_ns


COLUMNS = [f.name for f in fields(Entry)]

MIGRATIONS = [
    """CREATE TABLE tracks (
        path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
        duration REAL NOT NULL, codec TEXT NOT NULL, sample_rate INTEGER NOT NULL, channels INTEGER NOT NULL,
        artist TEXT NOT NULL, title TEXT NOT NULL, album TEXT NOT NULL, isrc TEXT NOT NULL, label TEXT NOT NULL,
        year TEXT NOT NULL, genre TEXT NOT NULL, integrated REAL, lra REAL, true_peak REAL,
        cue_in REAL NOT NULL, cue_out REAL NOT NULL, analysed_at REAL NOT NULL, analysis_seconds REAL NOT NULL
    );
    CREATE INDEX tracks_status ON tracks (status);""",
]

UPSERT = f"INSERT OR REPLACE INTO tracks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
DELETE = "DELETE FROM tracks WHERE path = ?"


def path_key(path: str) -> bytes:
    """A path as the file system spells it: a file name that is not UTF-8 is kept exactly."""
    return os.fsencode(path)


def row_of(entry: Entry) -> tuple:
    return (path_key(entry.path), *astuple(entry)[1:])


def load_all(conn: sqlite3.Connection) -> dict[str, Entry]:
    """Every row, by path."""
    rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM tracks").fetchall()
    entries = [Entry(os.fsdecode(row[0]), *row[1:]) for row in rows]
    return {e.path: e for e in entries}
