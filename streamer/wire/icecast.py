"""Icecast's /status-json.xsl shape, built from the station's own status (pure).

Monitoring tools, exporters and website widgets parse this exact shape, including its quirk:
`source` is an object for one mount, a list for several, and absent for none.
"""

from __future__ import annotations

import html
import json
import re
import time
from email.utils import formatdate
from typing import Any

from .text import safe_text


def dumps(data: Any) -> str:
    """Compact JSON that always encodes: no NaN/Infinity (invalid JSON that browsers reject,
    so a number that is not finite is a bug to fix where it is made), no lone surrogates."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if safe_text(text) is text:
        return text
    # Each string mended on its own: mending the whole document re-read every other headline in
    # it as another encoding (QA: one file name with a Latin-1 byte garbled all of them)
    return json.dumps(_mended(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _mended(data: Any) -> Any:
    if isinstance(data, str):
        return safe_text(data)
    if isinstance(data, dict):
        return {_mended(k): _mended(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_mended(v) for v in data]
    return data


def _rfc822(ts: float) -> str:
    return formatdate(ts, usegmt=False).replace("-0000", "+0000")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(ts))


def icestats(status: dict, location: str, base_url: str, only: str | None = None) -> dict:
    """`status` is the station's /api/status document; `location` Icecast's free-text field.
    `only`: one mount's source (`?mount=/main`, as Icecast: an object; none for a mount not on air)."""
    sources = [source for m, source in _sources(status, base_url) if only is None or m["mount"] == only]
    stats = _server(status, location, base_url)
    if len(sources) == 1:
        stats["source"] = sources[0]
    elif sources:
        stats["source"] = sources
    return {"icestats": stats}


def _server(status: dict, location: str, base_url: str) -> dict[str, Any]:
    """The server's own fields of icestats (both /status-json.xsl and /admin/stats have them)."""
    return {
        "admin": "",
        "host": base_url.split("://", 1)[-1].rsplit(":", 1)[0],
        "location": location,
        "server_id": f"streamer {status['version']}",
        "server_start": _rfc822(status["started"]),
        "server_start_iso8601": _iso(status["started"]),
    }


def _sources(status: dict, base_url: str) -> list[tuple[dict, dict]]:
    """(the mount in /api/status, its source in /status-json.xsl) for each mount listed."""
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
        sources.append((m, dict(sorted(source.items()))))
    return sources


def parse_audio_info(text: str) -> dict[str, int]:
    """`ice-audio-info: ice-samplerate=44100;ice-bitrate=128;ice-channels=2` as numbers."""
    out: dict[str, int] = {}
    for part in text.replace(" ", "").split(";"):
        key, _, value = part.partition("=")
        key = key.removeprefix("ice-")
        if key in ("samplerate", "bitrate", "channels") and value.isdigit():
            out[key] = int(value)
    return out


def iceresponse(message: str, ok: bool = True) -> str:
    return f'<?xml version="1.0"?>\n<iceresponse><message>{xml_text(message)}</message><return>{1 if ok else 0}</return></iceresponse>\n'


# --- the admin API's XML answers -----------------------------------------------------------------

# characters XML 1.0 cannot carry even escaped: one in a source's ice-name or a listener's user
# agent made the whole of /admin/stats "not well-formed" (QA)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: str) -> str:
    """Text escaped for XML, its characters XML cannot carry as spaces."""
    return html.escape(_NOT_XML.sub(" ", value))


def _icestats(body: str) -> str:
    return f'<?xml version="1.0"?>\n<icestats>{body}</icestats>\n'


def listmounts_xml(mounts: list[tuple[str, int, int, str]]) -> str:
    """(path, listeners, seconds connected, content type) per mount."""
    e = xml_text
    return _icestats(
        "".join(
            f'<source mount="{e(path)}"><listeners>{listeners}</listeners><Connected>{connected}</Connected>'
            f"<content-type>{e(content_type)}</content-type></source>"
            for path, listeners, connected, content_type in mounts
        )
    )


def listclients_xml(path: str, clients: list[tuple[str, str, int, int]]) -> str:
    """(address, user agent, seconds connected, id) per listener of mount `path`."""
    e = xml_text
    rows = "".join(
        f"<listener><IP>{e(ip)}</IP><UserAgent>{e(agent)}</UserAgent><Connected>{connected}</Connected><ID>{ident}</ID></listener>"
        for ip, agent, connected, ident in clients
    )
    return _icestats(f'<source mount="{e(path)}"><Listeners>{len(clients)}</Listeners>{rows}</source>')


def stats_xml(status: dict, location: str, base_url: str) -> str:
    """Icecast's /admin/stats from the station's /api/status document: the fields of
    /status-json.xsl (icestats) and the counters Icecast adds there, in its element names (QA:
    monitoring checks read <sources>, <clients>, total_bytes_sent)."""
    e = xml_text
    c = status["connections"]
    sources = []
    for m, source in _sources(status, base_url):
        extra = {
            "max_listeners": m["max_listeners"], "public": int(m["public"]), "slow_listeners": m["slow_listeners"],
            "total_bytes_read": m["bytes_encoded"], "total_bytes_sent": m["bytes_sent"],
            **{f"ice-{k}": m[f] for k, f in (("bitrate", "bitrate"), ("channels", "channels"), ("samplerate", "sample_rate")) if m[f]},
            **({"source_ip": m["source"], "user_agent": m["source_agent"]} if m["source"] else {}),
        }  # fmt: skip
        fields = "".join(f"<{k}>{e(str(v))}</{k}>" for k, v in sorted({**source, **extra}.items()))
        sources.append(f'<source mount="{e(m["mount"])}">{fields}</source>')
    relays, clients = c["source_relays_total"], c["source_clients_total"]
    counters = {
        "client_connections": c["accepted"], "clients": c["open"], "connections": c["accepted"],
        "listener_connections": sum(m["connections"] for m in status["mounts"]), "listeners": status["listeners"],
        "source_client_connections": clients, "source_relay_connections": relays, "source_total_connections": clients + relays,
        "sources": len(sources), "stats": 0, "stats_connections": 0,
    }  # fmt: skip
    top = _server(status, location, base_url) | counters
    return _icestats("".join(f"<{k}>{e(str(v))}</{k}>" for k, v in sorted(top.items())) + "".join(sources))
