"""The library as people read it (pure: rows and figures in, text out): the scan's progress bar,
a line per file when the output is not a terminal, the summary, and the table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .catalog import OK, Entry
from .scanner import Progress

BAR = 24


def duration(seconds: float) -> str:
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def speed(p: Progress) -> float | None:
    """Audio analysed per second of analysis (x real time)."""
    return p.audio_seconds / p.cpu_seconds if p.cpu_seconds > 0 else None


def progress_line(p: Progress) -> str:
    """'[#########.......] 120/2,000 files, 8.1 h of audio, 312x real time, ETA 0:42'"""
    filled = BAR * p.done // p.total if p.total else BAR
    rate = speed(p)
    eta = p.cpu_seconds / p.done * (p.total - p.done) if p.done else None
    parts = [f"[{'#' * filled}{'.' * (BAR - filled)}] {p.done:,}/{p.total:,} files", f"{p.audio_seconds / 3600:.1f} h of audio"]
    if rate:
        parts.append(f"{rate:.0f}x real time")
    if eta is not None and p.done < p.total:
        parts.append(f"ETA {duration(eta)}")
    return ", ".join(parts)


def entry_line(entry: Entry, gain: float | None) -> str:
    """One analysed file, for a log or a pipe."""
    if not entry.playable:
        return f"{entry.path}: will not play: {entry.reason}"
    figures = f"{entry.integrated:.1f} LUFS, {_peak(entry)}, cue {entry.cue_in:.2f}-{entry.cue_out:.2f} s of {entry.duration:.1f} s"
    if gain is not None:
        figures += f", gain {gain:+.1f} dB"
    return f"{entry.path}: {figures}" + (f" ({entry.reason})" if entry.reason else "")


def _peak(entry: Entry) -> str:
    return f"{entry.true_peak:.1f} dBTP" if entry.true_peak is not None else "digital silence"


def summary(p: Progress, unchanged: int, entries: Sequence[Entry]) -> list[str]:
    """What a scan did, what will not play and why, and the loudest and quietest files."""
    rate = speed(p)
    lines = [
        f"analysed {p.done:,} file(s) ({p.audio_seconds / 3600:.2f} h of audio in {duration(p.cpu_seconds)}"
        + (f", {rate:.0f}x real time" if rate else "") + f"); {unchanged:,} unchanged",
    ]  # fmt: skip
    bad = [e for e in entries if e.status != OK]
    if bad:
        lines.append(f"{len(bad)} file(s) with problems:")
        lines += [f"  {e.path}: {e.reason or e.status}" for e in bad]
    measured = [e for e in entries if e.playable and e.integrated is not None and e.integrated > -70]
    if measured:
        loud, quiet = max(measured, key=lambda e: e.integrated or 0), min(measured, key=lambda e: e.integrated or 0)
        lines.append(f"loudest: {loud.integrated:.1f} LUFS {loud.path}")
        lines.append(f"quietest: {quiet.integrated:.1f} LUFS {quiet.path}")
        span = (loud.integrated or 0) - (quiet.integrated or 0)
        lines.append(f"the collection spans {span:.1f} LU; on air every file is brought to the station's target")
    return lines


def table(entries: Sequence[Entry], gain_of: Callable[[Entry], float | None]) -> list[str]:
    """`streamer library list`: one row per file."""
    head = f"{'status':<10} {'LUFS':>6} {'LRA':>5} {'dBTP':>6} {'gain':>6} {'cue in':>7} {'cue out':>8} {'length':>8}  file"
    rows = [head]
    for e in entries:
        gain = gain_of(e)
        rows.append(
            f"{e.status:<10} {_num(e.integrated, 6)} {_num(e.lra, 5)} {_num(e.true_peak, 6)} {_num(gain, 6, '+')} "
            f"{e.cue_in:7.2f} {e.cue_out:8.2f} {duration(e.duration):>8}  {e.path}" + (f"  ({e.reason})" if e.reason else "")
        )
    return rows


def _num(value: float | None, width: int, sign: str = "") -> str:
    return f"{value:{sign}{width}.1f}" if value is not None else f"{'-':>{width}}"
