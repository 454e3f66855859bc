"""The server's front door: reads each new connection's request head and routes it.

Stream requests (GET/HEAD/OPTIONS on a mount) are answered here, byte for byte as Icecast
does, and the connection becomes a `Listener`; `/api/events` becomes an SSE `Subscriber`;
source clients become a `SourceConnection`. Everything else (JSON API, pages, playlist
files) is handed, with the bytes read so far, to the aiohttp application, which closes the
connection after its answer, so every request on every connection passes this door and its
head timeout.

The door also guards the process's file descriptors: connections still sending their head
are capped (the one waiting longest is dropped for a new one), web connections are capped,
and a reserve of descriptors is kept for the station's own children and files, so no number
of clients can starve the audio.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict
from email.utils import formatdate
from typing import TYPE_CHECKING

from .httpwire import (
    MAX_HEAD,
    BadRequest,
    RequestHead,
    error_response,
    find_head_end,
    listener_head,
    options_response,
    parse_request_head,
    source_ok,
)
from .listener import Listener
from .source import SourceConnection

if TYPE_CHECKING:
    from .mount import Mount
    from .station import Station

log = logging.getLogger("streamer.http")

SOURCE_RECEIVE_BUFFER = 16384  # bytes the kernel holds for a source we are not reading (doubled by Linux)



def _cap_send_buffer(transport: asyncio.BaseTransport, size: int) -> None:
    """Linux grows a socket's send buffer up to 4 MB for a client that stops reading: bound it
    (to a burst plus a second of audio), so a stalled listener costs little kernel memory and
    falls behind in the shared buffer, where it is measured and evicted at queue_size."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, max(32768, size))
        except OSError:
            pass


def _cap_receive_buffer(transport: asyncio.BaseTransport) -> None:
    """A source we stop reading (it sends faster than real time) must feel it within seconds:
    Linux would otherwise buffer megabytes (minutes of audio) for it in the kernel."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOURCE_RECEIVE_BUFFER)
        except OSError:
            pass


def http_date() -> str:
    return formatdate(usegmt=True)


def route(head: RequestHead, mount: Mount | None) -> str:
    """What a request is (pure): listen | options | events | source | web."""
    if head.method in ("SOURCE", "PUT"):
        return "source"
    if mount is not None:
        if head.method in ("GET", "HEAD"):
            return "listen"
        if head.method == "OPTIONS":
            return "options"
        return "web"  # aiohttp answers 405 with the allowed methods
    if head.method == "OPTIONS" and head.target == "*":
        return "options"
    if head.method == "GET" and head.path == "/api/events":
        return "events"
    return "web"


class Gate:
    """Counts the connections that have not said what they want yet, and decides who gets in."""

    def __init__(self, max_pending: int, fd_budget: int) -> None:
        self.max_pending = max_pending
        self.fd_budget = fd_budget  # connections the process may hold, its own files kept aside
        self.pending: OrderedDict[FrontDoor, None] = OrderedDict()  # oldest first
        self.refused = 0
        self.dropped_slow = 0

    def admit(self, door: FrontDoor, open_connections: int) -> bool:
        """Let a new connection in, making room by dropping the connection that has waited
        longest for its head: a client that is still silent after all the others is the least
        likely to be a listener. Refused only when every descriptor is a real client."""
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

    def release(self, door: FrontDoor) -> None:
        self.pending.pop(door, None)


class FrontDoor(asyncio.Protocol):
    __slots__ = ("address", "buf", "station", "timer", "transport")

    def __init__(self, station: Station) -> None:
        self.station = station
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.timer: asyncio.TimerHandle | None = None
        self.address = "?"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport subclasses
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"
        if not self.station.gate.admit(self, self.station.open_connections()):
            self._reply(error_response(503, "server busy: too many connections", http_date()))
            return
        self.timer = asyncio.get_running_loop().call_later(self.station.config.head_timeout, self._timeout)

    def _timeout(self) -> None:
        self._reply(error_response(408, f"request head not received within {self.station.config.head_timeout:g} s", http_date()))

    def drop_slow(self) -> None:
        """Too many connections are still sending their heads: this one waited longest."""
        self._reply(error_response(408, "request head too slow while the server is busy", http_date()))

    def connection_lost(self, exc: Exception | None) -> None:
        self._done()

    def _done(self) -> None:
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.station.gate.release(self)

    def data_received(self, data: bytes) -> None:
        if self.timer is None:
            return  # answered already (or being answered after a delay): ignore what follows
        self.buf += data
        end = find_head_end(self.buf)
        if end < 0 or end > MAX_HEAD:
            if len(self.buf) > MAX_HEAD:
                self._reply(error_response(431, f"request head larger than {MAX_HEAD} bytes", http_date()))
            return
        try:
            head = parse_request_head(bytes(self.buf[:end]))
        except BadRequest as exc:
            self._reply(error_response(exc.status, str(exc), http_date()))
            return
        try:
            self._dispatch(head, end)
        except Exception:  # a bug must cost this request only, and be told
            first = bytes(self.buf[: self.buf.find(b"\n")])[:100]
            log.exception("request from %s failed in the front door: %r", self.address, first)
            self._reply(error_response(500, "internal error (logged)", http_date()))

    def _dispatch(self, head: RequestHead, end: int) -> None:
        station = self.station
        mount = station.mounts.get(head.path)
        kind = route(head, mount)
        if kind == "options":
            self._reply(options_response(http_date(), head.header("origin") or None))
        elif kind == "listen":
            assert mount is not None
            self._listen(mount, head)
        elif kind == "source":
            self._source(head, bytes(self.buf[end:]))
        elif kind == "events":
            self._subscribe(head)
        elif station.web_connections() >= station.config.max_web_clients:
            self._reply(error_response(503, "server busy: too many web clients", http_date()))
        else:
            data = bytes(self.buf)
            self._hand_off()
            station.hand_to_web(self.transport, data)  # type: ignore[arg-type]

    def _hand_off(self) -> None:
        """The connection belongs to another protocol from now on."""
        self._done()
        self.buf = bytearray()

    def _reply(self, response: bytes, delay: float = 0.0) -> None:
        self._done()
        self.buf = bytearray()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if delay > 0:  # held back (failed logins): no task, just a timer
            asyncio.get_running_loop().call_later(delay, self._write_and_close, transport, response)
        else:
            self._write_and_close(transport, response)

    @staticmethod
    def _write_and_close(transport: asyncio.Transport, response: bytes) -> None:
        if not transport.is_closing():
            transport.write(response)
            transport.close()

    def _source(self, head: RequestHead, body: bytes) -> None:
        """A source client asks to feed a mount (see icecast-wire.md for each answer)."""
        station = self.station
        transport = self.transport
        assert transport is not None
        guard, now = station.logins, time.monotonic()
        locked = guard.locked(self.address, now)
        if locked:
            self._reply(error_response(429, f"too many failed logins from {self.address}; try again in {locked:.0f} s", http_date()))
            return
        authorization = head.header("authorization")
        who, refusal = station.source_allowed(head.path, authorization)
        if who is None:
            delay = 0.0
            if authorization:  # libshout asks without credentials first: that is no failure
                delay, count = guard.failed(self.address, now)
                log.warning("source login refused on %s from %s (%d failed in the last minute)", head.path[:100], self.address, count)
            extra = [("WWW-Authenticate", 'Basic realm="Icecast2 Server"')]
            self._reply(error_response(401, "You need to authenticate", http_date(), extra), delay)
            return
        guard.succeeded(self.address)
        if refusal:
            self._reply(error_response(403, refusal, http_date()))
            return
        content_type = head.header("content-type").split(";")[0].strip().lower()
        problem = station.source_refused(head.path, content_type)
        if problem:
            self._reply(error_response(403, problem, http_date()))
            return
        self._hand_off()
        _cap_receive_buffer(transport)
        mount = station.passthrough_mount(head.path, content_type, head.headers)
        chunked = "chunked" in head.header("transfer-encoding").lower()
        if head.method == "PUT" and head.header("expect").lower() == "100-continue":
            transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        transport.write(source_ok())
        metaint = int(head.header("icy-metaint")) if head.header("icy-metaint").isdigit() else 0
        source = SourceConnection(mount, transport, self.address, chunked, station.config.source_timeout, min(metaint, 1 << 20))
        mount.source = source
        transport.set_protocol(source)
        agent = head.header("user-agent")[:100] or "no user agent"
        log.info("%s: source connected from %s (%s, %s)", head.path, self.address, content_type, agent)
        if head.path == station.config.live_mount:
            station.go_live(source, head.header("ice-name") or who)
        if body:
            source.data_received(body)

    def _listen(self, mount: Mount, head: RequestHead) -> None:
        station = self.station
        if mount.passthrough and mount.source is None:
            fallback = station.mounts.get(mount.config.fallback or "")
            if fallback is None:
                self._reply(error_response(404, f"{head.path}: no source is connected", http_date()))
                return
            mount = fallback  # Icecast's fallback: the listener hears the fallback mount
        if head.method == "GET":
            if len(mount.listeners) >= mount.config.max_listeners:
                self._reply(error_response(403, "max listeners reached", http_date()))
                return
            if station.listener_count >= station.config.max_listeners:
                self._reply(error_response(403, "server full: too many listeners", http_date()))
                return
        transport = self.transport
        assert transport is not None
        self._hand_off()
        metaint = mount.metaint if head.wants_metadata and mount.info.supports_icy else 0
        # Range probes (Safari's bytes=0-1) are ignored, as Icecast does: a live stream is 200.
        transport.write(listener_head(mount.info, metaint or None, http_date(), head.header("origin") or None))
        if head.method == "HEAD":
            transport.close()
            return
        _cap_send_buffer(transport, mount.config.burst_size + (mount.info.bitrate or 128) * 125)
        start, prefix = mount.listen_start(mount.config.burst_size)
        if prefix:
            transport.write(prefix)  # an Ogg stream's header pages, before any audio page
        listener = Listener(mount, transport, start, metaint, self.address, head.header("user-agent"))
        transport.set_protocol(listener)
        mount.add(listener)
        listener.feed(mount.buffer.end)  # the burst: audio at once, from a frame boundary

    def _subscribe(self, head: RequestHead) -> None:
        from .events import sse_head  # events imports nothing of ours; kept local for the door's imports

        station = self.station
        hub = station.events
        if len(hub.subscribers) >= hub.limit:
            self._reply(error_response(503, "server busy: too many event subscribers", http_date()))
            return
        transport = self.transport
        assert transport is not None
        self._hand_off()
        transport.write(sse_head(http_date()))
        first = station.nowplaying_event(station.base_url(head.header("host")))
        hub.subscribe(transport, self.address, first)
