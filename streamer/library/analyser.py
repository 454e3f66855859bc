"""One file analysed: its tags (mutagen), then one ffmpeg pass (analysis.py) at low priority,
watched for hangs, into a library row (catalog.Entry).

A file that changes or vanishes while it is analysed gives no row (it is looked at again).
One whose ffmpeg says nothing for STALL seconds is killed, and that is not held against the
file (AnalysisHung): a busy machine or a stalled disk hangs the analysis of good files too,
and marking them unplayable took a whole station off air. The scanner tries it again later;
meanwhile it airs (a file that really hangs ffmpeg fails on air, and the feeder passes it
over for a while).
"""

from __future__ import annotations

import asyncio
import math
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import child
from .analysis import CUE_IN_DB, Analysis, analysis_command, describe_failure, failure_reason, parse_analysis, truncation
from .catalog import OK, SILENT, TRUNCATED, UNPLAYABLE, Entry
from .tags import TrackInfo, read_track_info

STALL = 20.0  # seconds without a line from ffmpeg (it reports progress twice a second): hung
FS_TIMEOUT = 10.0  # seconds the file system may take to say what a file is
HEAD_BYTES = 4096  # read to say what a file that will not decode claims to be
NICE = 15  # analysis runs behind the encoders
# EBU R128's absolute gate: a file with nothing over it has no sound to air (digital silence, or
# hiss 70 dB down: inaudible at any gain the station allows), and airing it was dead air.
INAUDIBLE = -70.0


class AnalysisHung(Exception):
    """ffmpeg said nothing for the stall limit and was killed (the file's fault or the machine's)."""


@dataclass(frozen=True, slots=True)
class FileState:
    size: int
    mtime_ns: int
    regular: bool
    head: bytes = b""


def file_state(path: Path, head: bool = False) -> FileState | None:
    """Blocking: size, mtime and (if asked) the first bytes of a file; None if it is gone."""
    try:
        st = path.stat()
        data = b""
        if head and stat.S_ISREG(st.st_mode):
            with path.open("rb") as f:
                data = f.read(HEAD_BYTES)
    except FileNotFoundError:
        return None
    except OSError:
        return FileState(0, 0, False)
    return FileState(st.st_size, st.st_mtime_ns, stat.S_ISREG(st.st_mode), data)


async def analyse(ffmpeg: str, path: Path, nice: int = NICE, stall: float = STALL) -> Entry | None:
    """The file's row, or None when it vanished or changed while being analysed; AnalysisHung
    when ffmpeg made no progress for `stall` seconds."""
    before = await asyncio.wait_for(asyncio.to_thread(file_state, path, True), FS_TIMEOUT)
    if before is None:
        return None
    key = str(path)
    if not before.regular:
        return Entry(
            key, before.size, before.mtime_ns, UNPLAYABLE, "not a regular file (a FIFO, device or folder)", analysed_at=time.time()
        )
    if before.size == 0:
        return Entry(key, 0, before.mtime_ns, UNPLAYABLE, "empty file", analysed_at=time.time())
    info = await asyncio.wait_for(asyncio.to_thread(read_track_info, path), FS_TIMEOUT)
    started = time.monotonic()
    text, code, hung = await _run(analysis_command(ffmpeg, key), nice, stall)
    spent = time.monotonic() - started
    after = await asyncio.wait_for(asyncio.to_thread(file_state, path), FS_TIMEOUT)
    if after is None or (after.size, after.mtime_ns) != (before.size, before.mtime_ns):
        return None
    base = Entry(key, before.size, before.mtime_ns, UNPLAYABLE, analysed_at=time.time(), analysis_seconds=round(spent, 3))
    base = _with_tags(base, info)
    if hung:
        raise AnalysisHung(f"its analysis made no progress for {stall:g} s")
    try:
        result = parse_analysis(text)
    except ValueError as exc:
        reason = failure_reason(text) if code else str(exc)
        return replace(base, reason=describe_failure(before.head, before.size, reason))
    return _measured(base, result, info)


async def _run(command: list[str], nice: int, stall: float) -> tuple[str, int, bool]:
    """ffmpeg's stderr, its exit status, and whether it hung (killed after `stall` quiet seconds)."""
    proc = await child.spawn(*command, stdout=False, nice=nice)
    assert proc.stderr is not None
    lines: list[bytes] = []
    hung = False
    try:
        while True:
            try:
                line = await asyncio.wait_for(proc.stderr.readline(), stall)
            except TimeoutError:
                hung = True
                break
            if not line:
                break
            lines.append(line)  # progress reports included: a few kilobytes a minute of audio
    finally:
        await child.stop(proc)
    return b"".join(lines).decode("utf-8", "replace"), proc.returncode or 0, hung


def _with_tags(entry: Entry, info: TrackInfo) -> Entry:
    return replace(
        entry, codec=info.codec, sample_rate=info.sample_rate, channels=info.channels, artist=info.artist, title=info.title,
        album=info.album, isrc=info.isrc, label=info.label, year=info.year, genre=info.genre,
    )  # fmt: skip


def _measured(entry: Entry, a: Analysis, info: TrackInfo) -> Entry:
    # Short of what the header says, whether or not the decoder complained: a file cut at a frame
    # boundary (an interrupted copy) decodes cleanly to its end (QA: an MP3 whose LAME header
    # says 20 s, cut after 4 s, was "ok").
    short = truncation(a.duration, info.duration)
    status, reason = (
        (TRUNCATED, short)
        if short
        else (UNPLAYABLE, f"silent: no sound in it (nothing over {INAUDIBLE:g} LUFS), so nothing to air")
        if a.silent and a.integrated <= INAUDIBLE
        else (SILENT, f"nothing above {CUE_IN_DB:g} dBFS: aired at the most gain allowed")
        if a.silent
        else (OK, "")
    )
    return replace(
        entry, status=status, reason=reason, duration=round(a.duration, 3), integrated=a.integrated, lra=a.lra,
        true_peak=a.true_peak if math.isfinite(a.true_peak) else None, cue_in=round(a.cue_in, 3), cue_out=round(a.cue_out, 3),
    )  # fmt: skip
