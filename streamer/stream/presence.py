"""Which of a mount's listeners count: not one that has closed its side and is about to be
found gone.

A player that quits closes its connection at once, but the server learns it is gone only
when a write fails, a tick or two later. Counted meanwhile, a run of quick connect-and-close
requests (probes, players that retry) inflated the mount's peak, the audience minutes and the
dashboard's graph many times over (QA: 30 one-at-a-time probes gave a peak of 24, not 3).
So a listener that closes its side (EOF) stops counting at once; one still connected after
the grace listens half-closed (some players shut their sending side) and counts again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .listener import Listener
    from .mount import Mount


class Presence:
    def __init__(self, mount: Mount) -> None:
        self.mount = mount
        self.leaving: set[Listener] = set()  # closed their side, not found gone yet

    def closing(self, listener: Listener, grace: float) -> None:
        """`listener` closed its side: it does not count until `grace` s show it stays."""
        mount = self.mount
        if listener in mount.listeners and listener not in self.leaving:
            self.leaving.add(listener)
            mount.on_listeners(mount, listener, False)
            asyncio.get_running_loop().call_later(grace, self._stayed, listener)

    def _stayed(self, listener: Listener) -> None:
        mount = self.mount
        if listener in self.leaving and not listener.closed and listener in mount.listeners:
            self.leaving.discard(listener)
            mount.peak = max(mount.peak, mount.present)
            mount.on_listeners(mount, listener, True)
