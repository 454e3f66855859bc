"""The station's memory on disk: migrations, batched writes, and a damaged file moved aside."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sqlite3
from pathlib import Path

from streamer.stamp import read_stamp, stamp_path
from streamer.state import Store, open_or_rebuild

MIGRATIONS = ["CREATE TABLE t (x INTEGER)", "ALTER TABLE t ADD COLUMN y TEXT; CREATE INDEX t_x ON t(x)"]


def run(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps a loop running in
    the main thread for the whole session, where asyncio.run refuses to start."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_migrations_run_once_and_in_order(tmp_path):
    db = tmp_path / "state" / "a.sqlite"
    conn = open_or_rebuild(db, MIGRATIONS[:1])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    conn = open_or_rebuild(db, MIGRATIONS)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("SELECT x, y FROM t").fetchall() == [(1, None)]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_damaged_file_is_moved_aside_and_rebuilt(tmp_path, caplog):
    db = tmp_path / "a.sqlite"
    db.write_bytes(b"this is not a database at all" * 100)
    conn = open_or_rebuild(db, MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    aside = [p.name for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and "moved aside" in caplog.text


def test_a_file_damaged_inside_is_moved_aside_too(tmp_path, caplog):
    """Pages overwritten behind an intact header: quick_check says so without raising, and the
    file was kept, so reports answered 503 for good (found by QA)."""
    db = tmp_path / "a.sqlite"
    conn = open_or_rebuild(db, MIGRATIONS)
    conn.executemany("INSERT INTO t (x, y) VALUES (?, ?)", [(i, f"row {i} " * 20) for i in range(3000)])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with db.open("r+b") as f:
        for n in (1, 3):
            f.seek(n * page + 100)
            f.write(b"\xa5" * 4000)
    assert sqlite3.connect(db).execute("PRAGMA quick_check").fetchone()[0] != "ok"
    conn = open_or_rebuild(db, MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("a.sqlite.damaged-")] and "quick_check" in caplog.text


def test_writes_are_queued_and_committed_in_batches(tmp_path):
    async def go():
        store = Store(tmp_path / "b.sqlite", MIGRATIONS)
        for i in range(1000):
            store.write("INSERT INTO t (x) VALUES (?)", (i,))
        assert await store.flush() == 1000
        count = await store.run(lambda conn: conn.execute("SELECT count(*), sum(x) FROM t").fetchone())
        await store.close()
        return count, store.status()

    count, status = run(go())
    assert count == (1000, sum(range(1000))) and status["ok"] and status["written"] == 1000


def test_a_flush_with_nothing_queued_leaves_the_stores_thread_asleep(tmp_path):
    """The flushing task runs twice a second for months: with nothing queued it must not hop to
    the store's thread (a wake-up, a GIL hand-over and a wake of the loop each time)."""
    hops = []

    class Counted(Store):
        def _flush_or_note(self, stamp: float | None = None) -> int:
            hops.append(1)
            return super()._flush_or_note(stamp)

    async def go():
        store = Counted(tmp_path / "c.sqlite", MIGRATIONS)
        empty = [await store.flush() for _ in range(3)]
        store.write("INSERT INTO t (x) VALUES (?)", (7,))
        written = await store.flush()
        await store.close()
        return empty, written

    empty, written = run(go())
    assert empty == [0, 0, 0] and written == 1 and len(hops) == 1


def test_a_failing_write_is_kept_for_the_next_batch(tmp_path):
    async def go():
        store = Store(tmp_path / "c.sqlite", MIGRATIONS)
        store.write("INSERT INTO t (x) VALUES (?)", (1,))
        store.write("INSERT INTO nowhere VALUES (?)", (2,))  # fails: the batch is kept, the error shown
        assert await store.flush() == 0
        failed = store.status()
        with store._lock:
            store._queue = [q for q in store._queue if "nowhere" not in q[0]]
        assert await store.flush() == 1
        await store.close()
        return failed, store.status()

    failed, ok = run(go())
    assert not failed["ok"] and "no such table: nowhere" in failed["error"] and failed["queued"] == 2
    assert ok["ok"] and ok["written"] == 1
    assert sqlite3.connect(tmp_path / "c.sqlite").execute("SELECT x FROM t").fetchall() == [(1,)]


def test_a_row_sqlite_cannot_take_is_dropped_alone(tmp_path):
    """A path that is not UTF-8 (a surrogate-escaped file name) must not stop the batch it is in."""
    store = Store(tmp_path / "d.sqlite", MIGRATIONS)
    store._queue = [("INSERT INTO t (x, y) VALUES (?, ?)", (1, "ok")), ("INSERT INTO t (x, y) VALUES (?, ?)", (2, "caf\udce9")),
                    ("INSERT INTO t (x, y) VALUES (?, ?)", (3, "ok"))]  # fmt: skip
    assert store._flush_or_note() == 2 and store.status()["ok"]
    store._conn.close()
    assert sqlite3.connect(tmp_path / "d.sqlite").execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (3,)]


def test_an_error_that_comes_between_successes_is_logged_once_a_minute(tmp_path, caplog):
    """A half-damaged file failed every other batch: "malformed" was logged 4 times a second,
    each success between clearing the error (found by QA)."""
    store = Store(tmp_path / "c.sqlite", MIGRATIONS)
    for _ in range(5):
        store._problem(sqlite3.DatabaseError("database disk image is malformed"))
        store.error = ""  # a batch that went through
    store._problem(sqlite3.DatabaseError("disk I/O error"))
    assert [r.getMessage().rsplit(": ", 1)[1] for r in caplog.records] == ["database disk image is malformed", "disk I/O error"]
    run(store.close())


def test_a_database_deleted_while_open_is_made_afresh_and_said(tmp_path, caplog):
    """rm history.sqlite* while on air: rows went on into the deleted file, status said ok, and
    after a restart they were gone (found by QA). The next batch goes to a new file at the path."""
    db = tmp_path / "d.sqlite"

    async def go():
        store = Store(db, MIGRATIONS)
        store.write("INSERT INTO t (x) VALUES (1)")
        await store.flush()
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        store.write("INSERT INTO t (x) VALUES (2)")
        await store.flush()
        await store.close()
        return store.status()

    status = run(go())
    assert sqlite3.connect(db).execute("SELECT x FROM t").fetchall() == [(2,)]
    assert status["reopened"] == 1 and "deleted or replaced while open" in caplog.text


def test_a_state_folder_deleted_while_open_gets_its_stamp_file_again(tmp_path):
    """QA: after `rm -r state/`, the database was made afresh but its stamp (the heartbeat a
    kill -9 is recovered from) went on into the deleted file: 6 s lost at the next crash, not 0.5."""
    import shutil

    db = tmp_path / "state" / "d.sqlite"

    async def go():
        store = Store(db, MIGRATIONS)
        store.write("INSERT INTO t (x) VALUES (1)")
        await store.flush(stamp=1000.0)
        shutil.rmtree(tmp_path / "state")
        store.write("INSERT INTO t (x) VALUES (2)")
        await store.flush(stamp=2000.0)
        await store.close()

    run(go())
    assert read_stamp(db) == 2000.0


def test_a_store_whose_file_was_moved_aside_says_so_in_its_status(tmp_path):
    """QA: a damaged database moved aside showed only in the log; the operator's status (and
    the dashboard's problems) now say when and where to."""
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"this is not a database at all" * 100)

    async def go() -> dict:
        store = Store(db, MIGRATIONS)
        await store.run(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone())
        await store.close()
        return store.status()

    status = run(go())
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith("h.sqlite.damaged-")]
    assert status["ok"] and aside and f"moved aside to {aside[0]}, a new one made" in status["moved_aside"], status


def test_a_fifo_or_symlink_at_the_stamp_path_is_neither_waited_on_nor_followed(tmp_path):
    """The heartbeat stamp beside a database (Store.flush(stamp=...)): a FIFO put in its place
    would have hung the store's thread on open (and the station's start on reading it back);
    a symlink would have had the stamp written over whatever it points to."""
    db = tmp_path / "c.sqlite"
    os.mkfifo(stamp_path(db))

    async def go() -> dict:
        store = Store(db, MIGRATIONS)
        await asyncio.wait_for(store.flush(stamp=1234.5), 5)
        status = store.status()
        await store.close()
        return status

    status = run(go())
    assert "cannot write c.sqlite-stamp" in status["error"], status
    assert read_stamp(db) is None  # at once, not waiting for a writer
    os.unlink(stamp_path(db))
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    os.symlink(target, stamp_path(db))
    status = run(go())
    assert target.read_text() == "keep me" and "cannot write" in status["error"]
    assert read_stamp(db) is None
    os.unlink(stamp_path(db))
    run(go())
    assert read_stamp(db) == 1234.5


def test_a_database_that_works_again_says_so_once(tmp_path, caplog):
    """QA: after a full disk the log said when writing stopped, never when it came back."""
    store = Store(tmp_path / "w.sqlite", MIGRATIONS)
    store._problem(sqlite3.OperationalError("database or disk is full"))
    for n in range(3):
        store.write("INSERT INTO t (x, y) VALUES (?, ?)", (n, "ok"))
        assert store._flush_or_note() == 1
    again = [r.getMessage() for r in caplog.records if "working again" in r.getMessage()]
    assert again == [f"database {tmp_path / 'w.sqlite'}: working again after: database or disk is full"]
    assert store.status()["ok"]
    run(store.close())
