"""Pull relays: a mount fed from an upstream Icecast (`HTTP/1.x 200`) or SHOUTcast (`ICY 200 OK`)
stream, its interleaved titles taken out and carried over, reconnecting with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from .icy import IcyReader
from .ingest import Ingest
from .mount import Mount

log = logging.getLogger("streamer.relay")


def parse_response_head(raw: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of an HTTP or SHOUTcast (ICY) response head."""
    lines = raw.decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not (parts[0].startswith("HTTP/") or parts[0] == "ICY") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP or ICY response: {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class RelayPull:
    def __init__(self, url: str, path: str, make_mount: Callable[[str, str, dict[str, str]], Mount]) -> None:
        parts = urlsplit(url)
        self.url = url
        self.path = path
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.make_mount = make_mount
        self.address = f"relay from {url}"
        self.connected = False
        self.connects = 0
        self.last_error = ""
        self.mount: Mount | None = None
        self._writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        """Drop the current upstream connection (it reconnects), as killsource does."""
        if self._writer:
            self._writer.close()

    async def run(self) -> None:
        """Pull, and pull again after every failure (run by the station's supervisor)."""
        backoff = 1.0
        while True:
            try:
                await self._pull_once()
                backoff = 1.0
                self.last_error = "upstream ended the stream"
            except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
                self.last_error = str(exc) or type(exc).__name__
            self.connected = False
            log.warning("relay %s ← %s: %s; reconnecting in %g s", self.path, self.url, self.last_error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _pull_once(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
        self._writer = writer
        try:
            writer.write(
                f"GET {self.target} HTTP/1.0\r\nHost: {self.host}\r\nIcy-MetaData: 1\r\nUser-Agent: streamer relay\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            status, headers = parse_response_head(head)
            if status != 200:
                raise ValueError(f"upstream answered {status}")
            ice = {k.replace("icy-", "ice-", 1): v for k, v in headers.items() if k.startswith("icy-")}
            if "ice-br" in ice:
                ice["ice-bitrate"] = ice["ice-br"]
            content_type = headers.get("content-type", "audio/mpeg").split(";")[0].strip()
            mount = self.mount = self.make_mount(self.path, content_type, ice)
            mount.source = self
            self.connected = True
            self.connects += 1
            log.info("relay %s ← %s: connected (%s)", self.path, self.url, content_type)
            metaint = int(headers.get("icy-metaint", "0") or 0)
            icy = IcyReader(metaint) if metaint else None
            ingest = Ingest(mount, content_type)
            while data := await asyncio.wait_for(reader.read(65536), 30):
                audio, blocks = icy.feed(data) if icy else (data, [])
                for _, fields in blocks:
                    if fields.get("StreamTitle"):
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
