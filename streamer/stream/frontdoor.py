"""The server's front door: reads each new connection's request head and routes it.

Stream requests (GET/HEAD/OPTIONS on a mount) are answered here, byte for byte as Icecast does,
and the connection becomes a `Listener`; HLS and /healthz are answered here too. The rest goes
where `route()` says, through the `Routes` the station gives the door: source clients to the
source desk, `/api/events` to the event hub, everything else (API, pages, playlist files) to the
aiohttp application, which closes the connection after its answer, so every request passes this
door and its head timeout. The `Gate` decides who gets in; wire/forwarded.py, who a request is from."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Protocol

from ..settings import Config
from ..wire.http import (
    MAX_HEAD,
    BadRequest,
    RequestHead,
    blank_lines_before,
    error_response,
    find_head_end,
    options_response,
    parse_request_head,
)
from .gate import Gate, TurnedAway, no_room
from .hls_server import Hold
from .listener import SOURCE_HEAD_WAIT, tune_in
from .mount import Mount
from .routing import oversized, route

log = logging.getLogger("streamer.http")

# A refusal is followed by a FIN, and the door reads on a moment before closing (as nginx's
# lingering close): closing on unread bytes sends a reset, which loses the client its answer.
LINGER_SECONDS, LINGER_BYTES = 1.0, 1 << 20


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer to write before closing, `delay` seconds from now (failed logins)."""

    response: bytes
    delay: float = 0.0


class Routes(Protocol):
    """What the door needs from the station."""

    config: Config
    mounts: dict[str, Mount]
    gate: Gate

    def open_connections(self) -> int: ...
    def listener_count(self) -> int: ...
    def accept_source(self, head: RequestHead, transport: asyncio.Transport, body: bytes, address: str) -> Reply | None: ...
    def subscribe(self, head: RequestHead, transport: asyncio.Transport, address: str) -> Reply | None: ...
    def to_web(self, transport: asyncio.Transport, data: bytes) -> Reply | None: ...
    def hls_answer(self, head: RequestHead, address: str) -> bytes | Hold: ...
    def health_answer(self, head: RequestHead) -> bytes: ...
    def client_of(self, peer: str, forwarded_for: str, forwarded: str) -> str: ...


http_date = functools.partial(formatdate, usegmt=True)  # an HTTP Date header's value, now


class FrontDoor(asyncio.Protocol):
    __slots__ = ("address", "buf", "held", "linger_left", "peer", "resting", "routes", "timer", "transport", "writing_paused")

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.timer: asyncio.TimerHandle | None = None
        self.peer = self.address = "?"  # the connection's address; the client's, per request (a proxy's may be many)
        self.resting = False  # answered, keeping the connection for the client's next request
        self.writing_paused = False  # the transport's buffer is over its high-water mark
        self.held: tuple[RequestHead, int] | None = None  # a blocking HLS reload waiting for its part
        self.linger_left = LINGER_BYTES  # bytes still read (and dropped) after a refusal

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport subclasses
        peer = transport.get_extra_info("peername")
        self.peer = self.address = str(peer[0]) if peer else "?"
        if not self.routes.gate.admit(self, self.routes.open_connections()):
            self._reply(Reply(error_response(503, "server busy: too many connections", http_date())), linger=False)
            return
        self.timer = asyncio.get_running_loop().call_later(self.routes.config.head_timeout, self._timeout)

    def _timeout(self) -> None:
        why = f"request head not received within {self.routes.config.head_timeout:g} s"
        self._reply(Reply(error_response(408, why, http_date())), linger=False)

    def drop_slow(self) -> None:
        """Too many connections are still sending their heads: this one waited longest."""
        self._reply(Reply(error_response(408, "request head too slow while the server is busy", http_date())), linger=False)

    def drop_idle(self) -> None:
        """Descriptors are short, or the client said nothing for a head timeout after its last answer: close
        without a word, as HTTP/1.1 allows an idle connection to be closed (the client opens a new one)."""
        self._done()
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.held = None
        self._done()

    def _done(self) -> None:
        self.resting = False
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.routes.gate.release(self)

    def data_received(self, data: bytes) -> None:
        if self.timer is None:  # answered already (or being answered after a delay): dropped
            self.linger_left -= len(data)
            if self.linger_left < 0 and self.transport is not None:
                self.transport.close()
            return
        if self.resting and data:
            self._wake()
        self.buf += data
        # Pipelined requests are answered one after another in this loop (no recursion), and
        # only while the client reads its answers: pause_writing stops the loop.
        while self.timer is not None and not self.writing_paused and self.held is None and self._request():
            pass

    def pause_writing(self) -> None:
        """The client does not read its answers as fast as it asks: read no more from it."""
        self.writing_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            self.data_received(b"")  # requests that arrived meanwhile

    def _request(self) -> bool:
        """Answer the request at the head of the buffer; True when the connection was kept for
        another one that is already (partly) in the buffer."""
        del self.buf[: blank_lines_before(self.buf)]  # (empty lines before a request line are passed over)
        end = find_head_end(self.buf)
        if end < 0 or end > MAX_HEAD:
            if len(self.buf) > MAX_HEAD:
                self._reply(Reply(error_response(*oversized(self.buf), http_date())))
            return False
        try:
            head = parse_request_head(bytes(self.buf[:end]))
        except BadRequest as exc:
            self._reply(Reply(error_response(exc.status, str(exc), http_date())))
            return False
        try:
            self._dispatch(head, end)
        except Exception:  # a bug must cost this request only, and be told
            first = bytes(self.buf[: self.buf.find(b"\n")])[:100]
            log.exception("request from %s failed in the front door: %r", self.address, first)
            self._reply(Reply(error_response(500, "internal error (logged)", http_date())))
            return False
        return bool(self.buf) and not self.resting

    def _dispatch(self, head: RequestHead, end: int) -> None:
        routes = self.routes
        self.address = routes.client_of(self.peer, head.header("x-forwarded-for"), head.header("forwarded"))
        mount = routes.mounts.get(head.path)
        kind = route(head, mount)
        if kind == "options":
            self._reply(Reply(options_response(http_date(), head.header("origin") or None, head.header("access-control-request-headers"))))
            return
        if kind == "listen":
            assert mount is not None
            self._listen(mount, head)
            return
        if kind in ("hls", "health"):
            answer = routes.hls_answer(head, self.address) if kind == "hls" else routes.health_answer(head)
            if isinstance(answer, Hold):
                self._hold(answer, head, end)
            else:
                self._answer_and_keep(answer, head, end)
            return
        data, transport = bytes(self.buf), self.transport
        assert transport is not None
        self._done()  # from here the connection is another protocol's, or answered
        self.buf = bytearray()
        if kind == "source":
            reply = routes.accept_source(head, transport, data[end:], self.address)
        elif kind == "events":
            reply = routes.subscribe(head, transport, self.address)
        else:
            reply = routes.to_web(transport, data)
        if reply is not None:
            self._reply(reply)

    def _reply(self, reply: Reply, linger: bool = True) -> None:
        """Answer and close; `linger` (the client may still be sending): see LINGER_SECONDS."""
        self._done()
        self.buf = bytearray()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if reply.delay > 0:  # held back (failed logins): no task, just a timer
            asyncio.get_running_loop().call_later(reply.delay, self._write_and_close, transport, reply.response, linger)
        else:
            self._write_and_close(transport, reply.response, linger)

    def _answer_and_keep(self, response: bytes, head: RequestHead, end: int) -> None:
        """Answer, and keep the connection for the client's next request (HLS players poll), with a
        fresh head timeout; HTTP/1.0 or `Connection: close` ends it as usual."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not head.keeps_alive:
            self._reply(Reply(response))
            return
        transport.write(response)
        del self.buf[:end]
        if self.timer:
            self.timer.cancel()
        if self.buf:  # a pipelined request already here: data_received's loop answers it
            self.timer = asyncio.get_running_loop().call_later(self.routes.config.head_timeout, self._timeout)
            return
        self.resting = True
        self.routes.gate.rest(self)
        self.timer = asyncio.get_running_loop().call_later(self.routes.config.head_timeout, self.drop_idle)

    def _hold(self, hold: Hold, head: RequestHead, end: int) -> None:
        """Keep a blocking HLS reload until its part is published (no task: the HLS output
        calls back), or answer 503 after the hold's limit."""
        self.held = (head, end)
        self.routes.gate.release(self)  # it has said what it wants: not a slow head
        if self.timer:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(hold.seconds, self._unhold, hold.expired)
        hold.wait(self._unhold, time.time())

    def _unhold(self, expired: Callable[[], bytes] | None = None) -> None:
        if self.held is None:
            return
        (head, end), self.held = self.held, None
        answer = expired() if expired is not None else self.routes.hls_answer(head, self.address)
        if isinstance(answer, Hold):  # woken only when ready: never held twice, whatever happens
            answer = answer.expired()
        self._answer_and_keep(answer, head, end)
        if self.buf and self.timer is not None:
            self.data_received(b"")  # a request pipelined behind the held one

    def _wake(self) -> None:
        """The client of a resting connection began its next request: its head timeout starts."""
        self.resting = False
        self.routes.gate.wake(self)
        if self.timer:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.routes.config.head_timeout, self._timeout)

    @staticmethod
    def _write_and_close(transport: asyncio.Transport, response: bytes, linger: bool = False) -> None:
        if transport.is_closing():
            return
        transport.write(response)
        if linger and transport.can_write_eof():
            transport.write_eof()  # the client reads the answer, then its end of file, and closes
            asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()

    def _listen(self, mount: Mount, head: RequestHead, waited: bool = False) -> None:
        routes = self.routes
        if waited and (self.transport is None or self.transport.is_closing()):
            return  # gone while it waited for the source's first audio
        if mount.passthrough and mount.source is None:
            fallback = routes.mounts.get(mount.config.fallback or "")
            if fallback is None:
                self._reply(Reply(error_response(404, f"{head.path}: no source is connected", http_date())))
                return
            mount = fallback  # Icecast's fallback: the listener hears the fallback mount
        if mount.unheard is not None and not waited:  # a source just connected: the head says what its stream is
            self._done()
            mount.unheard.wait(functools.partial(self._listen, mount, head, True), SOURCE_HEAD_WAIT)
            return
        request = f"{head.method} {head.target} {head.version}"
        full = no_room(len(mount.listeners), mount.config.max_listeners, routes.listener_count(), routes.config.max_listeners)
        if head.method == "GET" and full:
            reason, why = full
            routes.gate.turn_away(TurnedAway(mount.path, reason, self.address, request, head.header("user-agent"), head.header("referer")))
            self._reply(Reply(error_response(403, why, http_date())))
            return
        transport = self.transport
        assert transport is not None
        self._done()
        self.buf = bytearray()
        tune_in(mount, transport, head, self.address, http_date())
