"""News bulletins on air: built ahead by the news desk's builder, played segment by segment
(each with its headline as the title), started on the hour by an event or now by the API."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from ..aio import background
from ..news.bulletin import Bulletin, BulletinBuilder, Segment
from ..schedule.model import Event, Fades
from ..schedule.scheduler import Choice
from ..wire.text import display_path
from ..yamldoc import Problem
from .decoder import DecodeError
from .next_decoder import LevelOf
from .upcoming import Upcoming

if TYPE_CHECKING:
    from .feeder import Feeder

log = logging.getLogger("streamer.feeder")

BULLETIN_WAIT = 10.0  # seconds an on-demand bulletin waits for its build with the latest headlines
ON_DEMAND_FADE = 0.5  # seconds what plays fades out for an on-demand bulletin
PRIME_WAIT = 2.0  # seconds an on-demand bulletin waits at most for its first decoder's audio before it cuts in
RETRACT_FADE = 0.3  # seconds a retracted headline's segment on air fades out over
ON_DEMAND = Problem("api", 0, 0, "")  # where an on-demand bulletin's event comes from


class BulletinPlayer:
    def __init__(self, feeder: Feeder) -> None:
        self.feeder = feeder
        self.builder: BulletinBuilder | None = None
        self.on_air: dict | None = None  # {started, method, headlines} while one is fed to the encoders
        self._last: dict | None = None  # the one fed last (its end is heard after the feeder is done with it)
        self.segment: Segment | None = None  # the one on air
        self._retracted = False  # the segment on air was cut for its headline's retraction: the bulletin goes on

    def heard(self, heard_kind: str | None) -> dict | None:
        """The bulletin listeners hear, given the kind of item they hear (now_playing's): the
        feeder starts and ends one a lookahead (about a second) before they do, and the
        metadata document said "bulletin" while a song was still heard (and none during the
        last headline's last second)."""
        if heard_kind != "bulletin":
            return None
        return self.on_air or self._last

    @property
    def method(self) -> str | None:
        return self.builder.method if self.builder else None

    def request(self) -> None:
        """A bulletin now (POST /api/bulletin): once it is built with the latest headlines (the
        music plays on meanwhile, usually a second or two), what plays fades out over 0.5 s."""
        background(self._when_ready(), "on-demand bulletin")

    async def _when_ready(self) -> None:
        if self.builder is not None:
            await self.builder.fresh(self.builder.headlines(), BULLETIN_WAIT)
        feeder = self.feeder
        event = Event("bulletin (on demand)", "", "hard", 0.0, ON_DEMAND, bulletin=True)
        if self.builder is not None and (ready := self.builder.ready) is not None and ready.segments:
            # its first segment's decoder first, the cut once it has audio (the music plays on meanwhile)
            self.prestart(Choice(None, "bulletin", "bulletin", None, Fades(), event), ready.segments[0], ready.segments[1:2])
            await feeder.next_decoder.primed(PRIME_WAIT)
        feeder.cues.push_now(event, feeder.now(), feeder.timeline.fed + int(ON_DEMAND_FADE * feeder.rate), ON_DEMAND_FADE)

    def guess_next(self, ahead: Upcoming, level_of: LevelOf) -> None:
        """The decoder of what plays next, started early: when a bulletin is next, its first
        segment's (the one built ahead), which the schedule's guess cannot name."""
        feeder = self.feeder
        bulletin = self.builder.ready if self.builder is not None else None
        if ahead is not None and ahead[1].kind == "bulletin" and bulletin is not None and bulletin.segments:
            self.prestart(ahead[1], bulletin.segments[0], bulletin.segments[1:2])
        else:
            feeder.next_decoder.guess(ahead, level_of, feeder.early_decoder)

    def prestart(self, choice: Choice, segment: Segment, then: list[Segment] | None = None) -> None:
        """Start `segment`'s decoder now (QA: 0.62 s of silence once before an on-demand bulletin
        whose first segment started only when needed; a decoder also starts between segments),
        and the one of the segment `then` after it, if any (the first may be a second long)."""
        feeder = self.feeder
        item = replace(choice, path=segment.path, title=segment.title)
        feeder.next_decoder.guess((feeder.now(), item), functools.partial(feeder.level_of, analysis=segment.analysis), feeder.early_decoder)
        for after in then or []:
            item = replace(choice, path=after.path, title=after.title)
            feeder.next_decoder.after(item, functools.partial(feeder.level_of, analysis=after.analysis), feeder.early_decoder)

    async def play(self, choice: Choice) -> None:
        builder, feeder = self.builder, self.feeder
        if builder is None:
            return
        headlines = builder.headlines()
        if not headlines and choice.event is not None and choice.event.where is not ON_DEMAND:  # (asked for: it airs)
            log.info("event %s: no headlines to read; the music goes on", choice.event.name)
            return
        if headlines and builder.ready is not None and not builder.ready.headlines:
            # Built before there were headlines (at the start) and not rebuilt yet: "no headlines
            # right now" aired with six listed (QA). Worth a wait, the air fed meanwhile.
            log.warning("bulletin: the one built ahead has no headlines; waiting up to %g s for one with %d", BULLETIN_WAIT, len(headlines))
            await feeder.output.covering(builder.fresh(headlines, BULLETIN_WAIT))
        bulletin = builder.take(headlines)
        if bulletin is not None and self.stale(bulletin):
            bulletin = None  # every headline it reads was retracted since it was built: built again now
        if bulletin is None:  # none built ahead yet (just started): build now, keeping the air fed
            try:
                bulletin = await feeder.output.covering(builder.build(headlines))
            except Exception as exc:  # a failed build must not stop the music
                log.exception("bulletin could not be built")
                feeder.onair.problem(time.time(), "bulletin", f"could not be built: {exc}")
                return
            builder.ready = builder.on_air = bulletin
        self.on_air = {"started": feeder.now(), "method": bulletin.method, "headlines": bulletin.headlines}
        log.info("bulletin: %d segment(s), %s", len(bulletin.segments), bulletin.method)
        try:
            segments = bulletin.segments
            for i, segment in enumerate(segments):
                if self.withdrawn(segment):  # retracted (or expired) since the bulletin was built: not read
                    log.warning("bulletin: %r left out: its headline was retracted", segment.title)
                    continue
                # the next two segments' decoders start now: one a second long (a title read over
                # the bed) left the one after it a second to start, and under load it took three
                then = segments[i + 1 : i + 3]
                self.segment, self._retracted = segment, False
                try:
                    if not await feeder.play_file(replace(choice, path=segment.path, title=segment.title), segment.analysis, then):
                        if self._retracted:
                            continue
                        break  # cut by a hard event
                except DecodeError as exc:
                    feeder.onair.problem(time.time(), display_path(exc.path), exc.reason)
                    log.error("bulletin segment %s skipped: %s", display_path(exc.path), exc.reason)
        finally:
            self._last, self.on_air, self.segment = self.on_air, None, None

    def stale(self, bulletin: Bulletin) -> bool:
        """Whether every headline `bulletin` reads is withdrawn (it would air nothing; under load
        its rebuild can come later than an on-demand bulletin)."""
        read = [s for s in bulletin.segments if s.headline]
        return bool(read) and all(self.withdrawn(s) for s in read)

    def withdrawn(self, segment: Segment) -> bool:
        """Whether `segment` reads a headline no longer on the list (retracted or expired)."""
        return bool(segment.headline) and self.builder is not None and segment.headline not in {h.id for h in self.builder.headlines()}

    def news_changed(self) -> None:
        """The headlines changed: a segment on air whose headline was retracted is cut now (QA: a
        false story retracted during the bulletin was read on air 7 s later); the rest goes on."""
        if self.segment is not None and not self._retracted and self.withdrawn(self.segment):
            log.warning("bulletin: %r cut: its headline was retracted while it aired", self.segment.title)
            self._retracted = True
            self.feeder.output.cut_soon(RETRACT_FADE)
