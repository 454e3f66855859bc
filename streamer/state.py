"""The station's memory on disk: SQLite databases in the state folder (`state_dir`).

Each database (the track library, the play history) is a `Store`: one file in WAL mode, a
schema version (`PRAGMA user_version`) with numbered migrations, and one thread of its own
that does all of its work, so the event loop never waits on the disk and nothing else writes
to it. Writes can be queued and are committed in batches. A file that is not a database or is
damaged is moved aside (with a log line) and a new one is made; a locked or full disk is
retried, shown in `status()`, and never stops the station.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .disk import disk_refusal
from .stamp import open_stamp, stamp_path, write_stamp
from .ticks import sleep_on_grid

log = logging.getLogger("streamer.state")

T = TypeVar("T")
Migration = str | Callable[[sqlite3.Connection], None]
FLUSH_EVERY = 0.5  # seconds between commits of queued writes
MAX_QUEUED = 100_000  # queued rows kept while the disk refuses them (the oldest go first)


def connect(path: Path, migrations: Sequence[Migration]) -> sqlite3.Connection:
    """Open (or make) the database at `path` and bring its schema up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a power cut loses at most the last commits
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, step in enumerate(migrations[version:], start=version + 1):
        if callable(step):
            conn.execute("BEGIN")
            step(conn)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        else:  # one script, one transaction: a migration is all there or not at all
            conn.executescript(f"BEGIN;\n{step}\n;\nPRAGMA user_version={number};\nCOMMIT;")
    return conn


def open_or_rebuild(path: Path, migrations: Sequence[Migration], noted: Callable[[str], None] | None = None) -> sqlite3.Connection:
    """`connect`, moving a damaged file (and its WAL) aside to start afresh (told to `noted`)."""
    try:
        conn = connect(path, migrations)
        verdict = conn.execute("PRAGMA quick_check").fetchone()
        if verdict is None or verdict[0] != "ok":  # damage it reports rather than raises (QA: never moved aside)
            conn.close()
            raise sqlite3.DatabaseError(f"quick_check: {verdict[0] if verdict else 'no answer'}")
        return conn
    except sqlite3.OperationalError:
        raise  # locked, read-only, full, unreadable: the file may be fine, and is retried as it is
    except sqlite3.DatabaseError as exc:
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        log.error("%s is not a usable database (%s): moved aside to %s; starting a new one", path, exc, aside.name)
        if noted is not None:
            noted(f"{time.strftime('%Y-%m-%d %H:%M:%S')}: not a usable database ({exc}); moved aside to {aside.name}, a new one made")
        try:
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(path) + suffix)
                if src.exists():
                    src.rename(Path(str(aside) + suffix))
        except OSError as err:
            raise sqlite3.OperationalError(f"damaged, and cannot be moved aside: {err.strerror or err}") from err
        return connect(path, migrations)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class Store:
    def __init__(self, path: Path, migrations: Sequence[Migration]) -> None:
        self.path = path
        self.migrations = migrations
        self.error = ""  # the last problem with the file, while it lasts
        self.written = 0  # rows committed
        self._logged = ("", 0.0)  # the last error logged, and when (monotonic)
        self._recovery_said = 0.0  # the error line (its time in _logged) whose end was said
        self._opened: tuple[int, int] | None = None  # (device, inode) of the file the connection has open
        self.reopened = 0  # times the file was found deleted or replaced under the open connection
        self.moved_aside = ""  # the last time the file was found damaged and moved aside (it shows in status for good)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"store {path.name}")
        self._conn: sqlite3.Connection | None = None
        self._queue: list[tuple[str, tuple]] = []
        self._lock = threading.Lock()
        self._stamp_fd: int | None = None

    # --- in the store's thread ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and _identity(self.path) != self._opened:
            # Deleted or replaced under us (QA: rows went on into the deleted file, status said ok,
            # and after a restart they were gone): the file at the path is opened, or made, afresh.
            log.error("database %s was deleted or replaced while open: opening the file there afresh", self.path)
            self.reopened += 1
            self._conn.close()
            self._conn = None
            self._close_stamp()  # its stamp file went with the folder too: made again at the next stamp
        if self._conn is None:
            try:
                self._conn = open_or_rebuild(self.path, self.migrations, self._note_aside)
            except OSError as exc:  # the folder cannot be made (read-only, full): like any refusal of the disk
                raise sqlite3.OperationalError(f"cannot open: {exc.strerror or exc}") from exc
            self._opened = _identity(self.path)
        return self._conn

    def _flush(self) -> int:
        if not self._queue:
            return 0
        conn = self._connection()  # raises with the queue kept when the file cannot be opened
        with self._lock:
            rows, self._queue = self._queue, []
        try:
            conn.execute("BEGIN")
            try:
                for sql, params in rows:
                    conn.execute(sql, params)
            except (ValueError, TypeError, OverflowError):  # a row SQLite cannot take (text that is not UTF-8): only it goes
                conn.execute("ROLLBACK")
                rows = self._one_by_one(conn, rows)
                conn.execute("BEGIN")
                for sql, params in rows:
                    conn.execute(sql, params)
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            with self._lock:  # kept for the next try (the disk may be full for a while)
                self._queue = (rows + self._queue)[-MAX_QUEUED:]
            raise
        self.written += len(rows)
        return len(rows)

    @staticmethod
    def _one_by_one(conn: sqlite3.Connection, rows: list[tuple[str, tuple]]) -> list[tuple[str, tuple]]:
        """The rows of a batch that SQLite can bind, each tried in a savepoint; the others logged and dropped."""
        good = []
        conn.execute("BEGIN")
        for sql, params in rows:
            conn.execute("SAVEPOINT row")
            try:
                conn.execute(sql, params)
                good.append((sql, params))
            except (ValueError, TypeError, OverflowError) as exc:
                log.error("database row dropped (%s): %s %r", exc, sql[:60], params[:4])
            conn.execute("RELEASE row")
        conn.execute("ROLLBACK")
        return good

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            result = fn(self._connection(), *args)
            self._clear_error()
            return result
        except sqlite3.Error as exc:
            self._problem(exc)
            raise

    def _clear_error(self) -> None:
        """The file works again: said once per error line logged (QA: after a full disk the log
        said when writing stopped, never when it came back; a flapping file must not flood it)."""
        if self.error and self._recovery_said != self._logged[1]:
            log.warning("database %s: working again after: %s", self.path, self.error)
            self._recovery_said = self._logged[1]
        self.error = ""

    def _problem(self, exc: BaseException, reopen: bool = True) -> None:
        refusal = disk_refusal(self.path.parent) if isinstance(exc, sqlite3.OperationalError) else ""
        message = f"{exc}" + (f" ({refusal})" if refusal and refusal not in str(exc) else "")
        # Once per minute for the same error, even when successes come between (QA: a half-damaged
        # file logged "malformed" 4 times a second, as each success cleared self.error)
        if message != self._logged[0] or time.monotonic() - self._logged[1] >= 60.0:
            log.error("database %s: %s", self.path, message)
            self._logged = (message, time.monotonic())
        self.error = message  # (without the path: the status gives it beside, QA saw it twice)
        if reopen and self._conn is not None and "locked" not in str(exc):
            # Damaged under us, read-only, full, I/O errors: reopened (and rebuilt if damaged) at the next call.
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    # --- from the event loop ----------------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(connection, *args)` in the store's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, fn, *args)

    def write(self, sql: str, params: tuple = ()) -> None:
        """Queue a write; it is committed with the next batch (`flushing` task, or `flush`)."""
        with self._lock:
            self._queue.append((sql, params))
            if len(self._queue) > MAX_QUEUED:
                del self._queue[0]

    def _flush_or_note(self, stamp: float | None = None) -> int:
        try:
            written = self._flush()
        except sqlite3.Error as exc:
            self._problem(exc)
            return 0
        if written:
            self._clear_error()
        if stamp is not None:
            self._write_stamp(stamp)
        return written

    def _write_stamp(self, stamp: float) -> None:
        """`stamp` over the stamp file's first bytes: a page of the page cache rewritten in place,
        which the kernel writes out now and then, where a row rewritten puts a page in the WAL."""
        try:
            if self._stamp_fd is None:
                self._stamp_fd = open_stamp(self.path)
            write_stamp(self._stamp_fd, stamp)
        except OSError as exc:
            self._close_stamp()
            self._problem(sqlite3.OperationalError(f"cannot write {stamp_path(self.path).name}: {exc.strerror or exc}"), reopen=False)

    def _close_stamp(self) -> None:
        if self._stamp_fd is not None:
            os.close(self._stamp_fd)
            self._stamp_fd = None

    async def flush(self, stamp: float | None = None) -> int:
        """Commit what is queued now (in the store's thread), then write `stamp` (a time) to the
        stamp file beside the database (read_stamp); 0 when the disk refuses (see `status`)."""
        if not self._queue and stamp is None:  # nothing to do: the store's thread is not woken
            return 0
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._flush_or_note, stamp)

    async def flushing(self) -> None:
        """Commit queued writes every FLUSH_EVERY seconds (a supervised task)."""
        while True:
            await sleep_on_grid(FLUSH_EVERY)
            await self.flush()

    def status(self) -> dict:
        return {
            "file": str(self.path),
            "ok": not self.error,
            "error": self.error,
            "queued": len(self._queue),
            "written": self.written,
            "reopened": self.reopened,
            "moved_aside": self.moved_aside,
        }

    def _note_aside(self, what: str) -> None:
        self.moved_aside = what

    async def close(self) -> None:
        await self.flush()
        if self._queue:  # (QA: dropped without a word)
            log.error("database %s: %d row(s) not written at the stop (%s): they are lost", self.path, len(self._queue), self.error)

        def shut() -> None:
            self._close_stamp()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=False)
