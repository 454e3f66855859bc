"""The config sections of the station's memory: `history`, `privacy`, `geoip`, `metrics` and
`webhooks`, read into a HistoryConfig (pure; FILE:LINE problems like the rest of config.yaml)."""

from __future__ import annotations

from pathlib import Path

from .settings import IP_PRIVACY, WEBHOOK_EVENTS, HistoryConfig, WebhookConfig
from .yamldoc import Reader, in_range, one_of

H = HistoryConfig()
W = WebhookConfig("")


def history_settings(top: Reader, base: Path) -> HistoryConfig:
    """Read the five sections from the config's top level (`base`: the config's folder)."""
    history = top.section("history")
    keep_days = history.get("keep_days", int, H.keep_days, in_range(1, 100_000))
    access = history.get("access_log", str, "logs/access.log")
    history.finish()
    privacy = top.section("privacy")
    ip = privacy.get("ip", str, H.ip, one_of(*IP_PRIVACY))
    privacy.finish()
    geoip = top.section("geoip")
    database = geoip.get("database", str, "")
    geoip.finish()
    if database and not database.endswith(".mmdb"):
        geoip.error((*geoip.path, "database"), f"geoip.database must name a MaxMind .mmdb file, not {database!r}")
        database = ""
    metrics = top.section("metrics")
    public = metrics.get("public", bool, H.metrics_public)
    metrics.finish()
    return HistoryConfig(
        keep_days=keep_days,
        access_log=(base / access).resolve() if access else None,
        ip=ip,
        geoip=(base / database).resolve() if database else None,
        metrics_public=public,
        webhooks=_webhooks(top),
    )


def _webhooks(top: Reader) -> tuple[WebhookConfig, ...]:
    raw = top.raw("webhooks") or []
    if not isinstance(raw, list):
        top.error(("webhooks",), "webhooks must be a list like [{url: https://example.org/hook, events: [song_changed]}]")
        return ()
    hooks = []
    for i, entry in enumerate(raw):
        r = Reader(top.doc, ("webhooks", i), top.problems, entry if isinstance(entry, dict) else {"url": entry})
        url = r.get("url", str, "")
        if not url.startswith(("http://", "https://")):
            r.error((*r.path, "url"), f"webhooks[{i}].url must be an http:// or https:// URL, not {url!r}")
        events = r.raw("events", list(WEBHOOK_EVENTS))
        if isinstance(events, str):
            events = [events]
        if not isinstance(events, list) or not events:
            r.error((*r.path, "events"), f"webhooks[{i}].events must be a list of: {', '.join(WEBHOOK_EVENTS)}")
            events = []
        for event in events:
            problem = one_of(*WEBHOOK_EVENTS)(str(event))
            if problem:
                r.error((*r.path, "events"), f"webhooks[{i}].events: {problem}")
        threshold = r.get("threshold", int, W.threshold, in_range(0, 10_000_000))
        if "listeners_threshold" in events and threshold <= 0:
            r.error((*r.path, "threshold"), f"webhooks[{i}]: listeners_threshold needs threshold: N (a listener count)")
        hooks.append(
            WebhookConfig(
                url=url,
                events=tuple(str(e) for e in events),
                template=r.get("template", str, W.template),
                timeout=r.get("timeout", float, W.timeout, in_range(0.5, 120)),
                threshold=threshold,
            )
        )
        r.finish()
    return tuple(hooks)
