"""The server's front door: reads each new connection's request head and routes it.

Stream requests (GET/HEAD/OPTIONS on a mount) are answered here, byte for byte as
Icecast does, and the connection becomes a `Listener`. Everything else (JSON API, status
pages, playlist files) is handed, with the bytes read so far, to the aiohttp application.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from email.utils import formatdate
from typing import TYPE_CHECKING

from .httpwire import (
    MAX_HEAD,
    BadRequest,
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
    from .station import Station

log = logging.getLogger("streamer.http")

HEAD_TIMEOUT = 15.0  # seconds a client may take to send its request head


def _cap_send_buffer(transport: asyncio.Transport, size: int) -> None:
    """Linux grows a socket's send buffer up to 4 MB for a client that stops reading: bound it
    (to a burst plus a second of audio), so a stalled listener costs little kernel memory and
    falls behind in the shared buffer, where it is measured and evicted at queue_size."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, max(32768, size))
        except OSError:
            pass


def http_date() -> str:
    return formatdate(usegmt=True)


class FrontDoor(asyncio.Protocol):
    __slots__ = ("buf", "station", "timer", "transport")

    def __init__(self, station: Station) -> None:
        self.station = station
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport subclasses
        self.timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT, self._timeout)

    def _timeout(self) -> None:
        if self.transport and not self.transport.is_closing():
            self._reply(error_response(400, "request head not received in time", http_date()))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer:
            self.timer.cancel()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = find_head_end(self.buf)
        if end < 0:
            if len(self.buf) > MAX_HEAD:
                self._reply(error_response(431, f"request head larger than {MAX_HEAD} bytes", http_date()))
            return
        if self.timer:
            self.timer.cancel()
            self.timer = None
        try:
            head = parse_request_head(bytes(self.buf[:end]))
        except BadRequest as exc:
            self._reply(error_response(exc.status, str(exc), http_date()))
            return
        mount = self.station.mounts.get(head.path)
        transport = self.transport
        assert transport is not None
        if head.method == "OPTIONS" and (mount is not None or head.target == "*"):
            self._reply(options_response(http_date(), head.header("origin") or None))
        elif mount is not None and head.method in ("GET", "HEAD"):
            if mount.passthrough and mount.source is None:
                fallback = self.station.mounts.get(mount.config.fallback or "")
                if fallback is None:
                    self._reply(error_response(404, f"{head.path}: no source is connected", http_date()))
                    self.buf = bytearray()
                    return
                mount = fallback  # Icecast's fallback: the listener hears the fallback mount
            self._listen(mount, head)
        elif head.method in ("SOURCE", "PUT"):
            self._source(head, bytes(self.buf[end:]))
        else:
            self.station.hand_to_web(transport, bytes(self.buf))
        self.buf = bytearray()

    def _reply(self, response: bytes) -> None:
        if self.transport and not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    def _source(self, head, body: bytes) -> None:
        """A source client asks to feed a mount (see icecast-wire.md for each answer)."""
        station = self.station
        transport = self.transport
        assert transport is not None
        who, refusal = station.source_allowed(head.path, head.header("authorization"))
        if who is None:
            extra = [("WWW-Authenticate", 'Basic realm="Icecast2 Server"')]
            self._reply(error_response(401, "You need to authenticate", http_date(), extra))
            return
        if refusal:
            self._reply(error_response(403, refusal, http_date()))
            return
        content_type = head.header("content-type").split(";")[0].strip().lower()
        if not content_type:
            self._reply(error_response(403, "No Content-type given", http_date()))
            return
        mount = station.mounts.get(head.path)
        if mount is not None and not mount.passthrough:
            self._reply(error_response(403, f"Mountpoint in use ({head.path} is fed by the station's own encoder)", http_date()))
            return
        if mount is not None and mount.source is not None:
            self._reply(error_response(403, "Mountpoint in use", http_date()))
            return
        if not head.path.startswith("/") or head.path.startswith(("/api", "/admin", "/status")) or len(head.path) > 200:
            self._reply(error_response(403, f"{head.path} cannot be a mount", http_date()))
            return
        mount = station.passthrough_mount(head.path, content_type, head.headers)
        peer = transport.get_extra_info("peername")
        address = peer[0] if peer else "?"
        chunked = "chunked" in head.header("transfer-encoding").lower()
        if head.method == "PUT" and head.header("expect").lower() == "100-continue":
            transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        transport.write(source_ok())
        metaint = int(head.header("icy-metaint") or 0) if head.header("icy-metaint").isdigit() else 0
        source = SourceConnection(mount, transport, address, chunked, station.config.source_timeout, metaint)
        mount.source = source
        transport.set_protocol(source)
        log.info("%s: source connected from %s (%s, %s)", head.path, address, content_type, head.header("user-agent") or "no user agent")
        if head.path == station.config.live_mount:
            station.go_live(source, head.header("ice-name") or who)
        if body:
            source.data_received(body)

    def _listen(self, mount, head) -> None:
        station = self.station
        transport = self.transport
        assert transport is not None
        origin = head.header("origin") or None
        if head.method == "GET":
            if len(mount.listeners) >= mount.config.max_listeners:
                self._reply(error_response(403, "max listeners reached", http_date()))
                return
            if station.listener_count >= station.config.max_listeners:
                self._reply(error_response(403, "server full: too many listeners", http_date()))
                return
        metaint = mount.config.metaint if head.wants_metadata and mount.info.supports_icy else 0
        # Range probes (Safari's bytes=0-1) are ignored, as Icecast does: a live stream is 200.
        transport.write(listener_head(mount.info, metaint or None, http_date(), origin))
        if head.method == "HEAD":
            transport.close()
            return
        _cap_send_buffer(transport, mount.config.burst_size + mount.config.bitrate * 125)
        peer = transport.get_extra_info("peername")
        address = peer[0] if peer else "?"
        buffer = mount.buffer
        start, prefix = mount.listen_start(mount.config.burst_size)
        if prefix:
            transport.write(prefix)  # an Ogg stream's header pages, before any audio page
        listener = Listener(mount, transport, start, metaint, address, head.header("user-agent"))
        transport.set_protocol(listener)
        mount.add(listener)
        listener.feed(buffer.end)  # the burst: audio at once, from a frame boundary
