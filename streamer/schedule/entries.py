"""One playlist, block or event of a programme file, read from its YAML into the model (pure):
each problem is collected with its FILE:LINE:COLUMN and field, and a bad entry gives None."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..yamldoc import Doc, Problem, Reader, in_range, one_of
from .model import Block, Event, Fades, Jingles, PlaylistDef, Programme
from .sources import ORDERS
from .times import EVERY, HOURLY, MAX_WAIT, WAIT, parse_clock, parse_days, parse_seconds


def read_fades(r: Reader, defaults: Fades) -> Fades:
    check = in_range(0, 30)
    return Fades(
        crossfade=r.get("crossfade", float, defaults.crossfade, check),
        fade_in=r.get("fade_in", float, defaults.fade_in, check),
        fade_out=r.get("fade_out", float, defaults.fade_out, check),
    )


def read_playlist(doc: Doc, name: str, body: Any, base: Path, problems: list[Problem]) -> PlaylistDef | None:
    path = ("playlists", name)
    r = Reader(doc, path, problems, body if isinstance(body, dict) else {"files": body})
    sources = r.raw("files")
    listed = isinstance(sources, list)  # (else one string: the entry's place is the value's)
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        r.error((*path, "files"), f"playlists.{name}.files must be a list of files, folders, globs or .m3u playlists")
        sources = []
    order = r.get("order", str, "shuffle", one_of(*ORDERS))
    nr = r.section("no_repeat")
    track = nr.get("track", float, 0.0, in_range(0, 7 * 24 * 60))
    artist = nr.get("artist", float, 0.0, in_range(0, 7 * 24 * 60))
    nr.finish()
    has_fades = any(k in r.data for k in ("crossfade", "fade_in", "fade_out"))
    fades = read_fades(r, Fades()) if has_fades else None
    r.finish()
    # where each entry is written (`files: [...]`, or the short form `music: [...]`), for its warnings
    value = (*path, "files") if isinstance(body, dict) else path
    at = [doc.problem((*value, i) if listed else value, "") for i in range(len(sources))]
    return PlaylistDef(str(name), sources, order, base, doc.problem(path, "", key=True), track, artist, fades, at)


def _play(r: Reader, key: str, owner: str) -> dict[str, int]:
    value = r.raw(key)
    path = (*r.path, key)
    if isinstance(value, str):
        return {value: 1}
    if not isinstance(value, dict) or not value:
        r.error(path, f"{owner}.{key} must name a playlist, or map playlists to whole-number weights like {{music: 3, talk: 1}}")
        return {}
    bad = [(name, w) for name, w in value.items() if isinstance(w, bool) or not isinstance(w, int) or w < 1]
    for name, w in bad:  # at the entry itself, as a map of several weights may span lines
        r.error((*path, name), f"{owner}.{key}.{name} must be a whole number of at least 1, not {_shown(w)}")
    return {} if bad else {str(name): int(w) for name, w in value.items()}


def _shown(value: Any) -> str:
    """A value as the DJ wrote it in YAML (true, not True; text quoted)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "empty"}[value]
    return repr(value) if isinstance(value, str) else str(value)


def _days(r: Reader, owner: str) -> frozenset[int]:
    """`days:` (daily when left out; left empty, daily too, and said so, as Reader.get does)."""
    days = parse_days(r.get("days", (str, list), "daily"))
    if isinstance(days, str):
        r.error((*r.path, "days"), f"{owner}.days: {days}")
        return frozenset(range(7))
    return days


def _times(r: Reader, owner: str) -> dict[str, dt.time]:
    times = {}
    for key in ("start", "end"):
        raw = r.raw(key)
        t = parse_clock(str(raw)) if raw is not None else None
        if raw is None:
            r.error((*r.path, key), f'{owner}.{key} is missing or empty: give a clock time like "06:00"')
        elif t is None:
            quote = "" if isinstance(raw, str) else " (quote it)"  # YAML read it as something else
            r.error((*r.path, key), f'{owner}.{key} must be a clock time from "00:00" to "24:00" like "06:00"{quote}, not {raw!r}')
        elif key == "start" and str(raw).strip().startswith("24"):  # QA: Friday 24:00 ran on Thursday night
            message = f'{owner}.start "24:00" would start at the beginning of its day, not the end: write "00:00" and the next day'
            r.error((*r.path, key), message)
        times[key] = t or dt.time(0)
    start = times["start"]
    # Equal times run a full day from start, which 01:00 to 01:00 rarely means: only midnight to
    # midnight ("00:00" to "24:00" or "00:00") is taken as all day.
    if start == times["end"] != dt.time(0):
        shown = start.isoformat(timespec="seconds" if start.second else "minutes")
        r.error((*r.path, "end"), f'{owner}: end equals start ({shown}); for all day write start: "00:00", end: "24:00"')
    return times


def read_block(doc: Doc, name: str, body: Any, programme: Programme, problems: list[Problem]) -> Block | None:
    path = ("blocks", name)
    r = Reader(doc, path, problems, body if isinstance(body, dict) else None)
    owner = f"blocks.{name}"
    n_before = len(problems)
    days = _days(r, owner)
    times = _times(r, owner)
    priority = r.get("priority", int, 0, in_range(-1000, 1000))
    play = _play(r, "play", owner)
    dates = r.section("dates")
    date_from = dates.get("from", dt.date, None)
    date_until = dates.get("until", dt.date, None)
    dates.finish()
    if date_from and date_until and date_until < date_from:
        r.error((*path, "dates"), f"{owner}.dates: until {date_until} is before from {date_from}")
    jingles = None
    if r.raw("jingles") is not None:
        j = r.section("jingles")
        jplay = j.get("play", str, "")
        raw_every = j.raw("every")
        every = "" if raw_every is None else str(raw_every)
        m = EVERY.match(every)
        if not jplay:
            j.error((*j.path, "play"), f"{owner}.jingles.play must name the playlist of jingles")
        if not m:
            # (QA: "not 'None'"; and "it is empty" where the key was misspelt: evry)
            shown = f"not {every!r}" if raw_every is not None else "it is empty" if "every" in j.data else "it is missing"
            j.error((*j.path, "every"), f"{owner}.jingles.every must be like '4 songs' or '15 min'; {shown}")
        else:
            count = int(m[1])
            songs = m[2].lower().startswith(("song", "track"))
            if count < 1:
                j.error((*j.path, "every"), f"{owner}.jingles.every must be at least 1")
            jingles = Jingles(jplay, count if songs else 0, 0.0 if songs else float(count), doc.problem((*j.path, "play"), ""))
        j.finish()
    fades = read_fades(r, programme.fades)
    live_djs = r.raw("live_djs") or []
    if isinstance(live_djs, str):
        live_djs = [live_djs]
    if not isinstance(live_djs, list):
        r.error((*path, "live_djs"), f"{owner}.live_djs must list DJ names (from djs: in config.yaml)")
        live_djs = []
    r.finish()
    if len(problems) > n_before:
        return None
    return Block(
        str(name), days, times["start"], times["end"], priority, play, doc.problem(path, "", key=True),
        date_from, date_until, jingles, fades, tuple(str(d) for d in live_djs),
        {n: doc.problem((*path, "play", n), "", key=True) for n in play},  # a weight's line, or play:'s
    )  # fmt: skip


def read_event(doc: Doc, name: str, body: Any, problems: list[Problem]) -> Event | None:
    path = ("events", name)
    r = Reader(doc, path, problems, body if isinstance(body, dict) else None)
    owner = f"events.{name}"
    n_before = len(problems)
    at = str(r.raw("at", ""))
    hourly = HOURLY.match(at.strip())
    clock = parse_clock(at)
    minute = second = 0
    if hourly:
        minute, second = int(hourly[1]), int(hourly[2] or 0)
        if minute > 59 or second > 59:
            hourly = None
    if clock is not None and at.strip().startswith("24"):  # a block's end, but which day would an event's be?
        r.error((*path, "at"), f'{owner}.at "24:00" would fire at the start of its day, not the end: write "00:00" and the next day')
    elif not hourly and clock is None:
        every = '":MM" or ":MM:SS" (every hour) or "HH:MM" or "HH:MM:SS" (every day)'
        r.error((*path, "at"), f"{owner}.at must be {every}, quoted; not {at!r}")
    days = _days(r, owner)
    play = r.get("play", str, "")
    bulletin = r.get("bulletin", bool, False)
    if not play and not bulletin:
        r.error((*path, "play"), f"{owner}.play must name the playlist to play (or set bulletin: true)")
    elif play and bulletin:  # which one airs is no choice a DJ should have to guess
        both = f"{owner} has both play: {play} and bulletin: true; an event plays a playlist or airs the news bulletin"
        r.error((*path, "play"), f"{both}: remove one of them")
    start = str(r.raw("start", "soft")).strip().lower()
    wait = 0.0
    w = WAIT.match(start)
    if w and float(w[1]) <= MAX_WAIT:
        mode, wait = "wait", float(w[1])
    elif w:
        r.error((*path, "start"), f"{owner}.start: wait {w[1]} s is longer than a day ({MAX_WAIT:g} s): use start: soft")
        mode = "soft"
    elif start in ("hard", "soft"):
        mode = start
    else:
        r.error((*path, "start"), f"{owner}.start must be hard, soft or 'wait N' (seconds), not {start!r}")
        mode = "soft"
    fade = parse_seconds(r.raw("fade_out", 1.0))
    if fade is None or not 0 <= fade <= 10:
        r.error((*path, "fade_out"), f"{owner}.fade_out must be seconds between 0 and 10")
        fade = 1.0
    r.finish()
    if len(problems) > n_before:
        return None
    return Event(
        str(name), play, mode, wait, doc.problem(path, "", key=True),
        minute=minute if hourly else None, second=second if hourly else 0,
        time=None if hourly else clock, days=days, fade_out=fade, bulletin=bulletin, play_where=doc.problem((*path, "play"), ""),
    )  # fmt: skip
