"""The HLS window kept across a restart, in SQLite beside the station's other state.

At a clean stop each variant's published segments, the ones made and waiting for their last
sample to air, and the frames of the one being filled (with parts: the segment in progress as
far as it was published) are written to `hls.sqlite`; at the next start they are read back
before the first frame, so the playlists go on with the same numbers, times and bytes and the
restart's gap is bridged with silence (HlsVariant.resume). Players (and caches in front) see one
continuous stream; before, they met a new run's numbers and skipped 8-12 s.

A window is carried on only by a variant made with the same settings, and only if the restart
took less than the window minus a segment: after a longer stop the players have nothing left to
go on from, and a fresh start (with its discontinuity) is what they need. Anything wrong with
the file is a warning, and the station starts afresh: the window is a convenience, never a
reason not to go on air.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from pathlib import Path

from .hls import SAMPLES_PER_FRAME, Built, HlsVariant, Piece, last_made

log = logging.getLogger("streamer.hls")

FILE = "hls.sqlite"
VERSION = 2  # (PRAGMA user_version: a file of another layout is made afresh)
SCHEMA = """
CREATE TABLE IF NOT EXISTS variants (
    name TEXT PRIMARY KEY, settings TEXT NOT NULL, title TEXT NOT NULL, discontinuity_sequence INTEGER NOT NULL,
    muxer TEXT NOT NULL, init BLOB NOT NULL, open TEXT, saved REAL NOT NULL);
CREATE TABLE IF NOT EXISTS parts (
    variant TEXT NOT NULL, seq INTEGER NOT NULL, segment_start REAL NOT NULL, discontinuity INTEGER NOT NULL,
    pending INTEGER NOT NULL, n INTEGER NOT NULL, start REAL NOT NULL, samples INTEGER NOT NULL, last INTEGER NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY (variant, seq, n));
CREATE TABLE IF NOT EXISTS open_frames (
    variant TEXT NOT NULL, k INTEGER NOT NULL, pts INTEGER NOT NULL, tag INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (variant, k));
"""


def save(state_dir: Path, variants: list[HlsVariant], now: float) -> int:
    """Write each variant's window and what it made after it; the number of published segments."""
    rows, heads, frames = [], [], []
    for v in variants:
        owners = [*v.segments, *([v.pending] if v.pending is not None else [])]
        for b in owners:
            for p in b.parts[: b.aired]:
                rows.append((v.name, b.seq, b.start, b.discontinuity, b is v.pending, p.index, p.start, p.samples, p.last, p.data))
        open_segment = None
        if not v.part_seconds:  # what is made but not published yet goes on in the next run (QA: 2 s of aired audio lost)
            for p in v.ready:
                b = p.owner
                rows.append((v.name, b.seq, b.start, b.discontinuity, False, p.index, p.start, p.samples, p.last, p.data))
            b = v.current
            if b is not None and b.open is not None and b.frames:
                open_segment = json.dumps({"seq": b.seq, "start": b.start, "discontinuity": b.discontinuity, "piece_start": b.open.start})
                frames += [(v.name, k, pts, 0, f) for k, (pts, f) in enumerate(b.frames)]
                frames += [(v.name, len(b.frames) + k, pts, 1, t) for k, (pts, t) in enumerate(b.tags)]
        if owners:
            muxer = json.dumps(v.muxer.state())
            heads.append((v.name, json.dumps(v.settings), v.title, v.discontinuity_sequence, muxer, v.init, open_segment, now))
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(_connect(state_dir)) as db, db:
            for table in ("parts", "open_frames", "variants"):
                db.execute(f"DELETE FROM {table}")
            db.executemany("INSERT INTO variants VALUES (?, ?, ?, ?, ?, ?, ?, ?)", heads)
            db.executemany("INSERT INTO parts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.executemany("INSERT INTO open_frames VALUES (?, ?, ?, ?, ?)", frames)
    except (sqlite3.Error, OSError) as exc:
        log.warning("hls: the window could not be kept for the next start (%s): %s", state_dir / FILE, exc)
        return 0
    return sum(len(v.segments) for v in variants)


def resume(state_dir: Path, variants: list[HlsVariant], now: float) -> int:
    """Carry on each variant's kept window where it can; the number of variants that did."""
    if not (state_dir / FILE).exists():
        return 0
    try:
        with contextlib.closing(_connect(state_dir)) as db:
            heads = {
                r[0]: r[1:] for r in db.execute("SELECT name, settings, title, discontinuity_sequence, muxer, init, open FROM variants")
            }
            parts = db.execute("SELECT * FROM parts ORDER BY variant, seq, n").fetchall()
            frames = db.execute("SELECT variant, pts, tag, data FROM open_frames ORDER BY variant, k").fetchall()
    except (sqlite3.Error, OSError) as exc:
        log.warning("hls: the last run's window could not be read (%s): %s; starting afresh", state_dir / FILE, exc)
        return 0
    resumed = 0
    for v in variants:
        head = heads.get(v.name)
        if head is None or json.loads(head[0]) != list(v.settings):
            continue
        segments, pending = _built(v, [p for p in parts if p[0] == v.name])
        current = _open(v, head[5], [f[1:] for f in frames if f[0] == v.name]) if segments and not pending else None
        last = last_made(segments, pending, current)
        if last is None or not 0 <= now - (last.start + last.samples / v.out_rate) < (v.window - 1) * v.seconds:
            continue
        v.resume(segments, pending, head[1], head[2], json.loads(head[3]), now, current, bytes(head[4]))
        resumed += 1
    if resumed:
        log.info("hls: %d variant(s) go on from the last run's window", resumed)
    return resumed


def _built(v: HlsVariant, rows: list[tuple]) -> tuple[list[Built], Built | None]:
    """The segments (and the one in progress) from their parts' rows, in order."""
    segments: list[Built] = []
    pending: Built | None = None
    for _, seq, segment_start, discontinuity, is_pending, index, start, samples, last, data in rows:
        if not segments or segments[-1].seq != seq:
            segments.append(Built(seq, segment_start, discontinuity=bool(discontinuity)))
        b = segments[-1]
        b.parts.append(Piece(b, index, start, samples, bytes(data), bool(last)))
        b.samples += samples
        b.aired += 1
        if is_pending:
            pending = b
    if pending is not None:
        segments.remove(pending)
    for b in segments:
        b.data = b"".join(p.data for p in b.parts)
    return segments[-(v.window + 2) :], pending


def _open(v: HlsVariant, meta: str | None, rows: list[tuple]) -> Built | None:
    """The segment the last run was filling, with its frames and tags (parts off only)."""
    if not meta or not rows:
        return None
    m = json.loads(meta)
    b = Built(int(m["seq"]), float(m["start"]), discontinuity=bool(m["discontinuity"]))
    b.frames = [(int(pts), bytes(data)) for pts, tag, data in rows if not tag]
    b.tags = [(int(pts), bytes(data)) for pts, tag, data in rows if tag]
    b.samples = SAMPLES_PER_FRAME * len(b.frames)
    b.open = Piece(b, 0, float(m["piece_start"]), b.samples)
    return b if b.frames else None


def _connect(state_dir: Path) -> sqlite3.Connection:
    db = sqlite3.connect(state_dir / FILE, timeout=2.0)
    if db.execute("PRAGMA user_version").fetchone()[0] != VERSION:
        db.executescript("DROP TABLE IF EXISTS variants; DROP TABLE IF EXISTS parts; DROP TABLE IF EXISTS open_frames;")
        db.execute(f"PRAGMA user_version = {VERSION}")
    db.executescript(SCHEMA)
    return db
