"""One connected listener: a read position in its mount's shared buffer, and its ICY counter.

It is the transport's protocol after the request is answered, so it costs no task: the
mount's pacer writes to it, and the event loop tells it when the socket backs up or closes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..limits import cap_socket_buffer, discard_unsent
from ..wire.formats import OTHER, format_of, media_type
from ..wire.http import listener_head
from ..wire.icy import IcyCursor

if TYPE_CHECKING:
    from ..wire.http import RequestHead
    from .mount import Mount

log = logging.getLogger("streamer.listener")

# Per-listener kernel-side backlog we tolerate before we stop writing and let the listener
# fall behind in the shared buffer instead (where it costs nothing).
WRITE_HIGH = 32 * 1024
WRITE_LOW = 8 * 1024

_ids = itertools.count(1)
EOF_SLACK = 0.25  # seconds a tick may run late (a busy loop) on top of the two it takes to find a closed peer


SOURCE_HEAD_WAIT = 2.0  # seconds a listener waits for a just-connected source's first audio


class Unheard:
    """A pass-through mount whose source has connected and not yet sent audio, so its bitrate,
    rate and channels are not known. A listener who comes in that moment waits (at most
    SOURCE_HEAD_WAIT) for them, so its head says what the stream is (receivers and relays size
    their buffers by icy-br), as it would a moment later. No task: callbacks and a timer."""

    MAX_WAITING = 10_000  # past this, a listener is answered at once with what is known

    def __init__(self) -> None:
        self.waiting: list[Callable[[], None]] = []

    def wait(self, answer: Callable[[], None], seconds: float) -> None:
        """Call `answer` once: when the stream is heard (`heard`) or after `seconds`."""
        if len(self.waiting) >= self.MAX_WAITING:
            answer()
            return
        once = _once(answer)
        self.waiting.append(once)
        asyncio.get_running_loop().call_later(seconds, once)

    def heard(self) -> None:
        waiting, self.waiting = self.waiting, []
        _answer_from(waiting, 0)


ANSWER_BATCH = 200  # waiting listeners answered between yields to the event loop


def _answer_from(waiting: list[Callable[[], None]], start: int) -> None:
    """Answer waiting listeners a batch at a time: thousands of players that came back with their
    DJ are answered without holding the event loop for the whole crowd."""
    for answer in waiting[start : start + ANSWER_BATCH]:
        answer()
    if start + ANSWER_BATCH < len(waiting):
        asyncio.get_running_loop().call_soon(_answer_from, waiting, start + ANSWER_BATCH)


def answer_waiting(mount: Mount) -> None:
    """Answer the listeners waiting for `mount`'s new source: it has been heard, or went silent."""
    unheard, mount.unheard = mount.unheard, None
    if unheard is not None:
        unheard.heard()


def _once(call: Callable[[], None]) -> Callable[[], None]:
    called = False

    def once() -> None:
        nonlocal called
        if not called:
            called = True
            call()

    return once


def move_conflict(path: str, target: str, from_type: str, to_type: str, moving: int, room: int) -> str:
    """Why `moving` listeners of `path` cannot all go to `target` (pure); '' if they can.

    A player keeps decoding the format it connected to, so a move across formats (audio/aacp and
    audio/aac are one) would feed it bytes it cannot read; and a move must not take a mount past
    its max_listeners."""
    if not same_format(from_type, to_type):
        return f"{target} carries {to_type}, {path} {from_type}: the players listening to {path} could not decode it"
    if moving > room:
        return f"{target} has room for {max(room, 0)} more listener(s) (its max_listeners), {moving} would move"
    return ""


def room_on(mount: Mount) -> int:
    """How many more listeners `mount` takes (its max_listeners) when listeners are moved to it."""
    return max(0, mount.config.max_listeners - len(mount.listeners))


def same_format(a: str, b: str) -> bool:
    """Whether two Content-Types are one stream format (an unknown one only to itself)."""
    fa, fb = format_of(a), format_of(b)
    return fa == fb and (fa is not OTHER or media_type(a) == media_type(b))


class Listener(asyncio.Protocol):
    __slots__ = (
        "address", "closed", "connected_at", "eof_at", "home", "icy", "id", "mount", "paused", "pos", "reason", "referer", "request",
        "sent", "transport", "user_agent",
    )  # fmt: skip

    def __init__(
        self, mount: Mount, transport: asyncio.Transport, start: int, metaint: int, address: str, user_agent: str,
        referer: str = "", request: str = "",
    ) -> None:  # fmt: skip
        self.id = next(_ids)
        self.mount = mount
        self.transport = transport
        self.pos = start
        self.icy = IcyCursor(metaint, start) if metaint else None
        self.paused = False
        self.closed = False
        self.address = address
        self.user_agent = user_agent[:200]
        self.referer = referer[:500]
        self.request = request[:300]  # "GET /main HTTP/1.1", for the access log
        self.reason = "left"  # why it ended: left, evicted, killed, server stop, source gone
        self.connected_at = time.time()
        self.eof_at = 0.0  # when the player shut its sending side (its FIN), if it did
        self.sent = 0
        self.home: str | None = None  # the mount it was moved off when that mount's source went
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)

    def feed(self, end: int) -> None:
        """Write the mount's bytes [pos, end) to this listener (or note how far behind it is)."""
        mount = self.mount
        buffer = mount.buffer
        # Behind: what it has not been written, and what a paused transport still holds of what was
        # (a listener whose socket came free took its whole backlog at once; unpaused, it holds
        # under WRITE_HIGH, and is not asked: this runs for every listener at every tick).
        held = self.transport.get_write_buffer_size() if self.paused else 0
        if self.pos < buffer.base or end - self.pos + held > mount.config.queue_size:
            self.evict()
            return
        if self.paused or self.closed:
            return
        start = self.pos
        if self.icy is None:
            pieces = buffer.slices(start, end)
        else:
            pieces = []
            for span in self.icy.split(start, end, buffer.block_at):
                if isinstance(span, tuple):
                    pieces += buffer.slices(span[0], span[1])
                else:
                    pieces.append(span)
        try:
            if len(pieces) == 1:
                self.transport.write(pieces[0])
            else:
                self.transport.writelines(pieces)
        except (RuntimeError, OSError):  # the socket closed under us (uvloop raises, asyncio logs)
            self.close(abort=True)
            return
        self.pos = end
        self.sent += end - start
        mount.bytes_sent += end - start

    def move_to(self, target: Mount) -> None:
        """Carry on from another mount's live edge on the same connection (fallback). The ICY
        counter carries on too: the next block is due after the same number of audio bytes. On
        an Ogg mount it gets the current chain's header pages first: to its player the move is
        a new chain, which it cannot decode without them; the chain it was in ends first."""
        ending = self.mount.buffer.ogg_chain_end(self.pos) if self.mount.chains.current else b""
        self.mount.remove(self)
        start, prefix = target.listen_start(0)
        self.mount = target
        self.send_headers(ending + prefix)
        if self.icy is not None:
            self.icy.next_meta = start + (self.icy.next_meta - self.pos)
            self.icy.last_block = None  # the new mount's title goes out at the next block
        self.pos = start
        target.add(self)

    def send_headers(self, pages: bytes) -> None:
        """An Ogg chain's header pages, ahead of the audio: counted as sent, as the audio is
        (the access log, the listener's session, the mount's bytes_sent)."""
        if pages and not self.transport.is_closing():
            self.transport.write(pages)
            self.sent += len(pages)
            self.mount.bytes_sent += len(pages)

    def evict(self) -> None:
        """Fallen further behind than queue_size: drop it so nobody else ever waits."""
        if self.closed:
            return
        self.reason = "evicted"
        self.mount.evicted += 1
        behind = self.mount.buffer.end - self.pos + self.transport.get_write_buffer_size()
        log.info("%s: listener %d (%s) fell %d bytes behind; disconnected", self.mount.path, self.id, self.address, behind)
        self.close(abort=True)

    def kill(self) -> None:
        """Icecast's killclient: dropped by the operator."""
        if not self.closed:
            self.reason = "killed"
            self.close(abort=True)

    def close(self, abort: bool = False) -> None:
        if not self.closed:
            self.closed = True
            # On an abort, what the transport and the kernel still hold never reaches the player.
            if abort and (lost := min(self.sent, discard_unsent(self.transport))):
                self.sent -= lost  # (what the listener heard, for its session)
                self.mount.bytes_discarded += lost  # bytes_sent is a counter: it never goes back (QA: Prometheus saw a reset)
            self.mount.remove(self)
            if abort:
                self.transport.abort()
            else:
                self.transport.close()

    # asyncio.Protocol callbacks
    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False

    def data_received(self, data: bytes) -> None:
        pass  # listeners have nothing to say after the request; ignore keep-alive noise

    def eof_received(self) -> bool:
        self.eof_at = time.time()
        self.mount.presence.closing(self, 2 * self.mount.interval + EOF_SLACK)  # uncounted unless it stays
        return True  # half-closed: some players shut their sending side and keep listening

    def went_at(self, now: float) -> float:
        """When this listener went, its connection found gone at `now`. A player that closes
        sends its FIN at once, but the server learns the connection is gone only when a write
        fails, a tick or two later: a loss that soon after the FIN dates from the FIN. A player
        that half-closed and kept listening went when its connection was lost."""
        if self.reason == "left" and self.eof_at and now - self.eof_at <= 2 * self.mount.interval + EOF_SLACK:
            return self.eof_at
        return now

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.mount.remove(self)


def tune_in(mount: Mount, transport: asyncio.Transport, head: RequestHead, address: str, date: str) -> None:
    """Answer a listener's request on `mount` (room for it checked) and make it the connection's protocol."""
    request = f"{head.method} {head.target} {head.version}"
    metaint = mount.metaint if head.wants_metadata and mount.info.supports_icy else 0
    # Range probes (Safari's bytes=0-1) are ignored, as Icecast does: a live stream is 200.
    transport.write(listener_head(mount.info, metaint or None, date, head.header("origin") or None))
    if head.method == "HEAD":
        transport.close()
        return
    # A stalled listener then costs little kernel memory and falls behind in the shared buffer,
    # where it is measured and evicted at queue_size: a burst plus a second of audio.
    cap_socket_buffer(transport, socket.SO_SNDBUF, max(32768, mount.config.burst_size + (mount.info.bitrate or 128) * 125))
    start, prefix = mount.listen_start(mount.config.burst_size)
    listener = Listener(mount, transport, start, metaint, address, head.header("user-agent"), head.header("referer"), request)
    listener.send_headers(prefix)  # an Ogg stream's header pages, before any audio page
    transport.set_protocol(listener)
    mount.add(listener)
    listener.feed(mount.buffer.end)  # the burst: audio at once, from a frame boundary
