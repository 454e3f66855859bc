"""What is on air and what was: the current item, the recent list, the play history the
scheduler counts with (jingles, no-repeat windows), the problems log, and the ticker that
turns a track into its StreamTitle."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from string import Formatter

from ..library.tags import TrackInfo
from ..schedule.scheduler import Choice, Played
from ..wire.text import display_path, iso_utc

log = logging.getLogger("streamer.feeder")

HISTORY = 2000  # plays remembered for no-repeat windows and jingle counting
RECENT = 20
TICKER_SEPARATORS = "|-:\u00b7\u2013\u2014"  # what the ticker template separates fields with


@dataclass(slots=True)
class NowPlaying:
    info: TrackInfo
    playlist: str
    kind: str
    block: str | None
    started: float  # wall time it goes on air (station timeline)
    station_sample: int
    title: str  # what players show (StreamTitle)
    event: str | None = None  # the timed event that played it


@dataclass(slots=True)
class Problem:
    time: float
    file: str
    reason: str


def ticker_title(ticker: str, info: TrackInfo, headline: str) -> str:
    """A song's StreamTitle from the ticker template (pure). The template's separators around an
    empty field go with it: no artist tag gives 'Title | headline', not '- Title | headline', and
    no artist, title or headline leaves none at either end. The fields' own text is kept whole
    (an artist called -M-)."""
    values = {"artist": info.artist, "title": info.title, "display": info.display, "headline": headline}
    form = Formatter()
    pieces: list[tuple[str, bool]] = []  # (text, from a field)
    for literal, name, spec, conversion in form.parse(ticker):
        if literal:
            if pieces and not pieces[-1][1] and _joint(literal) and _joint(pieces[-1][0]):
                pieces[-1] = (literal, False)  # two separators met around an empty field: the later stays
            else:
                pieces.append((literal, False))
        if name is not None:
            value = form.format_field(form.convert_field(form.get_field(name, (), values)[0], conversion), spec or "")
            if value.strip():
                pieces.append((value, True))
    if pieces and not pieces[0][1]:
        pieces[0] = (pieces[0][0].lstrip(TICKER_SEPARATORS + " "), False)
    if pieces and not pieces[-1][1]:
        pieces[-1] = (pieces[-1][0].rstrip(TICKER_SEPARATORS + " "), False)
    return "".join(text for text, _ in pieces).strip() or info.display


def _joint(text: str) -> bool:
    """A template's text that only separates (' - ', ' | '), as opposed to words ('News: ')."""
    return not text.strip(TICKER_SEPARATORS + " ")


class OnAir:
    def __init__(self) -> None:
        self.now: NowPlaying | None = None
        self.recent: deque[NowPlaying] = deque(maxlen=RECENT)
        self.history: deque[Played] = deque(maxlen=HISTORY)
        self.problems: deque[Problem] = deque(maxlen=50)
        self.ticker = "{display}"  # StreamTitle for songs: {artist} {title} {display} {headline}
        self.headlines: Callable[[], list[str]] = list  # the headlines a ticker rotates through
        self._ticker_turn = 0
        self._stand_in: tuple[object, bool] | None = None  # (programme's scheduler, silence?) last said
        self._silence_titled = False  # the silence's empty title has been marked
        self._silence_reason = ""  # why the last stand-in said was silence
        self._after_silence = False  # the item announced last follows silence
        self.released: NowPlaying | None = None  # the newest item whose title has reached listeners

    def remember(self, played: list[Played]) -> None:
        """What the last run aired (its history database), before anything airs in this one: a
        restart keeps the no-repeat windows and the jingle count (QA: a track aired 119 s after
        itself across a restart, under a 3-minute window)."""
        self.history.extendleft(reversed([p for p in played if not self.history or p.time < self.history[0].time]))

    def restore_recent(self, items: list[NowPlaying]) -> None:
        """What aired before the restart (newest first, from the history database), as the recent
        list, before anything airs in this run (QA: /api/nowplaying's history was empty after one)."""
        if self.now is None and not self.recent:
            self.recent.extend(items[:RECENT])

    def aired(self, title: str) -> None:
        """`title` has just reached listeners on the station's first mount: the item announced
        last, or the one before it (the mount's title lags the announcements by a lookahead)."""
        before = self.recent[0] if self.recent else None
        lagging = before is not None and self.now is not None and before.title == title != self.now.title
        self.released = before if lagging else self.now  # (a title that is neither, from /admin/metadata: what was announced)

    def pending(self) -> NowPlaying | None:
        """The item announced whose title has not reached listeners yet (the one before airs)."""
        playing, before = self.now, (self.recent[0] if self.recent else None)
        if playing is not None and before is not None and self.released is before and before.title != playing.title:
            return playing
        return None

    def title_for(self, info: TrackInfo, choice: Choice) -> str:
        if choice.title:
            return choice.title
        if choice.kind != "song" or self.ticker == "{display}":
            return info.display
        headlines = self.headlines()
        headline = headlines[self._ticker_turn % len(headlines)] if headlines else ""
        self._ticker_turn += 1
        return ticker_title(self.ticker, info, headline)

    def announce(self, info: TrackInfo, choice: Choice, started: float, sample: int) -> str:
        """`info` goes on air at station sample `sample` (wall time `started`): its title."""
        block = choice.block.name if choice.block else None
        title = self.title_for(info, choice)
        event = getattr(choice.event, "name", None)
        now = NowPlaying(info, choice.playlist, choice.kind, block, started, sample, title, event)
        if self.now is not None:
            self.recent.appendleft(self.now)
        self.now = now
        self._after_silence = self.silent  # (until its title airs, silence is what listeners hear)
        if self.silent:  # the silence is over (a DJ, a bulletin, a file dropped in)
            self._stand_in = None
        self._silence_titled = False
        self.history.append(Played(started, info.path, info.artist, choice.playlist, choice.kind, block))
        where = f"playlist {choice.playlist}" + (f", block {block}" if block else "")
        log.info("now playing %r (%s, %s) from %s", title, choice.kind, where, display_path(info.path))
        return title

    def retime(self, info: TrackInfo) -> None:
        """The file on air is `info` long after all: its analysis came while it played and cut its
        silent end (/api/nowplaying's remaining time, and when what is next starts)."""
        if self.now is not None and self.now.info.path == info.path:
            self.now.info = info

    def note_stand_in(self, choice: Choice, scheduler: object) -> None:
        """Say (once per programme, and again if it comes to silence) that the block's playlists
        and the fallback have nothing playable and what airs instead: in the log and in the
        problems an operator sees, so a DJ's broken edit is found before listeners complain."""
        if choice.kind != "song":
            return
        state = (scheduler, choice.path is None) if choice.stand_in or choice.path is None else None
        if state == self._stand_in or (self.silent and not (state and state[1])):
            return  # (silence ends when something airs, not when it is chosen: QA's test saw the last song named meanwhile)
        self._stand_in = state
        if state is None:
            return
        fallback = getattr(getattr(scheduler, "programme", None), "fallback", None)
        block = f"block {choice.block.name!r} ({', '.join(choice.block.play)}) or " if choice.block else ""
        instead = f"playing {choice.stand_in} instead" if choice.path else "nothing else either: silence until a playlist is fixed"
        reason = f"nothing playable in {block}the fallback {fallback!r}; {instead}"
        self._silence_reason = reason
        log.warning("%s", reason)
        self.problem(time.time(), "playlists", reason)

    def untitled_silence(self) -> bool:
        """True once when silence starts airing for want of anything playable: its empty title
        then clears the last song's from players and ends its play in the history (it was
        credited with the silence, in the royalty reports too)."""
        if not self.silent or self._silence_titled:
            return False
        self._silence_titled = True
        return True

    @property
    def silent(self) -> bool:
        """Valid silence airs because nothing at all is playable (not what was announced last)."""
        return self._stand_in is not None and self._stand_in[1]

    @property
    def silence(self) -> str:
        """Why silence airs for want of anything playable (for /healthz), or ""."""
        return self._silence_reason if self.silent else ""

    def problem(self, when: float, file: str, reason: str) -> None:
        self.problems.append(Problem(when, file, reason))

    def problem_once(self, file: str, reason: str) -> None:
        """A problem each reload finds again: listed once, not once per reload."""
        if not any(p.file == file and p.reason == reason for p in self.problems):
            self.problem(time.time(), file, reason)

    def resolved(self, reason: str, still: set[str]) -> None:
        """Problems of `reason` whose file is not in `still` are over (QA: "file not found" was
        listed on for a file created since, which had aired)."""
        kept = [p for p in self.problems if p.reason != reason or p.file in still]
        if len(kept) < len(self.problems):
            self.problems = deque(kept, maxlen=self.problems.maxlen)

    # --- what the APIs show ---------------------------------------------------------------------------

    def now_playing(self, now: float) -> dict | None:
        """The item on air, for /api/nowplaying: title, song, kind, where it comes from, progress.
        An item is announced a lookahead before it airs: until its title reaches listeners
        (`aired`), the one before is named (QA: the document named the next one 0.13-0.5 s
        before the mounts' titles changed)."""
        playing = self.now
        if playing is None or self.silent:
            return None
        if self.pending() is not None:
            if self._after_silence:  # not the song before the silence (QA's test saw it named again)
                return None
            playing = self.recent[0]
        duration = playing.info.duration
        elapsed = max(0.0, now - playing.started)
        return {
            "title": playing.title,
            "song": {"artist": playing.info.artist, "title": playing.info.title},
            "kind": playing.kind,
            "playlist": playing.playlist,
            "block": playing.block,
            "start": iso_utc(playing.started),
            "elapsed": round(elapsed, 1),
            "duration": round(duration, 1) if duration else None,  # elapsed + remaining = duration, as shown
            "remaining": round(max(0.0, round(duration, 1) - round(elapsed, 1)), 1) if duration else None,
        }

    def history_view(self) -> list[dict]:
        """What aired before the item now_playing() names: while the next title is pending, the
        item still heard is now playing, not history (it was listed in both)."""
        recent = list(self.recent)[1:] if self.pending() is not None else self.recent
        return [
            {"title": p.title, "song": {"artist": p.info.artist, "title": p.info.title}, "kind": p.kind, "start": iso_utc(p.started)}
            for p in recent
        ]

    def now_status(self) -> dict | None:
        """The item on air, for /api/status (the operator's view: file, playlist, block); None
        while silence airs, as in now_playing()."""
        playing = self.now
        if playing is None or self.silent:
            return None
        info = playing.info
        return {
            "title": info.title,
            "artist": info.artist,
            "display": info.display,
            "file": display_path(info.path),
            "playlist": playing.playlist,
            "kind": playing.kind,
            "block": playing.block,
            "duration": info.duration,
            "started": playing.started,
        }

    def recent_status(self) -> list[dict]:
        return [{"display": p.info.display, "file": display_path(p.info.path), "kind": p.kind, "started": p.started} for p in self.recent]

    def problems_status(self) -> list[dict]:
        return [{"time": p.time, "file": p.file, "reason": p.reason} for p in self.problems]
