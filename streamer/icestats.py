"""Icecast's /status-json.xsl shape, built from the station's own status (pure).

Monitoring tools, exporters and website widgets parse this exact shape, including its quirk:
`source` is an object for one mount, a list for several, and absent for none.
"""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from typing import Any

from .config import Config
from .text import safe_text


def dumps(data: Any) -> str:
    """Compact JSON that always encodes: no NaN/Infinity (invalid JSON that browsers reject,
    so a number that is not finite is a bug to fix where it is made), no lone surrogates."""
    return safe_text(json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False))


def _rfc822(ts: float) -> str:
    return formatdate(ts, usegmt=False).replace("-0000", "+0000")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


def icestats(status: dict, config: Config, base_url: str) -> dict:
    sources = []
    for m in status["mounts"]:
        if m.get("source") == "disconnected":
            continue  # as Icecast: a mount without its source is not listed
        parts = (("ice-samplerate", m["sample_rate"]), ("ice-bitrate", m["bitrate"]), ("ice-channels", m["channels"]))
        source = {
            "audio_info": ";".join(f"{k}={v}" for k, v in parts if v),
            "bitrate": m["bitrate"],
            "genre": m["genre"],
            "listener_peak": m["listener_peak"],
            "listeners": m["listeners"],
            "listenurl": base_url + m["mount"],
            "server_description": m["description"],
            "server_name": m["name"],
            "server_type": m["format"],
            "server_url": m["url"],
            "title": m["title"],
        }
        if not m["bitrate"]:
            del source["bitrate"]  # not invented for a stream that does not say
        if m["stream_start"]:
            source["stream_start"] = _rfc822(m["stream_start"])
            source["stream_start_iso8601"] = _iso(m["stream_start"])
        sources.append(dict(sorted(source.items())))
    stats: dict[str, Any] = {
        "admin": "",
        "host": base_url.split("://", 1)[-1].rsplit(":", 1)[0],
        "location": config.station_description,
        "server_id": f"streamer {status['version']}",
        "server_start": _rfc822(status["started"]),
        "server_start_iso8601": _iso(status["started"]),
    }
    if len(sources) == 1:
        stats["source"] = sources[0]
    elif sources:
        stats["source"] = sources
    return {"icestats": stats}
