"""Pull relays: a mount fed from an upstream Icecast (`HTTP/1.x 200`) or SHOUTcast (`ICY 200 OK`)
stream, its interleaved titles taken out and carried over, reconnecting with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..stream.mount import Mount
from ..upstream_url import next_upstream, parse_upstream
from ..wire.http import parse_response_head
from ..wire.icy import IcyReader
from .ingest import Ingest
from .link import Link, LinkError
from .upstream_answer import MAX_REDIRECTS, judge_answer, playlist_stream

log = logging.getLogger("streamer.relay")
T = TypeVar("T")
HEAD_TIMEOUT = 10.0  # to connect, and for the answer's head
PLAYLIST_MAX = 65536
RATE_WINDOW = 10.0  # seconds over which an upstream's rate is measured
SLOW = 0.8  # under this share of its bitrate, an upstream is too slow to air without gaps


class RelayPull(Link):
    def __init__(self, url: str, path: str, make_mount: Callable[[str, str, dict[str, str]], Mount], stall: float = 10.0) -> None:
        self.upstream = parse_upstream(url)  # (checked when the config was read)
        self.url = self.upstream.safe  # what the log and the status pages show: no password
        self.path = path
        self.make_mount = make_mount
        # An upstream that sends nothing this long (server.source_timeout, as Icecast's relays) is
        # hung: its listeners go to the mount's fallback, and it is asked again (QA: after 30 s).
        self.stall = stall
        self.address = f"relay from {self.url}"
        super().__init__()
        self.what = f"relay {path} ← {self.url}"
        self.mount: Mount | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.kbps: float | None = None  # what the upstream sent over the last RATE_WINDOW
        self.slow = False  # slower than its stream's bitrate: listeners hear gaps

    def view(self) -> dict:
        connection = {"connected": self.connected, "connects": self.connects, "error": self.last_error, "kbps": self.kbps}
        return {"mount": self.path, "from": self.url, **connection}

    def close(self) -> None:
        """Drop the current upstream connection (it reconnects), as killsource does."""
        if self._writer:
            self._writer.close()

    async def once(self) -> None:
        reader, writer, content_type, headers = await self._answer()
        self._writer = writer
        try:
            ice = {k.replace("icy-", "ice-", 1): v for k, v in headers.items() if k.startswith("icy-")}
            if "ice-br" in ice:
                ice["ice-bitrate"] = ice["ice-br"]
            mount = self.mount = self.make_mount(self.path, content_type, ice)
            mount.source = self
            self.up()
            self.heard_at = self.up_at  # (nothing read yet: one that stalls from the start backs off)
            log.info("relay %s ← %s: connected (%s)", self.path, self.url, content_type)
            metaint = int((headers.get("icy-metaint") or "0").strip())  # (a number: judge_answer said so)
            icy = IcyReader(metaint) if metaint else None
            ingest = Ingest(mount, content_type)
            clock = asyncio.get_running_loop().time
            rate = RateWatch(self, mount, clock())
            while data := await _within(reader.read(65536), self.stall, f"the upstream sent nothing for {self.stall:g} s"):
                self.heard_at = now = clock()
                rate.count(len(data), now)
                audio, blocks = icy.feed(data) if icy else (data, [])
                for _, fields in blocks:
                    if "StreamTitle" in fields:  # '' too: the upstream cleared its title
                        mount.set_title(fields["StreamTitle"])
                ingest.feed(audio)
        finally:
            self._writer = None
            writer.close()
            mount = self.mount
            if mount is not None and mount.source is self:
                mount.source = None
                if mount.on_source_gone:
                    mount.on_source_gone(mount)

    async def _answer(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str, dict[str, str]]:
        """The upstream's audio answer: its reader and writer, content type and headers, after
        following redirects and playlists (a few hops, as players do)."""
        upstream = self.upstream
        for _ in range(MAX_REDIRECTS + 1):
            where = upstream.host_header
            reader, writer = await _within(
                asyncio.open_connection(upstream.host, upstream.port), HEAD_TIMEOUT, f"could not connect to {where} in {HEAD_TIMEOUT:g} s"
            )
            self._writer = writer
            try:
                writer.write(upstream.request("streamer relay"))
                head = await _within(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT, f"{where} sent no answer in {HEAD_TIMEOUT:g} s")
                status, headers = parse_response_head(head)
                verdict = judge_answer(upstream, status, headers)
                if isinstance(verdict, str):
                    return reader, writer, verdict, headers
                url = verdict.url or playlist_stream(await _within(_body(reader), HEAD_TIMEOUT, f"{where}'s playlist did not come"))
            except BaseException:
                writer.close()
                raise
            writer.close()
            try:
                upstream = next_upstream(upstream, url)
            except ValueError as exc:
                raise ValueError(f"{upstream.safe} sends us on to a URL we cannot relay: {exc}") from None
        raise ValueError(f"more than {MAX_REDIRECTS} redirects from {self.url}")


class RateWatch:
    """How fast an upstream sends, against its stream's bitrate: one that dribbles (QA: connected
    and "healthy" while listeners heard gaps) is said in the log and in /api/status."""

    def __init__(self, relay: RelayPull, mount: Mount, now: float) -> None:
        self.relay, self.mount = relay, mount
        self.since = now
        self.bytes = 0
        relay.kbps, relay.slow = None, False

    def count(self, n: int, now: float) -> None:
        self.bytes += n
        if now - self.since < RATE_WINDOW:
            return
        relay, bitrate = self.relay, self.mount.info.bitrate
        relay.kbps = round(self.bytes * 8 / 1000 / (now - self.since), 1)
        self.since, self.bytes = now, 0
        slow = bool(bitrate) and relay.kbps < SLOW * bitrate
        said = f"the upstream sends {relay.kbps:g} kbit/s of a {bitrate} kbit/s stream"
        if slow != relay.slow:
            relay.slow = slow
            if slow:
                log.warning("relay %s ← %s: %s: listeners hear gaps", relay.path, relay.url, said)
            else:
                log.info("relay %s ← %s: the upstream sends at its bitrate again", relay.path, relay.url)
        relay.last_error = said if slow else ""


async def _body(reader: asyncio.StreamReader) -> bytes:
    """A playlist's body: up to its end, or PLAYLIST_MAX bytes."""
    body = b""
    while len(body) < PLAYLIST_MAX and (data := await reader.read(PLAYLIST_MAX - len(body))):
        body += data
    return body


async def _within(step: Awaitable[T], seconds: float, said: str) -> T:
    """`step`, or a LinkError that says in words what did not happen in time (or how the other
    side hung up): the log and /api/status show it."""
    try:
        return await asyncio.wait_for(step, seconds)
    except TimeoutError:
        raise LinkError(said) from None
    except asyncio.IncompleteReadError:
        raise LinkError("the upstream closed the connection in the middle of its answer") from None
    except asyncio.LimitOverrunError:
        raise LinkError("the upstream's answer head is over 64 KB: is it a stream?") from None
