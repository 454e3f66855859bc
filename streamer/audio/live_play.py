"""A live DJ on air: their decoded stream fed in place of the schedule.

The takeover crossfades (LIVE_FADE) out of what plays; the DJ's titles come from the live
mount; silence for `live_silence` seconds hands back to the schedule, and so does a DJ whose
stream stops coming for LIVE_STALL seconds while they stay connected (their next audio takes
over again, through `on_stall`); a DJ who leaves has at
most LIVE_TAIL seconds of what they sent still played; hard events (the news on the hour)
still happen, and the DJ carries on after them. With audio.loudness on, the DJ's level is
brought slowly toward the station's (leveling.SlowGain).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..library.tags import TrackInfo
from ..schedule.scheduler import Choice
from .leveling import SlowGain
from .live_input import LiveInput, Said
from .shaping import fade_in, mix_under
from .upcoming import Ahead, upcoming

if TYPE_CHECKING:
    from .feeder import Feeder

log = logging.getLogger("streamer.feeder")

LIVE_FADE = 0.1  # seconds: the crossfade from the schedule into a DJ who takes over
LIVE_TAIL = 3.0  # seconds of a departed DJ's buffered audio played at most before the schedule resumes
CHUNK = 0.1  # seconds of the DJ's audio read at a time
# Seconds with nothing from a connected DJ before the schedule plays (QA: a DJ's stalled
# connection aired 9.5 s of dead air until the source timeout dropped it).
LIVE_STALL = 2.0
# What the log says when a DJ who is still connected goes off air.
OFF_AIR = {
    "stalled": "nothing from {name} for {stall:g} s",
    "silent": "{name} silent for {silence:g} s",
    "decoder": "{name}'s stream stopped decoding (a new Ogg chain in another format?); their decoder starts again",
}
# Called with True when the DJ went silent (their decoders, left open, are read on until they are
# heard), False when their stream stalled or stopped decoding (it is closed: start again).
OnStall = Callable[[bool], None]


class LiveSession:
    """One DJ's time on air (across the hard events that interrupt it)."""

    def __init__(self, live: LiveInput, silence_timeout: float, on_stall: OnStall | None = None) -> None:
        self.live = live
        self.silence_timeout = silence_timeout
        self.on_stall = on_stall  # the DJ is still connected: take over again at their next audio
        self.off_air = "left"  # why the DJ went off air: left | stalled | silent | decoder
        self.tail = LIVE_TAIL  # seconds still played once the DJ has left
        self._silent_since: float | None = None
        self.said: Said | None = None  # the DJ's title (and its parts) last announced

    def end_now(self) -> None:
        """killsource: the DJ goes off air at once, their buffered audio dropped."""
        self.live.end()
        self.tail = 0.0

    def silent_too_long(self, pcm: bytes | None, now: float) -> bool:
        """True once the DJ has been silent for `silence_timeout` seconds (the schedule resumes)."""
        if pcm is None or not self.live.is_silent(pcm):
            self._silent_since = None
            return False
        if self._silent_since is None:
            self._silent_since = now
        if now - self._silent_since > self.silence_timeout:
            self.off_air = "silent"
            return True
        return False

    async def play(self, feeder: Feeder, choice: Choice) -> bool:
        """Feed the DJ until they leave or fall silent (True), or a hard event cuts in (False)."""
        live = self.live
        chunk = int(feeder.rate * CHUNK) * feeder.frame_bytes
        fade_bytes = int(LIVE_FADE * feeder.rate) * feeder.frame_bytes
        heard = 0  # bytes of the DJ's audio fed so far
        starved = 0  # bytes of silence covering for the DJ since their last audio
        head = feeder.take_tail()  # the track's last LIVE_FADE, faded out: mixed under the DJ
        tail_until: int | None = None  # the sample where a departed DJ's buffered audio stops
        agc = SlowGain(feeder.rate, feeder.channels, feeder.loudness) if feeder.loudness.enabled else None
        going = False  # the DJ may be going (left, or not heard for a while): what follows them is started
        stall_bytes = int(LIVE_STALL * feeder.rate) * feeder.frame_bytes
        # Said again when the DJ comes back after a hard event or a bulletin, which had titles of
        # their own (QA: the DJ aired on under the bulletin's last headline until they left).
        self.said = None
        await live.hold_on()  # (after the news: what they sent under it was let go at its pace)
        pending = asyncio.ensure_future(live.read(chunk))
        try:
            while True:
                done, pcm = await feeder.output.wait_or_silence(pending)
                if live.ended and tail_until is None:
                    tail_until = feeder.timeline.fed + int(self.tail * feeder.rate)
                over = tail_until is not None and feeder.timeline.fed >= tail_until
                if done and pcm is None and not live.ended:
                    self.off_air = "decoder"  # it stopped while the DJ sends on (QA: an Ogg chain with another format)
                if (done and pcm is None) or over or self.silent_too_long(pcm, feeder.now()):
                    return True
                assert pcm is not None
                starved = 0 if done else starved + len(pcm)
                was_going, going = going, live.ended or starved >= stall_bytes // 2
                if going and not was_going:
                    start_what_follows(feeder)
                if starved >= stall_bytes and not live.ended:
                    self.off_air = "stalled"
                    return True
                if done:
                    pending = asyncio.ensure_future(live.read(chunk))
                    pcm = agc.process(pcm) if agc else pcm  # toward the station's loudness, slowly
                    pcm = fade_in(pcm, heard, fade_bytes, feeder.channels)
                    heard += len(pcm)
                if self.said != live.said:
                    self.said = live.said
                    feeder.announce(live_info(live), replace(choice, title=live.title))
                pcm, head = mix_under(pcm, head)
                if not await feeder.output.emit_or_cut(pcm):
                    pending.cancel()
                    await asyncio.wait([pending])  # (one reader at a time)
                    live.let_go()  # until the DJ is back on air after it
                    return False
        finally:
            if not pending.done():
                pending.cancel()


def start_what_follows(feeder: Feeder) -> None:
    """Start the decoder of what the schedule plays after the DJ, as a track's is started before
    its end (QA: 0.1 s more silence when the schedule took back from a stalled DJ: its decoder
    started only then)."""
    if feeder.scheduler is not None:
        ahead = upcoming(feeder.scheduler, feeder.cues, feeder.onair, Ahead(0.0), feeder.now())
        feeder.bulletins.guess_next(ahead, feeder.level_of)


def live_info(live: LiveInput) -> TrackInfo:
    """A DJ's title as a track, with its artist, for /api/nowplaying and the history (QA: '')."""
    artist, title = live.song()
    return TrackInfo(Path(live.name), artist, title, None)


async def play_live(feeder: Feeder, choice: Choice) -> None:
    """The DJ on air until they leave or fall silent (the schedule resumes), or a hard event cuts in."""
    session = feeder.live
    assert session is not None
    if await session.play(feeder, choice):
        name, why = session.live.name, session.off_air
        if why == "left":
            log.info("live: %s ended; the schedule resumes", name)
        else:
            said = OFF_AIR[why].format(name=name, stall=LIVE_STALL, silence=session.silence_timeout)
            log.warning("live: %s; the schedule plays until they are heard again", said)
        if feeder.live is session:
            feeder.live = None
        if why != "silent" or session.on_stall is None:  # (a silent DJ's decoders wait for their next audio: on_stall)
            await session.live.close()
        if why != "left" and session.on_stall is not None:
            session.on_stall(why == "silent")
