"""The station: wires programme → feeder → encoders → mounts → front door, and owns their lifetimes.

State lives here and below: the programme and rotations in the feeder, stream bytes and
titles in each mount's buffer, listeners in each mount. Nothing is global.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import time

from aiohttp import web

from . import __version__
from .config import Config
from .encoder import Encoder
from .feeder import Feeder
from .frontdoor import FrontDoor
from .mount import Mount
from .playlist import load_programme

log = logging.getLogger("streamer")


def raise_fd_limit() -> int:
    """Listeners are sockets: lift the soft open-files limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
        except (ValueError, OSError):
            pass
    return soft


class Station:
    def __init__(self, config: Config, ffmpeg: str) -> None:
        self.config = config
        self.ffmpeg = ffmpeg
        self.started = time.time()
        self.mounts: dict[str, Mount] = {m.path: Mount(m, config.fanout_interval) for m in config.mounts}
        self.encoders = [
            Encoder(ffmpeg, mount.config, config.sample_rate, config.channels, mount.queue_frame) for mount in self.mounts.values()
        ]
        self.feeder = Feeder(ffmpeg, config.sample_rate, config.channels, config.lookahead, self.encoders)
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self.address: tuple[str, int] | None = None

    @property
    def listener_count(self) -> int:
        return sum(len(m.listeners) for m in self.mounts.values())

    async def start(self, host: str, port: int) -> None:
        from .api import make_app  # the web layer depends on the station, not the reverse

        self.feeder.set_programme(load_programme(self.config.playlists_dir))
        self._runner = web.AppRunner(make_app(self), access_log=None, handle_signals=False)
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._server = await loop.create_server(lambda: FrontDoor(self), host, port, family=family, backlog=4096, reuse_address=True)
        sock = self._server.sockets[0].getsockname()
        self.address = (sock[0], sock[1])
        for enc in self.encoders:
            await enc.start()
        for mount in self.mounts.values():
            mount.start()
        self.feeder.start_feeding()
        log.info("on air at http://%s:%d/ (mounts: %s)", host if ":" not in host else f"[{host}]", self.address[1], ", ".join(self.mounts))

    def hand_to_web(self, transport: asyncio.Transport, data: bytes) -> None:
        """Give a connection (and what it has sent so far) to the aiohttp application."""
        assert self._runner is not None and self._runner.server is not None
        protocol = self._runner.server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        await self.feeder.stop()
        for mount in self.mounts.values():
            await mount.stop()
        for enc in self.encoders:
            await enc.close()
        if self._runner:
            await self._runner.cleanup()

    # --- what operators see ------------------------------------------------------------------

    def status(self) -> dict:
        now = time.time()
        feeder = self.feeder
        playing = feeder.now
        mounts = []
        for mount, enc in zip(self.mounts.values(), self.encoders, strict=False):
            clock = mount.clock
            mounts.append(
                {
                    "mount": mount.path,
                    "format": mount.info.content_type,
                    "bitrate": mount.info.bitrate,
                    "sample_rate": mount.info.sample_rate,
                    "channels": mount.info.channels,
                    "listeners": len(mount.listeners),
                    "listener_peak": mount.peak,
                    "connections": mount.connections,
                    "evicted": mount.evicted,
                    "bytes_sent": mount.bytes_sent,
                    "bytes_encoded": mount.buffer.end,
                    "on_air": mount.on_air and (asyncio.get_running_loop().time() - mount.last_publish) < 5,
                    "title": mount.title,
                    "stream_start": mount.stream_start,
                    "seconds_sent": round(clock.samples_sent / clock.sample_rate, 3) if clock else 0,
                    "clock_restarts": clock.rebased if clock else 0,
                    "encoder_restarts": enc.restarts,
                }
            )
        return {
            "server": "streamer",
            "version": __version__,
            "started": self.started,
            "uptime": round(now - self.started, 1),
            "listeners": self.listener_count,
            "max_listeners": self.config.max_listeners,
            "mounts": mounts,
            "now_playing": None
            if playing is None
            else {
                "title": playing.info.title,
                "artist": playing.info.artist,
                "display": playing.info.display,
                "file": str(playing.info.path),
                "playlist": playing.playlist,
                "duration": playing.info.duration,
                "started": playing.started,
            },
            "schedule": {
                "playlist": feeder.playlist_name,
                "fallback": feeder.programme.fallback if feeder.programme else None,
                "playlists": feeder.playlist_sizes(),
                "warnings": feeder.warnings,
            },
            "recent": [{"display": p.info.display, "file": str(p.info.path), "started": p.started} for p in feeder.history],
            "problems": [{"time": p.time, "file": p.file, "reason": p.reason} for p in feeder.problems],
            "silence_inserted_seconds": round(feeder.silence_fed, 2),
        }
