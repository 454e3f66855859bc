"""Status documents under a flood of requests: built once per interval instead of once per request.

/api/status, /status-json.xsl and /api/nowplaying are built from the whole station (mounts,
encoders, schedule, tasks, ...) and encoded as JSON: about a millisecond of the event loop each.
A wall of dashboards, a misconfigured monitor or an attacker asking hundreds of times a second
would spend a core on them and slow everything else the loop does, down to accepting the next
connection (the kernel's accept queue overflows and /healthz goes unanswered). The public
pages (`/`, `/embed`) share their station parts the same way (a news spike sends readers to
the radio page by the thousand); what depends on the request (the player's mount) is filled
in per answer.

So once a document is asked for more than BUSY times in a second, each body is reused for up to
INTERVAL seconds (at most 1/INTERVAL builds a second, whatever the rate). Below that rate every
answer is built fresh, as before: an operator or a test that acts and then reads sees the act.
Pure: the caller passes the time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")

BUSY = 50  # requests a second for one document above which answers may be shared
INTERVAL = 0.25  # seconds a shared body is reused: the listeners' fan-out tick, at which most of it changes
MAX_KEYS = 32  # documents with their base URL (from the Host header): a flood of made-up hosts is not kept


@dataclass(slots=True)
class _Entry:
    body: Any = None  # what `build` made: a JSON body, a page's parts
    built: float = float("-inf")
    window: float = float("-inf")  # start of the current one-second window
    asked: int = 0  # requests in the current window
    asked_before: int = 0  # requests in the window before it


@dataclass(slots=True)
class DocumentCache:
    builds: int = 0
    shared: int = 0
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def get(self, key: str, now: float, build: Callable[[], T]) -> T:
        """The body for `key` at `now` (monotonic seconds): a fresh `build()` unless the document
        is asked for more than BUSY times a second and was built under INTERVAL seconds ago."""
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= MAX_KEYS:
                self._entries.clear()
            entry = self._entries[key] = _Entry()
        if now - entry.window >= 1.0:
            entry.asked_before = entry.asked if now - entry.window < 2.0 else 0
            entry.window, entry.asked = now, 0
        entry.asked += 1
        flooded = max(entry.asked, entry.asked_before) > BUSY
        if flooded and 0.0 <= now - entry.built < INTERVAL:
            self.shared += 1
            return cast(T, entry.body)
        entry.body, entry.built = build(), now
        self.builds += 1
        return entry.body
