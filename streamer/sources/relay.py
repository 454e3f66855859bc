"""Pull relays: a mount fed from an upstream Icecast (`HTTP/1.x 200`) or SHOUTcast (`ICY 200 OK`)
stream, its interleaved titles taken out and carried over, reconnecting with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from ..stream.mount import Mount
from ..wire.http import parse_response_head
from ..wire.icy import IcyReader
from .ingest import Ingest
from .link import Link

log = logging.getLogger("streamer.relay")


class RelayPull(Link):
    def __init__(self, url: str, path: str, make_mount: Callable[[str, str, dict[str, str]], Mount]) -> None:
        parts = urlsplit(url)
        self.url = url
        self.path = path
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.make_mount = make_mount
        self.address = f"relay from {url}"
        super().__init__()
        self.what = f"relay {path} ← {url}"
        self.mount: Mount | None = None
        self._writer: asyncio.StreamWriter | None = None

    def view(self) -> dict:
        return {"mount": self.path, "from": self.url, "connected": self.connected, "connects": self.connects, "error": self.last_error}

    def close(self) -> None:
        """Drop the current upstream connection (it reconnects), as killsource does."""
        if self._writer:
            self._writer.close()

    async def once(self) -> None:
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
            self.up()
            log.info("relay %s ← %s: connected (%s)", self.path, self.url, content_type)
            metaint = int(headers.get("icy-metaint", "0") or 0)
            icy = IcyReader(metaint) if metaint else None
            ingest = Ingest(mount, content_type)
            while data := await asyncio.wait_for(reader.read(65536), 30):
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
