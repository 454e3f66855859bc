"""`streamer schedule`: the timeline a DJ reads, from the programme's files."""

from __future__ import annotations

import datetime as dt
import sys
import time

from .schedule.model import Programme
from .schedule.scheduler import Scheduler
from .schedule.sources import expand_sources
from .schedule.timeline import render_timeline


def print_schedule(programme: Programme, at: str | None, hours: float) -> int:
    """Print `hours` of the timeline from `at` ('HH:MM' today or 'YYYY-MM-DD HH:MM', the
    programme's zone unless it says one; now if None); 2 for a time that cannot be read."""
    tz = programme.timezone
    start = time.time()
    if at:
        try:
            if len(at.strip()) <= 5:
                today = dt.datetime.now(tz).date()
                local = dt.datetime.combine(today, dt.time.fromisoformat(at.strip()))
            else:
                local = dt.datetime.fromisoformat(at.strip())
        except ValueError:
            print(f"streamer schedule: --at {at!r}: use 'YYYY-MM-DD HH:MM' or 'HH:MM'", file=sys.stderr)
            return 2
        start = (local if local.tzinfo else local.replace(tzinfo=tz)).timestamp()
    files = {name: expand_sources(spec)[0] for name, spec in programme.playlists.items()}  # nothing playable is said
    print("\n".join(render_timeline(Scheduler(programme, files), start, hours)))
    return 0
