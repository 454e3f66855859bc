"""What a DJ reads: block overlaps (for `streamer check`) and the timeline (`streamer schedule`).

Pure: a programme and times in, text out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .model import Block, Programme
from .scheduler import Scheduler, block_active
from .times import DAY_NAMES


@dataclass(frozen=True, slots=True)
class Overlap:
    a: Block
    b: Block
    day: str
    start: str  # HH:MM of the first overlapping minute on that day

    @property
    def ambiguous(self) -> bool:
        return self.a.priority == self.b.priority

    def describe(self) -> str:
        if self.ambiguous:
            return (
                f"blocks {self.a.name!r} and {self.b.name!r} overlap ({self.day} from {self.start}) with the same priority "
                f"{self.a.priority}; give one a higher priority (for now {self.a.name!r}, defined first, wins)"
            )
        hi, lo = (self.a, self.b) if self.a.priority > self.b.priority else (self.b, self.a)
        return (
            f"blocks {hi.name!r} (priority {hi.priority}) and {lo.name!r} (priority {lo.priority}) overlap "
            f"({self.day} from {self.start}): {hi.name!r} plays"
        )


def overlaps(programme: Programme) -> list[Overlap]:
    """Pairs of blocks active at the same minute of a week (date ranges taken into account)."""
    blocks = programme.blocks
    found: dict[tuple[int, int], Overlap] = {}
    monday = dt.datetime(2024, 1, 1)  # a Monday: the weekly pattern, dates aside
    for minute in range(7 * 24 * 60):
        local = monday + dt.timedelta(minutes=minute)
        active = [i for i, b in enumerate(blocks) if block_active(_undated(b), local)]
        for x in range(len(active)):
            for y in range(x + 1, len(active)):
                i, j = active[x], active[y]
                if (i, j) not in found and _dates_meet(blocks[i], blocks[j]):
                    found[(i, j)] = Overlap(blocks[i], blocks[j], DAY_NAMES[local.weekday()], local.strftime("%H:%M"))
    return list(found.values())


def _undated(block: Block) -> Block:
    if block.date_from is None and block.date_until is None:
        return block
    copy = Block(block.name, block.days, block.start, block.end, block.priority, block.play, block.where)
    return copy


def _dates_meet(a: Block, b: Block) -> bool:
    lo = max(a.date_from or dt.date.min, b.date_from or dt.date.min)
    hi = min(a.date_until or dt.date.max, b.date_until or dt.date.max)
    return lo <= hi


def render_timeline(scheduler: Scheduler, start: float, hours: float) -> list[str]:
    """One `HH:MM` line per block change and per timed event, in the station's time zone."""
    end = start + hours * 3600
    lines: list[tuple[float, int, str]] = []
    current: object = object()
    t = start
    while t < end:
        block = scheduler.block_at(t)
        if block is not current:
            current = block
            lines.append((t, 0, _describe_block(block, scheduler.programme)))
        t = (t // 60 + 1) * 60  # minute steps, on the minute
    for occ in scheduler.events_between(start - 1e-3, end):
        e = occ.event
        how = {"hard": "hard: at the second, fading out what plays", "soft": "soft: after the current track"}.get(
            e.mode, f"waits up to {e.wait:g} s for the current track"
        )
        what = "the news bulletin" if e.bulletin else e.play
        lines.append((occ.time, 1, f"  ▶ event {e.name}: plays {what} ({how})"))
    lines.sort(key=lambda x: (x[0], x[1]))
    out = []
    last_day = None
    for t, _, text in lines:
        local = scheduler.local(t)
        if local.date() != last_day:
            last_day = local.date()
            out.append(f"{local:%A %d %B %Y} ({scheduler.tz})")
        out.append(f"{_clock(local)}  {text}")
    return out


def _clock(local: dt.datetime) -> str:
    """HH:MM, with the zone's abbreviation where that wall time happens twice (01:30 BST,
    01:30 GMT on a fall-back night), so two identical lines never appear."""
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() != local.utcoffset():
        return f"{local:%H:%M %Z}"
    return f"{local:%H:%M}"


def _describe_block(block: Block | None, programme: Programme) -> str:
    if block is None:
        return f"no block: fallback playlist {programme.fallback}"
    play = ", ".join(f"{n} x{w}" if len(block.play) > 1 else n for n, w in block.play.items())
    text = f"block {block.name} (priority {block.priority}): {play}"
    if block.jingles:
        j = block.jingles
        every = f"{j.every_songs} songs" if j.every_songs else f"{j.every_minutes:g} min"
        text += f"; ♪ jingle from {j.playlist} every {every}"
    if block.fades.crossfade:
        text += f"; crossfade {block.fades.crossfade:g} s"
    return text
