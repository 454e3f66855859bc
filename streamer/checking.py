"""`streamer check`: what would stop or spoil the programme, each as FILE:LINE: message —
files missing, unreadable or unplayable (from the track library), DJs a block names who have
no account, ambiguous overlaps — and notes for what is only worth knowing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .library_cli import check_library
from .schedule.programme import Programme, unknown_live_djs
from .schedule.sources import expand_sources
from .schedule.timeline import overlaps
from .settings import Config


def check_programme(config: Config, programme: Programme) -> int:
    """Print every problem (exit status 1) or a summary and notes (0)."""
    problems: list[str] = []
    named: list[tuple[str, Path]] = []  # (the playlist naming it, file)
    for spec in programme.playlists.values():
        found, warnings = expand_sources(spec)
        problems += warnings
        where = f"{spec.where.file}:{spec.where.line}: playlist {spec.name!r}"
        for f in found:  # what is missing (named or in an M3U) is not found: `warnings` said it
            named.append((where, f))
            if not f.is_file():  # there, but no regular file (a folder an M3U names, a FIFO)
                problems.append(f"{where}: {f}: not a regular file")
            elif not os.access(f, os.R_OK):
                problems.append(f"{where}: {f}: not readable")
    files = len({f for _, f in named})
    unplayable, library_notes = check_library(config, [(w, f) for w, f in named if f.is_file()])
    problems += unplayable
    problems += unknown_live_djs(programme, {name for name, _ in config.djs}, config.file)
    if refusal := config.weak_passwords_refusal(config.network_face()):  # (serve refuses: check said ok, QA)
        problems.append(refusal)
    notes = [*config.notes, *map(str, programme.notes), *library_notes]
    for o in overlaps(programme):
        (problems if o.ambiguous else notes).append(o.located())
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(
        f"ok: {len(config.mounts)} mount(s), {len(programme.playlists)} playlist(s), {files} audio file(s), "
        f"{len(programme.blocks)} block(s), {len(programme.events)} event(s); fallback {programme.fallback!r}; "
        f"time zone {programme.timezone}"
    )
    for line in notes:
        print(f"note: {line}")
    return 0
