"""The programme's blocks on the minutes of a week (pure): which blocks can be on at each minute.

A block's days and times repeat every week, so its runs are spans of the week's 10,080 minutes
(a run that crosses midnight goes on into the next day; Sunday's into Monday). Indexed once per
programme, the block on air at a minute is the first of that minute's blocks (by priority,
first defined on a tie) whose dates hold, and two blocks overlap where their spans meet: a
lookup per minute instead of a look at every block (QA: a 1,000-block programme held the event
loop 2.2 s for one /api/schedule, and `streamer check` took 28 s).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .model import Block, block_active

DAY = 24 * 60
WEEK = 7 * DAY


def minute_of(t: dt.time) -> int | None:
    """The minute of the day `t` begins, or None for a time between minutes (not indexed)."""
    if t.second or t.microsecond:
        return None
    return t.hour * 60 + t.minute


def spans(block: Block) -> list[tuple[int, int]] | None:
    """[start, end) minutes of the week the block's runs cover, dates aside; None if its times
    fall between minutes."""
    start, end = minute_of(block.start), minute_of(block.end)
    if start is None or end is None:
        return None
    length = end - start if end > start else DAY - start + end  # (end <= start: it runs past midnight)
    out = []
    for day in sorted(block.days):
        first = day * DAY + start
        last = first + length
        out += [(first, min(last, WEEK))] + ([(0, last - WEEK)] if last > WEEK else [])
    return out


class WeekIndex:
    """For each minute of the week, the blocks whose runs cover it, by priority (first defined on
    a tie); for each minute, the blocks that begin a run there. None of it if a block's times fall
    between minutes (`usable` is then False and callers look at every block)."""

    def __init__(self, blocks: Sequence[Block]) -> None:
        self.at: list[list[int]] = [[] for _ in range(WEEK)]
        self.starts: list[list[int]] = [[] for _ in range(WEEK)]
        all_spans = [spans(b) for b in blocks]
        self.usable = all(s is not None for s in all_spans)
        if not self.usable:
            return
        by_priority = sorted(range(len(blocks)), key=lambda i: (-blocks[i].priority, i))
        for i in by_priority:
            for first, last in all_spans[i] or ():
                self.starts[first].append(i)
                for minute in range(first, last):
                    self.at[minute].append(i)

    @staticmethod
    def minute(local: dt.datetime) -> int:
        return local.weekday() * DAY + local.hour * 60 + local.minute


def block_on(index: WeekIndex, blocks: Sequence[Block], local: dt.datetime) -> Block | None:
    """The block on air at `local`, a whole minute (as Scheduler.block_at finds it)."""
    for i in index.at[WeekIndex.minute(local)]:
        if block_active(blocks[i], local):
            return blocks[i]
    return None


def overlapping_pairs(index: WeekIndex) -> list[tuple[int, list[tuple[int, int]]]]:
    """(minute of the week, pairs of blocks (i < j) that meet there and had not at the minute
    before): where a run begins beside another, and at each midnight (a new day of overlap)."""
    out = []
    for minute in range(WEEK):
        new = index.starts[minute] if minute % DAY else index.at[minute]
        if new:
            active = index.at[minute]
            pairs = sorted({(min(a, b), max(a, b)) for a in new for b in active if a != b})
            if pairs:
                out.append((minute, pairs))
    return out
