"""The scheduler: (time, programme, play history) → what plays now, next, and when events fall.

Pure: the clock (UTC epoch seconds) and the play history are passed in; the only state kept is the
rotations' and weights' positions. Local times, days and DST come from the programme's IANA zone.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .fit import FIT_ROOM, Length, fitting, runs_past
from .model import Block, Event, Fades, Programme, block_active
from .norepeat import ALLOWED, Tagged, Windows, by_tags
from .rotation import Rotation
from .stand_in import stand_in
from .times import next_time


@dataclass(frozen=True, slots=True)
class Played:
    time: float  # UTC epoch seconds it went on air
    path: Path
    artist: str
    playlist: str
    kind: str  # "song", "jingle" or "event"
    block: str | None


@dataclass(frozen=True, slots=True)
class Choice:
    path: Path | None  # None: the playlist is empty
    playlist: str
    kind: str
    block: Block | None
    fades: Fades
    event: Event | None = None
    title: str | None = None  # overrides the track's tags (bulletin segments)
    stand_in: str = ""  # what plays because the block's playlist and the fallback have nothing playable

    def origin(self) -> str:
        """Where the choice came from, for log lines: "playlist 'news', event 'toh'"."""
        event, block = getattr(self.event, "name", None), getattr(self.block, "name", None)
        return f"playlist {self.playlist!r}" + (f", event {event!r}" if event else f", block {block!r}" if block else "")


@dataclass(frozen=True, slots=True)
class Occurrence:
    time: float
    event: Event


class Scheduler:
    def __init__(
        self,
        programme: Programme,
        files: dict[str, list[Path]],
        artist_of: Callable[[Path], str] = lambda p: "",
        rng: random.Random | None = None,
        previous: Scheduler | None = None,
        playable: Callable[[Path], bool] = lambda p: True,
        tags: Mapping[Path, Tagged] | None = None,
        length: Length = lambda p: None,
    ) -> None:
        self.programme, self.tz = programme, programme.timezone
        self.artist_of, self.song_of = by_tags(tags) if tags is not None else (artist_of, lambda p: p)  # the windows' view
        self.playable = playable  # files known not to decode are passed over
        self.length = length  # seconds a file airs, where known (fit.py)
        self.has_news: Callable[[], bool] = lambda: True  # whether the news desk has headlines (the station sets it)
        self.rng = rng or random.Random()
        self.rotations = {name: Rotation(files.get(name, []), p.order, self.rng) for name, p in programme.playlists.items()}
        self._wrr: dict[str, dict[str, int]] = {}  # block → smooth weighted round-robin state
        if previous is not None:  # a reload: rotations and weights go on where they were
            for name, rotation in self.rotations.items():
                if name in previous.rotations:
                    rotation.carry_over(previous.rotations[name])
            self._wrr = {block: dict(state) for block, state in previous._wrr.items()}

    # --- blocks ------------------------------------------------------------------------------

    def local(self, t: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(t, self.tz)

    def block_at(self, t: float) -> Block | None:
        """The block on air at `t`: the highest priority of those active (first defined on a tie)."""
        local = self.local(t)
        best: Block | None = None
        for block in self.programme.blocks:
            if block_active(block, local) and (best is None or block.priority > best.priority):
                best = block
        return best

    # --- what plays next -----------------------------------------------------------------------

    def next_choice(self, t: float, history: Sequence[Played], room: float | None = None) -> Choice:
        """What plays from `t`; `room`: seconds until the next cut (a hard event), if any (fit.py)."""
        if room is None or room >= FIT_ROOM:
            return self._choice(t, history)
        saved = self._state()
        choice = self._choice(t, history)
        if choice.path is None or not runs_past(self.length(choice.path), room):
            return choice
        self._restore(saved)  # it comes next in its turn
        if (fit := fitting(self, t, history, room)) is None:
            return self._choice(t, history)
        self.rotations[fit.playlist].take(fit.path)
        block = self.block_at(t)
        fades = self._fades_for(fit.playlist, block.fades if block else self.programme.fades)
        return Choice(fit.path, fit.playlist, fit.kind, block, fades)

    def _choice(self, t: float, history: Sequence[Played]) -> Choice:
        block = self.block_at(t)
        fades = block.fades if block else self.programme.fades
        if block is not None and block.jingles and self._jingle_due(block, t, history):
            name = block.jingles.playlist
            jingle = self.pick(name, t, history)
            if jingle is not None:  # no playable jingle: the music goes on
                return Choice(jingle, name, "jingle", block, self._fades_for(name, fades))
        name = self._weighted(block) if block else (self.programme.fallback or "")
        path = self.pick(name, t, history)
        if path is None and name != self.programme.fallback and self.programme.fallback:
            name = self.programme.fallback  # an empty (or all unplayable) playlist falls back rather than go silent
            path = self.pick(name, t, history)
        if path is None:
            rescue = stand_in(self, t, history)
            if rescue is not None:
                name, path, what = rescue
                return Choice(path, name, "song", block, self._fades_for(name, fades), stand_in=what)
        return Choice(path, name, "song", block, self._fades_for(name, fades))

    def preview(self, t: float, history: Sequence[Played], event: Event | None = None, room: float | None = None) -> Choice:
        """What next_choice (event_choice, for `event`) returns at `t`, without moving the
        rotations, the weights or the random generator: asked again at `t` with the same history
        and programme, the scheduler makes this very choice (what "next up" shows comes true)."""
        saved = self._state()
        try:
            return self.event_choice(event, t, history) if event is not None else self.next_choice(t, history, room)
        finally:
            self._restore(saved)

    def _state(self) -> tuple:
        """The rotations', the weights' and the random generator's positions (a choice undone with _restore)."""
        rotations = {name: rotation.state() for name, rotation in self.rotations.items()}
        return rotations, {block: dict(state) for block, state in self._wrr.items()}, self.rng.getstate()

    def _restore(self, saved: tuple) -> None:
        rotations, self._wrr, rng = saved
        for name, state in rotations.items():
            self.rotations[name].restore(state)
        self.rng.setstate(rng)

    def upcoming(self, t: float, horizon: float = 900.0) -> list[Path]:
        """The files that may play next after `t`: each playlist's next file in the block on
        air then (and its jingles), and the next timed event's within `horizon` seconds."""
        block = self.block_at(t)
        names = list(block.play) if block else [self.programme.fallback or ""]
        if block is not None and block.jingles:
            names.append(block.jingles.playlist)
        event = self.next_event(t)
        if event is not None and event.time - t <= horizon and event.event.play:
            names.append(event.event.play)
        if self.programme.fallback:
            names.append(self.programme.fallback)
        out = []
        for name in dict.fromkeys(names):
            rotation = self.rotations.get(name)
            path = rotation.peek() if rotation else None
            if path is not None and self.playable(path):
                out.append(path)
        return out

    def event_choice(self, event: Event, t: float, history: Sequence[Played]) -> Choice:
        block = self.block_at(t)
        fades = block.fades if block else self.programme.fades
        if event.bulletin:
            return Choice(None, "bulletin", "bulletin", block, Fades(), event)
        return Choice(self.pick(event.play, t, history), event.play, "event", block, self._fades_for(event.play, fades), event)

    def _fades_for(self, playlist: str, block_fades: Fades) -> Fades:
        p = self.programme.playlists.get(playlist)
        return p.fades if p and p.fades else block_fades

    def _weighted(self, block: Block) -> str:
        if len(block.play) == 1:
            return next(iter(block.play))
        state = self._wrr.setdefault(block.name, dict.fromkeys(block.play, 0))
        total = sum(block.play.values())
        for name, weight in block.play.items():
            state[name] = state.get(name, 0) + weight
        pick = max(block.play, key=lambda n: state[n])
        state[pick] -= total
        return pick

    def _jingle_due(self, block: Block, t: float, history: Sequence[Played]) -> bool:
        assert block.jingles is not None
        songs = 0
        run_start: float | None = None
        for played in reversed(history):
            if played.block != block.name:
                break
            if played.kind == "jingle" or (played.kind == "event" and played.playlist == block.jingles.playlist):
                if block.jingles.every_songs:
                    return songs >= block.jingles.every_songs
                return t - played.time >= block.jingles.every_minutes * 60
            if played.kind == "song":
                songs += 1
            run_start = played.time
        if block.jingles.every_songs:
            return songs >= block.jingles.every_songs
        return run_start is not None and t - run_start >= block.jingles.every_minutes * 60

    def has_audio(self, event: Event) -> bool:
        """Whether `event` has something to play (a hard event with nothing must not cut the song)."""
        return event.bulletin or self.playlists_have_audio([event.play])

    def airs_now(self, event: Event) -> bool:
        """Whether `event` airs now: a bulletin with no headlines does not cut the song (QA: for a tone)."""
        return self.has_news() if event.bulletin else self.has_audio(event)

    def playlists_have_audio(self, names: list[str]) -> bool:
        """Whether any of the playlists `names` has a file that may play."""
        return any(self.playable(f) for name in names for f in getattr(self.rotations.get(name), "files", ()))

    def _next_playable(self, rotation: Rotation) -> Path | None:
        """The rotation's next file that is not known to be unplayable (None: all of them are)."""
        for _ in range(len(rotation.files)):
            path = rotation.next()
            if path is not None and self.playable(path):
                return path
        return None

    def pick(self, playlist: str, t: float, history: Sequence[Played]) -> Path | None:
        rotation = self.rotations.get(playlist)
        if rotation is None or not rotation.files:
            return None
        spec = self.programme.playlists[playlist]
        if not (spec.no_repeat_track or spec.no_repeat_artist):
            return self._next_playable(rotation)
        windows = Windows(spec, t, history, self.artist_of, self.song_of)

        # The first of the rotation's own order the windows allow (a shuffle's round stays whole:
        # what they hold back comes later in it), else any they allow, else the one held back
        # longest (ties: the file itself aired longest ago, then the rotation's order).
        def first_allowed(ahead: list[Path]) -> Path | None:
            return next((f for f in ahead if self.playable(f) and windows.conflict(f) == ALLOWED), None)

        path = first_allowed(ahead := rotation.upcoming())
        if path is None and rotation.next_round():
            path = first_allowed(ahead := rotation.upcoming())
        if path is None:
            candidates = [f for f in rotation.files if self.playable(f)]
            if not candidates:
                return None
            allowed = [f for f in candidates if windows.conflict(f) == ALLOWED]
            turn = {f: i for i, f in reversed(list(enumerate(ahead)))}
            held = lambda f: (windows.conflict(f), windows.played(f), turn.get(f, len(ahead)))  # noqa: E731
            path = self.rng.choice(allowed) if allowed else min(candidates, key=held)
        rotation.take(path, [f for f in ahead if not self.playable(f)])
        return path

    # --- timed events ----------------------------------------------------------------------------

    def next_event(self, after: float) -> Occurrence | None:
        """The first event strictly after `after` (ties: the one defined first)."""
        best: Occurrence | None = None
        for event in self.programme.events:
            t = next_time(event.days, event.time, event.minute, event.second, after, self.tz)
            if t is not None and (best is None or t < best.time):
                best = Occurrence(t, event)
        return best

    def events_at(self, when: float) -> list[Event]:
        """Every event that falls exactly at `when` (several may share a second)."""
        return [e for e in self.programme.events if next_time(e.days, e.time, e.minute, e.second, when - 1e-3, self.tz) == when]

    def events_between(self, start: float, end: float) -> list[Occurrence]:
        out = []
        t = start
        while (occ := self.next_event(t)) is not None and occ.time < end:
            out += [Occurrence(occ.time, e) for e in self.events_at(occ.time)]
            t = occ.time
        return out
