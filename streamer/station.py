"""The station: wires programme → feeder → encoders → mounts → front door, and owns their lifetimes.

State lives here and below: the programme and rotations in the feeder, stream bytes and
titles in each mount's buffer, listeners in each mount. Nothing is global.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import resource
import socket
import time
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from . import __version__
from .aio import background
from .bulletin import BulletinBuilder
from .config import Config, MountConfig, mount_path_problem
from .encoder import Encoder
from .events import EventHub, format_event
from .feeder import Feeder
from .frontdoor import FrontDoor, Gate
from .guard import LoginGuard
from .httpwire import parse_audio_info, safe_host
from .live import LiveInput
from .mount import MAX_PENDING_SECONDS, Mount
from .newsdesk import NewsDesk
from .offload import Offload, OffloadError
from .programme import LoadedProgramme, load_with_files
from .push import PushTarget
from .relay import RelayPull
from .source import SourceConnection
from .supervise import Supervisor
from .tags import read_tags
from .text import decode_text, display_path
from .webio import check_basic
from .yamldoc import ConfigError, Problem

log = logging.getLogger("streamer")

FD_RESERVE = 256  # descriptors kept for the station's own children, pipes and files
PROGRAMME_TIMEOUT = 30.0  # seconds to read the playlists (YAML, folders) at most
TAGS_BATCH = 500  # files whose tags are read per offload job
HOUSEKEEPING_INTERVAL = 30.0


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


def release_memory() -> None:
    """Hand freed heap back to the kernel: after thousands of clients come and go, glibc would
    otherwise keep the peak's pages mapped for good."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


class Station:
    def __init__(self, config: Config, ffmpeg: str) -> None:
        self.config = config
        self.ffmpeg = ffmpeg
        self.started = time.time()
        self.supervisor = Supervisor()
        self.offload = Offload()
        self.logins = LoginGuard()
        self.fd_limit = raise_fd_limit()
        self.gate = Gate(config.max_pending, max(64, self.fd_limit - FD_RESERVE))
        self.mounts: dict[str, Mount] = {}
        for m in config.mounts:
            mount = Mount(m, config.fanout_interval, None if m.source else self._origin, self._title_released)
            mount.passthrough = m.source
            mount.on_source_gone = self._source_gone
            self.mounts[m.path] = mount
        self.declared = {m.path for m in config.mounts} | {path for path, _ in config.relays}
        self.encoders = [
            Encoder(ffmpeg, mount.config, config.sample_rate, config.channels, mount.queue_frame)
            for mount in self.mounts.values()
            if not mount.passthrough
        ]
        self.feeder = Feeder(ffmpeg, config.sample_rate, config.channels, config.lookahead, self.encoders)
        self.events = EventHub(config.max_subscribers)
        self.news = NewsDesk(config.news, on_change=self._news_changed, offload=self.offload.run)
        self.feeder.bulletins = BulletinBuilder(config.news, ffmpeg)
        self.feeder.headlines = lambda: self.news.headlines
        self.feeder.ticker = config.news.ticker
        self.reload: dict = {"ok": True, "errors": [], "loaded_at": None, "files": []}
        self._signature: tuple = ()
        self._watched: list[Path] = []  # audio folders the playlists use (their listings trigger a reload)
        self._runner: web.AppRunner | None = None
        self.pushers: list[PushTarget] = []
        self.relays: list[RelayPull] = []
        self._server: asyncio.AbstractServer | None = None
        self.address: tuple[str, int] | None = None

    # --- connections --------------------------------------------------------------------------------

    def open_connections(self) -> int:
        """Client connections held now (each is a file descriptor)."""
        sources = sum(1 for m in self.mounts.values() if isinstance(m.source, SourceConnection))
        return len(self.gate.pending) + self.web_connections() + self.listener_count + len(self.events.subscribers) + sources

    def web_connections(self) -> int:
        server = self._runner.server if self._runner else None
        return len(server.connections) if server is not None else 0

    def base_url(self, host_header: str) -> str:
        """The base for links in answers: the configured public URL, else the request's Host
        (when it is a plain host name or address), else the address we listen on."""
        if self.config.public_url:
            return self.config.public_url
        host = safe_host(host_header)
        if host is None and self.address is not None:
            host = f"{self.address[0]}:{self.address[1]}" if ":" not in self.address[0] else f"[{self.address[0]}]:{self.address[1]}"
        return f"http://{host or 'localhost'}"

    def hand_to_web(self, transport: asyncio.Transport, data: bytes) -> None:
        """Give a connection (and what it has sent so far) to the aiohttp application."""
        assert self._runner is not None and self._runner.server is not None
        protocol = self._runner.server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    # --- sources -------------------------------------------------------------------------------------

    def source_refused(self, path: str, content_type: str) -> str:
        """Why a source with good credentials may not feed `path` (Icecast's 403s), or ""."""
        if not content_type:
            return "No Content-type given"
        problem = mount_path_problem(path) if path not in self.declared else None
        if problem:
            return f"{path[:100]!r} cannot be a mount: {problem}"
        mount = self.mounts.get(path)
        if mount is not None and not mount.passthrough:
            return f"Mountpoint in use ({path} is fed by the station's own encoder)"
        if mount is not None and mount.source is not None:
            return "Mountpoint in use"
        return ""

    def passthrough_mount(self, path: str, content_type: str, headers: dict[str, str]) -> Mount:
        """The mount a source client feeds: created on first use, its ice-* headers described."""
        headers = {k: decode_text(v.encode("latin-1", errors="replace")) for k, v in headers.items()}  # heads are read as latin-1
        info = parse_audio_info(headers.get("ice-audio-info", ""))
        config = MountConfig(
            path=path,
            bitrate=info.get("bitrate") or _int(headers.get("ice-bitrate")),  # 0: unknown until the stream says
            sample_rate=info.get("samplerate", 0),
            channels=info.get("channels", 0),
            name=headers.get("ice-name", "")[:200],
            description=headers.get("ice-description", "")[:500],
            genre=headers.get("ice-genre", "")[:200],
            url=headers.get("ice-url", "")[:500],
            public=headers.get("ice-public", "0") == "1",
            source=True,
        )
        mount = self.mounts.get(path)
        if mount is None:
            mount = Mount(config, self.config.fanout_interval, on_title=self._title_released)
            mount.passthrough = True
            mount.on_source_gone = self._source_gone
            self.mounts[path] = mount
            self.supervisor.start(f"pacer {path}", mount.run)
        else:
            declared = self.config.mount(path)
            config = replace(config, fallback=mount.config.fallback, max_listeners=mount.config.max_listeners, metaint=mount.config.metaint)
            if declared is not None:
                config = replace(config, users=declared.users, queue_size=declared.queue_size, burst_size=declared.burst_size)
        mount.describe(config, content_type)
        mount.stream_header, mount.header_span = b"", None  # the new source's own headers will come
        mount.max_pending_seconds = MAX_PENDING_SECONDS
        return mount

    def _source_gone(self, mount: Mount) -> None:
        """A source dropped: its listeners go on to the fallback mount, connections kept. A
        mount that only the source made goes with it (no slave relays a mount that is gone)."""
        target = self.mounts.get(mount.config.fallback or "")
        if target is not None and mount.listeners:
            moved = list(mount.listeners)
            for listener in moved:
                listener.move_to(target)
            log.info("%s: source gone; %d listener(s) moved to %s", mount.path, len(moved), target.path)
        if mount.path not in self.declared and self.mounts.get(mount.path) is mount:
            del self.mounts[mount.path]
            mount.close_listeners()
            background(self.supervisor.stop_task(f"pacer {mount.path}"), f"stopping the pacer of {mount.path}")
            log.info("%s: removed (it existed only while its source was connected)", mount.path)

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

    def go_live(self, source: SourceConnection, name: str) -> None:
        """A DJ connected to the live mount: decode them into the station's PCM path."""
        live = LiveInput(self.ffmpeg, name, self.config.sample_rate, self.config.channels, source.mount.info.content_type)
        source.tap = live.write
        source.tap_full = live.full
        source.on_gone = live.end
        source.mount.on_set_title = lambda title: setattr(live, "title", title)  # /admin/metadata, Ogg comments
        background(self._take_over(live, source.address), f"live takeover by {name}")

    async def _take_over(self, live: LiveInput, address: str) -> None:
        """The schedule plays on until the DJ's stream decodes, then crossfades into it: a DJ
        whose encoder sends audio late (Ogg pages can hold a second or more) causes no silence."""
        try:
            await live.start()
            if not await live.first_audio(int(self.config.sample_rate * 0.1) * 2 * self.config.channels):
                log.warning("live: %s from %s sent nothing that decodes; the schedule plays on", live.name, address)
                await live.close()
                return
        except BaseException:
            await live.close()
            raise
        self.feeder.go_live(live, self.config.live_silence)
        log.info("live: %s takes over from %s", live.name, address)

    def kill_source(self, mount: Mount) -> bool:
        """Icecast's killsource: drop the mount's source; on the live mount, end the takeover too
        (even when the DJ already left and the station still plays what they sent)."""
        killed = False
        if mount.source is not None:
            mount.source.close()
            killed = True
        if mount.path == self.config.live_mount and self.feeder.live is not None:
            self.feeder.end_live()
            killed = True
        return killed

    def live_mounts(self) -> list[Mount]:
        """Mounts a listener can hear now: the station's own, and pass-through ones with a source
        (an Icecast slave relays each of these; one without a source would only 404 there)."""
        return [m for m in self.mounts.values() if not m.passthrough or m.source is not None]

    def _origin(self) -> float | None:
        return self.feeder.start

    @property
    def listener_count(self) -> int:
        return sum(len(m.listeners) for m in self.mounts.values())

    # --- lifetime ---------------------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        from .api import make_app  # the web layer depends on the station, not the reverse

        self._adopt(await self._load_programme())  # a broken programme stops the start
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
        run = self.supervisor.start
        for mount in self.mounts.values():
            run(f"pacer {mount.path}", mount.run, critical=not mount.passthrough)
        run("feeder", self.feeder.run, critical=True)
        self.news.load_state()
        for name, job in self.news.tasks():
            run(name, job)
        bulletins = self.feeder.bulletins
        assert bulletins is not None
        run("bulletin prefetch", bulletins.prefetch, restart_on_exit=False)
        run("bulletin builder", bulletins.keep_ready)
        bulletins.want(self.news.headlines)
        self.pushers = [PushTarget(self.mounts[mount], url) for mount, url in self.config.push]
        for pusher in self.pushers:
            run(f"push {pusher.mount.path}", pusher.run)
        self.relays = [RelayPull(url, mount, self.passthrough_mount) for mount, url in self.config.relays]
        for relay in self.relays:
            run(f"relay {relay.path}", relay.run)
        run("playlist watcher", self._watch)
        run("event keep-alive", self.events.keep_alive)
        run("housekeeping", self._housekeeping)
        log.info("on air at http://%s:%d/ (mounts: %s)", host if ":" not in host else f"[{host}]", self.address[1], ", ".join(self.mounts))

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        self.events.close()
        await self.supervisor.stop()
        for pusher in self.pushers:
            pusher.close()
        for relay in self.relays:
            relay.close()
        await self.news.close()
        live = self.feeder.live
        if live is not None:
            await live.close()
        for mount in self.mounts.values():
            mount.close_listeners()
        for enc in self.encoders:
            await enc.close()
        if self.feeder.bulletins:
            self.feeder.bulletins.close()
        self.offload.close()
        if self._runner:
            await self._runner.cleanup()

    async def _housekeeping(self) -> None:
        """Give memory freed after a load peak back to the system (glibc keeps it otherwise),
        and forget failed-login records that have aged out."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            release_memory()

    # --- the programme, and hot reload ---------------------------------------------------------

    async def _load_programme(self) -> LoadedProgramme:
        """The playlists, read in the offload worker (YAML and folder walks are CPU work)."""
        try:
            return await self.offload.run(PROGRAMME_TIMEOUT, load_with_files, self.config.playlists_dir)
        except OffloadError as exc:
            raise ConfigError([Problem(str(self.config.playlists_dir), 1, 1, f"reading the playlists failed: {exc}")]) from None

    def _adopt(self, loaded: LoadedProgramme) -> None:
        programme = loaded.programme
        self._watched = loaded.watched
        self.feeder.set_programme(programme, loaded.files, loaded.warnings)
        self.reload = {"ok": True, "errors": [], "loaded_at": time.time(), "files": [display_path(f) for f in programme.files]}
        unknown = sorted({p for paths in loaded.files.values() for p in paths} - set(self.feeder.tags))
        if unknown:  # artists for no-repeat windows, read in the offload worker
            background(self._read_tags(unknown), "reading tags")

    async def _read_tags(self, paths: list[Path]) -> None:
        for i in range(0, len(paths), TAGS_BATCH):
            try:
                self.feeder.tags.update(await self.offload.run(PROGRAMME_TIMEOUT, read_tags, paths[i : i + TAGS_BATCH]))
            except OffloadError as exc:
                log.warning("tags of %d file(s) not read (%s); their artists count only once played", len(paths) - i, exc)
                return

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
                loaded = await self._load_programme()
            except ConfigError as exc:
                errors = [str(p) for p in exc.problems]
                self.reload = {**self.reload, "ok": False, "errors": errors, "failed_at": time.time()}
                for line in errors:
                    log.error("playlists not reloaded, keeping the last good programme: %s", line)
                continue
            self._adopt(loaded)
            log.info("playlists reloaded: %s", ", ".join(f.name for f in loaded.programme.files))

    # --- live updates (Server-Sent Events) ---------------------------------------------------------

    def _title_released(self, mount: str, title: str) -> None:
        """A title change has just gone out to listeners (not when it was decoded, ahead)."""
        for pusher in self.pushers:
            if pusher.mount.path == mount:
                background(pusher.send_title(title), f"title to {pusher.safe_url}")
        if mount == next(iter(self.mounts)):
            self.events.publish("nowplaying", self.nowplaying())

    def nowplaying_event(self, base_url: str) -> bytes:
        return format_event("nowplaying", self.nowplaying(base_url))

    def _news_changed(self) -> None:
        self.events.publish("news", {"headlines": [h.to_json() for h in self.news.headlines]})
        if self.feeder.bulletins is not None:
            self.feeder.bulletins.want(self.news.headlines)

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
                for m in self.live_mounts()
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
        encoders = {enc.mount.path: enc for enc in self.encoders}
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
                    "on_air": mount.on_air,
                    "title": mount.title,
                    "stream_start": mount.stream_start,
                    "seconds_sent": round(clock.samples_sent / clock.sample_rate, 3) if clock else 0,
                    "clock_restarts": clock.rebased if clock else 0,
                    "encoder_restarts": encoders[mount.path].restarts if mount.path in encoders else None,
                    "encoder_last_restart": encoders[mount.path].last_restart_reason if mount.path in encoders else None,
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
                "file": display_path(playing.info.path),
                "playlist": playing.playlist,
                "kind": playing.kind,
                "block": playing.block,
                "duration": playing.info.duration,
                "started": playing.started,
            },
            "schedule": self._schedule_status(),
            "recent": [
                {"display": p.info.display, "file": display_path(p.info.path), "kind": p.kind, "started": p.started} for p in feeder.recent
            ],
            "problems": [{"time": p.time, "file": p.file, "reason": p.reason} for p in feeder.problems],
            "silence_inserted_seconds": round(feeder.silence_fed, 2),
            "decoder_failures": feeder.decoder_failures,
            "tasks": self.supervisor.status(),
            "connections": {
                "open": self.open_connections(),
                "limit": self.gate.fd_budget,
                "waiting_for_head": len(self.gate.pending),
                "web": self.web_connections(),
                "event_subscribers": len(self.events.subscribers),
                "refused_busy": self.gate.refused,
                "dropped_slow": self.gate.dropped_slow,
                "subscribers_dropped": self.events.dropped,
            },
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

    def health(self) -> tuple[bool, dict]:
        """(on air?, what is wrong): every station mount has fresh audio and no critical task is down."""
        down = [m.path for m in self.mounts.values() if not m.passthrough and not m.on_air]
        failed = [f"{t.name}: {t.last_error}" for t in self.supervisor.down()]
        if down or failed:
            return False, {"ok": False, "off_air": down, "failed_tasks": failed}
        return True, {"ok": True, "uptime": round(time.time() - self.started, 1), "listeners": self.listener_count}
