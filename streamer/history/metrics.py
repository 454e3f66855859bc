"""`/metrics` for Prometheus: a collector that reads the station's own views when scraped (no
per-listener counters, nothing done between scrapes), plus the event-loop lag histogram and
prometheus_client's process metrics, in a registry of the station's own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..audio.encoder import Encoder
from ..audio.feeder import Feeder
from ..news.desk import NewsDesk
from ..sources.intake import SourceDesk
from ..sources.push import PushTarget
from ..sources.relay import RelayPull
from ..stream.events import EventHub
from ..stream.gate import Gate
from ..stream.hls_server import HlsOutput
from ..stream.mount import Mount
from ..supervise import Supervisor
from .looplag import LoopLag
from .recorder import History
from .webhooks import Webhooks

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Observed(Protocol):
    """What the collector reads of the station."""

    started: float
    mounts: dict[str, Mount]
    hls: HlsOutput | None
    encoders: list[Encoder]
    feeder: Feeder
    sources: SourceDesk
    relays: list[RelayPull]
    pushers: list[PushTarget]
    news: NewsDesk
    supervisor: Supervisor
    gate: Gate
    events: EventHub
    history: History
    webhooks: Webhooks
    title_changes: dict[str, int]


def _family(kind: type, name: str, doc: str, labels: tuple[str, ...] = ()) -> Metric:
    return kind(name, doc, labels=list(labels))


class StationCollector(Collector):
    def __init__(self, station: Observed) -> None:
        self.station = station

    def collect(self) -> Iterator[Metric]:
        yield from self._mounts()
        yield from self._audio()
        yield from self._links()
        yield from self._house()

    def _mounts(self) -> Iterator[Metric]:
        s = self.station
        listeners = _family(GaugeMetricFamily, "streamer_listeners", "Listeners connected now.", ("mount", "format"))
        peak = _family(GaugeMetricFamily, "streamer_listener_peak", "Most listeners at once since the start.", ("mount",))
        on_air = _family(GaugeMetricFamily, "streamer_mount_on_air", "1 while the mount has fresh audio.", ("mount",))
        counters = {
            "connections": _family(CounterMetricFamily, "streamer_listener_connections", "Listeners who connected.", ("mount",)),
            "evicted": _family(CounterMetricFamily, "streamer_listener_evictions", "Listeners dropped for falling behind.", ("mount",)),
            "bytes_sent": _family(CounterMetricFamily, "streamer_sent_bytes", "Audio bytes written to listeners.", ("mount",)),
            "discarded": _family(
                CounterMetricFamily, "streamer_discarded_bytes", "Of those, bytes an evicted listener's socket still held.", ("mount",)
            ),
            "encoded": _family(CounterMetricFamily, "streamer_stream_bytes", "Audio bytes that went on air.", ("mount",)),
            "titles": _family(CounterMetricFamily, "streamer_title_changes", "Title changes that reached listeners.", ("mount",)),
        }
        for m in list(s.mounts.values()):
            listeners.add_metric([m.path, m.info.content_type], m.present)
            peak.add_metric([m.path], m.peak)
            on_air.add_metric([m.path], 1.0 if m.buffer.end > 0 and m.on_air else 0.0)
            for key, value in (("connections", m.connections), ("evicted", m.evicted), ("bytes_sent", m.bytes_sent),
                               ("discarded", m.bytes_discarded),
                               ("encoded", m.buffer.end), ("titles", s.title_changes.get(m.path, 0))):  # fmt: skip
                counters[key].add_metric([m.path], value)
        yield from (listeners, peak, on_air, *counters.values())
        if s.hls is not None:  # players seen within two segments, as /api/status counts them
            hls, now = s.hls, time.time()
            players = _family(GaugeMetricFamily, "streamer_hls_listeners", "HLS players seen within two segments.", ("variant",))
            for name in hls.variants:
                players.add_metric([name], hls.listeners.count(now, name))
            yield players

    def _audio(self) -> Iterator[Metric]:
        s = self.station
        feeder = s.feeder
        yield CounterMetricFamily("streamer_decode_failures", "Decoders that failed or stalled mid-track.", value=feeder.decoder_failures)
        # failed on air, or found unplayable by the library before they could (QA: it read 0 with three such files)
        unplayable = {str(path) for path in feeder.unplayable} | {str(e.path) for e in s.library.unplayable()}
        yield GaugeMetricFamily("streamer_unplayable_files", "Files passed over: they failed or will not play.", value=len(unplayable))
        yield CounterMetricFamily(
            "streamer_silence_inserted_seconds", "Silence put on air to cover late or failing sources.", value=feeder.output.silence_fed
        )
        restarts = _family(CounterMetricFamily, "streamer_encoder_restarts", "Encoders replaced after failing or stalling.", ("mount",))
        for enc in s.encoders:
            restarts.add_metric([enc.mount.path], enc.restarts)
        yield restarts
        yield GaugeMetricFamily("streamer_live", "1 while a live DJ holds the air.", value=1.0 if feeder.live is not None else 0.0)

    def _links(self) -> Iterator[Metric]:
        s = self.station
        yield GaugeMetricFamily("streamer_sources_connected", "Source clients connected (DJs, encoders).", value=s.sources.connected())
        relays = _family(CounterMetricFamily, "streamer_relay_errors", "Pull relay connections that failed or ended.", ("mount",))
        connected = _family(GaugeMetricFamily, "streamer_relay_connected", "1 while the relay's upstream is connected.", ("mount",))
        for relay in s.relays:
            relays.add_metric([relay.path], relay.failures)
            connected.add_metric([relay.path], 1.0 if relay.connected else 0.0)
        push = _family(CounterMetricFamily, "streamer_push_errors", "Push connections that failed or ended.", ("mount",))
        for pusher in s.pushers:
            push.add_metric([pusher.mount.path], pusher.failures)
        feeds = _family(CounterMetricFamily, "streamer_news_feed_errors", "News feed polls that failed.", ("feed",))
        for url, state in list(s.news.feed_state.items()):
            feeds.add_metric([url], state.get("errors", 0))
        yield from (relays, connected, push, feeds)
        yield GaugeMetricFamily("streamer_news_items", "Headlines current now.", value=len(s.news.headlines))

    def _house(self) -> Iterator[Metric]:
        s = self.station
        yield GaugeMetricFamily("streamer_start_time_seconds", "When the station started (Unix time).", value=s.started)
        yield GaugeMetricFamily("streamer_event_subscribers", "Server-Sent Events subscribers.", value=len(s.events.subscribers))
        yield CounterMetricFamily("streamer_connections_refused", "Connections refused: no descriptors left.", value=s.gate.refused)
        away = _family(CounterMetricFamily, "streamer_listeners_refused", "Listeners refused for lack of room (403).", ("mount", "reason"))
        for (mount, reason), count in list(s.gate.turned_away.items()):
            away.add_metric([mount, reason], count)
        yield away
        up = _family(GaugeMetricFamily, "streamer_task_up", "1 while the task runs (or, one-shot, has done its work).", ("task",))
        restarts = _family(CounterMetricFamily, "streamer_task_restarts", "Restarts of the supervised task after failing.", ("task",))
        for state in list(s.supervisor.tasks.values()):
            up.add_metric([state.name], 1.0 if state.up else 0.0)  # what /api/status says: TaskState.up
            restarts.add_metric([state.name], state.restarts)
        yield from (up, restarts)
        db = s.history.store.status()
        yield _labelled(GaugeMetricFamily, "streamer_database_ok", "1 while the history database takes writes.", db["file"], db["ok"])
        yield _labelled(GaugeMetricFamily, "streamer_database_queued_rows", "Rows waiting to be committed.", db["file"], db["queued"])
        yield _labelled(CounterMetricFamily, "streamer_database_written_rows", "Rows committed since the start.", db["file"], db["written"])
        access = s.history.access
        if access is not None:
            yield GaugeMetricFamily("streamer_access_log_ok", "1 while the access log is written.", value=0.0 if access.error else 1.0)
        hooks = s.webhooks
        deliveries = _family(CounterMetricFamily, "streamer_webhook_deliveries", "Webhook deliveries by result.", ("result",))
        for result in ("sent", "failed", "dropped"):
            deliveries.add_metric([result], hooks.counts[result])
        yield deliveries
        yield GaugeMetricFamily("streamer_webhook_queued", "Webhook events waiting to be delivered.", value=hooks.queued())


def _labelled(kind: type, name: str, doc: str, database: str, value: float) -> Metric:
    family = kind(name, doc, labels=["database"])
    family.add_metric([database], float(value))
    return family


def registry_for(station: Observed, lag: LoopLag) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StationCollector(station))
    registry.register(lag.histogram)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
