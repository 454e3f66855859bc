"""The public page's parts as HTML, from the documents the station composes (pure).

Every piece of data goes through `html.escape`: titles, headlines and names are text, whatever
characters they hold. The page's script keeps the same parts current from `/api/events`,
setting text (never markup), so a page without JavaScript shows what a page with it shows.
"""

from __future__ import annotations

import datetime as dt
import html
from zoneinfo import ZoneInfo

HISTORY_SHOWN = 10
KINDS = {"jingle": "Jingle", "event": "Event", "bulletin": "News bulletin", "song": ""}


def e(value: object) -> str:
    return html.escape(str(value if value is not None else ""), quote=True)


def clock_of(iso: str, tz: ZoneInfo | None) -> str:
    """HH:MM in the station's time zone of an ISO 8601 time ('' when it is not one)."""
    try:
        when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return ""
    return f"{when.astimezone(tz) if tz else when:%H:%M}"


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(max(0, seconds))
    return f"{s // 60}:{s % 60:02d}"


def now_parts(np: dict) -> dict[str, str]:
    """Now playing: the title, the artist (or what kind of item it is), progress, next up."""
    now = np.get("now_playing") or {}
    song = now.get("song") or {}
    title = song.get("title") or now.get("title") or "Nothing on air yet"
    artist = song.get("artist") or KINDS.get(now.get("kind", "song"), "")
    duration, elapsed = now.get("duration"), now.get("elapsed") or 0.0
    return {
        "np_title": e(title),
        "np_artist": e(artist),
        "np_max": f"{duration:g}" if duration else "1",
        "np_value": f"{min(elapsed, duration):g}" if duration else "0",
        "np_time": e(f"{minutes(elapsed)} / {minutes(duration)}" if duration else minutes(elapsed) if now else ""),
        "next": e(next_up(np)),
    }


def next_up(np: dict) -> str:
    """'Next': the song the scheduler will play next, then the next timed event (player.js too)."""
    song, event = np.get("playing_next"), np.get("next")
    parts = [song["title"]] if song else []
    if event:
        parts.append(f"{event['name']} at {event['at'][11:16]}")
    return " · ".join(parts) or "the schedule plays on"


def headlines_html(headlines: list[dict], bulletin: dict | None, on_air_title: str) -> str:
    read = set((bulletin or {}).get("headlines") or [])
    items = []
    for h in headlines:
        reading = bulletin is not None and on_air_title.startswith(f"News: {h['title']}")
        marks = (' class="in-bulletin"' if h["title"] in read or reading else "") + (' aria-current="true"' if reading else "")
        source = f' <span class="source">{e(h["source"])}</span>' if h.get("source") else ""
        summary = f'<p class="summary">{e(h["summary"])}</p>' if h.get("summary") else ""
        items.append(f'<li data-id="{e(h["id"])}"{marks}><span class="headline">{e(h["title"])}</span>{source}{summary}</li>')
    return "".join(items)


def history_html(history: list[dict], tz: ZoneInfo | None) -> str:
    if not history:
        return '<li class="quiet">Nothing yet: the station has just started.</li>'
    return "".join(
        f'<li><time datetime="{e(p["start"])}">{clock_of(p["start"], tz)}</time> <span class="title">{e(p["title"])}</span></li>'
        for p in history[:HISTORY_SHOWN]
    )


def mount_links(mounts: list[dict], hls: dict | None = None) -> str:
    """A player file for each mount, and the HLS playlist (phones, Safari, smart TVs: QA found none listed)."""
    links = [
        f'<a href="{e(m["mount"])}.m3u">{e(m["mount"].lstrip("/"))}</a> ({e(short_format(m["format"]))}'
        + (f", {m['bitrate']} kbit/s)" if m.get("bitrate") else ")")
        for m in mounts
    ]
    return " · ".join(links + (['<a href="/hls/live.m3u8">HLS</a> (phones, Safari, TVs)'] if hls else []))


def short_format(content_type: str) -> str:
    names = {"audio/mpeg": "MP3", "audio/aac": "AAC", "application/ogg": "Ogg", "audio/ogg": "Ogg", "application/vnd.apple.mpegurl": "HLS"}
    return names.get(content_type, content_type)


def schedule_html(doc: dict | None, now: float) -> tuple[str, str, str]:
    """Today's programme: (the day, the blocks as list items, the timed events in a sentence each)."""
    if not doc:
        return "", "", ""
    blocks = [x for x in doc["entries"] if x["kind"] == "block"]
    on_air = max((i for i, b in enumerate(blocks) if b["time"] <= now), default=-1)
    current = ' aria-current="true"'
    items = []
    for i, b in enumerate(blocks):
        plays = ", ".join(b.get("play") or [])
        what = f'<span class="block">{e(b["name"])}</span> <span class="playlists">{e(plays)}</span>' if b["name"] else e(plays)
        items.append(f'<li data-time="{b["time"]:.0f}"{current if i == on_air else ""}><time>{e(b["clock"])}</time> {what}</li>')
    day = doc["entries"][0]["day"] if doc["entries"] else ""
    return e(day), "".join(items), "".join(f"<li>{e(line)}</li>" for line in event_lines(doc["entries"]))


def event_lines(entries: list[dict]) -> list[str]:
    """Timed events, one line per event: 'news bulletin: every hour at :00', or its times."""
    times: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for x in entries:
        if x["kind"] == "event":
            times.setdefault(x["name"], []).append(x["clock"])
            labels[x["name"]] = f"{x['name']} (news bulletin)" if x.get("bulletin") else x["name"]
    lines = []
    for name, clocks in times.items():
        if len(clocks) >= 12 and len({c[2:5] for c in clocks}) == 1:
            lines.append(f"{labels[name]}: every hour at {clocks[0][2:5]}")
        else:
            lines.append(f"{labels[name]}: {', '.join(clocks)}")
    return lines
