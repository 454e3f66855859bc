"""HLS playlist text (RFC 8216): the media playlist of one variant and the master playlist.

Pure: frozen values in, playlist text out. Durations are written with 3 decimals and the
target duration derived from the very text written, so the two always agree. MPEG-TS media
playlists say EXT-X-VERSION 3; fragmented MP4 ones name their init segment (EXT-X-MAP, which
needs version 6) and say 7, as ffmpeg's and Apple's tools do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TS_VERSION, FMP4_VERSION = 3, 7
MAP_MIN_VERSION = 6  # EXT-X-MAP in a playlist that is not I-frames only (RFC 8216 7)


@dataclass(frozen=True, slots=True)
class Part:
    """A partial segment (low-latency HLS): a piece of a segment, published as soon as it airs."""

    uri: str
    duration: float  # seconds


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration: float  # seconds
    program_date_time: float | None = None  # epoch seconds of the segment's first sample
    discontinuity: bool = False  # the segment starts after a break (EXT-X-DISCONTINUITY)
    parts: tuple[Part, ...] = ()  # its partial segments, listed before it (recent segments only)


@dataclass(frozen=True, slots=True)
class LowLatency:
    """What a low-latency playlist adds: the longest a part may be, and the parts of the segment
    still being made (published so far). The server answers blocking reloads (_HLS_msn, _HLS_part)."""

    part_target: float  # seconds; no part is longer
    pending: tuple[Part, ...] = ()
    preload: str | None = None  # the next part's URI (EXT-X-PRELOAD-HINT): asked for early, answered when it airs


@dataclass(frozen=True, slots=True)
class Variant:
    uri: str
    bandwidth: int  # peak bits per second of the segments as served, container overhead included
    average_bandwidth: int | None = None
    codecs: str = "mp4a.40.2"  # AAC-LC
    name: str = ""  # written as a comment: NAME is not an EXT-X-STREAM-INF attribute


def _line(text: str, what: str) -> str:
    if any(c in text for c in "\r\n"):
        raise ValueError(f"{what} must be one line: {text!r}")
    return text


def _quoted(text: str, what: str) -> str:
    """A quoted-string attribute value: no double quote, carriage return or line feed."""
    if '"' in text:
        raise ValueError(f"{what} cannot contain a double quote: {text!r}")
    return _line(text, what)


def _milliseconds(seconds: float, what: str) -> int:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"bad {what}: {seconds!r}")
    return round(seconds * 1000)


def _decimal(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def program_date_time(epoch: float) -> str:
    """ISO 8601 in UTC to the millisecond, e.g. 2026-11-25T15:41:16.123Z."""
    ms = round(epoch * 1000)
    return f"{EPOCH + timedelta(milliseconds=ms):%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _target_duration(durations_ms: Sequence[int], at_least: float) -> int:
    """EXT-X-TARGETDURATION: every EXTINF rounded to the nearest integer (halves up) must not
    exceed it (RFC 8216 4.3.3.1), so 4.017 s segments give 4. `at_least` (rounded up) keeps it
    steady while segments slide in and out of a live window (players pace reloads by it); never
    below 1."""
    longest = max(((ms + 500) // 1000 for ms in durations_ms), default=0)
    return max(1, math.ceil(at_least), longest)


def media_playlist(
    segments: Sequence[Segment],
    target_duration: float,
    media_sequence: int,
    discontinuity_sequence: int = 0,
    version: int | None = None,
    *,
    ended: bool = False,
    map_uri: str | None = None,
    low_latency: LowLatency | None = None,
) -> str:
    """A media playlist. `target_duration` is the configured segment length: the tag says the
    larger of it and what the segments need. EXT-X-DISCONTINUITY-SEQUENCE is written when not 0.
    `ended` closes the playlist with EXT-X-ENDLIST. `map_uri` names the init segment of
    fragmented MP4 segments (EXT-X-MAP, for every segment); `version` defaults to 3 without it
    and 7 with it. `low_latency` adds partial segments (RFC 8216bis 4.4.4.9), the part target
    and blocking reloads, with a PART-HOLD-BACK of three part targets (Apple's recommendation;
    the minimum is two), and the next part as a preload hint when it names one."""
    if version is None:
        version = TS_VERSION if map_uri is None else FMP4_VERSION
    if version < 3:
        raise ValueError("decimal EXTINF durations need EXT-X-VERSION 3 or later")
    if map_uri is not None and version < MAP_MIN_VERSION:
        raise ValueError(f"EXT-X-MAP needs EXT-X-VERSION {MAP_MIN_VERSION} or later")
    if media_sequence < 0 or discontinuity_sequence < 0:
        raise ValueError("sequence numbers cannot be negative")
    durations = [_milliseconds(s.duration, "segment duration") for s in segments]
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{version}",
        f"#EXT-X-TARGETDURATION:{_target_duration(durations, target_duration)}",
        f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}",
    ]
    if low_latency is not None:
        target = _milliseconds(low_latency.part_target, "part target")
        if target <= 0:
            raise ValueError("the part target must be positive")
        lines += (
            f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={_decimal(3 * target)}",
            f"#EXT-X-PART-INF:PART-TARGET={_decimal(target)}",
        )
    if discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    if map_uri is not None:
        lines.append(f'#EXT-X-MAP:URI="{_quoted(map_uri, "init segment URI")}"')
    for segment, ms in zip(segments, durations, strict=True):
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.program_date_time is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{program_date_time(segment.program_date_time)}")
        lines += _parts(segment.parts, low_latency)
        lines += (f"#EXTINF:{_decimal(ms)},", _line(segment.uri, "segment URI"))
    if low_latency is not None:
        lines += _parts(low_latency.pending, low_latency)
        if low_latency.preload is not None and not ended:
            lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{_quoted(low_latency.preload, "preload hint URI")}"')
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _parts(parts: Sequence[Part], low_latency: LowLatency | None) -> list[str]:
    if parts and low_latency is None:
        raise ValueError("partial segments need low_latency (their part target)")
    lines = []
    for part in parts:
        ms = _milliseconds(part.duration, "part duration")
        if low_latency is not None and ms > _milliseconds(low_latency.part_target, "part target"):
            raise ValueError(f"part {part.uri!r} is {ms} ms, longer than the part target")
        # audio: every part starts with a frame that decodes on its own
        lines.append(f'#EXT-X-PART:DURATION={_decimal(ms)},URI="{_quoted(part.uri, "part URI")}",INDEPENDENT=YES')
    return lines


def master_playlist(variants: Sequence[Variant]) -> str:
    """A master playlist listing the variants in the order given (players start with the first)."""
    lines = ["#EXTM3U"]
    for v in variants:
        if v.bandwidth <= 0:
            raise ValueError(f"variant {v.uri!r} needs a positive BANDWIDTH")
        if '"' in v.codecs:
            raise ValueError(f"CODECS cannot contain a double quote: {v.codecs!r}")
        if v.name:
            # "# " keeps the comment from ever reading as a tag ("#EXT...").
            lines.append("# " + " ".join(v.name.split()))
        attributes = [f"BANDWIDTH={v.bandwidth}"]
        if v.average_bandwidth is not None:
            attributes.append(f"AVERAGE-BANDWIDTH={v.average_bandwidth}")
        attributes.append(f'CODECS="{_line(v.codecs, "CODECS")}"')
        lines += ("#EXT-X-STREAM-INF:" + ",".join(attributes), _line(v.uri, "variant URI"))
    return "\n".join(lines) + "\n"
