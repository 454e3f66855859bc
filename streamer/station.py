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
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from . import __version__
from .aio import cancel
from .bulletin import BulletinBuilder
from .config import Config, MountConfig
from .encoder import Encoder
from .events import EventHub
from .feeder import Feeder
from .frontdoor import FrontDoor
from .httpwire import parse_audio_info
from .live import LiveInput
from .mount import Mount
from .newsdesk import NewsDesk
from .playlist import expand_sources, watched_folders
from .programme import Programme, load_programme
from .push import PushTarget
from .relay import RelayPull
from .tags import read_track_info
from .webio import check_basic
from .yamldoc import ConfigError

log = logging.getLogger("streamer")


def _int(text: str | None) -> int:
    return int(text) if text and text.strip().isdigit() else 0


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _occurrence(occ, scheduler) -> dict:
    event = occ.event
    return {"name": event.name, "at": scheduler.local(occ.time).isoformat(timespec="seconds"), "start": event.mode, "play": event.play}


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
        self.mounts: dict[str, Mount] = {}
        for m in config.mounts:
            mount = Mount(m, config.fanout_interval, None if m.source else self._origin, self._title_released)
            mount.passthrough = m.source
            mount.on_source_gone = self._source_gone
            self.mounts[m.path] = mount
        self.encoders = [
            Encoder(ffmpeg, mount.config, config.sample_rate, config.channels, mount.queue_frame)
            for mount in self.mounts.values()
            if not mount.passthrough
        ]
        self.feeder = Feeder(ffmpeg, config.sample_rate, config.channels, config.lookahead, self.encoders)
        self.events = EventHub()
        self.news = NewsDesk(config.news, on_change=self._news_changed)
        self.feeder.bulletins = BulletinBuilder(config.news, ffmpeg)
        self.feeder.headlines = lambda: self.news.headlines
        self.feeder.ticker = config.news.ticker
        self.reload: dict = {"ok": True, "errors": [], "loaded_at": None, "files": []}
        self._signature: tuple = ()
        self._live_task: asyncio.Task | None = None  # a DJ's stream being readied for takeover
        self._watched: list[Path] = []  # audio folders the playlists use (their listings trigger a reload)
        self._watch_task: asyncio.Task | None = None
        self._tags_task: asyncio.Task | None = None
        self._runner: web.AppRunner | None = None
        self.pushers: list[PushTarget] = []
        self.relays: list[RelayPull] = []
        self._bg: set[asyncio.Task] = set()
        self._server: asyncio.AbstractServer | None = None
        self.address: tuple[str, int] | None = None

    def passthrough_mount(self, path: str, content_type: str, headers: dict[str, str]) -> Mount:
        """The mount a source client feeds: created on first use, its ice-* headers described."""
        info = parse_audio_info(headers.get("ice-audio-info", ""))
        config = MountConfig(
            path=path,
            bitrate=info.get("bitrate") or _int(headers.get("ice-bitrate")) or 128,
            sample_rate=info.get("samplerate", 44100),
            channels=info.get("channels", 2),
            name=headers.get("ice-name", ""),
            description=headers.get("ice-description", ""),
            genre=headers.get("ice-genre", ""),
            url=headers.get("ice-url", ""),
            public=headers.get("ice-public", "0") == "1",
        )
        mount = self.mounts.get(path)
        if mount is None:
            mount = Mount(config, self.config.fanout_interval, on_title=self._title_released)
            mount.passthrough = True
            mount.on_source_gone = self._source_gone
            self.mounts[path] = mount
            mount.start()
        else:
            config = replace(config, fallback=mount.config.fallback, max_listeners=mount.config.max_listeners, source=True)
        mount.describe(config, content_type)
        mount.stream_header, mount.header_span = b"", None  # the new source's own headers will come
        return mount

    def _source_gone(self, mount: Mount) -> None:
        """A source dropped: its listeners go on to the fallback mount, connections kept."""
        target = self.mounts.get(mount.config.fallback or "")
        if target is None or not mount.listeners:
            return
        moved = list(mount.listeners)
        for listener in moved:
            listener.move_to(target)
        log.info("%s: source gone; %d listener(s) moved to %s", mount.path, len(moved), target.path)

    def source_allowed(self, path: str, authorization: str) -> tuple[str | None, str]:
        """(who, "") for good source credentials; (None, "") for bad ones (401); (who, why) when
        the credentials are good but not for this mount or slot now (403)."""
        config = self.config
        who = self.source_user(path, authorization)
        if who is None or path != config.live_mount or self.feeder.scheduler is None:
            return who, ""
        block = self.feeder.scheduler.block_at(time.time())
        if block is not None and block.live_djs and who not in block.live_djs:
            return who, f"{block.name} is reserved for {', '.join(block.live_djs)}"
        return who, ""

    def source_user(self, path: str, authorization: str) -> str | None:
        """The user whose source credentials for `path` the Authorization header carries, if any:
        the mount's own users where it has them, else `source` (and the DJs on the live mount)."""
        config = self.config
        mount = config.mount(path)
        if mount is not None and mount.users:
            accounts = list(mount.users)
        else:
            source = config.users["source"]
            accounts = [(source.name, source.password)]
            if path == config.live_mount:
                accounts += list(config.djs)
        return next((user for user, password in accounts if check_basic(authorization, user, password)), None)

    def go_live(self, source, name: str) -> None:
        """A DJ connected to the live mount: decode them into the station's PCM path."""
        live = LiveInput(self.ffmpeg, name, self.config.sample_rate, self.config.channels, source.mount.info.content_type)
        source.tap = live.write
        source.on_gone = live.end
        source.mount.on_set_title = lambda title: setattr(live, "title", title)  # /admin/metadata, Ogg comments
        self._live_task = asyncio.create_task(self._take_over(live, source.address))

    async def _take_over(self, live: LiveInput, address: str) -> None:
        """The schedule plays on until the DJ's stream decodes, then crossfades into it: a DJ
        whose encoder sends audio late (Ogg pages can hold a second or more) causes no silence."""
        await live.start()
        if not await live.first_audio(int(self.config.sample_rate * 0.1) * 2 * self.config.channels):
            log.warning("live: %s from %s sent nothing that decodes; the schedule plays on", live.name, address)
            await live.close()
            return
        self.feeder.go_live(live, self.config.live_silence)
        log.info("live: %s takes over from %s", live.name, address)

    def _origin(self) -> float | None:
        return self.feeder.start

    @property
    def listener_count(self) -> int:
        return sum(len(m.listeners) for m in self.mounts.values())

    async def start(self, host: str, port: int) -> None:
        from .api import make_app  # the web layer depends on the station, not the reverse

        self._adopt(*await asyncio.to_thread(self._load_programme))  # a broken programme stops the start
        self._signature = await asyncio.to_thread(self._playlists_signature)
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
        self.news.start()
        assert self.feeder.bulletins is not None
        self._prefetch_task = asyncio.create_task(self.feeder.bulletins.prefetch(), name="bulletin prefetch")
        self.pushers = [PushTarget(self.mounts[mount], url) for mount, url in self.config.push]
        for pusher in self.pushers:
            pusher.start()
        self.relays = [RelayPull(url, mount, self.passthrough_mount) for mount, url in self.config.relays]
        for relay in self.relays:
            relay.start()
        self._watch_task = asyncio.create_task(self._watch(), name="playlist watcher")
        log.info("on air at http://%s:%d/ (mounts: %s)", host if ":" not in host else f"[{host}]", self.address[1], ", ".join(self.mounts))

    def hand_to_web(self, transport: asyncio.Transport, data: bytes) -> None:
        """Give a connection (and what it has sent so far) to the aiohttp application."""
        assert self._runner is not None and self._runner.server is not None
        protocol = self._runner.server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    # --- the programme, and hot reload ---------------------------------------------------------

    def _load_programme(self) -> tuple[Programme, dict[str, list], list[str]]:
        """Blocking (reads YAML, expands folders and globs): runs in a thread."""
        programme = load_programme(self.config.playlists_dir)
        files: dict[str, list] = {}
        warnings: list[str] = []
        watched: set[Path] = set()
        for name, spec in programme.playlists.items():
            files[name], w = expand_sources(spec)
            warnings += w
            watched.update(watched_folders(spec))
        self._watched = sorted(watched)
        return programme, files, warnings

    def _adopt(self, programme: Programme, files: dict[str, list], warnings: list[str]) -> None:
        self.feeder.set_programme(programme, files, warnings)
        self.reload = {"ok": True, "errors": [], "loaded_at": time.time(), "files": [str(f) for f in programme.files]}
        unknown = sorted({p for paths in files.values() for p in paths} - set(self.feeder.tags))
        if unknown:  # artists for no-repeat windows, read off the event loop
            self._tags_task = asyncio.create_task(self._read_tags(unknown))

    async def _read_tags(self, paths: list) -> None:
        def read_all() -> dict:
            return {p: read_track_info(p) for p in paths if p.is_file()}

        self.feeder.tags.update(await asyncio.to_thread(read_all))

    def _playlists_signature(self) -> tuple:
        """What a reload depends on: the YAML files, and the listings of the folders they use."""
        folder = self.config.playlists_dir
        entries = []
        try:
            for f in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml"), *self._watched]):
                try:
                    st = f.stat()
                except OSError:
                    continue
                entries.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            pass
        return tuple(entries)

    async def _watch(self, interval: float = 1.0) -> None:
        """Adding, editing or deleting a playlist file takes effect within a couple of seconds;
        a broken edit keeps the last good programme and shows its errors until it is fixed."""
        while True:
            await asyncio.sleep(interval)
            signature = await asyncio.to_thread(self._playlists_signature)
            if signature == self._signature:
                continue
            self._signature = signature
            try:
                loaded = await asyncio.to_thread(self._load_programme)
            except ConfigError as exc:
                errors = [str(p) for p in exc.problems]
                self.reload = {**self.reload, "ok": False, "errors": errors, "failed_at": time.time()}
                for line in errors:
                    log.error("playlists not reloaded, keeping the last good programme: %s", line)
                continue
            except Exception:
                log.exception("playlists not reloaded (unexpected error); keeping the last good programme")
                continue
            self._adopt(*loaded)
            log.info("playlists reloaded: %s", ", ".join(f.name for f in loaded[0].files))

    # --- live updates (Server-Sent Events) ---------------------------------------------------------

    def _title_released(self, mount: str, title: str) -> None:
        """A title change has just gone out to listeners (not when it was decoded, ahead)."""
        for pusher in self.pushers:
            if pusher.mount.path == mount:
                task = asyncio.create_task(pusher.send_title(title))
                self._bg.add(task)
                task.add_done_callback(self._bg.discard)
        if mount == next(iter(self.mounts)):
            self.events.publish("nowplaying", self.nowplaying())

    def _news_changed(self) -> None:
        self.events.publish("news", {"headlines": [h.to_json() for h in self.news.headlines]})

    async def stop(self) -> None:
        await cancel(getattr(self, "_prefetch_task", None))
        await cancel(self._live_task)
        for pusher in self.pushers:
            await pusher.stop()
        for relay in self.relays:
            await relay.stop()
        await self.news.stop()
        self.events.close()
        if self._watch_task:
            self._watch_task.cancel()
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

    def nowplaying(self, base_url: str = "") -> dict:
        """The public metadata document (schema 1): what the website and apps read."""
        feeder = self.feeder
        now = time.time()
        playing = feeder.now
        current = None
        if playing is not None:
            duration = playing.info.duration
            elapsed = max(0.0, now - playing.started)
            current = {
                "title": playing.title,
                "song": {"artist": playing.info.artist, "title": playing.info.title},
                "kind": playing.kind,
                "playlist": playing.playlist,
                "block": playing.block,
                "start": _iso(playing.started),
                "elapsed": round(elapsed, 1),
                "duration": round(duration, 1) if duration else None,
                "remaining": round(max(0.0, duration - elapsed), 1) if duration else None,
            }
        occ = feeder.next_occurrence
        scheduler = feeder.scheduler
        base = base_url or self.config.public_url
        return {
            "schema": 1,
            "station": {"name": self.config.station_name, "description": self.config.station_description, "url": self.config.station_url},
            "mounts": [
                {
                    "mount": m.path,
                    "listen_url": base + m.path,
                    "format": m.info.content_type,
                    "bitrate": m.info.bitrate,
                    "listeners": len(m.listeners),
                    "title": m.title,
                }
                for m in self.mounts.values()
            ],
            "listeners": self.listener_count,
            "live": self.feeder.live is not None,
            "now_playing": current,
            "next": None if occ is None or scheduler is None else _occurrence(occ, scheduler),
            "history": [
                {"title": p.title, "song": {"artist": p.info.artist, "title": p.info.title}, "kind": p.kind, "start": _iso(p.started)}
                for p in feeder.recent
            ],
            "headlines": [h.to_json() for h in self.news.headlines],
            "bulletin": feeder.bulletin_on_air,
        }

    def _schedule_status(self) -> dict:
        feeder = self.feeder
        scheduler = feeder.scheduler
        if scheduler is None:
            return {}
        t = time.time()
        block = scheduler.block_at(t)
        occ = feeder.next_occurrence
        return {
            "timezone": str(scheduler.tz),
            "local_time": scheduler.local(t).isoformat(timespec="seconds"),
            "block": None if block is None else {"name": block.name, "priority": block.priority, "play": block.play},
            "playlist": feeder.now.playlist if feeder.now else None,
            "fallback": scheduler.programme.fallback,
            "next_event": None if occ is None else _occurrence(occ, scheduler),
            "playlists": feeder.playlist_sizes(),
            "warnings": feeder.warnings,
            "reload": self.reload,
        }

    def status(self) -> dict:
        now = time.time()
        feeder = self.feeder
        playing = feeder.now
        mounts = []
        restarts = {enc.mount.path: enc.restarts for enc in self.encoders}
        for mount in self.mounts.values():
            clock = mount.clock
            mounts.append(
                {
                    "mount": mount.path,
                    "name": mount.info.name,
                    "description": mount.info.description,
                    "genre": mount.info.genre,
                    "url": mount.info.url,
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
                    "encoder_restarts": restarts.get(mount.path),
                    "source": None if not mount.passthrough else (mount.source.address if mount.source else "disconnected"),
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
                "kind": playing.kind,
                "block": playing.block,
                "duration": playing.info.duration,
                "started": playing.started,
            },
            "schedule": self._schedule_status(),
            "recent": [{"display": p.info.display, "file": str(p.info.path), "kind": p.kind, "started": p.started} for p in feeder.recent],
            "problems": [{"time": p.time, "file": p.file, "reason": p.reason} for p in feeder.problems],
            "silence_inserted_seconds": round(feeder.silence_fed, 2),
            "relays": [
                {"mount": r.path, "from": r.url, "connected": r.connected, "connects": r.connects, "error": r.last_error}
                for r in self.relays
            ],
            "push": [
                {"mount": p.mount.path, "to": p.safe_url, "connected": p.connected, "connects": p.connects, "error": p.last_error}
                for p in self.pushers
            ],
            "news": {**self.news.status(), "bulletins": feeder.bulletins.method if feeder.bulletins else None},
        }
