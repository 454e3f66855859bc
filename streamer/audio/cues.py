"""Timed events on the station's timeline: which are due, and where the current item must stop.

Events are placed by sample: a hard event at 15:00:00 stops what plays at the exact sample
that airs at 15:00:00 (after a fade that ends there), however far ahead the feeder runs; a
"wait up to N s" event at the sample N seconds later; a soft event only after the current
item. An on-demand bulletin or a live takeover is pushed to the front with a short cut.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..schedule.model import Event
from ..schedule.scheduler import Occurrence, Scheduler

if TYPE_CHECKING:
    from .onair import NowPlaying

log = logging.getLogger("streamer.feeder")
MIN_BEFORE_CUT = 1.0  # seconds: nothing starts closer than this to an event's cut
# seconds: an event that fell due this long before a held station went on again is let go, not
# aired late (after hours stopped, every hour's news would have aired one after another)
MISSED_AFTER = 60.0
# seconds: at start, an event that fell due this long before and that the last run did not air
# airs now, late (a restart on the hour), rather than never
START_GRACE = 30.0


def cut_time(occ: Occurrence | None, scheduler: Scheduler | None) -> float | None:
    """Wall time at which `occ` stops what plays: a hard event's second, a wait-up-to one's
    deadline; None for a soft one, or one with nothing to air (it cuts nothing)."""
    if occ is None or occ.event.mode == "soft" or (scheduler is not None and not scheduler.airs_now(occ.event)):
        return None
    return occ.time + (occ.event.wait if occ.event.mode == "wait" else 0.0)


class Cues:
    def __init__(self, sample_at: Callable[[float], int]) -> None:
        self.sample_at = sample_at  # wall time → station sample
        self.scheduler: Scheduler | None = None
        self.next: Occurrence | None = None  # the next event on the programme
        self.due: deque[Occurrence] = deque()  # events whose time has come, in order
        self.cut_at: int | None = None  # the sample where what plays now must stop
        self.cut_fade = 0.0  # seconds of fade that end at cut_at
        self.cut_by_event = False  # cut_at is the next event's (not a takeover's, a skip's or a bulletin's asked for)

    def follow(self, scheduler: Scheduler, after: float) -> None:
        """A (new) programme: its next event after wall time `after`."""
        self.scheduler = scheduler
        self.next = scheduler.next_event(after)
        self.arm()

    def collect(self, t: float) -> None:
        """Move every event whose time has come (on the timeline) into the due queue."""
        scheduler = self.scheduler
        assert scheduler is not None
        while self.next and self.next.time <= t + 0.001:
            when = self.next.time
            self.due.extend(Occurrence(when, event) for event in scheduler.events_at(when))
            self.next = scheduler.next_event(when)
        self.arm()

    def arm(self) -> None:
        """Where the current item must stop: the next hard event, or a wait-up-to deadline."""
        occ = self.next
        self.cut_at = None
        deadline = cut_time(occ, self.scheduler)
        if occ is None or deadline is None:
            return  # (an event with nothing to play is said when it falls due; what plays goes on)
        self.cut_at = self.sample_at(deadline)
        self.cut_fade = occ.event.fade_out
        self.cut_by_event = True

    def waits_for_cut(self, fed: int, rate: int) -> bool:
        """Between items, at station sample `fed`: the next event's armed cut (a hard event, a
        wait-up-to deadline) is under MIN_BEFORE_CUT away with nothing due yet, so anything
        started now would air as a sliver (QA: 0.25 s of a jingle before the news)."""
        return self.cut_at is not None and self.cut_by_event and not self.due and 0 < self.cut_at - fed < MIN_BEFORE_CUT * rate

    def room(self, fed: int, rate: int) -> float | None:
        """Seconds from station sample `fed` to the next event's armed cut (None: no cut ahead),
        for what is chosen there to fit in (schedule/fit.py)."""
        return (self.cut_at - fed) / rate if self.cut_at is not None and self.cut_by_event and not self.due else None

    def news_changed(self) -> None:
        """Headlines came (or went): a bulletin next is armed again (nothing else is touched: a
        takeover's or a skip's cut stands)."""
        if self.next is not None and self.next.event.bulletin and self.cut_at is None:
            self.arm()

    def cut_soon(self, sample: int, fade: float) -> None:
        """Stop what plays at `sample`, after `fade` seconds (a takeover, an on-demand bulletin)."""
        self.cut_at = sample
        self.cut_fade = fade
        self.cut_by_event = False

    def push_now(self, event: Event, t: float, sample: int, fade: float) -> None:
        """`event` plays next, ahead of everything due, after a cut at `sample`."""
        self.due.appendleft(Occurrence(t, event))
        self.cut_soon(sample, fade)

    def let_missed_go(self, now: float) -> list[Occurrence]:
        """The station was held and goes on at wall time `now`: the events that fell due more than
        MISSED_AFTER before are let go (returned, for the log); a later one airs as it is due. An
        event's cut, a sample on the timeline that moved, is placed again."""
        missed: list[Occurrence] = []
        scheduler = self.scheduler
        while scheduler is not None and self.next is not None and self.next.time < now - MISSED_AFTER:
            missed += [Occurrence(self.next.time, event) for event in scheduler.events_at(self.next.time)]
            self.next = scheduler.next_event(self.next.time)
        if missed or self.cut_by_event:
            self.arm()
        return missed

    def pop_due(self) -> Occurrence | None:
        if not self.due:
            return None
        occ = self.due.popleft()
        # in the programme's time zone, as the DJ wrote it (QA: "due at 02:40:30" for 04:40:30 Harare)
        when = self.scheduler.local(occ.time) if self.scheduler else dt.datetime.fromtimestamp(occ.time, dt.UTC)
        local = when.strftime("%H:%M:%S %Z")
        log.info("event %r (%s) due at %s", occ.event.name, occ.event.mode, local)
        return occ

    def due_now(self, t: float) -> bool:
        return self.next is not None and self.next.time <= t

    def next_view(self) -> dict | None:
        """The next timed event, for the APIs (its local time in the programme's zone)."""
        occ, scheduler = self.next, self.scheduler
        if occ is None or scheduler is None:
            return None
        event = occ.event
        return {"name": event.name, "at": scheduler.local(occ.time).isoformat(timespec="seconds"), "start": event.mode, "play": event.play}


def events_from(scheduler: Scheduler, now: float, aired: Iterable[NowPlaying]) -> float:
    """At start: the wall time from which the programme's events are followed (pure). One that
    fell due in the last START_GRACE seconds that the last run did not air (`aired`: its last
    items, from the history) airs now, late, not never (QA: a restart at 10:00:00.1 lost the
    top-of-the-hour ID and the news without a word)."""
    occ = scheduler.next_event(now - START_GRACE)
    if occ is None or occ.time >= now:
        return now
    if any(item.event == occ.event.name and item.started >= occ.time - 1.0 for item in aired):
        return occ.time  # the last run aired it
    log.warning("event %s fell due %.1f s before the station started: it airs now", occ.event.name, now - occ.time)
    return now - START_GRACE
