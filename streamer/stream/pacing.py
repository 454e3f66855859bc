"""The pacing clock of one mount (pure: times in, decisions out).

Absolute, not incremental: frame k is due at `start + samples_before_k / rate`, so rounding
and late wake-ups never accumulate into drift. The clock owner passes `now` in (from
`time.monotonic()`), which keeps this testable with plain numbers.
"""

from __future__ import annotations

REBASE_AFTER = 1.0  # seconds the source may lag before the clock restarts instead of bursting
# A clock on the station's timeline lags only when the event loop was held: the feeder makes the
# audio up at once, and it goes out as a burst, so the stream stays on the schedule's second (QA:
# a 2.2 s hold left every later title and hard event 2 s late for good). A longer lag, or audio
# that does not come (an encoder restarting), restarts it as a relayed source's does.
CATCH_UP_MAX = 5.0  # seconds of lag sent as a burst at most (128 kbit/s: 80 KB, well within queue_size)
CATCH_UP_WAIT = 2.0  # seconds a lag may last before the clock restarts
# A source that keeps falling behind (a relay's upstream slower than real time) is said in the
# log once in this many seconds, with how often, not at every restart (QA: a line every 2 s).
SAY_REBASES_EVERY = 60.0


class PacingClock:
    __slots__ = ("catches_up", "lag_since", "rebased", "said_at", "sample_rate", "samples_sent", "start", "unsaid")

    def __init__(self, start: float, sample_rate: int, catches_up: bool = False) -> None:
        self.start = start
        self.sample_rate = sample_rate
        self.samples_sent = 0  # audio released so far, in samples per channel
        self.rebased = 0  # times the clock was moved because the source fell behind
        self.catches_up = catches_up  # on the station's timeline: a lag is made up, not kept
        self.lag_since: float | None = None  # when the present lag began
        self.said_at: float | None = None  # when a restart was last said in the log
        self.unsaid = 0  # restarts since

    @property
    def sent_until(self) -> float:
        """Clock time at which the audio released so far runs out."""
        return self.start + self.samples_sent / self.sample_rate

    def due(self, now: float, lead: float) -> bool:
        """Should the next frame be released now, keeping `lead` seconds ahead of `now`?"""
        return self.sent_until < now + lead

    def release(self, frame_samples: int) -> None:
        self.samples_sent += frame_samples

    def behind(self, now: float) -> float:
        """Seconds the released audio lags the clock (listeners would be running dry)."""
        return max(0.0, now - self.sent_until)

    def should_rebase(self, now: float) -> bool:
        """Whether the source lags so that the clock restarts at `now` (REBASE_AFTER); a clock that
        catches up sends a lag of up to CATCH_UP_MAX as a burst for up to CATCH_UP_WAIT first."""
        behind = self.behind(now)
        if behind <= REBASE_AFTER:
            self.lag_since = None
            return False
        since = self.lag_since = now if self.lag_since is None else self.lag_since
        if self.catches_up and behind <= CATCH_UP_MAX and now - since < CATCH_UP_WAIT:
            return False
        self.lag_since = None
        return True

    def rebase(self, now: float) -> int:
        """After a source stall, restart the clock at `now` instead of bursting to catch up.
        Returns how many restarts the log should say now (this one and those not said since the
        last it said: at most one line in SAY_REBASES_EVERY), or 0 to say nothing."""
        self.start = now - self.samples_sent / self.sample_rate
        self.rebased += 1
        self.unsaid += 1
        if self.said_at is not None and now - self.said_at < SAY_REBASES_EVERY:
            return 0
        said, self.unsaid, self.said_at = self.unsaid, 0, now
        return said


def rebase_said(path: str, behind: float, times: int) -> str:
    """The log line for `times` clock restarts (none: ""), the latest `behind` seconds behind.
    (QA: "source fell 4.9 s behind" read as the server falling behind when a DJ paused.)"""
    if not times:
        return ""
    often = f" ({times} restarts since the last such line)" if times > 1 else ""
    why = "it paused, or sends slower than real time"
    return f"{path}: the source's audio fell {behind:.1f} s behind its clock ({why}); restarting the clock{often}"
