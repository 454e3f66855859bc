"""Pushing a mount to an external Icecast server as a source client, reconnecting when it drops.

The outgoing connection is just another listener of the mount's shared buffer (no ICY), so
pushing costs what one listener costs; titles follow through the remote's /admin/metadata.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from urllib.parse import quote, unquote, urlsplit

import aiohttp

from ..net_words import in_words
from ..stream.listener import Listener
from ..stream.mount import Mount
from ..wire.http import parse_response_head
from .link import Link

log = logging.getLogger("streamer.push")


class PushTarget(Link):
    def __init__(self, mount: Mount, url: str) -> None:
        parts = urlsplit(url.replace("icecast://", "http://", 1))
        self.mount = mount
        self.url = url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 8000
        self.remote_mount = parts.path or mount.path
        self.user = unquote(parts.username or "source")
        self.password = unquote(parts.password or "")
        super().__init__()
        self.what = f"push {mount.path} → {self.safe_url}"
        self._listener: Listener | None = None

    @property
    def safe_url(self) -> str:
        return f"icecast://{self.user}:***@{self.host}:{self.port}{self.remote_mount}"

    def view(self) -> dict:
        connection = {"connected": self.connected, "connects": self.connects, "error": self.last_error}
        return {"mount": self.mount.path, "to": self.safe_url, **connection}

    def close(self) -> None:
        if self._listener:
            self._listener.close()

    def _auth(self) -> str:
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

    async def once(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
        info = self.mount.info
        head = (
            f"SOURCE {self.remote_mount} HTTP/1.0\r\nAuthorization: Basic {self._auth()}\r\n"
            f"Content-Type: {info.content_type}\r\nUser-Agent: streamer\r\nice-name: {info.name}\r\n"
            f"ice-description: {info.description}\r\nice-genre: {info.genre}\r\nice-url: {info.url}\r\n"
            f"ice-public: {int(info.public)}\r\nice-audio-info: {info.audio_info}\r\n\r\n"
        )
        writer.write(head.encode("utf-8"))
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status, _ = parse_response_head(answer)
        if status != 200:
            writer.close()
            first_line = answer.split(b"\r\n", 1)[0].decode("latin-1")[:100]
            raise ConnectionError(f"refused: {first_line}")
        self.up()
        log.info("push %s → %s: connected", self.mount.path, self.safe_url)
        transport = writer.transport
        buffer = self.mount.buffer
        start, prefix = self.mount.listen_start(self.mount.config.burst_size)
        if prefix:
            transport.write(prefix)  # an Ogg mount's header pages come first
        listener = Listener(self.mount, transport, start, 0, self.host, "push")  # type: ignore[arg-type]
        transport.set_protocol(listener)
        self.mount.add(listener)
        self._listener = listener
        listener.feed(buffer.end)
        await self.send_title(self.mount.title)
        while not listener.closed:
            await asyncio.sleep(0.5)
        raise ConnectionError("the server closed the connection")

    async def send_title(self, title: str) -> None:
        if not title or not self.connected:
            return
        url = (
            f"http://{self.host}:{self.port}/admin/metadata?mount={quote(self.remote_mount)}&mode=updinfo&song={quote(title)}&charset=UTF-8"
        )
        try:
            async with (
                aiohttp.ClientSession() as s,
                s.get(url, headers={"Authorization": f"Basic {self._auth()}"}, timeout=aiohttp.ClientTimeout(total=5)) as r,
            ):
                if r.status != 200:
                    log.warning("push %s: title update refused: HTTP %d", self.mount.path, r.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("push %s: title update failed: %s", self.mount.path, in_words(exc))
