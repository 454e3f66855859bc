"""The pacing clock of one mount (pure: times in, decisions out).

Absolute, not incremental: frame k is due at `start + samples_before_k / rate`, so rounding
and late wake-ups never accumulate into drift. The clock owner passes `now` in (from
`time.monotonic()`), which keeps this testable with plain numbers.
"""

from __future__ import annotations


class PacingClock:
    __slots__ = ("rebased", "sample_rate", "samples_sent", "start")

    def __init__(self, start: float, sample_rate: int) -> None:
        self.start = start
        self.sample_rate = sample_rate
        self.samples_sent = 0  # audio released so far, in samples per channel
        self.rebased = 0  # times the clock was moved because the source fell behind

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

    def rebase(self, now: float) -> None:
        """After a source stall, restart the clock at `now` instead of bursting to catch up."""
        self.start = now - self.samples_sent / self.sample_rate
        self.rebased += 1
