"""A connection to another server that is made again whenever it drops, with back-off: a pull
relay from an upstream, or a push to an external Icecast."""

from __future__ import annotations

import asyncio
import logging

from ..net_words import in_words

log = logging.getLogger("streamer.sources")

STABLE = 10.0  # seconds a connection must work (up, and what it reads coming) before the back-off starts again from 1 s


class LinkError(Exception):
    """A connection failed in a way already said in words."""


FAILURES = (OSError, ConnectionError, ValueError, TimeoutError, asyncio.IncompleteReadError, LinkError)


class Link:
    what = "link"  # for the log: "relay /x ← url", "push /main → url"

    def __init__(self) -> None:
        self.connected = False
        self.connects = 0
        self.failures = 0  # connections that failed or ended (for /metrics)
        self.last_error = ""
        self.up_at: float | None = None
        self.heard_at: float | None = None  # a link that reads: when it last read something

    async def once(self) -> None:
        """One connection, until it ends (returns) or fails (raises one of FAILURES)."""
        raise NotImplementedError

    def up(self) -> None:
        """The connection is made (and what went wrong before is over)."""
        self.connected = True
        self.connects += 1
        self.last_error = ""
        self.up_at = asyncio.get_running_loop().time()

    async def run(self) -> None:
        """Connect, and connect again after every end or failure (run by the station's supervisor)."""
        backoff = 1.0
        loop = asyncio.get_running_loop()
        while True:
            self.up_at = self.heard_at = None
            try:
                await self.once()
                self.last_error = "the other side ended the stream"
            except FAILURES as exc:
                self.last_error = in_words(exc)
            worked_until = self.heard_at if self.heard_at is not None else loop.time()
            if self.up_at is not None and worked_until - self.up_at >= STABLE:
                # it worked a while: try again at once. One that fails or hangs before it is up, or
                # that stalls soon after (QA: an upstream that never answered was asked again every
                # 11 s; one that stalled at once, every 31 s), backs off.
                backoff = 1.0
            self.connected = False
            self.failures += 1
            log.warning("%s: %s; reconnecting in %g s", self.what, self.last_error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)
