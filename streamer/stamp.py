"""A time stamped in a small file beside a database (the history's heartbeat): rewritten in
place, so it costs a page of the page cache that the kernel writes out now and then, where a
row rewritten in the database puts its page in the WAL at every commit.

Neither a symlink nor a FIFO put at its path is followed or waited on: a FIFO would hang the
store's thread that writes it and the station's start that reads it back.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from pathlib import Path

WIDTH = 32  # bytes of a stamp (a time, space-padded): rewritten in place, never truncated
_SAFE = os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


def stamp_path(db: Path) -> Path:
    """The stamp file beside a database (`Store.flush(stamp=...)`)."""
    return db.with_name(db.name + "-stamp")


def open_stamp(db: Path) -> int:
    """The stamp file opened for writing (made if need be); OSError if it is not a regular file."""
    fd = os.open(stamp_path(db), os.O_WRONLY | os.O_CREAT | _SAFE, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return fd


def write_stamp(fd: int, t: float) -> None:
    os.pwrite(fd, repr(t).ljust(WIDTH).encode("ascii"), 0)


def read_stamp(db: Path) -> float | None:
    """The time in a database's stamp file; None when there is none, or it cannot be read."""
    try:
        fd = os.open(stamp_path(db), os.O_RDONLY | _SAFE)
    except OSError:
        return None
    try:
        data = os.pread(fd, WIDTH, 0) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
        value = float(data.decode("ascii"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)
    return value if math.isfinite(value) else None
