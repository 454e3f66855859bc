"""A connection to another server that is made again whenever it drops, with back-off: a pull
relay from an upstream, or a push to an external Icecast."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("streamer.sources")

FAILURES = (OSError, ConnectionError, ValueError, TimeoutError, asyncio.IncompleteReadError)
STABLE = 10.0  # seconds a connection must last before the back-off starts again from 1 s


class Link:
    what = "link"  # for the log: "relay /x ← url", "push /main → url"

    def __init__(self) -> None:
        self.connected = False
        self.connects = 0
        self.failures = 0  # connections that failed or ended (for /metrics)
        self.last_error = ""

    async def once(self) -> None:
        """One connection, until it ends (returns) or fails (raises one of FAILURES)."""
        raise NotImplementedError

    def up(self) -> None:
        """The connection is made (and what went wrong before is over)."""
        self.connected = True
        self.connects += 1
        self.last_error = ""

    async def run(self) -> None:
        """Connect, and connect again after every end or failure (run by the station's supervisor)."""
        backoff = 1.0
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.once()
                self.last_error = "the other side ended the stream"
            except FAILURES as exc:
                self.last_error = str(exc) or type(exc).__name__
            if loop.time() - started >= STABLE:
                backoff = 1.0  # it worked for a while: try again at once; a link that ends at once backs off
            self.connected = False
            self.failures += 1
            log.warning("%s: %s; reconnecting in %g s", self.what, self.last_error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
