"""Who gets in: the connections that have not said what they want yet, and the process's file
descriptors (pure bookkeeping; the door acts on its decisions).

Connections still sending their request head are capped, and the one that has waited longest
is dropped to make room for a new one (a client still silent after all the others is the
least likely to be a listener). A reserve of descriptors is kept for the station's own
children, pipes and files, so no number of clients can starve the audio.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TurnedAway:
    """A listener refused for lack of room: what Icecast's access log keeps of it."""

    mount: str
    reason: str  # "max_listeners" (the mount's) or "server_full"
    address: str
    request: str
    user_agent: str
    referer: str


def no_room(on_mount: int, mount_max: int, on_server: int, server_max: int) -> tuple[str, str] | None:
    """(reason, answer) when there is no room for one more listener (pure), else None."""
    if on_mount >= mount_max:
        return "max_listeners", "max listeners reached"
    if on_server >= server_max:
        return "server_full", "server full: too many listeners"
    return None


class Waiting(Protocol):
    def drop_slow(self) -> None: ...
    def drop_idle(self) -> None: ...


class Gate:
    def __init__(self, max_pending: int, fd_budget: int) -> None:
        self.max_pending = max_pending
        self.fd_budget = fd_budget  # connections the process may hold, its own files kept aside
        self.pending: OrderedDict[Waiting, None] = OrderedDict()  # oldest first
        # Answered keep-alive connections waiting for their client's next request (HLS players
        # between polls). Not capped as heads are, or a few thousand players would push each
        # other out; the cheapest to give up when descriptors run short (a client reopens a
        # closed idle connection by itself), and closed after a head timeout of silence.
        self.idle: OrderedDict[Waiting, None] = OrderedDict()
        self.refused = 0
        self.admitted = 0  # connections let in since the start (Icecast's client_connections)
        self.dropped_slow = 0
        self.dropped_idle = 0
        self.turned_away: dict[tuple[str, str], int] = {}  # (mount, reason) → listeners refused for lack of room
        self.on_turned_away: Callable[[TurnedAway], None] = lambda away: None  # the station's access log

    def turn_away(self, away: TurnedAway) -> None:
        key = (away.mount, away.reason)
        self.turned_away[key] = self.turned_away.get(key, 0) + 1
        self.on_turned_away(away)

    def admit(self, door: Waiting, open_connections: int) -> bool:
        """Let a new connection in, dropping idle and then the longest-waiting ones to make room;
        refused only when every descriptor is held by a client that has said what it wants."""
        if open_connections >= self.fd_budget and not self.pending and not self.idle:
            self.refused += 1
            return False
        self.admitted += 1
        short = open_connections + 1 - self.fd_budget
        while short > 0 and self.idle:
            oldest, _ = self.idle.popitem(last=False)
            self.dropped_idle += 1
            oldest.drop_idle()
            short -= 1
        self._wait_for_head(door, short)
        return True

    def rest(self, door: Waiting) -> None:
        """`door` was answered and keeps its connection for the client's next request."""
        self.pending.pop(door, None)
        self.idle[door] = None

    def wake(self, door: Waiting) -> None:
        """A resting connection's client started its next request: it is a head again."""
        self.idle.pop(door, None)
        self._wait_for_head(door, 0)

    def _wait_for_head(self, door: Waiting, short: int) -> None:
        excess = max(len(self.pending) + 1 - self.max_pending, short)
        for _ in range(min(excess, len(self.pending))):
            oldest, _ = self.pending.popitem(last=False)
            self.dropped_slow += 1
            oldest.drop_slow()
        self.pending[door] = None

    def release(self, door: Waiting) -> None:
        self.pending.pop(door, None)
        self.idle.pop(door, None)
