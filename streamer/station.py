"""The station: wires the stages together and owns their lifetimes; nothing else.

Longer than 300 lines: it is the one module that knows every stage, so it implements both
interfaces the outer stages see (the door's Routes, the web side's StationPort) and composes
the status documents from the components' own views, each in a few lines of delegation.

    schedule (watch) → audio (feeder → encoders) → stream (mounts, front door) → listeners
    sources (desk, relays, push) ─┘      news (desk, bulletins) ─┘      web (aiohttp) ─┘

It is the front door's `Routes` and the web side's `StationPort`: those two interfaces are
all the outer stages see of it. The documents it answers with (status, now playing) are
composed here from each component's own view. State lives in the components: the programme
and rotations in the feeder's scheduler, bytes and titles in each mount's buffer, listeners in
each mount, headlines in the news desk. Every long-lived task runs under the supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path

from aiohttp import web

from . import __version__
from .aio import background, cancel_background
from .audio.chain_encoder import ChainEncoder
from .audio.codecs import codec_for
from .audio.encoder import Encoder, PlacedEncoder
from .audio.feeder import Feeder
from .audio.output import SKIP_FADE
from .library.scanner import Library
from .library.scanner import open_store as open_library
from .library.tags import read_tags
from .limits import raise_fd_limit, release_memory
from .news.bulletin import BulletinBuilder
from .news.desk import NewsDesk
from .offload import Offload, OffloadError
from .schedule.model import LoadedProgramme
from .schedule.timeline import TimelineCache, local_day, timeline_json
from .schedule.watch import ProgrammeWatcher
from .settings import Config, MountConfig
from .sources.intake import SourceDesk
from .sources.push import PushTarget
from .sources.relay import RelayPull
from .stream.events import EventHub, format_event, sse_head
from .stream.frontdoor import FrontDoor, Reply, http_date
from .stream.gate import Gate
from .stream.history import ListenerSampler
from .stream.hls import HlsVariant
from .stream.hls_server import HlsOutput
from .stream.hls_server import head as hls_head
from .stream.mount import Mount
from .supervise import Supervisor
from .web.app import make_app
from .wire.http import RequestHead, error_response, safe_host

log = logging.getLogger("streamer")

FD_RESERVE = 256  # descriptors kept for the station's own children, pipes and files
TAGS_TIMEOUT = 60.0  # seconds to read a batch of tags at most
TAGS_BATCH = 500  # files whose tags are read per offload job
HOUSEKEEPING_INTERVAL = 30.0


def make_encoder(ffmpeg: str, mount: Mount, config: Config) -> Encoder | ChainEncoder:
    """A mount's encoder: continuous for MP3 and AAC, a chain per title for the Ogg formats."""
    if codec_for(mount.config).chained:
        return ChainEncoder(ffmpeg, mount.config, config.sample_rate, config.channels, mount.queue_page)
    return Encoder(ffmpeg, mount.config, config.sample_rate, config.channels, mount.queue_frame)


def make_hls(ffmpeg: str, config: Config, feeder: Feeder) -> tuple[HlsOutput | None, list[Encoder]]:
    """HLS variants, each with its AAC encoder fed from the station's one PCM path."""
    hls = config.hls
    if not hls.variants:
        return None, []

    def wall_of(sample: int) -> float:
        return feeder.timeline.time_of(sample, time.time())

    variants, encoders = [], []
    for v in hls.variants:
        variant = HlsVariant(v.name, v.bitrate, v.sample_rate, hls.segment, hls.window, wall_of, hls.container)
        settings = MountConfig(f"/hls/{v.name}", format="aac", bitrate=v.bitrate, sample_rate=v.sample_rate, channels=v.channels)
        encoders.append(PlacedEncoder(ffmpeg, settings, config.sample_rate, config.channels, variant.frame))  # type: ignore[arg-type]
        variants.append(variant)
    return HlsOutput(variants, hls.segment), encoders


class Station:
    def __init__(self, config: Config, ffmpeg: str) -> None:
        self.config = config
        self.started = time.time()
        self.supervisor = Supervisor()
        self.offload = Offload()
        self.fd_limit = raise_fd_limit()
        self.gate = Gate(config.max_pending, max(64, self.fd_limit - FD_RESERVE))
        self.mounts: dict[str, Mount] = {}
        self.feeder = Feeder(ffmpeg, config.sample_rate, config.channels, config.lookahead, [])
        self.library = Library(open_library(config.state_dir), ffmpeg)
        self.feeder.set_loudness(config.loudness, self.library)
        self.sources = SourceDesk(config, self.mounts, self.supervisor, self.feeder, ffmpeg, self._title_released)
        self.logins = self.sources.logins
        self.sources.on_change = self._sources_changed
        for m in config.mounts:
            mount = Mount(m, config.fanout_interval, None if m.source else (lambda: self.feeder.start), self._title_released)
            mount.passthrough, mount.on_source_gone = m.source, self.sources.gone
            self.mounts[m.path] = mount
        self.encoders = [make_encoder(ffmpeg, m, config) for m in self.own_mounts()]
        self.hls, hls_encoders = make_hls(ffmpeg, config, self.feeder)
        self.feeder.output.encoders = [*self.encoders, *hls_encoders]
        self.events = EventHub(config.max_subscribers)
        self.sampler = ListenerSampler(lambda: {path: len(m.listeners) for path, m in self.mounts.items()})
        self.timelines = TimelineCache()
        self.news = NewsDesk(config.news, on_change=self._news_changed, offload=self.offload.run)
        self.feeder.bulletins.builder = bulletins = BulletinBuilder(config.news, ffmpeg)
        bulletins.headlines = lambda: self.news.headlines
        self.feeder.onair.headlines = lambda: [h.title for h in self.news.headlines]
        self.feeder.onair.ticker = config.news.ticker
        self.watcher = ProgrammeWatcher(config.playlists_dir, self.offload.run, self._adopt)
        self.pushers = [PushTarget(self.mounts[mount], url) for mount, url in config.push]
        self.relays = [RelayPull(url, mount, self.sources.passthrough_mount) for mount, url in config.relays]
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self.address: tuple[str, int] | None = None

    def own_mounts(self) -> list[Mount]:
        return [m for m in self.mounts.values() if not m.passthrough]

    # --- the front door's Routes -----------------------------------------------------------------------

    def open_connections(self) -> int:
        """Client connections held now (each is a file descriptor)."""
        subscribers = len(self.events.subscribers)
        return len(self.gate.pending) + self.web_connections() + self.listener_count() + subscribers + self.sources.connected()

    def web_connections(self) -> int:
        server = self._runner.server if self._runner else None
        return len(server.connections) if server is not None else 0

    def listener_count(self) -> int:
        return sum(len(m.listeners) for m in self.mounts.values())

    def accept_source(self, head: RequestHead, transport: asyncio.Transport, body: bytes, address: str) -> Reply | None:
        return self.sources.accept(head, transport, body, address)

    def subscribe(self, head: RequestHead, transport: asyncio.Transport, address: str) -> Reply | None:
        if len(self.events.subscribers) >= self.events.limit:
            return Reply(error_response(503, "server busy: too many event subscribers", http_date()))
        transport.write(sse_head(http_date()))
        self.events.subscribe(transport, address, format_event("nowplaying", self.nowplaying(self.base_url(head.header("host")))))
        return None

    def hls_answer(self, head: RequestHead, address: str) -> bytes:
        if self.hls is None:
            return hls_head(404, [("Content-Type", "text/plain; charset=utf-8")], b"this station has no HLS (hls: in config.yaml)\n")
        return self.hls.answer(head.method, head.path, head.headers, (address, head.header("user-agent")), time.time())

    def to_web(self, transport: asyncio.Transport, data: bytes) -> Reply | None:
        """Give a connection (and what it has sent so far) to the aiohttp application."""
        if self.web_connections() >= self.config.max_web_clients or self._runner is None or self._runner.server is None:
            return Reply(error_response(503, "server busy: too many web clients", http_date()))
        protocol = self._runner.server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)
        return None

    # --- the web side's StationPort ------------------------------------------------------------------

    def base_url(self, host_header: str) -> str:
        """The base for links in answers: the configured public URL, else the request's Host
        (when it is a plain host name or address), else the address we listen on."""
        if self.config.public_url:
            return self.config.public_url
        host = safe_host(host_header)
        if host is None and self.address is not None:
            address, port = self.address
            host = f"{address}:{port}" if ":" not in address else f"[{address}]:{port}"
        return f"http://{host or 'localhost'}"

    def mount(self, path: str) -> Mount | None:
        return self.mounts.get(path)

    def mount_paths(self) -> list[str]:
        return list(self.mounts)

    def live_mounts(self) -> list[Mount]:
        """Mounts a listener can hear now: the station's own, and pass-through ones with a source
        (an Icecast slave relays each of these; one without a source would only 404 there)."""
        return [m for m in self.mounts.values() if not m.passthrough or m.source is not None]

    def source_user(self, path: str, authorization: str) -> str | None:
        return self.sources.user(path, authorization)

    def kill_source(self, mount: Mount) -> bool:
        return self.sources.kill(mount)

    def request_bulletin(self) -> dict:
        self.feeder.bulletins.request()
        return {"status": "bulletin starting", "headlines": len(self.news.headlines), "method": self.feeder.bulletins.method}

    def skip(self) -> dict:
        """Cut what plays now (POST /api/skip): it fades out over SKIP_FADE and the scheduler's
        next choice plays, as for an on-demand bulletin; a DJ is kicked instead, not skipped."""
        if self.feeder.live is not None:
            return {"skipped": False, "reason": f"a DJ holds the air: kick them (/admin/killsource?mount={self.config.live_mount})"}
        now = self.feeder.onair.now
        self.feeder.output.cut_soon(SKIP_FADE)
        return {"skipped": True, "title": now.title if now else None}

    def schedule(self, hours: float, today: bool = False) -> dict | None:
        """The programme's timeline from now (or the station's local day), as data and as text."""
        scheduler = self.feeder.scheduler
        if scheduler is None:
            return None
        start, hours = local_day(scheduler, time.time()) if today else (time.time(), hours)
        return timeline_json(scheduler, start, hours, self.timelines.entries(scheduler, start, hours))

    def listener_history(self, hours: float, step: float) -> dict:
        return self.sampler.history(time.time() - hours * 3600, step)

    def nowplaying(self, base_url: str = "") -> dict:
        """The public metadata document (schema 1): what the website and apps read."""
        base = base_url or self.config.public_url
        onair, config = self.feeder.onair, self.config
        mounts = [
            {"mount": m.path, "listen_url": base + m.path, "format": m.info.content_type, "bitrate": m.info.bitrate,
             "listeners": len(m.listeners), "title": m.title}
            for m in self.live_mounts()
        ]  # fmt: skip
        return {
            "schema": 1,
            "station": {"name": config.station_name, "description": config.station_description, "url": config.station_url},
            "mounts": mounts,
            "listeners": self.listener_count(),
            "live": self.feeder.live is not None,
            "now_playing": onair.now_playing(time.time()),
            "next": self.feeder.cues.next_view(),
            "history": onair.history_view(),
            "hls": self._hls_view(base),
            "headlines": [h.to_json() for h in self.news.headlines],
            "bulletin": self.feeder.bulletins.on_air,
        }

    def _hls_view(self, base: str) -> dict | None:
        if self.hls is None:
            return None
        now = time.time()
        return {"url": base + "/hls/live.m3u8", "listeners": self.hls.listeners.count(now), "variants": self.hls.view(now)}

    def status(self) -> dict:
        """The operator's document (/api/status)."""
        feeder = self.feeder
        encoders = {enc.mount.path: enc for enc in self.encoders}
        mounts = [{**m.view(), **(encoders[m.path].view() if m.path in encoders else {})} for m in self.mounts.values()]
        return {
            "server": "streamer", "version": __version__, "started": self.started, "uptime": round(time.time() - self.started, 1),
            "listeners": self.listener_count(), "max_listeners": self.config.max_listeners, "mounts": mounts,
            "now_playing": feeder.onair.now_status(), "schedule": self._schedule_status(),
            "recent": feeder.onair.recent_status(), "problems": self._problems(),
            "silence_inserted_seconds": round(feeder.output.silence_fed, 2), "decoder_failures": feeder.decoder_failures,
            "tasks": self.supervisor.status(), "connections": self._connections_status(),
            "relays": [r.view() for r in self.relays], "push": [p.view() for p in self.pushers],
            "hls": {**self._hls_view(self.config.public_url), "requests": dict(self.hls.requests)} if self.hls else None,
            "news": {**self.news.status(), "bulletins": feeder.bulletins.method}, "live": self._live_status(),
            "library": self.library.status(), "loudness": self._loudness_status(),
        }  # fmt: skip

    def _problems(self) -> list[dict]:
        """Files that failed on air, and the programme's files the library found unplayable
        (passed over before they could fail): one list for the operator."""
        problems = self.feeder.onair.problems_status()
        seen = {p["file"] for p in problems}
        problems += [{"time": None, **p} for p in self.library.problems() if p["file"] not in seen]
        return problems

    def _loudness_status(self) -> dict:
        loudness, level, limiter = self.config.loudness, self.feeder.level, self.feeder.output.limiter
        return {
            "enabled": loudness.enabled, "target": loudness.target, "true_peak": loudness.true_peak, "max_gain": loudness.max_gain,
            "now_playing": None if level is None else {"gain_db": level.gain_db, "cue_in": level.start, "cue_out": level.end,
                                                         "from": level.basis},
            "limiter_gain_db": round(limiter.gain_db, 2) if limiter else None,
        }  # fmt: skip

    def _live_status(self) -> dict:
        """The live DJ: connected to the live mount (from where), and on air (under which name)."""
        mount, session = self.mounts.get(self.config.live_mount), self.feeder.live
        source = mount.source.address if mount is not None and mount.source is not None else None
        return {"mount": self.config.live_mount, "connected": source, "on_air": session is not None, "name": session and session.live.name}

    def _schedule_status(self) -> dict:
        scheduler = self.feeder.scheduler
        if scheduler is None:
            return {}
        t = time.time()
        block = scheduler.block_at(t)
        now = self.feeder.onair.now
        return {
            "timezone": str(scheduler.tz),
            "local_time": scheduler.local(t).isoformat(timespec="seconds"),
            "block": None if block is None else {"name": block.name, "priority": block.priority, "play": block.play},
            "playlist": now.playlist if now else None,
            "fallback": scheduler.programme.fallback,
            "next_event": self.feeder.cues.next_view(),
            "playlists": self.feeder.playlist_sizes(),
            "warnings": self.feeder.warnings,
            "reload": self.watcher.state,
        }

    def _connections_status(self) -> dict:
        return {
            "open": self.open_connections(), "limit": self.gate.fd_budget, "waiting_for_head": len(self.gate.pending),
            "web": self.web_connections(), "event_subscribers": len(self.events.subscribers), "refused_busy": self.gate.refused,
            "dropped_slow": self.gate.dropped_slow, "subscribers_dropped": self.events.dropped,
        }  # fmt: skip

    def health(self) -> tuple[bool, dict]:
        """(on air?, what is wrong): every station mount has fresh audio and no critical task is down."""
        down = [m.path for m in self.own_mounts() if not m.on_air]
        failed = [f"{t.name}: {t.last_error}" for t in self.supervisor.down()]
        if down or failed:
            return False, {"ok": False, "off_air": down, "failed_tasks": failed}
        return True, {"ok": True, "uptime": round(time.time() - self.started, 1), "listeners": self.listener_count()}

    # --- lifetime ---------------------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        await self.watcher.first()  # a broken programme stops the start
        self._runner = web.AppRunner(make_app(self), access_log=None, handle_signals=False)
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._server = await loop.create_server(lambda: FrontDoor(self), host, port, family=family, backlog=4096, reuse_address=True)
        sock = self._server.sockets[0].getsockname()
        self.address = (sock[0], sock[1])
        for enc in self.feeder.output.encoders:
            await enc.start()
        self._start_tasks()
        log.info("on air at http://%s:%d/ (mounts: %s)", host if ":" not in host else f"[{host}]", self.address[1], ", ".join(self.mounts))

    def _start_tasks(self) -> None:
        run = self.supervisor.start
        for mount in self.mounts.values():
            run(f"pacer {mount.path}", mount.run, critical=not mount.passthrough)
        run("feeder", self.feeder.run, critical=True)
        self.news.load_state()
        for name, job in self.news.tasks():
            run(name, job)
        bulletins = self.feeder.bulletins.builder
        assert bulletins is not None
        run("bulletin prefetch", bulletins.prefetch, restart_on_exit=False)
        run("bulletin builder", bulletins.keep_ready)
        bulletins.want(self.news.headlines)
        for pusher in self.pushers:
            run(f"push {pusher.mount.path}", pusher.run)
        for relay in self.relays:
            run(f"relay {relay.path}", relay.run)
        run("playlist watcher", self.watcher.run)
        run("library scan", self.library.run)
        run("library database", self.library.store.flushing)
        run("event keep-alive", self.events.keep_alive)
        run("listener sampler", self.sampler.run)
        run("housekeeping", self._housekeeping)
        if self.hls is not None:
            run("hls publisher", self._publish_hls, critical=True)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        self.events.close()
        await self.supervisor.stop()
        await cancel_background()
        for pusher in self.pushers:
            pusher.close()
        for relay in self.relays:
            relay.close()
        await self.news.close()
        if self.feeder.live is not None:
            await self.feeder.live.live.close()
        for mount in self.mounts.values():
            mount.close_listeners()
        for enc in self.feeder.output.encoders:
            await enc.close()
        if self.feeder.bulletins.builder:
            self.feeder.bulletins.builder.close()
        self.offload.close()
        await self.library.store.close()
        if self._runner:
            await self._runner.cleanup()

    async def _publish_hls(self) -> None:
        """Each HLS segment goes into the playlists when its last sample airs."""
        assert self.hls is not None
        while True:
            await asyncio.sleep(0.1)
            self.hls.publish(time.time())

    async def _housekeeping(self) -> None:
        """Give memory freed after a load peak back to the system (glibc keeps it otherwise)."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            release_memory()

    # --- the programme, titles, headlines -------------------------------------------------------------

    def _adopt(self, loaded: LoadedProgramme) -> None:
        self.feeder.set_programme(loaded.programme, loaded.files, loaded.warnings)
        unknown = sorted({p for paths in loaded.files.values() for p in paths} - set(self.feeder.tags))
        if unknown:  # artists for no-repeat windows, read in the offload worker
            background(self._read_tags(unknown), "reading tags")

    async def _read_tags(self, paths: list[Path]) -> None:
        for i in range(0, len(paths), TAGS_BATCH):
            try:
                self.feeder.tags.update(await self.offload.run(TAGS_TIMEOUT, read_tags, paths[i : i + TAGS_BATCH]))
            except OffloadError as exc:
                log.warning("tags of %d file(s) not read (%s); their artists count only once played", len(paths) - i, exc)
                return

    def _title_released(self, mount: str, title: str) -> None:
        """A title change has just gone out to listeners (not when it was decoded, ahead)."""
        for pusher in self.pushers:
            if pusher.mount.path == mount:
                background(pusher.send_title(title), f"title to {pusher.safe_url}")
        if mount == next(iter(self.mounts)):
            self.events.publish("nowplaying", self.nowplaying())

    def _sources_changed(self) -> None:
        """A source came or went: pages learn which mounts they can play now."""
        self.events.publish("nowplaying", self.nowplaying())

    def _news_changed(self) -> None:
        self.events.publish("news", {"headlines": [h.to_json() for h in self.news.headlines]})
        if self.feeder.bulletins.builder is not None:
            self.feeder.bulletins.builder.want(self.news.headlines)
