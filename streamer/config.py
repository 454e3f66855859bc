"""The station's configuration: `config.yaml` read into typed, validated settings.

Pure apart from `load_config`, which reads the file: every problem is reported as
FILE:LINE:COLUMN with the field at fault, all at once.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .yamldoc import ConfigError, Doc, Problem, Reader, in_range, one_of

# Passwords that ship in examples (ours and Icecast's): fine on loopback, refused in public.
EXAMPLE_PASSWORDS = {"", "hackme", "changeme", "password", "source", "admin", "relay"}
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
PASSWORD_ENV = {"source": "STREAMER_SOURCE_PASSWORD", "admin": "STREAMER_ADMIN_PASSWORD", "relay": "STREAMER_RELAY_PASSWORD"}


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password: str


@dataclass(frozen=True, slots=True)
class MountConfig:
    path: str
    bitrate: int = 128
    sample_rate: int = 44100
    channels: int = 2
    name: str = ""
    description: str = ""
    genre: str = ""
    url: str = ""
    public: bool = False
    burst_size: int = 65536
    queue_size: int = 512000
    max_listeners: int = 10000
    metaint: int = 0  # 0: about one second of audio (bitrate x 125 bytes), so titles change promptly
    source: bool = False  # fed by a source client (pass-through), not by the station's encoder
    users: tuple[tuple[str, str], ...] = ()  # source credentials for this mount only (replace the global ones)
    fallback: str | None = None  # where this mount's listeners go when its source drops

    @property
    def icy_interval(self) -> int:
        """Audio bytes between ICY metadata blocks."""
        return self.metaint or (self.bitrate * 125 if self.bitrate else 16000)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str
    interval: float = 300.0  # seconds between polls
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class NewsConfig:
    folder: Path | None = None  # saved articles (.txt, .md)
    feeds: tuple[FeedConfig, ...] = ()
    mastheads: tuple[str, ...] = ()  # site names to never take for a headline
    expire_hours: float = 24.0
    state_file: Path | None = None  # headlines kept across restarts
    ticker: str = "{display}"  # StreamTitle for music; {artist} {title} {display} {headline}
    tts: str = "auto"  # auto | espeak-ng | off
    voice: str = "en"
    bulletin_headlines: int = 5
    intro: Path | None = None
    outro: Path | None = None
    bed: Path | None = None  # played under headlines read as titles when there is no TTS
    audio: str | None = None  # a pre-recorded bulletin: a file, or a URL fetched ahead of air time
    audio_refresh: float = 300.0  # seconds between fetches of an audio URL
    seconds_per_headline: float = 6.0
    max_seconds: float = 300.0  # a bulletin's news never runs longer, however long the summaries


@dataclass(frozen=True, slots=True)
class Config:
    file: Path
    station_name: str = "streamer"
    station_description: str = ""
    station_genre: str = ""
    station_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""
    max_listeners: int = 20000
    max_pending: int = 1000  # connections still sending their request head (the oldest goes first)
    max_web_clients: int = 500  # API and page requests being answered at once
    max_subscribers: int = 10000  # Server-Sent Events subscribers (open pages)
    head_timeout: float = 10.0  # seconds a client has to send each request head
    fanout_interval: float = 0.25
    source_timeout: float = 10.0
    live_mount: str = "/live"  # a DJ here takes over every station mount
    live_silence: float = 15.0  # seconds of silence from a DJ before the schedule resumes
    sample_rate: int = 44100
    channels: int = 2
    lookahead: float = 0.6
    playlists_dir: Path = Path("playlists")
    log_level: str = "info"
    users: dict[str, User] = field(default_factory=dict)
    mounts: tuple[MountConfig, ...] = ()
    news: NewsConfig = field(default_factory=NewsConfig)
    push: tuple[tuple[str, str], ...] = ()  # (mount, icecast://user:password@host:port/mount)
    djs: tuple[tuple[str, str], ...] = ()  # DJ accounts for the live mount (a block may reserve its slot)
    relays: tuple[tuple[str, str], ...] = ()  # (mount, upstream http:// URL)

    def mount(self, path: str) -> MountConfig | None:
        return next((m for m in self.mounts if m.path == path), None)

    def public_passwords(self) -> list[str]:
        """Accounts whose password is an example one (so must not face the network): the
        source, admin and relay users, every DJ, and every mount's own source users."""
        weak = [u.name for u in self.users.values() if u.password in EXAMPLE_PASSWORDS]
        weak += [f"DJ {name}" for name, password in self.djs if weak_password(password)]
        weak += [f"{m.path} user {name}" for m in self.mounts for name, password in m.users if weak_password(password)]
        return weak


def weak_password(password: str) -> bool:
    """An example password, or one too short to stand a guessing attack from the network."""
    return password in EXAMPLE_PASSWORDS or len(password) < 8


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_MOUNT_RE = re.compile(r"^/[A-Za-z0-9._~-][A-Za-z0-9._~/-]{0,199}$")
# The server's own pages: no mount (from the config, a source client or a relay) may take them.
RESERVED_FOLDERS = ("/api", "/admin", "/hls", "/static", "/metrics", "/embed")
RESERVED_PATHS = ("/", "/healthz", "/status-json.xsl", "/status.xsl", "/favicon.ico", "/robots.txt")
PLAYLIST_SUFFIXES = (".m3u", ".m3u8", ".pls", ".xspf")


def mount_path_problem(path: str) -> str | None:
    """Why `path` cannot be a mount, or None. One rule for the config, sources and relays."""
    if not _MOUNT_RE.match(path) or path.endswith("/") or path.endswith(PLAYLIST_SUFFIXES):
        return "a mount path looks like /main or /radio.mp3 (letters, digits, . _ ~ -; not ending in / .m3u .pls .xspf)"
    if path in RESERVED_PATHS or any(path == f or path.startswith(f + "/") for f in RESERVED_FOLDERS):
        return f"{path} is reserved for the server's own pages"
    return None


def parse_config(text: str, file: Path, env: dict[str, str] | None = None) -> Config:
    """Validate config text. Raises ConfigError listing every problem."""
    env = os.environ if env is None else env
    problems: list[Problem] = []
    doc = Doc(str(file), text)
    if doc.data is not None and not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the config must be a mapping (station:, server:, mounts: ...)")])
    top = Reader(doc, (), problems)
    st = top.section("station")
    station = dict(
        station_name=st.get("name", str, "streamer"),
        station_description=st.get("description", str, ""),
        station_genre=st.get("genre", str, ""),
        station_url=st.get("url", str, ""),
    )
    st.finish()

    sv = top.section("server")
    server = dict(
        host=sv.get("host", str, "127.0.0.1"),
        port=sv.get("port", int, 8000, in_range(0, 65535)),
        public_url=sv.get("public_url", str, "").rstrip("/"),
        max_listeners=sv.get("max_listeners", int, 20000, in_range(1, 1_000_000)),
        max_pending=sv.get("max_pending", int, 1000, in_range(16, 100_000)),
        max_web_clients=sv.get("max_web_clients", int, 500, in_range(8, 100_000)),
        max_subscribers=sv.get("max_subscribers", int, 10000, in_range(0, 1_000_000)),
        head_timeout=sv.get("head_timeout", float, 10.0, in_range(1, 120)),
        fanout_interval=sv.get("fanout_interval", float, 0.25, in_range(0.02, 2.0)),
        source_timeout=sv.get("source_timeout", float, 10.0, in_range(1, 600)),
        live_mount=sv.get("live_mount", str, "/live"),
        live_silence=sv.get("live_silence", float, 15.0, in_range(1, 3600)),
        log_level=sv.get("log_level", str, "info", one_of("debug", "info", "warning", "error")),
    )
    sv.finish()

    au = top.section("audio")
    audio = dict(
        sample_rate=au.get("sample_rate", int, 44100, one_of_int(MP3_RATES)),
        channels=au.get("channels", int, 2, in_range(1, 2)),
        lookahead=au.get("lookahead", float, 0.6, in_range(0.5, 10.0)),
    )
    au.finish()

    users: dict[str, User] = {}
    us = top.section("users")
    for role in ("source", "admin", "relay"):
        u = us.section(role)
        name = u.get("user", str, role)
        password = str(u.get("password", (str, int), "hackme"))
        u.finish()
        if env.get(PASSWORD_ENV[role]):
            password = env[PASSWORD_ENV[role]]
        users[role] = User(name, password)
    us.finish()

    mounts: list[MountConfig] = []
    raw_mounts = top.raw("mounts")
    if raw_mounts is None:
        raw_mounts = {"/main": {}}
    if not isinstance(raw_mounts, dict) or not raw_mounts:
        top.error(("mounts",), "mounts must map mount paths to their settings, e.g. '/main: {bitrate: 128}'")
        raw_mounts = {}
    for path, _ in raw_mounts.items():
        where = ("mounts", path)
        problem = mount_path_problem(str(path))
        if problem:
            top.error(where, f"mounts.{path}: {problem}", key=True)
            continue
        m = Reader(doc, where, problems, raw_mounts[path] or {})
        rate = m.get("sample_rate", int, audio["sample_rate"], one_of_int(MP3_RATES))
        mounts.append(
            MountConfig(
                path=str(path),
                bitrate=m.get("bitrate", int, 128, one_of_int(MP3_BITRATES)),
                sample_rate=rate,
                channels=m.get("channels", int, audio["channels"], in_range(1, 2)),
                name=m.get("name", str, station["station_name"]),
                description=m.get("description", str, station["station_description"]),
                genre=m.get("genre", str, station["station_genre"]),
                url=m.get("url", str, station["station_url"]),
                public=m.get("public", bool, False),
                burst_size=m.get("burst_size", int, 65536, in_range(0, 10_000_000)),
                queue_size=m.get("queue_size", int, 512000, in_range(16384, 100_000_000)),
                max_listeners=m.get("max_listeners", int, 10000, in_range(0, 1_000_000)),
                metaint=m.get("metaint", int, 0, in_range(256, 65536)),
                source=m.get("source", bool, False),
                users=_credentials(m, "users"),
                fallback=m.get("fallback", str, None),
            )
        )
        if mounts[-1].bitrate > 160 and rate < 32000:
            m.error(
                (*where, "bitrate"),
                f"mounts.{path}.bitrate: {mounts[-1].bitrate} kbit/s is not possible at {rate} Hz (MPEG-2 allows at most 160)",
            )
        m.finish()

    paths = [m.path for m in mounts]
    for m in mounts:
        if m.fallback is not None and (m.fallback not in paths or m.fallback == m.path):
            top.error(("mounts", m.path, "fallback"), f"mounts.{m.path}.fallback {m.fallback!r} must be another mount ({', '.join(paths)})")
    if mounts and all(m.source for m in mounts):
        top.error(("mounts",), "at least one mount must be the station's own (source: false) for the schedule to play on")
    playlists = top.get("playlists", str, "playlists")
    news = _news(top.section("news"), file.parent)
    djs = _credentials(top, "djs")
    push = []
    raw_push = top.raw("push") or []
    if not isinstance(raw_push, list):
        top.error(("push",), "push must be a list like [{mount: /main, url: icecast://source:PASSWORD@host:8000/main}]")
        raw_push = []
    for i, entry in enumerate(raw_push):
        r = Reader(doc, ("push", i), problems, entry if isinstance(entry, dict) else {})
        mount_path = r.get("mount", str, "")
        url = r.get("url", str, "")
        if not url.startswith(("icecast://", "http://")):
            r.error(("push", i, "url"), f"push[{i}].url must look like icecast://source:PASSWORD@host:8000/mount, not {url!r}")
        if mount_path not in [m.path for m in mounts]:
            r.error(("push", i, "mount"), f"push[{i}].mount {mount_path!r} is not one of the mounts ({', '.join(m.path for m in mounts)})")
        r.finish()
        push.append((mount_path, url))
    relays = []
    raw_relays = top.raw("relays") or []
    if not isinstance(raw_relays, list):
        top.error(("relays",), "relays must be a list like [{mount: /relay, url: http://upstream:8000/stream}]")
        raw_relays = []
    for i, entry in enumerate(raw_relays):
        r = Reader(doc, ("relays", i), problems, entry if isinstance(entry, dict) else {})
        mount_path = r.get("mount", str, "")
        url = r.get("url", str, "")
        if not url.startswith("http://"):
            r.error(("relays", i, "url"), f"relays[{i}].url must be an http:// stream URL, not {url!r}")
        problem = mount_path_problem(mount_path)
        if problem or mount_path in [m.path for m in mounts if not m.source]:
            r.error(("relays", i, "mount"), f"relays[{i}].mount: {problem or f'{mount_path} is a station mount'}")
        r.finish()
        relays.append((mount_path, url))
    top.finish()
    if problems:
        raise ConfigError(problems)
    base = file.parent
    return Config(
        file=file,
        playlists_dir=(base / playlists).resolve() if not Path(playlists).is_absolute() else Path(playlists),
        users=users,
        mounts=tuple(mounts),
        news=news,
        push=tuple(push),
        djs=djs,
        relays=tuple(relays),
        **station,
        **server,
        **audio,
    )


def _news(r: Reader, base: Path) -> NewsConfig:
    def path(key: str, default: str | None = None) -> Path | None:
        value = r.get(key, str, default)
        return None if not value else (base / value).resolve()

    feeds = []
    raw = r.raw("feeds") or []
    if not isinstance(raw, list):
        r.error((*r.path, "feeds"), "news.feeds must be a list of feeds, e.g. [{url: https://example.org/rss}]")
        raw = []
    for i, entry in enumerate(raw):
        f = Reader(r.doc, (*r.path, "feeds", i), r.problems, entry if isinstance(entry, dict) else {"url": entry})
        url = f.get("url", str, "")
        if not url.startswith(("http://", "https://")):
            f.error((*f.path, "url"), f"news.feeds[{i}].url must be an http:// or https:// URL, not {url!r}")
        feeds.append(FeedConfig(url, f.get("interval", float, 300.0, in_range(1, 86400)), f.get("timeout", float, 10.0, in_range(1, 120))))
        f.finish()
    mastheads = r.raw("mastheads") or []
    folder = path("folder", "news")
    bulletin = r.section("bulletin")
    config = NewsConfig(
        folder=folder,
        feeds=tuple(feeds),
        mastheads=tuple(str(m) for m in mastheads) if isinstance(mastheads, list) else (str(mastheads),),
        expire_hours=r.get("expire_hours", float, 24.0, in_range(0.1, 24 * 365)),
        state_file=path("state_file") or (folder / ".headlines.json" if folder else None),
        ticker=r.get("ticker", str, "{display}"),
        tts=bulletin.get("tts", str, "auto", one_of("auto", "espeak-ng", "off")),
        voice=bulletin.get("voice", str, "en"),
        bulletin_headlines=bulletin.get("headlines", int, 5, in_range(1, 50)),
        intro=_opt_path(bulletin, "intro", base),
        outro=_opt_path(bulletin, "outro", base),
        bed=_opt_path(bulletin, "bed", base),
        audio=_audio_source(bulletin, base),
        audio_refresh=bulletin.get("audio_refresh", float, 300.0, in_range(10, 86400)),
        seconds_per_headline=bulletin.get("seconds_per_headline", float, 6.0, in_range(1, 60)),
        max_seconds=bulletin.get("max_seconds", float, 300.0, in_range(10, 3600)),
    )
    bulletin.finish()
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


def _opt_path(r: Reader, key: str, base: Path) -> Path | None:
    value = r.get(key, str, None)
    return (base / value).resolve() if value else None


def one_of_int(choices: tuple[int, ...]):
    def check(v: int) -> str | None:
        return None if v in choices else f"must be one of {', '.join(map(str, choices))}, not {v}"

    return check


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(str(file), 1, 1, "config file not found (pass --config PATH, or run where config.yaml is)")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(file), 1, 1, f"cannot read config: {exc}")]) from None
    return parse_config(text, file, env)
