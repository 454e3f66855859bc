"""Who gets in: the connections that have not said what they want yet, and the process's file
descriptors (pure bookkeeping; the door acts on its decisions).

Connections still sending their request head are capped, and the one that has waited longest
is dropped to make room for a new one (a client still silent after all the others is the
least likely to be a listener). A reserve of descriptors is kept for the station's own
children, pipes and files, so no number of clients can starve the audio.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol


class Waiting(Protocol):
    def drop_slow(self) -> None: ...


class Gate:
    def __init__(self, max_pending: int, fd_budget: int) -> None:
        self.max_pending = max_pending
        self.fd_budget = fd_budget  # connections the process may hold, its own files kept aside
        self.pending: OrderedDict[Waiting, None] = OrderedDict()  # oldest first
        self.refused = 0
        self.dropped_slow = 0

    def admit(self, door: Waiting, open_connections: int) -> bool:
        """Let a new connection in, dropping the longest-waiting ones to make room; refused
        only when every descriptor is held by a client that has said what it wants."""
        if open_connections >= self.fd_budget and not self.pending:
            self.refused += 1
            return False
        excess = max(len(self.pending) + 1 - self.max_pending, open_connections + 1 - self.fd_budget)
        for _ in range(min(excess, len(self.pending))):
            oldest, _ = self.pending.popitem(last=False)
            self.dropped_slow += 1
            oldest.drop_slow()
        self.pending[door] = None
        return True

    def release(self, door: Waiting) -> None:
        self.pending.pop(door, None)
