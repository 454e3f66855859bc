"""What a DJ reads: block overlaps (for `streamer check`) and the timeline (`streamer schedule`).

Pure: a programme and times in; the timeline out as data (`timeline`, `timeline_json`) and as
the text a DJ reads (`render_timeline`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from .model import Block, Programme, block_active
from .scheduler import Scheduler
from .times import DAY_NAMES
from .week import DAY, WeekIndex, block_on, overlapping_pairs


@dataclass(frozen=True, slots=True)
class Overlap:
    a: Block
    b: Block
    starts: tuple[tuple[int, str], ...]  # (weekday, HH:MM of the first overlapping minute that day), each day they meet

    @property
    def when(self) -> str:
        """'mon-fri from 16:00', 'wed,sat,sun from 19:30': every day they overlap (QA: only the
        first was named, so a DJ fixing Monday did not learn about Saturday)."""
        by_start: dict[str, list[int]] = {}
        for day, start in self.starts:
            by_start.setdefault(start, []).append(day)
        return ", ".join(f"{_days(days)} from {start}" for start, days in by_start.items())

    @property
    def ambiguous(self) -> bool:
        return self.a.priority == self.b.priority

    def located(self) -> str:
        """FILE:LINE of the later block, then what is wrong, and where the other one is (QA: it
        was named with no place, and was in another file): how check and a reload say it."""
        a, b = self.a.where, self.b.where
        other = f"line {a.line}" if a.file == b.file else f"{a.file}:{a.line}"
        return f"{b.file}:{b.line}: {self.describe()} ({self.a.name!r} is at {other})"

    def describe(self) -> str:
        if self.ambiguous:
            return (
                f"blocks {self.a.name!r} and {self.b.name!r} overlap ({self.when}) with the same priority "
                f"{self.a.priority}; give one a higher priority (for now {self.a.name!r}, defined first, wins)"
            )
        hi, lo = (self.a, self.b) if self.a.priority > self.b.priority else (self.b, self.a)
        return (
            f"blocks {hi.name!r} (priority {hi.priority}) and {lo.name!r} (priority {lo.priority}) overlap ({self.when}): {hi.name!r} plays"
        )


def overlaps(programme: Programme) -> list[Overlap]:
    """Pairs of blocks active at the same minute of a week (date ranges taken into account)."""
    blocks = programme.blocks
    index = WeekIndex([_undated(b) for b in blocks])
    if not index.usable:  # a time between minutes: every block looked at, minute by minute
        return _overlaps_by_minute(programme)
    found: dict[tuple[int, int], dict[int, str]] = {}  # pair -> weekday -> first minute that day
    for minute, pairs in overlapping_pairs(index):
        for i, j in pairs:
            if _dates_meet(blocks[i], blocks[j]):
                found.setdefault((i, j), {}).setdefault(minute // DAY, f"{minute % DAY // 60:02d}:{minute % 60:02d}")
    return [Overlap(blocks[i], blocks[j], tuple(days.items())) for (i, j), days in found.items()]


def _overlaps_by_minute(programme: Programme) -> list[Overlap]:
    blocks = programme.blocks
    found: dict[tuple[int, int], dict[int, str]] = {}  # pair -> weekday -> first minute that day
    monday = dt.datetime(2024, 1, 1)  # a Monday: the weekly pattern, dates aside
    undated = [_undated(b) for b in blocks]
    for minute in range(7 * 24 * 60):
        local = monday + dt.timedelta(minutes=minute)
        active = [i for i, b in enumerate(undated) if block_active(b, local)]
        for x in range(len(active)):
            for y in range(x + 1, len(active)):
                i, j = active[x], active[y]
                if _dates_meet(blocks[i], blocks[j]):
                    found.setdefault((i, j), {}).setdefault(local.weekday(), local.strftime("%H:%M"))
    return [Overlap(blocks[i], blocks[j], tuple(days.items())) for (i, j), days in found.items()]


def _days(days: list[int]) -> str:
    """Weekdays in order as a DJ writes them: runs of three or more as 'mon-fri'."""
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    words = [f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" if len(r) > 2 else ",".join(DAY_NAMES[d] for d in r) for r in runs]
    return ",".join(words)


def _undated(block: Block) -> Block:
    if block.date_from is None and block.date_until is None:
        return block
    copy = Block(block.name, block.days, block.start, block.end, block.priority, block.play, block.where)
    return copy


def _dates_meet(a: Block, b: Block) -> bool:
    lo = max(a.date_from or dt.date.min, b.date_from or dt.date.min)
    hi = min(a.date_until or dt.date.max, b.date_until or dt.date.max)
    return lo <= hi


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the timeline: a block coming on air (or the fallback), or a timed event."""

    time: float  # UTC epoch seconds
    kind: str  # "block" or "event"
    name: str  # the block's or event's name ("" for no block: the fallback)
    text: str  # the line as `streamer schedule` prints it (after the time)
    detail: dict  # block: priority, play, jingles, crossfade; event: start, play, bulletin, wait


def timeline(scheduler: Scheduler, start: float, hours: float) -> list[Entry]:
    """The timeline as data: an entry per block change and per timed event, in time order."""
    end = start + hours * 3600
    entries: list[tuple[float, int, Entry]] = []
    current: object = object()
    blocks = scheduler.programme.blocks
    index = WeekIndex(blocks)
    fallback = scheduler.programme.fallback
    fallback_plays = bool(fallback) and scheduler.playlists_have_audio([fallback])
    seconds = sorted({x.second for b in blocks for x in (b.start, b.end) if x.second})  # times like "23:00:30"
    t = last = start
    while t < end:
        local = scheduler.local(t)
        on_minute = index.usable and not (local.second or local.microsecond)
        block = block_on(index, blocks, local) if on_minute else scheduler.block_at(t)
        if block is not current:
            first, current = t == start, block
            if not first and seconds:  # the minute steps found it late (QA: 23:00:30 shown at 23:01)
                t = next((c for c in (t - 60 + s for s in seconds) if last < c < t and scheduler.block_at(c) is block), t)
            entry = _block_entry(t, block, scheduler.programme)
            if note := _unplayable(scheduler, block, fallback_plays):  # (QA: listed as if it would air)
                entry = replace(entry, text=f"{entry.text} ({note})")
            entries.append((t, 0, entry))
        last, t = t, (t // 60 + 1) * 60  # minute steps, on the minute
    for occ in scheduler.events_between(start - 1e-3, end):
        e = occ.event
        how = {"hard": "hard: at the second, fading out what plays", "soft": "soft: after the current track"}.get(
            e.mode, f"waits up to {e.wait:g} s for the current track"
        )
        what = "the news bulletin" if e.bulletin else e.play
        detail = {"start": e.mode, "play": e.play, "bulletin": e.bulletin, "wait": e.wait if e.mode == "wait" else None}
        text = f"  ▶ event {e.name}: plays {what} ({how})"
        if not scheduler.has_audio(e):
            text += " (nothing playable: it does not air, and what plays goes on)"
        entries.append((occ.time, 1, Entry(occ.time, "event", e.name, text, detail)))
    entries.sort(key=lambda x: (x[0], x[1]))
    return [entry for _, _, entry in entries]


def _unplayable(scheduler: Scheduler, block: Block | None, fallback_plays: bool) -> str:
    """What a timeline line adds when its playlists have nothing playable: who plays instead (QA:
    "the fallback plays" when the fallback had nothing either and other playlists stood in)."""
    fallback = scheduler.programme.fallback
    if block is not None and scheduler.playlists_have_audio(list(block.play)):
        return ""
    if block is not None and fallback_plays:
        return f"nothing playable: the fallback {fallback} plays"
    if block is None and fallback_plays:
        return ""
    nor = f", nor in the fallback {fallback}" if block is not None and fallback else ""
    return f"nothing playable{nor}: other playlists stand in"


MIN_HOURS, MAX_HOURS = 1 / 60, 48.0  # the timeline shown: a minute to two days ahead
HOURS_RANGE = f"from 1 minute ({MIN_HOURS:.2g}) to {MAX_HOURS:g}"


def timeline_hours(raw: str) -> float:
    """`raw` (--hours, or ?hours=) as the hours of timeline to show; ValueError saying the range
    otherwise (pure: one check and one wording for the CLI and the API)."""
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not MIN_HOURS <= value <= MAX_HOURS:  # NaN fails too
        raise ValueError(f"hours must be a number {HOURS_RANGE}, not {raw[:50]!r}")
    return value


def render_timeline(scheduler: Scheduler, start: float, hours: float) -> list[str]:
    """One `HH:MM` line per block change and per timed event (`HH:MM:SS` for one on its second),
    in the station's time zone, under a heading for each day (what `streamer schedule` prints)."""
    return _lines(scheduler, timeline(scheduler, start, hours))


def _lines(scheduler: Scheduler, entries: list[Entry]) -> list[str]:
    out = []
    last_day = None
    for i, entry in enumerate(entries):
        local = scheduler.local(entry.time)
        if local.date() != last_day:
            last_day = local.date()
            out.append(day_heading(local, scheduler))
        out.append(f"{clock(local, _on_its_second(entry, i))}  {entry.text}")
    return out


def _on_its_second(entry: Entry, i: int) -> bool:
    """Whether its time is shown to the second: an event's, a block's but the first (the one on
    air when the listing starts, at whatever second that is)."""
    return entry.kind == "event" or i > 0


def timeline_json(scheduler: Scheduler, start: float, hours: float, data: list[Entry] | None = None) -> dict:
    """The timeline for the APIs (GET /api/schedule): the entries as data, and the text lines."""
    data = timeline(scheduler, start, hours) if data is None else data
    entries = [
        {"time": e.time, "local": scheduler.local(e.time).isoformat(timespec="seconds"),
         "clock": clock(scheduler.local(e.time), _on_its_second(e, i)), "day": day_heading(scheduler.local(e.time), scheduler),
         "kind": e.kind, "name": e.name, "text": e.text.strip(), **e.detail}
        for i, e in enumerate(data)
    ]  # fmt: skip
    return {"timezone": str(scheduler.tz), "from": start, "hours": hours, "entries": entries, "lines": _lines(scheduler, data)}


def local_day(scheduler: Scheduler, t: float) -> tuple[float, float]:
    """(start, hours) of the station's local day around `t`: 23 or 25 hours on DST days."""
    midnight = scheduler.local(t).replace(hour=0, minute=0, second=0, microsecond=0)
    following = (midnight + dt.timedelta(days=1, hours=2)).replace(hour=0).astimezone(scheduler.tz)
    start = midnight.timestamp()
    return start, (following.timestamp() - start) / 3600


class TimelineCache:
    """Walking the timeline costs a block lookup per minute (tens of ms for a day), too much for
    every page view: it is walked once per programme and minute, CACHE_HOURS ahead, and sliced."""

    CACHE_HOURS = 50.0  # a local day (25 h at most) starting now, or a 48-hour window
    KEEP = 4  # walks kept: the day's (from midnight) and the ones from now

    def __init__(self) -> None:
        self._walks: dict[tuple[int, float], tuple[Scheduler, list[Entry]]] = {}

    def entries(self, scheduler: Scheduler, start: float, hours: float) -> list[Entry]:
        if hours > self.CACHE_HOURS - 1:
            return timeline(scheduler, start, hours)
        end = start + hours * 3600
        walk = self._covering(scheduler, start, end)
        if walk is None:  # a walk that starts earlier and reaches far enough slices the same
            minute = start // 60 * 60
            walk = self._walks[(id(scheduler), minute)] = (scheduler, timeline(scheduler, minute, self.CACHE_HOURS))
            while len(self._walks) > self.KEEP:
                del self._walks[next(iter(self._walks))]
        entries = walk[1]
        on_air = [e for e in entries if e.kind == "block" and e.time <= start][-1:]
        head = [Entry(start, "block", e.name, e.text, e.detail) for e in on_air]
        return head + [e for e in entries if start <= e.time < end and not (e.kind == "block" and e.time <= start)]

    def _covering(self, scheduler: Scheduler, start: float, end: float) -> tuple[Scheduler, list[Entry]] | None:
        for (_, minute), walk in self._walks.items():
            if walk[0] is scheduler and minute <= start and end <= minute + self.CACHE_HOURS * 3600:
                return walk
        return None


def day_heading(local: dt.datetime, scheduler: Scheduler) -> str:
    return f"{local:%A %d %B %Y} ({scheduler.tz})"


def clock(local: dt.datetime, seconds: bool = False) -> str:
    """HH:MM (HH:MM:SS for a time on its second when `seconds`: an event at 15:18:20 is not at
    15:18), with the zone's abbreviation where that wall time happens twice (01:30 BST, 01:30 GMT
    on a fall-back night), so two identical lines never appear."""
    shown = f"{local:%H:%M:%S}" if seconds and local.second else f"{local:%H:%M}"
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() != local.utcoffset():
        return f"{shown} {local:%Z}"
    return shown


def _block_entry(t: float, block: Block | None, programme: Programme) -> Entry:
    if block is None:
        return Entry(t, "block", "", f"no block: fallback playlist {programme.fallback}", {"play": {programme.fallback: 1}})
    play = ", ".join(f"{n} x{w}" if len(block.play) > 1 else n for n, w in block.play.items())
    text = f"block {block.name} (priority {block.priority}): {play}"
    jingles = None
    if block.jingles:
        j = block.jingles
        every = f"{j.every_songs} songs" if j.every_songs else f"{j.every_minutes:g} min"
        text += f"; ♪ jingle from {j.playlist} every {every}"
        jingles = {"play": j.playlist, "every": every}
    if block.fades.crossfade:
        text += f"; crossfade {block.fades.crossfade:g} s"
    for what, seconds in (("fade in", block.fades.fade_in), ("fade out", block.fades.fade_out)):
        if seconds:
            text += f"; {what} {seconds:g} s"
    detail = {"priority": block.priority, "play": dict(block.play), "jingles": jingles, "crossfade": block.fades.crossfade}
    return Entry(t, "block", block.name, text, detail)
