"""The documents the station answers with, composed from its parts: the public now-playing
document (/api/nowplaying, the SSE snapshot, the pages) and the operator's status
(/api/status). Read-only: nothing here changes the station."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from . import __version__
from .library.tags import title_from_name
from .wire.http import WILDCARDS
from .wire.text import iso_utc

log = logging.getLogger("streamer.api")

if TYPE_CHECKING:
    from .audio.onair import NowPlaying
    from .station import Station
    from .stream.mount import Mount


def nowplaying(station: Station, base_url: str = "") -> dict:
    """The public metadata document (schema 1): what the website and apps read."""
    base = base_url or _pushed_base(station)
    onair, config = station.feeder.onair, station.config
    mounts = [
        {"mount": m.path, "listen_url": base + m.path, "format": m.info.content_type, "bitrate": m.info.bitrate,
         "burst_seconds": burst_seconds(m),
         "listeners": m.present, "title": m.title}
        for m in station.live_mounts()
    ]  # fmt: skip
    now_playing = onair.now_playing(time.time())
    bulletin = station.feeder.bulletins.heard(now_playing and now_playing["kind"])
    return {
        "schema": 1,
        "station": {"name": config.station_name, "description": config.station_description, "url": config.station_url},
        "mounts": mounts,
        "listeners": station.audience(),  # (the mounts' and the HLS players: hls.listeners)
        # a DJ is heard now: their title has reached listeners (the feeder takes a DJ on a lookahead before)
        "live": now_playing is not None and now_playing["kind"] == "live",
        "now_playing": now_playing,
        "playing_next": announced(pending) if (pending := onair.pending()) else playing_next(station, time.time(), bulletin),
        "next": station.feeder.cues.next_view(),
        "history": onair.history_view(),
        "hls": hls_view(station, base),
        "headlines": [h.to_json() for h in station.news.headlines],
        "bulletin": bulletin,
    }


def burst_seconds(m: Mount) -> float | None:
    """How far behind the air a new listener starts: the burst, in seconds of the mount's own
    bytes per second so far (its encoder's, not its nominal bitrate: QA found a Vorbis mount's
    64 KB burst said as 4.7 s at 112 kbit/s when it held 12 s; a FLAC mount had none). The
    nominal bitrate until a second has aired. The whole burst, even when less has been made so
    far: a page reads this before it connects, and the suite's page test, opened as the station
    started, showed a title 3 s early when it said the shorter burst of that moment)."""
    aired = m.clock.samples_sent / m.sample_rate if m.clock is not None else 0.0
    if aired >= 1.0 and m.buffer.end > 0:
        per_second = m.buffer.end / aired
    elif m.info.bitrate:
        per_second = m.info.bitrate * 125
    else:
        return None
    return round(m.config.burst_size / per_second, 2)


def playing_next(station: Station, now: float, heard_bulletin: dict | None = None) -> dict | None:
    """The item after the one on air, as the scheduler will choose it, and when it is due; None
    during a bulletin, fed or heard (its headlines air one by one: what follows the one on air
    is the next headline, and the song after the bulletin comes when the last one ends)."""
    if station.feeder.bulletins.on_air is not None or heard_bulletin is not None:
        return None
    try:
        ahead = station.feeder.upcoming_choice(now)
    except Exception:  # a preview's bug must not cost the document (or the SSE stream) its answer
        log.exception("previewing what plays next failed")
        return None
    if ahead is None:
        return None
    at, choice = ahead
    assert choice.path is not None
    info, entry = station.feeder.tags.get(choice.path), station.library.lookup(choice.path)
    artist, title = (info.artist, info.title) if info else (entry.artist, entry.title) if entry else ("", "")
    title = title or title_from_name(choice.path)
    return {
        "title": f"{artist} - {title}" if artist else title,
        "song": {"artist": artist, "title": title},
        "kind": choice.kind,
        "playlist": choice.playlist,
        "block": choice.block.name if choice.block else None,
        "start": iso_utc(at),
    }


def announced(item: NowPlaying) -> dict:
    """What plays next when it is already announced (its title not yet out): that item."""
    info = item.info
    return {
        "title": item.title, "song": {"artist": info.artist, "title": info.title}, "kind": item.kind, "playlist": item.playlist,
        "block": item.block, "start": iso_utc(item.started),
    }  # fmt: skip


def _pushed_base(station: Station) -> str:
    """Links in what is pushed (SSE, webhooks), with no request to take a Host from: public_url,
    else the address the station listens on; relative for a wildcard one (0.0.0.0 is no link)."""
    wildcard = station.address is not None and station.address[0] in WILDCARDS
    return station.config.public_url or ("" if wildcard else station.base_url(""))


def hls_view(station: Station, base: str) -> dict | None:
    if station.hls is None:
        return None
    now = time.time()
    hls = station.hls
    variants = [{**v, "url": base + v["url"]} for v in hls.view(now)]  # whole URLs, as the master playlist's
    return {"url": base + "/hls/live.m3u8", "segment": hls.seconds, "listeners": hls.listeners.count(now), "variants": variants}


def status(station: Station) -> dict:
    """The operator's document (/api/status)."""
    feeder = station.feeder
    encoders = {enc.mount.path: enc for enc in station.encoders}
    mounts = [{**mount_view(m), **(encoders[m.path].view() if m.path in encoders else {})} for m in station.mounts.values()]
    return {
        "server": "streamer", "version": __version__, "started": station.started, "uptime": round(time.time() - station.started, 1),
        "health": station.health()[1],  # /healthz's verdict: the dashboard's "on air" line
        "listeners": station.audience(), "max_listeners": station.config.max_listeners, "mounts": mounts,
        "now_playing": feeder.onair.now_status(), "schedule": _schedule_status(station),
        "recent": feeder.onair.recent_status(), "problems": _problems(station),
        "silence_inserted_seconds": round(feeder.output.silence_fed, 2), "decoder_failures": feeder.decoder_failures,
        "tasks": station.supervisor.status(), "connections": _connections_status(station),
        "relays": [r.view() for r in station.relays], "push": [p.view() for p in station.pushers],
        "hls": {**hls_view(station, station.config.public_url), "requests": dict(station.hls.requests)} if station.hls else None,
        "news": {**station.news.status(), "bulletins": feeder.bulletins.method}, "live": _live_status(station),
        "library": station.library.status(), "loudness": _loudness_status(station),
        "history": station.history.status(), "event_loop_lag": station.loop_lag.view(), "webhooks": station.webhooks.status(),
    }  # fmt: skip


def _problems(station: Station) -> list[dict]:
    """Files that failed on air, the programme's files the library found unplayable (passed over
    before they could fail), and the station's own files that the disk refuses (its databases,
    its access log; QA: only the dashboard said a read-only state folder): one list for the operator."""
    problems = station.feeder.onair.problems_status()
    seen = {p["file"] for p in problems}
    problems += [{"time": None, **p} for p in station.library.problems() if p["file"] not in seen]
    access = station.history.access
    stores = {"history database": station.history.store.status(), "library database": station.library.store.status()}
    if access is not None:
        stores["access log"] = access.status()
    for what, st in stores.items():
        if not st["ok"]:
            waiting = f" ({st['queued']} waiting to be written)" if st["queued"] else ""
            problems.append({"time": None, "what": what, "file": st["file"], "reason": (st["error"] or "not working") + waiting})
    return problems


def _loudness_status(station: Station) -> dict:
    loudness, level, limiter = station.config.loudness, station.feeder.level, station.feeder.output.limiter
    return {
        "enabled": loudness.enabled, "target": loudness.target, "true_peak": loudness.true_peak, "max_gain": loudness.max_gain,
        "now_playing": None if level is None else {"gain_db": level.gain_db, "cue_in": level.start, "cue_out": level.end,
                                                     "from": level.basis},
        "limiter_gain_db": round(limiter.gain_db, 2) if limiter else None,
    }  # fmt: skip


def _live_status(station: Station) -> dict:
    """The live DJ: connected to the live mount (from where), and on air (under which name)."""
    mount, session = station.mounts.get(station.config.live_mount), station.feeder.live
    holder = mount.source if mount is not None else None
    source = holder.address if holder is not None else None
    # a DJ still connected while the schedule plays (stalled, silent) keeps their name here
    name = session.live.name if session is not None else getattr(holder, "name", None) or None
    return {"mount": station.config.live_mount, "connected": source, "on_air": session is not None, "name": name}


def _schedule_status(station: Station) -> dict:
    scheduler = station.feeder.scheduler
    if scheduler is None:
        return {}
    t = time.time()
    block = scheduler.block_at(t)
    now = station.feeder.onair.now
    return {
        "timezone": str(scheduler.tz),
        "local_time": scheduler.local(t).isoformat(timespec="seconds"),
        "block": None if block is None else {"name": block.name, "priority": block.priority, "play": block.play},
        "playlist": now.playlist if now else None,
        "fallback": scheduler.programme.fallback,
        "next_event": station.feeder.cues.next_view(),
        "playlists": {name: len(r.files) for name, r in scheduler.rotations.items()},
        "warnings": station.feeder.warnings,
        "reload": _reload_status(station),
    }


def _reload_status(station: Station) -> dict:
    """The last reading of the playlists folder, and whether edits are being read now (QA: a
    crashed watcher left `ok: true` while no edit was read)."""
    state, task = station.watcher.state, station.supervisor.tasks.get("playlist watcher")
    if task is None or not task.down:
        return state
    failed = f"the playlist watcher failed ({task.last_error}); edits are read again when it restarts"
    return {**state, "ok": False, "errors": [*state.get("errors", []), failed]}


def _connections_status(station: Station) -> dict:
    return {
        "open": station.open_connections(), "limit": station.gate.fd_budget, "waiting_for_head": len(station.gate.pending),
        "idle_keepalive": len(station.gate.idle), "web": station.web_connections(), "accepted": station.gate.admitted,
        "source_clients_total": station.sources.connects, "source_relays_total": sum(r.connects for r in station.relays),
        "event_subscribers": len(station.events.subscribers), "refused_busy": station.gate.refused,
        "dropped_slow": station.gate.dropped_slow, "dropped_idle": station.gate.dropped_idle, "subscribers_dropped": station.events.dropped,
        "listeners_refused": [{"mount": m, "reason": r, "count": n} for (m, r), n in station.gate.turned_away.items()],
    }  # fmt: skip


def mount_view(m: Mount) -> dict:
    """A mount as /api/status shows it (its listeners: those present, see stream/presence.py)."""
    info, clock = m.info, m.clock
    return {
        "mount": m.path, "name": info.name, "description": info.description, "genre": info.genre, "url": info.url,
        "format": info.content_type, "bitrate": info.bitrate, "sample_rate": info.sample_rate, "channels": info.channels,
        "listeners": m.present, "listener_peak": m.peak, "connections": m.connections, "evicted": m.evicted,
        "bytes_sent": m.bytes_sent, "bytes_encoded": m.buffer.end, "on_air": m.on_air, "title": m.title,
        "stream_start": m.stream_start, "seconds_sent": round(clock.samples_sent / clock.sample_rate, 3) if clock else 0,
        "clock_restarts": clock.rebased if clock else 0, "max_listeners": m.config.max_listeners, "public": info.public,
        "slow_listeners": sum(1 for listener in m.listeners if listener.paused),  # their sockets full now, as Icecast counts
        "source": None if not m.passthrough else (m.source.address if m.source else "disconnected"),
        "source_agent": getattr(m.source, "agent", "") if m.passthrough else "",
    }  # fmt: skip
