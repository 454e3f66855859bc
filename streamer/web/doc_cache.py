"""Status documents under a flood of requests: built once per interval instead of once per request.

/api/status, /status-json.xsl, /api/nowplaying and /metrics are built from the whole station (mounts,
encoders, schedule, tasks, ...) and encoded (JSON, Prometheus text): about a millisecond of the event loop each.
A wall of dashboards, a misconfigured monitor or an attacker asking hundreds of times a second
would spend a core on them and slow everything else the loop does, down to accepting the next
connection (the kernel's accept queue overflows and /healthz goes unanswered). The public
pages (`/`, `/embed`) share their station parts the same way (a news spike sends readers to
the radio page by the thousand); what depends on the request (the player's mount) is filled
in per answer.

So once a document is asked for more than BUSY times in a second, each body is reused for up to
INTERVAL seconds (at most 1/INTERVAL builds a second, whatever the rate). Below that rate every
answer is built fresh, as before: an operator or a test that acts and then reads sees the act.
A flood spread over many documents counts too: over BUSY requests a second of all of them
together, every document is shared so. Made-up Host headers make a new document (its base URL)
per request: during a flood at most NEW_PER_INTERVAL documents not asked for before are built per
INTERVAL, the rest get Busy (503, try again in a second); a key asked for before (a reader
trying again, a host evicted by the burst) has a budget of its own, so one-off made-up hosts
cannot lock real readers out, and the documents kept are the most recently asked.
Pure: the caller passes the time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")

BUSY = 50  # requests a second (for one document, or for all of them together) above which answers may be shared
INTERVAL = 0.25  # seconds a shared body is reused: the listeners' fan-out tick, at which most of it changes
MAX_KEYS = 32  # documents with their base URL (from the Host header): the least recently asked go first
NEW_PER_INTERVAL = 8  # documents never asked for (of the last SEEN_KEYS) that may be built per INTERVAL while flooded
KNOWN_PER_INTERVAL = 16  # documents asked for before (not kept, or evicted) that may be built per INTERVAL then
SEEN_KEYS = 4096  # keys remembered as asked for (the most recent), kept or not


class Busy(Exception):
    """Too many documents never asked for before, all at once (a flood of made-up Host headers):
    the caller answers 503 with Retry-After rather than build each."""


@dataclass(slots=True)
class _Rate:
    """Requests per one-second window, and in the window before (a flood's second and the next)."""

    window: float = float("-inf")
    asked: int = 0
    asked_before: int = 0

    def count(self, now: float) -> bool:
        """Count one request at `now`; True when over BUSY a second."""
        if not 0.0 <= now - self.window < 1.0:
            self.asked_before = self.asked if 0.0 <= now - self.window < 2.0 else 0
            self.window, self.asked = now, 0
        self.asked += 1
        return max(self.asked, self.asked_before) > BUSY


@dataclass(slots=True)
class _Entry:
    body: Any = None  # what `build` made: a JSON body, a page's parts
    built: float = float("-inf")
    rate: _Rate = field(default_factory=_Rate)


@dataclass(slots=True)
class DocumentCache:
    builds: int = 0
    shared: int = 0
    refused: int = 0
    _entries: dict[str, _Entry] = field(default_factory=dict)  # least recently asked first
    _all: _Rate = field(default_factory=_Rate)
    _seen: dict[str, None] = field(default_factory=dict)  # keys asked for, least recently first
    _interval: float = float("-inf")  # start of the INTERVAL in which `_new` and `_known` were built
    _new: int = 0
    _known: int = 0

    def get(self, key: str, now: float, build: Callable[[], T]) -> T:
        """The body for `key` at `now` (monotonic seconds): a fresh `build()` unless this document,
        or all of them together, are asked for more than BUSY times a second and it was built under
        INTERVAL seconds ago. Raises Busy for a document not asked for before when more than
        NEW_PER_INTERVAL such were built in this INTERVAL of a flood."""
        flooded = self._all.count(now)
        entry = self._entries.pop(key, None)
        known = key in self._seen
        self._seen.pop(key, None)
        self._seen[key] = None
        if len(self._seen) > SEEN_KEYS:
            del self._seen[next(iter(self._seen))]
        if entry is None:
            if flooded and not self._budget(now, known):
                self.refused += 1
                flood = f"more than {NEW_PER_INTERVAL} new documents asked for in {INTERVAL:g} s during a flood of requests"
                raise Busy(f"server busy: {flood}; try again in a second")
            entry = _Entry()
        self._entries[key] = entry  # now the most recently asked
        if len(self._entries) > MAX_KEYS:
            del self._entries[next(iter(self._entries))]
        flooded = entry.rate.count(now) or flooded
        if flooded and 0.0 <= now - entry.built < INTERVAL:
            self.shared += 1
            return cast(T, entry.body)
        entry.body, entry.built = build(), now
        self.builds += 1
        return cast(T, entry.body)

    def _budget(self, now: float, known: bool) -> bool:
        """Whether one more document not kept may be built in this INTERVAL (and count it): a key
        asked for before (a reader trying again, one evicted by a burst) has a budget of its own,
        so one-off made-up keys cannot take it."""
        if not 0.0 <= now - self._interval < INTERVAL:
            self._interval, self._new, self._known = now, 0, 0
        if known:
            self._known += 1
            return self._known <= KNOWN_PER_INTERVAL
        self._new += 1
        return self._new <= NEW_PER_INTERVAL
