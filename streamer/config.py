"""The station's configuration: `config.yaml` read into the typed settings of settings.py.

Pure apart from `load_config`, which reads the file: every problem is reported as
FILE:LINE:COLUMN with the field at fault, all at once. Each section has its reader; the
defaults are the dataclasses' own (written once, in settings.py).
"""

from __future__ import annotations

import os
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from .config_history import history_settings
from .settings import (
    MP3_BITRATES,
    MP3_RATES,
    PASSWORD_ENV,
    Config,
    FeedConfig,
    MountConfig,
    NewsConfig,
    User,
    is_loopback,
    mount_path_problem,
    weak_password,
)
from .yamldoc import ConfigError, Doc, Problem, Reader, in_range, one_of

__all__ = ["Config", "ConfigError", "MountConfig", "is_loopback", "load_config", "mount_path_problem", "parse_config", "weak_password"]


def defaults(cls: type) -> dict[str, Any]:
    """A settings dataclass's field defaults, by name."""
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


C, M, N, F = defaults(Config), defaults(MountConfig), defaults(NewsConfig), defaults(FeedConfig)


def one_of_int(choices: tuple[int, ...]):
    def check(v: int) -> str | None:
        return None if v in choices else f"must be one of {', '.join(map(str, choices))}, not {v}"

    return check


def parse_config(text: str, file: Path, env: dict[str, str] | None = None) -> Config:
    """Validate config text. Raises ConfigError listing every problem."""
    env = os.environ if env is None else env
    problems: list[Problem] = []
    doc = Doc(str(file), text)
    if doc.data is not None and not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the config must be a mapping (station:, server:, mounts: ...)")])
    top = Reader(doc, (), problems)
    station = _station(top.section("station"))
    server = _server(top.section("server"))
    audio = _audio(top.section("audio"))
    users = _users(top.section("users"), env)
    mounts = _mounts(top, station, audio)
    playlists = top.get("playlists", str, "playlists")
    state = top.get("state_dir", str, "state")
    news = _news(top.section("news"), file.parent)
    djs = _credentials(top, "djs")
    push = _push(top, mounts)
    relays = _relays(top, mounts)
    history = history_settings(top, file.parent)
    top.finish()
    if problems:
        raise ConfigError(problems)
    folder = (file.parent / playlists).resolve() if not Path(playlists).is_absolute() else Path(playlists)
    return Config(
        file=file, playlists_dir=folder, state_dir=(file.parent / state).resolve(), users=users, mounts=tuple(mounts), news=news,
        push=tuple(push), djs=djs, relays=tuple(relays), history=history, **station, **server, **audio,
    )  # fmt: skip


def _station(st: Reader) -> dict[str, Any]:
    station = {f"station_{k}": st.get(k, str, C[f"station_{k}"]) for k in ("name", "description", "genre", "url")}
    st.finish()
    return station


def _server(sv: Reader) -> dict[str, Any]:
    server = dict(
        host=sv.get("host", str, C["host"]),
        port=sv.get("port", int, C["port"], in_range(0, 65535)),
        public_url=sv.get("public_url", str, C["public_url"]).rstrip("/"),
        max_listeners=sv.get("max_listeners", int, C["max_listeners"], in_range(1, 1_000_000)),
        max_pending=sv.get("max_pending", int, C["max_pending"], in_range(16, 100_000)),
        max_web_clients=sv.get("max_web_clients", int, C["max_web_clients"], in_range(8, 100_000)),
        max_subscribers=sv.get("max_subscribers", int, C["max_subscribers"], in_range(0, 1_000_000)),
        head_timeout=sv.get("head_timeout", float, C["head_timeout"], in_range(1, 120)),
        fanout_interval=sv.get("fanout_interval", float, C["fanout_interval"], in_range(0.02, 2.0)),
        source_timeout=sv.get("source_timeout", float, C["source_timeout"], in_range(1, 600)),
        live_mount=sv.get("live_mount", str, C["live_mount"]),
        live_silence=sv.get("live_silence", float, C["live_silence"], in_range(1, 3600)),
        log_level=sv.get("log_level", str, C["log_level"], one_of("debug", "info", "warning", "error")),
    )
    sv.finish()
    return server


def _audio(au: Reader) -> dict[str, Any]:
    audio = dict(
        sample_rate=au.get("sample_rate", int, C["sample_rate"], one_of_int(MP3_RATES)),
        channels=au.get("channels", int, C["channels"], in_range(1, 2)),
        lookahead=au.get("lookahead", float, C["lookahead"], in_range(0.5, 10.0)),
    )
    au.finish()
    return audio


def _users(us: Reader, env: dict[str, str]) -> dict[str, User]:
    users: dict[str, User] = {}
    for role in ("source", "admin", "relay"):
        u = us.section(role)
        name = u.get("user", str, role)
        password = str(u.get("password", (str, int), "hackme"))
        u.finish()
        users[role] = User(name, env.get(PASSWORD_ENV[role]) or password)
    us.finish()
    return users


def _mounts(top: Reader, station: dict[str, Any], audio: dict[str, Any]) -> list[MountConfig]:
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


def _mount(m: Reader, path: str, station: dict[str, Any], audio: dict[str, Any]) -> MountConfig:
    rate = m.get("sample_rate", int, audio["sample_rate"], one_of_int(MP3_RATES))
    mount = MountConfig(
        path=path,
        bitrate=m.get("bitrate", int, M["bitrate"], one_of_int(MP3_BITRATES)),
        sample_rate=rate,
        channels=m.get("channels", int, audio["channels"], in_range(1, 2)),
        **{k: m.get(k, str, station[f"station_{k}"]) for k in ("name", "description", "genre", "url")},
        public=m.get("public", bool, M["public"]),
        burst_size=m.get("burst_size", int, M["burst_size"], in_range(0, 10_000_000)),
        queue_size=m.get("queue_size", int, M["queue_size"], in_range(16384, 100_000_000)),
        max_listeners=m.get("max_listeners", int, M["max_listeners"], in_range(0, 1_000_000)),
        metaint=m.get("metaint", int, M["metaint"], in_range(256, 65536)),
        source=m.get("source", bool, M["source"]),
        users=_credentials(m, "users"),
        fallback=m.get("fallback", str, M["fallback"]),
    )
    if mount.bitrate > 160 and rate < 32000:
        message = f"mounts.{path}.bitrate: {mount.bitrate} kbit/s is not possible at {rate} Hz (MPEG-2 allows at most 160)"
        m.error((*m.path, "bitrate"), message)
    m.finish()
    return mount


def _entries(top: Reader, key: str, example: str) -> list[tuple[int, Reader]]:
    raw = top.raw(key) or []
    if not isinstance(raw, list):
        top.error((key,), f"{key} must be a list like [{example}]")
        raw = []
    return [(i, Reader(top.doc, (key, i), top.problems, entry if isinstance(entry, dict) else {})) for i, entry in enumerate(raw)]


def _push(top: Reader, mounts: list[MountConfig]) -> list[tuple[str, str]]:
    push = []
    paths = [m.path for m in mounts]
    for i, r in _entries(top, "push", "{mount: /main, url: icecast://source:PASSWORD@host:8000/main}"):
        mount_path, url = r.get("mount", str, ""), r.get("url", str, "")
        if not url.startswith(("icecast://", "http://")):
            r.error(("push", i, "url"), f"push[{i}].url must look like icecast://source:PASSWORD@host:8000/mount, not {url!r}")
        if mount_path not in paths:
            r.error(("push", i, "mount"), f"push[{i}].mount {mount_path!r} is not one of the mounts ({', '.join(paths)})")
        r.finish()
        push.append((mount_path, url))
    return push


def _relays(top: Reader, mounts: list[MountConfig]) -> list[tuple[str, str]]:
    relays = []
    own = [m.path for m in mounts if not m.source]
    for i, r in _entries(top, "relays", "{mount: /relay, url: http://upstream:8000/stream}"):
        mount_path, url = r.get("mount", str, ""), r.get("url", str, "")
        if not url.startswith("http://"):
            r.error(("relays", i, "url"), f"relays[{i}].url must be an http:// stream URL, not {url!r}")
        problem = mount_path_problem(mount_path)
        if problem or mount_path in own:
            r.error(("relays", i, "mount"), f"relays[{i}].mount: {problem or f'{mount_path} is a station mount'}")
        r.finish()
        relays.append((mount_path, url))
    return relays


def _feeds(r: Reader) -> tuple[FeedConfig, ...]:
    raw = r.raw("feeds") or []
    if not isinstance(raw, list):
        r.error((*r.path, "feeds"), "news.feeds must be a list of feeds, e.g. [{url: https://example.org/rss}]")
        raw = []
    feeds = []
    for i, entry in enumerate(raw):
        f = Reader(r.doc, (*r.path, "feeds", i), r.problems, entry if isinstance(entry, dict) else {"url": entry})
        url = f.get("url", str, "")
        if not url.startswith(("http://", "https://")):
            f.error((*f.path, "url"), f"news.feeds[{i}].url must be an http:// or https:// URL, not {url!r}")
        interval = f.get("interval", float, F["interval"], in_range(1, 86400))
        feeds.append(FeedConfig(url, interval, f.get("timeout", float, F["timeout"], in_range(1, 120))))
        f.finish()
    return tuple(feeds)


def _news(r: Reader, base: Path) -> NewsConfig:
    folder = _path(r, "folder", base, "news")
    mastheads = r.raw("mastheads") or []
    b = r.section("bulletin")
    config = NewsConfig(
        folder=folder,
        feeds=_feeds(r),
        mastheads=tuple(str(m) for m in mastheads) if isinstance(mastheads, list) else (str(mastheads),),
        expire_hours=r.get("expire_hours", float, N["expire_hours"], in_range(0.1, 24 * 365)),
        state_file=_path(r, "state_file", base) or (folder / ".headlines.json" if folder else None),
        ticker=r.get("ticker", str, N["ticker"]),
        tts=b.get("tts", str, N["tts"], one_of("auto", "espeak-ng", "off")),
        voice=b.get("voice", str, N["voice"]),
        bulletin_headlines=b.get("headlines", int, N["bulletin_headlines"], in_range(1, 50)),
        intro=_path(b, "intro", base),
        outro=_path(b, "outro", base),
        bed=_path(b, "bed", base),
        audio=_audio_source(b, base),
        audio_refresh=b.get("audio_refresh", float, N["audio_refresh"], in_range(10, 86400)),
        seconds_per_headline=b.get("seconds_per_headline", float, N["seconds_per_headline"], in_range(1, 60)),
        max_seconds=b.get("max_seconds", float, N["max_seconds"], in_range(10, 3600)),
    )
    b.finish()
    r.finish()
    try:
        config.ticker.format(artist="", title="", display="", headline="")
    except (KeyError, IndexError, ValueError) as exc:
        r.error((*r.path, "ticker"), f"news.ticker: unknown placeholder {exc}; use {{artist}} {{title}} {{display}} {{headline}}")
    return config


def _credentials(r: Reader, key: str) -> tuple[tuple[str, str], ...]:
    raw = r.raw(key) or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in raw.values()):
        r.error((*r.path, key), f"{key} must map user names to passwords, e.g. {{tino: a-long-password}}")
        return ()
    return tuple((str(user), str(password)) for user, password in raw.items())


def _audio_source(r: Reader, base: Path) -> str | None:
    value = r.get("audio", str, None)
    if not value:
        return None
    return value if value.startswith(("http://", "https://")) else str((base / value).resolve())


def _path(r: Reader, key: str, base: Path, default: str | None = None) -> Path | None:
    value = r.get(key, str, default)
    return (base / value).resolve() if value else None


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(file), 1, 1, "config file not found (pass --config PATH, or run where config.yaml is)")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(file), 1, 1, f"cannot read config: {exc}")]) from None
    return parse_config(text, file, env)
