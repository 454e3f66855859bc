"""Live updates for web players and pages: Server-Sent Events, served like listeners.

A subscriber is the connection's protocol object, with no task and no queue of its own: an
event is formatted once and written to every subscriber by one fan-out, in batches that yield
to the event loop. A page that stops reading is dropped once MAX_BEHIND bytes wait for it
(its kernel send buffer is capped as well), so thousands of stalled tabs cost little memory
and never delay a listener.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

from ..limits import cap_socket_buffer

log = logging.getLogger("streamer.events")

MAX_BEHIND = 16 * 1024  # bytes waiting for a subscriber before it is dropped
SEND_BUFFER = 16 * 1024  # kernel send buffer per subscriber
FANOUT_BATCH = 400  # subscribers written between yields to the event loop
KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing an idle stream
RETRY_MS = 1000  # a page reconnects this soon after losing the stream (a restart); browsers wait 3 s unless told


def format_event(event: str, data: Any) -> bytes:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return f"event: {event}\ndata: {body}\n\n".encode("utf-8", errors="replace")


def sse_head(date: str) -> bytes:
    """The response head: HTTP/1.1, delimited by closing the connection (no chunking needed)."""
    return (
        "HTTP/1.1 200 OK\r\nServer: streamer\r\nDate: " + date + "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-cache\r\nConnection: close\r\nX-Accel-Buffering: no\r\nAccess-Control-Allow-Origin: *\r\n\r\n"
    ).encode("latin-1")


class Subscriber(asyncio.Protocol):
    __slots__ = ("address", "closed", "hub", "transport")

    def __init__(self, hub: EventHub, transport: asyncio.Transport, address: str) -> None:
        self.hub = hub
        self.transport = transport
        self.address = address
        self.closed = False
        cap_socket_buffer(transport, socket.SO_SNDBUF, SEND_BUFFER)

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if self.transport.get_write_buffer_size() > MAX_BEHIND:
            self.hub.dropped += 1
            self.close()
            return
        try:
            self.transport.write(data)
        except (RuntimeError, OSError):
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub.subscribers.discard(self)
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        pass  # EventSource says nothing after its request

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.hub.subscribers.discard(self)


class EventHub:
    def __init__(self, limit: int = 10_000) -> None:
        self.subscribers: set[Subscriber] = set()
        self.limit = limit
        self.dropped = 0  # subscribers dropped for not reading
        self.published = 0
        self._fanouts: set[asyncio.Task] = set()

    def subscribe(self, transport: asyncio.Transport, address: str, first: bytes) -> Subscriber | None:
        """Turn a connection into a subscriber (its head already written); None when full."""
        if len(self.subscribers) >= self.limit:
            return None
        sub = Subscriber(self, transport, address)
        transport.set_protocol(sub)
        self.subscribers.add(sub)
        sub.send(b"retry: %d\n\n" % RETRY_MS + first)
        return sub

    def publish(self, event: str, data: Any) -> None:
        if not self.subscribers:
            return
        self.published += 1
        self._fan_out(format_event(event, data))

    def _fan_out(self, message: bytes) -> None:
        subs = list(self.subscribers)
        if len(subs) <= FANOUT_BATCH:
            for sub in subs:
                sub.send(message)
            return
        task = asyncio.get_running_loop().create_task(self._fan_out_batches(subs, message))
        self._fanouts.add(task)
        task.add_done_callback(self._fanouts.discard)

    @staticmethod
    async def _fan_out_batches(subs: list[Subscriber], message: bytes) -> None:
        for i in range(0, len(subs), FANOUT_BATCH):
            for sub in subs[i : i + FANOUT_BATCH]:
                sub.send(message)
            await asyncio.sleep(0)

    async def keep_alive(self) -> None:
        """A comment line now and then, so proxies and browsers keep idle streams open."""
        while True:
            await asyncio.sleep(KEEPALIVE)
            if self.subscribers:
                self._fan_out(b": keep-alive\n\n")

    def close(self) -> None:
        for sub in list(self.subscribers):
            sub.close()
        for task in list(self._fanouts):
            task.cancel()
