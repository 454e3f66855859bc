"""The station's sample timeline (pure: times are passed in).

Sample n of the station's PCM airs at `wall0 + n / rate` (wall clock) and at
`start + n / rate` on the event loop's monotonic clock. The origin is set when audio first
flows, a moment ahead, so decoders can get ahead before anyone could run dry; the mounts'
pacing clocks start from the same origin. Nothing else counts the station's samples.
"""

from __future__ import annotations

from dataclasses import dataclass

STARTUP_DELAY = 0.5  # seconds between the first PCM fed and its air time
# Seconds of audio owed (the process was stopped or starved: a held loop) made up as a burst at
# most, as the mounts' clocks do (stream/pacing.CATCH_UP_MAX); more is skipped: the station goes
# on from now (QA: 30 s owed were decoded in a rush that judged every file dead, and the station
# aired silence for the 10 minutes before it tried them again).
MAKE_UP_MAX = 5.0
# Seconds the system clock may be stepped (NTP's first sync on a box without a clock chip, an
# operator setting the date) before the timeline's wall times follow it: NTP slews both clocks
# alike, so they part only at a step. Until followed, the schedule ran on the old time for good.
CLOCK_STEP = 1.0


@dataclass(slots=True)
class Timeline:
    rate: int
    lookahead: float  # seconds of audio prepared ahead of the clock, at most
    fed: int = 0  # samples per channel fed to the encoders since start
    start: float | None = None  # monotonic time of sample 0 (None until audio first flows)
    wall0: float = 0.0  # wall time of sample 0

    @property
    def started(self) -> bool:
        return self.start is not None

    def begin(self, mono: float, wall: float) -> None:
        """Audio is about to flow: sample 0 airs STARTUP_DELAY from now."""
        self.start = mono + STARTUP_DELAY
        self.wall0 = wall + STARTUP_DELAY

    def time_of(self, sample: int, wall_now: float) -> float:
        """Wall time at which `sample` airs."""
        if self.start is None:  # audio flows at once (begin): sample 0 airs STARTUP_DELAY after it
            return wall_now + STARTUP_DELAY + sample / self.rate
        return self.wall0 + sample / self.rate

    def sample_at(self, wall: float, wall_now: float) -> int:
        """The sample airing at wall time `wall`."""
        if self.start is None:
            return self.fed + max(0, round((wall - wall_now - STARTUP_DELAY) * self.rate))
        return round((wall - self.wall0) * self.rate)

    def skip_owed(self, mono_now: float) -> float:
        """Past MAKE_UP_MAX seconds owed, move the origin so the next sample airs now; returns the
        seconds skipped (0: nothing owed beyond what is made up)."""
        if self.start is None:
            return 0.0
        owed = mono_now - (self.start + self.fed / self.rate)
        if owed <= MAKE_UP_MAX:
            return 0.0
        self.start += owed
        self.wall0 += owed
        return owed

    def follow_wall(self, mono_now: float, wall_now: float) -> float:
        """The system clock was stepped (past CLOCK_STEP): sample n airs at the new wall time it
        maps to. Returns the step in seconds (0: none)."""
        if self.start is None:
            return 0.0
        step = wall_now - (self.wall0 + (mono_now - self.start))
        if abs(step) <= CLOCK_STEP:
            return 0.0
        self.wall0 += step
        return step

    def ahead(self, mono_now: float) -> float:
        """Seconds of audio fed beyond the clock (nothing on air yet: a full lookahead)."""
        if self.start is None:
            return self.lookahead
        return self.start + self.fed / self.rate - mono_now
