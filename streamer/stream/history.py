"""Listener counts over time, in memory since the start: what the dashboard's graph shows.

A supervised task samples every mount's listener count every INTERVAL seconds and keeps the
last SPAN (24 hours: 8,640 samples, a few hundred KB). Each sample is the most listeners seen
since the one before (the mounts tell `changed()` at every join and leave), per mount and for
the station at once: a crowd that came and went between two samples is not missed. The document it answers with
(`history()`) is what `GET /api/listeners/history` serves; a store that keeps counts across
restarts can answer with the same document in its place (`source` says which answered).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

INTERVAL = 10.0  # seconds between samples
SPAN = 24 * 3600.0  # seconds of samples kept
MAX_POINTS = 2000  # points in one answer at most (a coarser step is chosen above it)
HLS_SERIES = "HLS"  # the HLS players' series, beside the mounts'; their variants' minutes add up to it


class ListenerSampler:
    def __init__(self, counts: Callable[[], dict[str, int]], interval: float = INTERVAL, span: float = SPAN) -> None:
        self.counts = counts  # mount → listeners now
        self.interval = interval
        self.samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=int(span / interval))
        self.totals: deque[int] = deque(maxlen=int(span / interval))  # the station's most at once, per sample
        self._now: dict[str, int] = {}  # listeners per mount, as changed() last heard
        self._peaks: dict[str, int] = {}  # per mount, the most since the last sample
        self._total_peak = 0  # all mounts at once, the most since the last sample
        self.restored_until: float | None = None  # samples before this are minutes from the history database

    def changed(self, mount: str, count: int) -> None:
        """`mount` has `count` listeners now (a join or a leave)."""
        self._now[mount] = count
        self._peaks[mount] = max(self._peaks.get(mount, 0), count)
        self._total_peak = max(self._total_peak, sum(self._now.values()))

    def sample(self, now: float) -> None:
        counts = self.counts()
        self._now.update(counts)
        peaks = {m: max(n, self._peaks.get(m, 0)) for m, n in counts.items()}
        self.samples.append((now, peaks))
        self.totals.append(max(sum(counts.values()), self._total_peak))
        self._peaks.clear()
        self._total_peak = 0

    def restore(self, rows: list[tuple[int, str, int]], mounts: list[str], now: float) -> None:
        """Before the first sample: the minutes up to `now` from the history database, rows of
        (minute, mount, peak) with the station's under '' (minutes it has no row for had nobody,
        or the station was off air). The station's peak includes players of mounts not on the
        graph (HLS), so it is held to the graph's mounts' peaks added up."""
        if not rows or self.samples:
            return
        peaks: dict[int, dict[str, int]] = {}
        for minute, mount, peak in rows:  # (several rows of one series add up: the HLS variants)
            got = peaks.setdefault(minute, {})
            got[mount] = got.get(mount, 0) + peak
        for minute in range(min(peaks), int(now // 60) + 1):  # the minute in progress: what the last run had of it
            got = peaks.get(minute, {})
            counts = {m: got.get(m, 0) for m in mounts}
            self.samples.append((minute * 60.0, counts))
            self.totals.append(min(got.get("", 0), sum(counts.values())))
        self.restored_until = now

    async def run(self) -> None:
        """The sampling task (run and restarted by the station's supervisor)."""
        while True:
            self.sample(time.time())
            await asyncio.sleep(self.interval)

    def history(self, since: float, step: float = 0.0) -> dict:
        """Samples since `since`, merged into buckets of `step` seconds (each the highest count in
        it, so no peak is lost): `points` are [time, total, per mount in `mounts` order]."""
        samples = [(t, counts, total) for (t, counts), total in zip(self.samples, self.totals, strict=True) if t >= since]
        span = (samples[-1][0] - samples[0][0]) if samples else 0.0
        step = max(step, self.interval, span / MAX_POINTS)
        mounts = sorted({m for _, counts, _ in samples for m in counts})
        buckets: dict[int, list[float]] = {}
        for t, counts, total in samples:
            row = [t, total, *(counts.get(m, 0) for m in mounts)]
            key = int(t // step)
            old = buckets.get(key)
            buckets[key] = row if old is None else [old[0], *(max(a, b) for a, b in zip(old[1:], row[1:], strict=True))]
        source = "memory" if self.restored_until is None else "history, then memory"
        return {
            "source": source, "restored_until": self.restored_until, "interval": self.interval, "step": step,
            "mounts": mounts, "points": list(buckets.values()),
        }  # fmt: skip
