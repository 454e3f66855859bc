"""The station's configuration: `config.yaml` read into the typed settings of settings.py.

Pure apart from `load_config`, which reads the file: every problem is reported as
FILE:LINE:COLUMN with the field at fault, all at once. Each section has its reader; the
defaults are the dataclasses' own (written once, in settings.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config_history import history_settings
from .config_outputs import credentials, hls_settings, mount_settings, push_settings, relay_settings
from .settings import (
    MP3_RATES,
    PASSWORD_ENV,
    Config,
    FeedConfig,
    LoudnessConfig,
    MountConfig,
    Network,
    NewsConfig,
    User,
    is_loopback,
    mount_path_problem,
    parse_network,
    weak_password,
)
from .yamldoc import ConfigError, Doc, Problem, Reader, defaults, in_range, one_of, one_of_int, read_yaml_file

__all__ = ["Config", "ConfigError", "MountConfig", "is_loopback", "load_config", "mount_path_problem", "parse_config", "weak_password"]


C, N, F = defaults(Config), defaults(NewsConfig), defaults(FeedConfig)


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
    station["station_url"] = station["station_url"] or server["public_url"]  # icy-url: the station's own page by default
    audio = _audio(top.section("audio"))
    users = _users(top.section("users"), env)
    mounts = mount_settings(top, station, audio)
    playlists = top.get("playlists", str, "playlists")
    state = top.get("state_dir", str, "state")
    news = _news(top.section("news"), file.parent)
    djs = credentials(top, "djs")
    push = push_settings(top, mounts)
    relays = relay_settings(top, mounts, server["live_mount"])
    hls = hls_settings(top.section("hls"))
    history = history_settings(top, file.parent)
    top.finish()
    if problems:
        raise ConfigError(problems)
    folder = (file.parent / playlists).resolve() if not Path(playlists).is_absolute() else Path(playlists)
    return Config(
        file=file, playlists_dir=folder, playlists_at=doc.at(("playlists",)), state_dir=(file.parent / state).resolve(), users=users,
        mounts=tuple(mounts), news=news,
        push=tuple(push), djs=djs, relays=tuple(relays), hls=hls, history=history, **station, **server, **audio,
        notes=tuple(map(str, dict.fromkeys(doc.notes))),
    )  # fmt: skip


def _station(st: Reader) -> dict[str, Any]:
    station = {f"station_{k}": st.get(k, str, C[f"station_{k}"]) for k in ("name", "description", "genre", "url")}
    st.finish()
    return station


def _server(sv: Reader) -> dict[str, Any]:
    server = dict(
        host=sv.get("host", str, C["host"]),
        port=sv.get("port", int, C["port"], in_range(0, 65535)),
        health_port=sv.get("health_port", int, None, in_range(1, 65535)),
        public_url=sv.get("public_url", str, C["public_url"], link_base).rstrip("/"),
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
        trusted_proxies=_trusted_proxies(sv),
    )
    if server["health_port"] is not None and server["health_port"] == server["port"]:
        sv.error((*sv.path, "health_port"), f"server.health_port must be a port of its own, not server.port ({server['port']})")
        server["health_port"] = None
    sv.finish()
    return server


def link_base(url: str) -> str | None:
    """server.public_url: the base of every link the station gives (pure check)."""
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises on a port that is no number)
    except ValueError:
        return f"the port in {url!r} is not a number"
    if url and (parts.scheme not in ("http", "https") or not parts.hostname):
        return f"must be an http:// or https:// address such as https://radio.example.org, not {url!r}"
    if parts.query or parts.fragment:
        return f"must have no ?query or #fragment (it is the base of every link), not {url!r}"
    return None


def _trusted_proxies(sv: Reader) -> tuple[Network, ...]:
    """server.trusted_proxies: the reverse proxies whose X-Forwarded-For is believed."""
    raw = sv.raw("trusted_proxies", [])
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if items is None:
        sv.error(
            (*sv.path, "trusted_proxies"), "server.trusted_proxies must be an address or network, or a list of them (such as [127.0.0.1])"
        )
        return ()
    networks: list[Network] = []
    for i, item in enumerate(items):
        try:
            networks.append(parse_network(str(item)))
        except ValueError as exc:
            sv.error(
                (*sv.path, "trusted_proxies", i) if isinstance(raw, list) else (*sv.path, "trusted_proxies"),
                f"server.trusted_proxies: {exc}",
            )
    if any(network.prefixlen == 0 for network in networks):  # 0.0.0.0/0, ::/0
        message = "server.trusted_proxies trusts every address: any client can claim to be another (and dodge the login lockout)"
        sv.doc.notes.append(sv.doc.problem((*sv.path, "trusted_proxies"), message))
    return tuple(networks)


def _audio(au: Reader) -> dict[str, Any]:
    audio = dict(
        sample_rate=au.get("sample_rate", int, C["sample_rate"], one_of_int(MP3_RATES)),
        channels=au.get("channels", int, C["channels"], in_range(1, 2)),
        lookahead=au.get("lookahead", float, C["lookahead"], in_range(0.5, 10.0)),
        loudness=_loudness(au),
    )
    au.finish()
    return audio


def _loudness(au: Reader) -> LoudnessConfig:
    """audio.loudness: {target: -16, true_peak: -1, max_gain: 12}, or off."""
    raw = au.raw("loudness")
    if raw is None or raw is True:
        return LoudnessConfig()
    if raw is False or raw == "off":
        return LoudnessConfig(enabled=False)
    if not isinstance(raw, dict):
        au.error((*au.path, "loudness"), "audio.loudness must be off or a mapping like {target: -16, true_peak: -1, max_gain: 12}")
        return LoudnessConfig()
    r = Reader(au.doc, (*au.path, "loudness"), au.problems, raw)
    d = defaults(LoudnessConfig)
    loudness = LoudnessConfig(
        True, r.get("target", float, d["target"], in_range(-40, -5)), r.get("true_peak", float, d["true_peak"], in_range(-9, 0)),
        r.get("max_gain", float, d["max_gain"], in_range(0, 30)),
    )  # fmt: skip
    r.finish()
    return loudness


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
    if not file.exists():
        raise ConfigError([Problem(str(file), 1, 1, "config file not found (pass --config PATH, or run where config.yaml is)")])
    return parse_config(read_yaml_file(file), file, env)


PLAYLISTS_NOT_FOUND = "playlists folder not found"  # (schedule/programme.py's words for a missing folder)


def at_config_line(problems: list[Problem], config: Config) -> list[Problem]:
    """A missing playlists folder said at the config line that names it (it was said at the
    folder's own path, line 1, as if a file there were wrong)."""
    said = f"playlists: folder {config.playlists_dir} not found (make it, or name the folder your playlist files are in)"
    return [
        Problem(str(config.file), *config.playlists_at, said)
        if p.file == str(config.playlists_dir) and p.message == PLAYLISTS_NOT_FOUND
        else p
        for p in problems
    ]
