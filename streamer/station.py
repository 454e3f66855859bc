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
import contextlib
import datetime as dt
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web

from . import documents
from .aio import background, cancel_background, listen
from .audio.feeder import Feeder
from .audio.onair import HISTORY, RECENT, NowPlaying
from .audio.output import SKIP_FADE
from .history.looplag import LoopLag
from .history.metrics import exposition, registry_for
from .history.recorder import History
from .history.records import Play
from .history.render import report_body
from .history.upkeep import audience_minutes, last_items, recent_plays
from .history.webhooks import Webhooks
from .library.scanner import Library
from .library.scanner import open_store as open_library
from .library.tags import TrackInfo, read_tags
from .limits import raise_fd_limit, release_memory
from .news.bulletin import BulletinBuilder
from .news.desk import NewsDesk
from .offload import Offload, OffloadError
from .outputs import make_encoder, make_hls
from .schedule import last_good
from .schedule.model import LoadedProgramme
from .schedule.programme import unknown_live_djs
from .schedule.scheduler import Played
from .schedule.timeline import TimelineCache, local_day, timeline_json
from .schedule.watch import ProgrammeWatcher
from .settings import Config
from .sources.intake import SourceDesk
from .sources.push import PushTarget
from .sources.relay import RelayPull
from .stream import hls_keep
from .stream.events import EventHub, format_event, sse_head
from .stream.frontdoor import FrontDoor, Reply, http_date
from .stream.gate import Gate
from .stream.health_door import HealthDoor, HealthPortError, ListenError, OpenCount
from .stream.history import HLS_SERIES, SPAN, ListenerSampler
from .stream.hls_server import HlsOutput, Hold
from .stream.hls_server import head as hls_head
from .stream.listener import Listener
from .stream.mount import Mount
from .stream.routing import head_for_web
from .supervise import Supervisor
from .ticks import sleep_on_grid
from .web.app import make_app
from .web.doc_cache import Busy, DocumentCache
from .wire.forwarded import client_of, scheme_of, unheeded
from .wire.http import WILDCARDS, RequestHead, error_response, health_response, safe_host
from .wire.icecast import dumps
from .wire.text import display_path

log = logging.getLogger("streamer")

FD_RESERVE = 256  # descriptors kept for the station's own children, pipes and files
TAGS_TIMEOUT = 60.0  # seconds to read a batch of tags at most
REPORT_TIMEOUT = 120.0  # seconds a web request's report may take (in the offload worker)
TAGS_BATCH = 500  # files whose tags are read per offload job
HOUSEKEEPING_INTERVAL = 30.0
SLOW_STOP_STEP = 1.0  # seconds: a stop step taking longer is named in the log
WEB_STOP_TIMEOUT = 1.0  # seconds a web request still running at stop may take to finish
HLS_START_BEHIND = 3  # segments: where HLS players start from the live edge (what they hear first aired that long ago)


class Station:
    def __init__(self, config: Config, ffmpeg: str, quick_ffmpeg: str = "") -> None:
        self.config = config
        self.started = time.time()
        self.supervisor = Supervisor()
        self.offload = Offload()
        self.fd_limit = raise_fd_limit()
        self.gate = Gate(config.max_pending, max(64, self.fd_limit - FD_RESERVE))
        self.mounts: dict[str, Mount] = {}
        quick_ffmpeg = quick_ffmpeg or ffmpeg  # for decoders started at need (audio/ffmpeg.py)
        self.feeder = Feeder(ffmpeg, config.sample_rate, config.channels, config.lookahead, [], quick=quick_ffmpeg)
        self.library = Library(open_library(config.state_dir), ffmpeg)
        self.feeder.set_loudness(config.loudness, self.library)
        self.sources = SourceDesk(config, self.mounts, self.supervisor, self.feeder, quick_ffmpeg, self._title_released)
        self.logins = self.sources.logins
        self.sources.on_change = self._sources_changed
        for m in config.mounts:
            mount = Mount(m, config.fanout_interval, None if m.source else (lambda: self.feeder.start), self._title_released)
            mount.passthrough, mount.on_source_gone, mount.on_source_heard = m.source, self.sources.gone, self.sources.heard
            self.mounts[m.path] = mount
        self.encoders = [make_encoder(ffmpeg, m, config) for m in self.own_mounts()]
        self.hls, hls_encoders = make_hls(ffmpeg, config, self.feeder)
        if self.hls is not None:  # before the first frame: the last run's window goes on (a clean stop kept it)
            hls_keep.resume(config.state_dir, list(self.hls.variants.values()), time.time())
        self.feeder.output.encoders = [*self.encoders, *hls_encoders]
        self.events = EventHub(config.max_subscribers)
        self.documents = DocumentCache()  # public documents shared while flooded: the web side's and SSE's
        self.sampler = ListenerSampler(self._graph_counts)
        self.timelines = TimelineCache()
        self.news = NewsDesk(config.news, on_change=self._news_changed, offload=self.offload.run)
        self.feeder.bulletins.builder = bulletins = BulletinBuilder(config.news, ffmpeg)
        bulletins.headlines = lambda: self.news.headlines
        self.feeder.onair.headlines = lambda: [h.title for h in self.news.headlines]
        self.feeder.onair.ticker = config.news.ticker
        keep = config.state_dir / last_good.FILE  # a broken edit found at a restart: on air with this
        self.watcher = ProgrammeWatcher(config.playlists_dir, self.offload.run, self._adopt, keep=keep)
        self.pushers = [PushTarget(self.mounts[mount], url) for mount, url in config.push]
        self.relays = [RelayPull(url, mount, self.sources.passthrough_mount, config.source_timeout) for mount, url in config.relays]
        self.history = History(config)  # plays, sessions, headlines: state/history.sqlite
        for mount in self.mounts.values():
            mount.on_listeners = self._listener_changed
        self.sources.on_listeners = self._listener_changed
        self.gate.on_turned_away = self.history.turned_away  # Icecast logs refused listeners too
        if self.hls is not None:  # HLS players are sessions too (heard plays, reports, royalties)
            self._remember_hls(self.hls)
        self.first_mount = self.own_mounts()[0].path  # plays are recorded as titles reach its listeners
        self.title_changes: dict[str, int] = {}
        self.dj_on_air = False
        self.webhooks = Webhooks(config.history.webhooks, self.nowplaying)
        self.loop_lag = LoopLag()
        self.metrics_registry = registry_for(self, self.loop_lag)
        self._runner: web.AppRunner | None = None
        self.stopping = ""  # the stop step under way (named if the stop hangs)
        self._server: asyncio.AbstractServer | None = None
        self._health_server: asyncio.AbstractServer | None = None
        self._day_schedule: tuple[object, tuple[float, float], dict] | None = None  # (scheduler, day, document): schedule()
        self.address: tuple[str, int] | None = None
        self._unheeded_said = False  # a proxy not in server.trusted_proxies was named in the log

    def own_mounts(self) -> list[Mount]:
        return [m for m in self.mounts.values() if not m.passthrough]

    # --- the front door's Routes -----------------------------------------------------------------------

    def open_connections(self) -> int:
        """Client connections held now (each is a file descriptor)."""
        door = len(self.gate.pending) + len(self.gate.idle)
        listeners = sum(len(m.listeners) for m in self.mounts.values())  # those leaving too: they hold theirs
        return door + self.web_connections() + listeners + len(self.events.subscribers) + self.sources.connected()

    def web_connections(self) -> int:
        server = self._runner.server if self._runner else None
        return len(server.connections) if server is not None else 0

    def listener_count(self) -> int:
        """The mounts' listeners: what the front door's max_listeners counts (each holds a connection)."""
        return sum(m.present for m in self.mounts.values())

    def audience(self) -> int:
        """Everyone listening: the mounts' listeners and the HLS players, as the history counts them
        (QA: the status documents left the HLS players out, the history and reports did not)."""
        return sum(self._graph_counts().values())

    def _graph_counts(self) -> dict[str, int]:
        """Listeners now per series of the dashboard's graph: each mount, and the HLS players."""
        counts = {path: m.present for path, m in self.mounts.items()}
        if self.hls is not None:
            counts[HLS_SERIES] = self.hls.listeners.count(time.time())
        return counts

    def client_of(self, peer: str, forwarded_for: str, forwarded: str) -> str:
        """Who a request is from (wire/forwarded.py); said once when a proxy's header is not
        believed because server.trusted_proxies does not list it."""
        networks = self.config.trusted_proxies
        if (forwarded_for or forwarded) and not self._unheeded_said and unheeded(peer, networks):
            self._unheeded_said = True
            log.warning(
                "requests from %s name their clients (X-Forwarded-For), but server.trusted_proxies does not list %s: every client "
                "behind it shares its address (listclients, history, the login lockout); list it if it is your reverse proxy",
                peer, peer,
            )  # fmt: skip
        return client_of(peer, forwarded_for, forwarded, networks)

    def scheme_for(self, peer: str, forwarded_proto: str, forwarded: str) -> str:
        """The scheme of links for a client: https when a trusted proxy says it came over TLS."""
        return scheme_of(peer, forwarded_proto, forwarded, self.config.trusted_proxies)

    def accept_source(self, head: RequestHead, transport: asyncio.Transport, body: bytes, address: str) -> Reply | None:
        return self.sources.accept(head, transport, body, address)

    def subscribe(self, head: RequestHead, transport: asyncio.Transport, address: str) -> Reply | None:
        if len(self.events.subscribers) >= self.events.limit:
            return Reply(error_response(503, "server busy: too many event subscribers", http_date()))
        peer = transport.get_extra_info("peername")
        scheme = self.scheme_for(str(peer[0]) if peer else "", head.header("x-forwarded-proto"), head.header("forwarded"))
        base = self.base_url(head.header("host"), transport.get_extra_info("sockname"), scheme)
        try:  # pages reconnecting by the thousand share it (doc_cache.py)
            first = self.documents.get("event " + base, time.monotonic(), lambda: format_event("nowplaying", self.nowplaying(base)))
        except Busy as busy:
            return Reply(error_response(503, str(busy), http_date(), [("Retry-After", "1")]))
        transport.write(sse_head(http_date()))
        self.events.subscribe(transport, address, first)
        return None

    def hls_answer(self, head: RequestHead, address: str) -> bytes | Hold:
        if self.hls is None:
            return hls_head(404, [("Content-Type", "text/plain; charset=utf-8")], b"this station has no HLS (hls: in config.yaml)\n")
        return self.hls.answer(head.method, head.path, head.headers, (address, head.header("user-agent")), time.time(), head.query)

    def health_answer(self, head: RequestHead) -> bytes:
        ok, body = self.health()
        return health_response(ok, dumps(body), http_date(), head.method == "HEAD")

    def to_web(self, transport: asyncio.Transport, data: bytes) -> Reply | None:
        """Give a connection (and what it has sent so far) to the aiohttp application."""
        if self.web_connections() >= self.config.max_web_clients or self._runner is None or self._runner.server is None:
            return Reply(error_response(503, "server busy: too many web clients", http_date()))
        data_or_refusal = head_for_web(data)
        if isinstance(data_or_refusal, tuple):
            return Reply(error_response(*data_or_refusal, http_date()))
        data = data_or_refusal
        protocol = self._runner.server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)
        return None

    # --- the web side's StationPort ------------------------------------------------------------------

    def base_url(self, host_header: str, local: tuple | None = None, scheme: str = "http") -> str:
        """The base for links in answers: the configured public URL, else the request's Host
        (when it is a plain host name or address), else the address the request came in on
        (`local`, the socket's own: on a wildcard listener 0.0.0.0 would be no address to
        follow), else the address we listen on; `scheme` as a trusted proxy said (https)."""
        if self.config.public_url:
            return self.config.public_url
        host = safe_host(host_header)
        for candidate in (local, self.address):
            if host is None and candidate and candidate[0] not in WILDCARDS:
                address, port = candidate[0], candidate[1]
                host = f"{address}:{port}" if ":" not in address else f"[{address}]:{port}"
        return f"{scheme}://{host or 'localhost'}"

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

    def dj_mount(self) -> Mount | None:
        """The live mount while a DJ holds the air (their titles are set there), else None."""
        mount = self.mounts.get(self.config.live_mount)
        return mount if mount is not None and mount.source is not None and self.feeder.live is not None else None

    def kill_source(self, mount: Mount) -> bool:
        return self.sources.kill(mount)

    async def report(self, kind: str, start: str | None, end: str | None, fmt: str, tuning_hours: bool = False) -> tuple[bytes, str, str]:
        """A web request's report: (body, content type, file name), queried and written out in the
        offload worker from the history file (ReportError for a bad request, naming the query's
        `from`/`to`; OffloadError when it takes longer than REPORT_TIMEOUT)."""
        tz = self.feeder.scheduler.tz if self.feeder.scheduler else dt.UTC
        await self.history.store.flush()  # what was queued is in the file the worker reads
        path = self.history.store.path
        try:
            await self.history.store.run(lambda conn: None)  # the file exists, its schema up to date
        except sqlite3.Error:
            if not path.is_file():  # (one the station cannot write, on a read-only disk, can still be read: QA)
                raise
        asked = (start, end)
        return await self.offload.run(REPORT_TIMEOUT, report_body, path, fmt, kind, asked, tz, self.config.station_name, tuning_hours)

    def reopen_logs(self) -> None:
        """SIGHUP: the access log is opened afresh at its next write (after logrotate moved it)."""
        if self.history.access is not None:
            self.history.access.reopen()
        log.info("SIGHUP: reopening the access log")

    def metrics(self) -> bytes:
        """/metrics: Prometheus' text format, read from the components' views now."""
        return exposition(self.metrics_registry)

    def request_bulletin(self) -> dict:
        self.feeder.bulletins.request()
        read = min(len(self.news.headlines), self.config.news.bulletin_headlines)  # (QA: said all 17 on the list, read 5)
        return {"status": "bulletin starting", "headlines": read, "method": self.feeder.bulletins.method}

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
        if not today:
            start = time.time()
            return timeline_json(scheduler, start, hours, self.timelines.entries(scheduler, start, hours))
        # The local day's document (every page view) changes with the programme or the day only:
        # made once for each, not per view (formatting a day's entries is most of a page's cost).
        start, hours = local_day(scheduler, time.time())
        day = self._day_schedule
        if day is None or day[0] is not scheduler or day[1] != (start, hours):
            day = self._day_schedule = (
                scheduler,
                (start, hours),
                timeline_json(scheduler, start, hours, self.timelines.entries(scheduler, start, hours)),
            )
        return day[2]

    def _listener_changed(self, mount: Mount, listener: Listener, joined: bool) -> None:
        self.sampler.changed(mount.path, mount.present)
        self.history.listener_changed(mount, listener, joined)

    def listener_history(self, hours: float, step: float) -> dict:
        return self.sampler.history(time.time() - hours * 3600, step)

    def nowplaying(self, base_url: str = "") -> dict:
        """The public metadata document (schema 1): what the website and apps read."""
        return documents.nowplaying(self, base_url)

    def status(self) -> dict:
        """The operator's document (/api/status)."""
        return documents.status(self)

    def health(self) -> tuple[bool, dict]:
        """(on air?, what is wrong): every station mount has fresh audio, no critical task is down,
        and what airs is no silence for want of anything playable (the mounts carry audio then,
        but a listener hears nothing, and a load balancer should send them to another station)."""
        down = [m.path for m in self.own_mounts() if not m.on_air] + (self.hls.off_air(time.time()) if self.hls else [])
        failed = [f"{t.name}: {t.last_error}" for t in self.supervisor.down()]
        silence = self.feeder.onair.silence
        if down or failed or silence:
            return False, {"ok": False, "off_air": down, "failed_tasks": failed, **({"silence": silence} if silence else {})}
        return True, {"ok": True, "uptime": round(time.time() - self.started, 1), "listeners": self.audience()}

    # --- lifetime ---------------------------------------------------------------------------------------

    async def start(self, host: str, port: int, fds: Sequence[int] = ()) -> None:
        """On air at `host`:`port`, or on the listening sockets a service manager passed (`fds`:
        the front door's, then the health port's; aio.activated)."""
        await self.history.open()  # what a crash left open is closed before anyone listens
        await self._remember()  # (before the programme: an event a restart fell on is judged by what aired)
        await self.watcher.first()  # a broken programme with no good one kept stops the start
        await self.library.load()  # its verdicts (a silent file) hold from the first choice, not from when the scan starts
        # a web request still running at stop gets a second, not aiohttp's default minute
        self._runner = web.AppRunner(make_app(self), access_log=None, handle_signals=False, shutdown_timeout=WEB_STOP_TIMEOUT)
        await self._runner.setup()
        try:
            self._server = await listen(host, port, lambda: FrontDoor(self), backlog=4096, fd=fds[0] if fds else None)
        except OSError as exc:
            raise ListenError(exc.errno, os.strerror(exc.errno) if exc.errno else str(exc)) from exc
        sock = self._server.sockets[0].getsockname()
        self.address = (sock[0], sock[1])
        if self.config.health_port is not None:
            count = OpenCount()
            door = lambda: HealthDoor(self.health_answer, self.config.head_timeout, count)  # noqa: E731
            try:
                self._health_server = await listen(host, self.config.health_port, door, fd=fds[1] if len(fds) > 1 else None)
            except OSError as exc:
                raise HealthPortError(exc.errno, os.strerror(exc.errno) if exc.errno else str(exc)) from exc
            log.info("health checks at http://%s:%d/healthz", host if ":" not in host else f"[{host}]", self.config.health_port)
        for enc in self.feeder.output.encoders:
            await enc.start()
        self._start_tasks()
        at = self.address[0] if ":" not in self.address[0] else f"[{self.address[0]}]"
        passed = " (the socket the service manager passed)" if fds else ""
        log.info("on air at http://%s:%d/%s (mounts: %s)", at, self.address[1], passed, ", ".join(self.mounts))

    async def _remember(self) -> None:
        """The last day from the history database: its plays into the feeder's play history (the
        no-repeat windows), its audience into the dashboard's graph."""
        try:
            rows = await self.history.store.run(recent_plays, time.time() - 86400, HISTORY)
        except sqlite3.Error:
            return  # no history to read: the windows start empty, as they did before there was one
        played = [Played(t, Path(file), artist, playlist, kind, block) for t, file, artist, playlist, kind, block in rows]
        self.feeder.onair.remember(played)
        with contextlib.suppress(sqlite3.Error):
            items = await self.history.store.run(last_items, RECENT)
            self.feeder.onair.restore_recent(
                [NowPlaying(TrackInfo(Path(file), artist, title, seconds), playlist, kind, block, started, 0, shown, event)
                 for started, seconds, kind, playlist, block, event, file, artist, title, shown in items]
            )  # fmt: skip
        try:  # the dashboard's graph: the last day's minutes, not empty after a restart
            now = time.time()
            minutes = await self.history.store.run(audience_minutes, int((now - SPAN) // 60))
        except sqlite3.Error:
            return
        series = sorted(self._graph_counts())  # an HLS variant's minutes are the HLS series'
        self.sampler.restore([(m, HLS_SERIES if path.startswith("/hls/") else path, n) for m, path, n in minutes], series, now)

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
        run("history writer", self.history.writing)
        run("history pruning", self.history.pruning)
        if self.history.access is not None:
            run("access log", self.history.access.writing)
        run("event loop lag", self.loop_lag.run)
        if self.webhooks.hooks:
            run("webhooks", self.webhooks.run)
            run("webhook watch", lambda: self.webhooks.watch(lambda: self.health()[0], self.audience))

    async def stop(self) -> None:
        """Every part stops in order. A part that takes long is named in the log, so an operator
        (or a service manager about to kill the process) sees what held the stop up."""
        for name, step in self._stop_steps():
            self.stopping = name
            began = time.monotonic()
            await step()
            if (took := time.monotonic() - began) > SLOW_STOP_STEP:
                log.warning("stopping: %s took %.1f s", name, took)
        self.stopping = "done"

    def _stop_steps(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        async def doors() -> None:
            for server in (self._server, self._health_server):
                if server:
                    server.close()
            if self.webhooks.hooks:
                self.webhooks.fire("station_offline")
                await self.webhooks.drain(2.0)
            self.events.close()

        async def sources() -> None:
            for pusher in self.pushers:
                pusher.close()
            for relay in self.relays:
                relay.close()
            await self.news.close()
            if self.feeder.live is not None:
                await self.feeder.live.live.close()
            for mount in self.mounts.values():
                mount.close_listeners()

        async def encoders() -> None:
            for enc in self.feeder.output.encoders:
                await enc.close()
            if self.feeder.bulletins.builder:
                self.feeder.bulletins.builder.close()
            self.offload.close()

        async def hls_window() -> None:  # (its publisher has stopped: nothing is published after this)
            if self.hls is not None:
                hls_keep.save(self.config.state_dir, list(self.hls.variants.values()), time.time())

        async def web_side() -> None:
            if self._runner:
                await self._runner.cleanup()

        return [
            ("listening socket and event streams", doors),
            ("station tasks", self.supervisor.stop),
            ("background jobs", cancel_background),
            ("HLS window", hls_window),
            ("sources and listeners", sources),
            ("history", self.history.close),
            ("encoders and workers", encoders),
            ("track library", self.library.store.close),
            ("web side", web_side),
        ]

    def _remember_hls(self, hls: HlsOutput) -> None:
        bitrates = {v.name: v.bitrate for v in hls.variants.values()}
        behind = HLS_START_BEHIND * hls.seconds
        hls.listeners.on_start = lambda client, now: self.history.hls_started(client, bitrates.get(client.variant, 0), behind, now)
        hls.listeners.on_end = self.history.hls_ended

    async def _publish_hls(self) -> None:
        """Each HLS segment goes into the playlists when its last sample airs (checked on the
        mounts' grid of ticks, so this wakes with them)."""
        assert self.hls is not None
        while True:
            await sleep_on_grid(self.config.fanout_interval)
            self.hls.publish(time.time())

    async def _housekeeping(self) -> None:
        """Give memory freed after a load peak back to the system (glibc keeps it otherwise)."""
        while True:
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)
            await asyncio.to_thread(release_memory)  # tens of ms on a large heap: not in the loop

    # --- the programme, titles, headlines -------------------------------------------------------------

    def _adopt(self, loaded: LoadedProgramme) -> None:
        djs = unknown_live_djs(loaded.programme, {name for name, _ in self.config.djs}, self.config.file)
        self.feeder.set_programme(loaded.programme, loaded.files, [*loaded.warnings, *djs])
        assert self.feeder.scheduler is not None
        self.feeder.scheduler.has_news = lambda: bool(self.news.headlines)
        missing = [display_path(path) for path in loaded.missing]
        self.feeder.onair.resolved("file not found", set(missing))  # those there now are no problem
        for path in missing:  # in the operator's problems as when a listed file failed on air
            self.feeder.onair.problem_once(path, "file not found")
        unknown = sorted({p for paths in loaded.files.values() for p in paths} - set(self.feeder.tags))
        # An edit may change what plays next: pages are told, after its tags if it is a new file.
        ahead = self.feeder.upcoming_choice(time.time())
        new_next = ahead is not None and ahead[1].path in unknown
        if new_next:
            unknown.insert(0, unknown.pop(unknown.index(ahead[1].path)))  # in the first batch read
        elif ahead is not None:
            self.events.publish("nowplaying", self.nowplaying())
        if unknown:  # artists for no-repeat windows, read in the offload worker
            background(self._read_tags(unknown, tell=new_next), "reading tags")

    async def _read_tags(self, paths: list[Path], tell: bool = False) -> None:
        """Tags of `paths`; `tell`: publish the now-playing document after the first batch (it
        holds the next song's file)."""
        for i in range(0, len(paths), TAGS_BATCH):
            try:
                self.feeder.tags.update(await self.offload.run(TAGS_TIMEOUT, read_tags, paths[i : i + TAGS_BATCH]))
            except OffloadError as exc:
                log.warning("tags of %d file(s) not read (%s); their artists count only once played", len(paths) - i, exc)
                return
            finally:
                if tell:
                    self.events.publish("nowplaying", self.nowplaying())
                    tell = False

    def _title_released(self, mount: str, title: str) -> None:
        """A title change has just gone out to listeners (not when it was decoded, ahead)."""
        self.title_changes[mount] = self.title_changes.get(mount, 0) + 1
        for pusher in self.pushers:
            if pusher.mount.path == mount:
                background(pusher.send_title(title), f"title to {pusher.safe_url}")
        if mount == self.first_mount:  # the station's own first mount, not a pass-through listed before it
            self.feeder.onair.aired(title)
            self.events.publish("nowplaying", self.nowplaying())
            live = self.feeder.live
            play = self.history.title_released(self.feeder.onair, title, live.live.name if live else None)
            if play is not None and self.webhooks.hooks:
                self._play_webhooks(play)

    def _play_webhooks(self, play: Play) -> None:
        """song_changed for every play; live_connect / live_disconnect as a DJ's first or the
        schedule's first title reaches listeners."""
        on_air = self.health()[0]
        self.webhooks.on_air_event("song_changed", on_air)
        dj = play.kind == "live" and (play.item is not None or self.feeder.live is not None)
        if dj != self.dj_on_air:
            self.dj_on_air = dj
            self.webhooks.on_air_event("live_connect" if dj else "live_disconnect", on_air)

    def _sources_changed(self) -> None:
        """A source came or went: pages learn which mounts they can play now."""
        self.events.publish("nowplaying", self.nowplaying())

    def _news_changed(self) -> None:
        self.events.publish("news", {"headlines": [h.to_json() for h in self.news.headlines]})
        self.feeder.cues.news_changed()  # a bulletin with headlines now cuts in at its second
        if self.feeder.bulletins.builder is not None:
            self.feeder.bulletins.builder.want(self.news.headlines)
        self.feeder.bulletins.news_changed()  # a retracted headline being read is cut
