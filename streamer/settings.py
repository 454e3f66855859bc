"""The station's settings as typed values, and the rules they follow (pure data).

Every stage may import these: they are the vocabulary the config file is read into
(config.py), with their defaults written once, here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Passwords that ship in examples (ours and Icecast's): fine on loopback, refused in public.
EXAMPLE_PASSWORDS = {"", "hackme", "changeme", "password", "source", "admin", "relay"}
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
COMMON_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


@dataclass(frozen=True, slots=True)
class FormatRule:
    """What a mount of one format takes (pure data, for validation and for the encoders)."""

    name: str
    content_type: str
    bitrates: tuple[int, int] | None  # kbit/s allowed, or None: no bitrate (lossless)
    rates: tuple[int, ...]
    default_bitrate: int
    default_rate: int | None = None  # None: the station's rate


FORMAT_RULES = {
    "mp3": FormatRule("mp3", "audio/mpeg", (32, 320), MP3_RATES, 128),
    "aac": FormatRule("aac", "audio/aac", (8, 320), COMMON_RATES, 96),
    "opus": FormatRule("opus", "audio/ogg", (6, 510), (48000,), 96, 48000),  # Opus always runs at 48 kHz
    "vorbis": FormatRule("vorbis", "audio/ogg", (32, 500), COMMON_RATES, 128),
    "flac": FormatRule("flac", "audio/ogg", None, COMMON_RATES, 0),
}
PASSWORD_ENV = {"source": "STREAMER_SOURCE_PASSWORD", "admin": "STREAMER_ADMIN_PASSWORD", "relay": "STREAMER_RELAY_PASSWORD"}


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password: str


@dataclass(frozen=True, slots=True)
class MountConfig:
    path: str
    bitrate: int = 128  # kbit/s (0 for FLAC, and for a pass-through stream that does not say)
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
    fallback_override: bool = True  # they come back when a source does (Icecast's <fallback-override>)
    format: str = "mp3"  # what the station's encoder makes: mp3 | aac | opus | vorbis | flac

    @property
    def icy_interval(self) -> int:
        """Audio bytes between ICY metadata blocks."""
        return self.metaint or (self.bitrate * 125 if self.bitrate else 16000)


@dataclass(frozen=True, slots=True)
class HlsVariantConfig:
    name: str
    bitrate: int = 64  # kbit/s of AAC-LC
    sample_rate: int = 44100
    channels: int = 2


@dataclass(frozen=True, slots=True)
class HlsConfig:
    segment: float = 4.0  # seconds per segment, on the station's clock
    window: int = 6  # segments in a playlist
    container: str = "ts"  # ts (MPEG-TS, every player) or fmp4 (fragmented MP4 / CMAF: 7 % smaller)
    parts: float = 0.0  # seconds per partial segment (low-latency HLS); 0: off
    variants: tuple[HlsVariantConfig, ...] = ()  # none: no HLS


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


WEBHOOK_EVENTS = ("song_changed", "live_connect", "live_disconnect", "station_offline", "station_online", "listeners_threshold")
IP_PRIVACY = ("full", "truncated", "hashed", "none")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    events: tuple[str, ...] = WEBHOOK_EVENTS
    template: str = ""  # the body with $title, $artist, $listeners ... ($json: the document); empty: the document as JSON
    timeout: float = 5.0  # seconds one delivery may take
    threshold: int = 0  # listeners_threshold fires when the listener count crosses this number


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    keep_days: int = 400  # plays, sessions and headlines older than this are deleted daily
    access_log: Path | None = None  # Icecast's access log; None: none written
    ip: str = "full"  # how listeners' addresses are kept: full | truncated | hashed | none
    geoip: Path | None = None  # a MaxMind .mmdb: a country per listener
    metrics_public: bool = True  # /metrics without credentials (Prometheus scrapes so)
    webhooks: tuple[WebhookConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class LoudnessConfig:
    """audio.loudness: every track, jingle, bulletin and DJ aired at one loudness (EBU R128)."""

    enabled: bool = True
    target: float = -16.0  # LUFS (AzuraCast's and streaming services' level)
    true_peak: float = -1.0  # dBTP: the stream never goes over it
    max_gain: float = 12.0  # dB: the most a quiet track is raised


@dataclass(frozen=True, slots=True)
class Config:
    file: Path
    station_name: str = "streamer"
    station_description: str = ""
    station_genre: str = ""
    station_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    health_port: int | None = None  # a port of its own for /healthz (health_door.py); None: the public port's only
    public_url: str = ""
    max_listeners: int = 20000
    max_pending: int = 1000  # connections still sending their request head (the oldest goes first)
    max_web_clients: int = 500  # API and page requests being answered at once
    max_subscribers: int = 10000  # Server-Sent Events subscribers (open pages)
    head_timeout: float = 10.0  # seconds a client has to send each request head
    trusted_proxies: tuple[Network, ...] = ()  # whose X-Forwarded-For names the client (wire/forwarded.py)
    fanout_interval: float = 0.25
    source_timeout: float = 10.0
    live_mount: str = "/live"  # a DJ here takes over every station mount
    live_silence: float = 15.0  # seconds of silence from a DJ before the schedule resumes
    sample_rate: int = 44100
    channels: int = 2
    lookahead: float = 0.5
    loudness: LoudnessConfig = field(default_factory=LoudnessConfig)
    playlists_dir: Path = Path("playlists")
    playlists_at: tuple[int, int] = (1, 1)  # where config.yaml names it (line, column): a missing folder is said there
    state_dir: Path = Path("state")  # the station's databases (track library, history)
    log_level: str = "info"
    users: dict[str, User] = field(default_factory=dict)
    mounts: tuple[MountConfig, ...] = ()
    news: NewsConfig = field(default_factory=NewsConfig)
    push: tuple[tuple[str, str], ...] = ()  # (mount, icecast://user:password@host:port/mount)
    djs: tuple[tuple[str, str], ...] = ()  # DJ accounts for the live mount (a block may reserve its slot)
    relays: tuple[tuple[str, str], ...] = ()  # (mount, upstream http:// URL)
    hls: HlsConfig = field(default_factory=HlsConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)  # plays, sessions, reports, metrics, webhooks
    notes: tuple[str, ...] = ()  # FILE:LINE:COLUMN: not wrong, worth knowing (an empty value's default)

    def mount(self, path: str) -> MountConfig | None:
        return next((m for m in self.mounts if m.path == path), None)

    def accounts(self) -> list[tuple[str, str]]:
        """Every (user, password) the station knows: the source, admin and relay users, the DJs
        and the mounts' own source users."""
        return [(u.name, u.password) for u in self.users.values()] + list(self.djs) + [a for m in self.mounts for a in m.users]

    def public_passwords(self) -> list[str]:
        """Accounts whose password is an example one (so must not face the network): the
        source, admin and relay users, every DJ, and every mount's own source users."""
        weak = [u.name for u in self.users.values() if u.password in EXAMPLE_PASSWORDS]
        weak += [f"DJ {name}" for name, password in self.djs if weak_password(password)]
        weak += [f"{m.path} user {name}" for m in self.mounts for name, password in m.users if weak_password(password)]
        return weak

    def network_face(self) -> str:
        """How the station faces the network, or "" when only this machine can reach it: a
        public listening address, or a reverse proxy in front (QA: behind the documented nginx,
        on 127.0.0.1, admin:hackme opened the dashboard to anyone)."""
        if not is_loopback(self.host):
            return f"listen on {self.host}"
        if self.trusted_proxies:
            return "serve behind a reverse proxy (server.trusted_proxies)"
        public = urlsplit(self.public_url).hostname
        return f"serve as {self.public_url} (server.public_url)" if public and not is_loopback(public) else ""

    def weak_passwords_refusal(self, face: str) -> str:
        """Why the station will not serve as `face` (network_face) with these passwords, or ""
        (said by serve, which refuses, and by check, which said ok before)."""
        weak = self.public_passwords()
        if not weak or not face:
            return ""
        envs = ", ".join(PASSWORD_ENV[n] for n in weak if n in PASSWORD_ENV)
        return (
            f"{self.file}: refusing to {face} while the {', '.join(weak)} password(s) are example values or shorter than 8"
            f" characters; set users.<name>.password, djs and mounts' users in the config" + (f", or {envs}" if envs else "")
        )


def weak_password(password: str) -> bool:
    """An example password, or one too short to stand a guessing attack from the network."""
    return password in EXAMPLE_PASSWORDS or len(password) < 8


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str) -> Network:
    """An address (a /32 or /128) or a network in CIDR form; ValueError says what is wrong."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network (such as 127.0.0.1, ::1 or 10.0.0.0/8)") from None


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


def is_reserved(path: str) -> bool:
    """One of the server's own pages, which no mount may take."""
    return path in RESERVED_PATHS or any(path == f or path.startswith(f + "/") for f in RESERVED_FOLDERS)


def mount_path_problem(path: str) -> str | None:
    """Why `path` cannot be a mount, or None. One rule for the config, sources and relays."""
    if not _MOUNT_RE.match(path) or path.endswith("/") or path.endswith(PLAYLIST_SUFFIXES):
        return "a mount path looks like /main or /radio.mp3 (letters, digits, . _ ~ -; not ending in / .m3u .pls .xspf)"
    if is_reserved(path):
        return f"{path} is reserved for the server's own pages"
    return None
