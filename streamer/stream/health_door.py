"""A second port that answers /healthz and nothing else (`server.health_port`).

The public port's /healthz is answered by the front door without touching the web side, but
it shares that port's accept queue: under a connection flood the kernel drops SYNs once the
queue is full, and a load balancer's probe waits out TCP's retransmission (1 s, then 3 s)
behind the flood. A port of its own, kept off the public network, has its own queue, so a
probe is answered as soon as the event loop gets to it.

`answer_bytes` is the pure part (bytes in, bytes out); `HealthDoor` is the thin protocol:
keep-alive like the front door's /healthz, a head timeout, and at most MAX_CONNECTIONS open.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import cast

from ..wire.http import BadRequest, RequestHead, blank_lines_before, error_response, find_head_end, parse_request_head

MAX_HEAD = 4096  # a probe's request head is a few hundred bytes
MAX_CONNECTIONS = 64  # probes keep a connection or two each; more is someone else


class ListenError(OSError):
    """The station's port could not be opened (QA: any error at start was said as this one)."""


class HealthPortError(ListenError):
    """The health-check port could not be opened (the public one was)."""


def answer_bytes(buffer: bytes, health: Callable[[RequestHead], bytes], date: str) -> tuple[bytes, int, bool]:
    """(answer, bytes of `buffer` used, keep the connection) for the first request in `buffer`;
    (b"", 0, True) while its head is incomplete. Empty lines before a request line are passed
    over (RFC 9112, 2.2), as on the public port."""
    skipped = blank_lines_before(buffer)
    if skipped and skipped <= MAX_HEAD:
        answer, used, keep = answer_bytes(buffer[skipped:], health, date)
        return answer, used + skipped if answer else 0, keep
    end = find_head_end(buffer)
    if end < 0:
        if len(buffer) > MAX_HEAD:
            return error_response(431, f"request head over {MAX_HEAD} bytes", date), len(buffer), False
        return b"", 0, True
    try:
        head = parse_request_head(buffer[:end])
    except BadRequest as exc:
        return error_response(exc.status, str(exc), date), end, False
    if head.method in ("GET", "HEAD") and head.path == "/healthz":
        return health(head), end, head.keeps_alive
    refused = f"this is the health-check port: it answers GET /healthz only, not {head.method} {head.path[:100]}"
    return error_response(404, refused, date), end, False


class OpenCount:
    """The connections open on one health port (each connection's protocol shares it)."""

    def __init__(self) -> None:
        self.open = 0


class HealthDoor(asyncio.Protocol):
    def __init__(self, health: Callable[[RequestHead], bytes], head_timeout: float, count: OpenCount) -> None:
        self.health = health
        self.head_timeout = head_timeout
        self.count = count
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.count.open += 1
        if self.count.open > MAX_CONNECTIONS:
            transport.abort()
            return
        self._arm()

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.head_timeout, self._close)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            answer, used, keep = answer_bytes(self.buffer, self.health, formatdate(time.time(), usegmt=True))
            if not answer:
                return
            self.buffer = self.buffer[used:]
            self.transport.write(answer)
            if not keep:
                self._close()
                return
            self._arm()  # the next request on this connection gets its own head timeout

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.count.open -= 1
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None
