"""One station per state folder: a second `streamer serve` on the same `state_dir` is refused.

Two stations on one folder mix their records. QA: a second start that then failed on the busy
port had already closed the running station's open listener session and play as a crashed run's
("estimated"), and wrote them twice to the access log; one on other ports went on air and wrote
plays that never aired on the first into its history and royalty reports.

An advisory lock (flock) on `state_dir/streamer.lock`, held for the process's life: the kernel
lets it go when the process ends, however it ends (kill -9 too), so there is nothing stale to
clear. The file says who holds it, for the refusal's words. Python opens it non-inheritable, so
children (encoders, decoders) that outlive a killed station do not hold it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = "streamer.lock"


class StateDirBusy(Exception):
    """Another station holds the folder."""


def hold_state_dir(state_dir: Path, wait: float = 0.0) -> int:
    """Take the folder's lock for this process's life (the descriptor is returned, to keep
    open), waiting up to `wait` seconds for a station that is stopping (a restart typed as
    `kill; streamer`); StateDirBusy says who holds it, OSError that the folder cannot be used."""
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only folder: a lock file made before still locks (flock needs no write)
        fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
        holder = os.pread(fd, 200, 0).decode("ascii", "replace").strip() or "another process"
        os.close(fd)
        raise StateDirBusy(
            f"{state_dir}: another station is running on this state folder ({holder}); two stations on one folder"
            " would mix their history and reports: stop it first, or give this one its own state_dir"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # (read-only: held all the same, only not said by whom)
    return fd
