"""`streamer library scan` and `streamer library list`, and what `streamer check` says about the
library: the programme's files, analysed by the same code the station runs (library/)."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from .audio.ffmpeg import ffmpeg_exe
from .audio.leveling import level_for
from .disk import read_only
from .library.catalog import Entry, load_all
from .library.report import entry_line, progress_line, summary, table
from .library.scanner import Library, open_store
from .schedule.programme import Programme
from .schedule.sources import expand_sources
from .settings import Config


def programme_files(programme: Programme) -> list[Path]:
    """Every file the programme's playlists name (once each)."""
    files: dict[Path, None] = {}
    for spec in programme.playlists.values():
        found, _ = expand_sources(spec)
        files.update(dict.fromkeys(found))
    return list(files)


def gain_of(config: Config):
    return lambda e: level_for(e, None, config.loudness).gain_db if config.loudness.enabled else None


def scan(config: Config, programme: Programme) -> int:
    files = programme_files(programme)
    return asyncio.run(_scan(config, files))


async def _scan(config: Config, files: list[Path]) -> int:
    library = Library(open_store(config.state_dir), ffmpeg_exe())
    library.want(files)
    await library.load()
    await library.sweep()
    progress, gain = library.progress, gain_of(config)
    tty = sys.stdout.isatty()
    print(f"{len(files):,} file(s) in the programme; {progress.total:,} to analyse ({config.state_dir / 'library.sqlite'})")

    def shown(entry: Entry) -> None:
        if tty:
            print("\r\033[K" + progress_line(progress), end="", flush=True)
        else:
            print(f"{progress.done}/{progress.total} {entry_line(entry, gain(entry))}", flush=True)

    library.on_entry = shown
    try:
        await library.scan()
    finally:
        await library.store.close()
    if tty and progress.total:
        print()
    entries = [e for f in files if (e := library.lookup(f)) is not None]
    for line in summary(progress, len(files) - progress.total, entries):
        print(line)
    return 0


def listing(config: Config, programme: Programme, problems_only: bool) -> int:
    files = programme_files(programme)
    rows = read_rows(config.state_dir)
    entries = [rows[str(f)] for f in files if str(f) in rows]
    if problems_only:
        entries = [e for e in entries if e.status != "ok"]
    for line in table(entries, gain_of(config)):
        print(line)
    missing = sum(1 for f in files if str(f) not in rows)
    if missing:
        print(f"{missing:,} file(s) not analysed yet: `streamer library scan` (or the running station) analyses them")
    return 0


def read_rows(state_dir: Path) -> dict[str, Entry]:
    """The library's rows, read-only (the station may be running); none if there is no library yet."""
    path = state_dir / "library.sqlite"
    if not path.exists():
        return {}
    try:
        conn = read_only(path, 5.0)
        try:
            return load_all(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        print(f"{path}: cannot be read ({exc}); the station rebuilds it", file=sys.stderr)
        return {}


def check_library(config: Config, files: list[tuple[str, Path]]) -> tuple[list[str], list[str]]:
    """(problems, notes) for `streamer check`: files the library found unplayable (each with the
    playlist that names it: `where`), and how many are not analysed yet."""
    rows = read_rows(config.state_dir)
    problems = [f"{where}: {f}: will not play: {rows[str(f)].reason}" for where, f in files if str(f) in rows and not rows[str(f)].playable]
    missing = len({f for _, f in files if str(f) not in rows})
    notes = [f"{missing} audio file(s) not analysed yet (streamer library scan)"] if missing else []
    return problems, notes
