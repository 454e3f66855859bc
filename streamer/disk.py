"""What the disk allows: a read-only connection to a station database (the command line's and
the reports'), and why the disk refuses a write, in words."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection that can neither write nor create the file (the command line's lists and
    reports, beside a running station); the path goes in as a URI, so `#` or `%` in a folder
    name cannot make SQLite open another file. On a read-only file system, where WAL's shared
    memory file cannot be made, the file is read as it stands (immutable: what a WAL not yet
    written back holds is not seen; QA: reports answered 503 there)."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        if disk_refusal(path.parent) != READ_ONLY:
            raise
        conn.close()
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout)
    return conn


READ_ONLY = "the file system is read-only"


def disk_refusal(folder: Path) -> str:
    """Why the disk refuses to write in `folder`, in words ('' if it does not seem to: SQLite's
    own message, "unable to open database file", does not say; QA)."""
    try:
        fs = os.statvfs(folder)
    except OSError as exc:
        return str(exc.strerror or exc)
    if fs.f_flag & os.ST_RDONLY:
        return READ_ONLY
    if not os.access(folder, os.W_OK):
        return "this user may not write in the folder"
    return "the disk is full" if fs.f_bavail == 0 else ""
