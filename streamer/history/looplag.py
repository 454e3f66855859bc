"""The event loop's lag, measured: a task that asks to sleep 0.5 s and records by how much it
woke late. Everything in the station shares the loop, so this is how late anything (a new
listener's first byte, a pacer's tick) can be."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from prometheus_client import Histogram

INTERVAL = 0.5  # each wake-up costs the station a little: two a second are enough for percentiles
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
KEEP = 1200  # samples kept for percentiles in /api/status: the last ten minutes


class LoopLag:
    def __init__(self) -> None:
        self.histogram = Histogram(
            "streamer_event_loop_lag_seconds", "How late the event loop woke a task asking to sleep 0.5 s.", buckets=BUCKETS, registry=None
        )
        self.recent: deque[float] = deque(maxlen=KEEP)

    async def run(self) -> None:
        while True:  # perf_counter: uvloop's loop.time() counts whole milliseconds
            before = time.perf_counter()
            await asyncio.sleep(INTERVAL)
            lag = max(0.0, time.perf_counter() - before - INTERVAL)
            self.histogram.observe(lag)
            self.recent.append(lag)

    def view(self) -> dict:
        """Percentiles over the last ten minutes, in milliseconds."""
        samples = sorted(self.recent)
        if not samples:
            return {"samples": 0}

        def at(q: float) -> float:
            return round(samples[min(len(samples) - 1, int(q * len(samples)))] * 1000, 2)

        return {"samples": len(samples), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": round(samples[-1] * 1000, 2)}
