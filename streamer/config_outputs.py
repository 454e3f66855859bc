"""config.yaml's outputs: the mounts (format, bitrate, rate per format), push targets, pull
relays and HLS variants, read into settings.py's types. Pure, like config.py, which calls these."""

from __future__ import annotations

import math
import re
from typing import Any

from .settings import FORMAT_RULES, MP3_BITRATES, HlsConfig, HlsVariantConfig, MountConfig, mount_path_problem
from .upstream_url import parse_upstream, redact
from .yamldoc import Reader, defaults, in_range, one_of, one_of_int

M, H = defaults(MountConfig), defaults(HlsConfig)


def mount_settings(top: Reader, station: dict[str, Any], audio: dict[str, Any]) -> list[MountConfig]:
    raw = top.raw("mounts")
    if raw is None:
        raw = {"/main": {}}
    if not isinstance(raw, dict) or not raw:
        top.error(("mounts",), "mounts must map mount paths to their settings, e.g. '/main: {bitrate: 128}'")
        raw = {}
    mounts = []
    for path, body in raw.items():
        problem = mount_path_problem(str(path))
        if problem:
            top.error(("mounts", path), f"mounts.{path}: {problem}", key=True)
            continue
        mounts.append(_mount(Reader(top.doc, ("mounts", path), top.problems, body or {}), str(path), station, audio))
    paths = [m.path for m in mounts]
    for m in mounts:
        if m.fallback is not None and (m.fallback not in paths or m.fallback == m.path):
            top.error(("mounts", m.path, "fallback"), f"mounts.{m.path}.fallback {m.fallback!r} must be another mount ({', '.join(paths)})")
    if mounts and all(m.source for m in mounts):
        top.error(("mounts",), "at least one mount must be the station's own (source: false) for the schedule to play on")
    return mounts


def _format(m: Reader, path: str, audio: dict[str, Any]) -> tuple[str, int, int]:
    """The mount's format, bitrate and rate, each checked against what the format takes."""
    name = m.get("format", str, M["format"], one_of(*FORMAT_RULES))
    rule = FORMAT_RULES.get(name, FORMAT_RULES["mp3"])
    rate = m.get("sample_rate", int, rule.default_rate or audio["sample_rate"], one_of_int(rule.rates))
    if rule.bitrates is None:
        if "bitrate" in m.data:
            m.error((*m.path, "bitrate"), f"mounts.{path}.bitrate: {name} is lossless and takes no bitrate (remove it)")
        m.raw("bitrate")
        return name, 0, rate
    lo, hi = rule.bitrates
    check = one_of_int(MP3_BITRATES) if name == "mp3" else in_range(lo, hi)
    bitrate = m.get("bitrate", int, rule.default_bitrate, check)
    if name == "mp3" and bitrate > 160 and rate < 32000:
        message = f"mounts.{path}.bitrate: {bitrate} kbit/s is not possible at {rate} Hz (MPEG-2 allows at most 160)"
        m.error((*m.path, "bitrate"), message)
    return name, bitrate, rate


def _mount(m: Reader, path: str, station: dict[str, Any], audio: dict[str, Any]) -> MountConfig:
    kind, bitrate, rate = _format(m, path, audio)
    mount = MountConfig(
        path=path,
        format=kind,
        bitrate=bitrate,
        sample_rate=rate,
        channels=m.get("channels", int, audio["channels"], in_range(1, 2)),
        **{k: m.get(k, str, station[f"station_{k}"]) for k in ("name", "description", "genre", "url")},
        public=m.get("public", bool, M["public"]),
        burst_size=m.get("burst_size", int, M["burst_size"], in_range(0, 10_000_000)),
        queue_size=m.get("queue_size", int, M["queue_size"], in_range(16384, 100_000_000)),
        max_listeners=m.get("max_listeners", int, M["max_listeners"], in_range(0, 1_000_000)),
        metaint=m.get("metaint", int, M["metaint"], in_range(256, 65536)),
        source=m.get("source", bool, M["source"]),
        users=credentials(m, "users"),
        fallback=m.get("fallback", str, M["fallback"]),
        fallback_override=m.get("fallback_override", bool, M["fallback_override"]),
    )
    ogg = FORMAT_RULES.get(kind, FORMAT_RULES["mp3"]).content_type == "audio/ogg"
    if ogg and "metaint" in m.data:  # (it was taken, and nothing came of it)
        m.error((*m.path, "metaint"), f"mounts.{path}.metaint: {kind} mounts send their titles in Ogg chains, not ICY metadata (remove it)")
    m.finish()
    return mount


def _entries(top: Reader, key: str, example: str) -> list[tuple[int, Reader]]:
    raw = top.raw(key) or []
    if not isinstance(raw, list):
        top.error((key,), f"{key} must be a list like [{example}]")
        raw = []
    return [(i, Reader(top.doc, (key, i), top.problems, entry if isinstance(entry, dict) else {})) for i, entry in enumerate(raw)]


def push_settings(top: Reader, mounts: list[MountConfig]) -> list[tuple[str, str]]:
    push = []
    paths = [m.path for m in mounts]
    for i, r in _entries(top, "push", "{mount: /main, url: icecast://source:PASSWORD@host:8000/main}"):
        mount_path, url = r.get("mount", str, ""), r.get("url", str, "")
        as_http = url.replace("icecast://", "http://", 1)
        try:
            if not url.startswith(("icecast://", "http://")):
                raise ValueError(f"must look like icecast://source:PASSWORD@host:8000/mount, not {redact(url)!r}")
            parse_upstream(as_http)
        except ValueError as exc:
            r.error(("push", i, "url"), f"push[{i}].url {str(exc).replace(redact(as_http), redact(url))}")
        if mount_path not in paths:
            r.error(("push", i, "mount"), f"push[{i}].mount {mount_path!r} is not one of the mounts ({', '.join(paths)})")
        r.finish()
        push.append((mount_path, url))
    return push


def _relay_mount_problem(path: str, own: list[str], live_mount: str, relayed: list[str]) -> str:
    """What is wrong with a relay's mount ("" for nothing): `relayed`, the mounts of the relays before it."""
    if problem := mount_path_problem(path):
        return problem
    if path in own:
        return f"{path} is a station mount"
    if path == live_mount:
        return f"{path} is the live mount: a relay there would lock every DJ out"
    return f"{path} is relayed already (relays[{relayed.index(path)}])" if path in relayed else ""


def relay_settings(top: Reader, mounts: list[MountConfig], live_mount: str = "/live") -> list[tuple[str, str]]:
    relays: list[tuple[str, str]] = []
    own = [m.path for m in mounts if not m.source]
    for i, r in _entries(top, "relays", "{mount: /relay, url: http://upstream:8000/stream}"):
        mount_path, url = r.get("mount", str, ""), r.get("url", str, "")
        try:
            parse_upstream(url)
        except ValueError as exc:
            r.error(("relays", i, "url"), f"relays[{i}].url {exc}")
        if problem := _relay_mount_problem(mount_path, own, live_mount, [m for m, _ in relays]):
            r.error(("relays", i, "mount"), f"relays[{i}].mount: {problem}")
        r.finish()
        relays.append((mount_path, url))
    return relays


def hls_settings(h: Reader) -> HlsConfig:
    """hls: {segment: 4, window: 6, container: ts, parts: 0, variants: [{name: aac64, bitrate: 64}, ...]}"""
    segment = h.get("segment", float, H["segment"], in_range(1, 30))
    window = h.get("window", int, H["window"], in_range(2, 60))
    container = h.get("container", str, H["container"], one_of("ts", "fmp4"))
    parts = h.get("parts", float, H["parts"])
    if parts and not 0.2 <= parts <= segment / 2:
        h.error((*h.path, "parts"), f"hls.parts must be 0 (off) or 0.2 to half the segment ({segment / 2:g}) seconds, not {parts:g}")
    elif parts and container != "ts":
        # hls.js 1.5 misplaces fMP4 parts on its timeline (measured: playback stalls within 10 s)
        h.error((*h.path, "parts"), "hls.parts (low-latency HLS) needs container: ts; with fmp4, hls.js stalls")
    raw = h.raw("variants") or []
    if not isinstance(raw, list):
        h.error((*h.path, "variants"), "hls.variants must be a list like [{name: aac64, bitrate: 64}]")
        raw = []
    variants, names = [], set()
    for i, entry in enumerate(raw):
        v = Reader(h.doc, (*h.path, "variants", i), h.problems, entry if isinstance(entry, dict) else {})
        name = v.get("name", str, "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", name) or name in names:
            message = f"hls.variants[{i}].name must be a unique name of letters, digits, _ and - (it is in the URL), not {name!r}"
            v.error((*v.path, "name"), message)
        names.add(name)
        variants.append(HlsVariantConfig(
            name, v.get("bitrate", int, 64, in_range(16, 320)), v.get("sample_rate", int, 44100, one_of_int(FORMAT_RULES["aac"].rates)),
            v.get("channels", int, 2, in_range(1, 2)),
        ))  # fmt: skip
        v.finish()
    _check_window(h, segment, window)
    if h.data and not variants:  # (an hls: section that makes nothing: said, not silently no HLS)
        none = "hls has no variants: no HLS is made (add variants: [{name: aac64, bitrate: 64}])"
        h.doc.notes.append(h.doc.problem((*h.path, "variants"), none))
    h.finish()
    return HlsConfig(segment, window, container, parts, tuple(variants))


def _check_window(h: Reader, segment: float, window: int) -> None:
    """A live playlist holds at least three target durations (RFC 8216 6.2.2); segments end on
    AAC frames, so `window` of them may fall short of window x segment by a few milliseconds."""
    target = max(1, math.ceil(segment))
    if window * segment - 0.1 < 3 * target:
        needed = math.ceil((3 * target + 0.1) / segment)
        message = (f"hls.window: {window} segments of {segment:g} s hold {window * segment:g} s; a live playlist must hold at least"
                   f" three target durations ({3 * target} s, RFC 8216 6.2.2): use window: {needed} or more")  # fmt: skip
        h.error((*h.path, "window"), message)


def credentials(r: Reader, key: str) -> tuple[tuple[str, str], ...]:
    raw = r.raw(key) or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in raw.values()):
        r.error((*r.path, key), f"{key} must map user names to passwords, e.g. {{tino: a-long-password}}")
        return ()
    return tuple((str(user), str(password)) for user, password in raw.items())
