"""What is kept of a listener: the address as `privacy.ip` says, the country from a GeoIP
database when the operator gives one, and the player named from its user agent."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
from pathlib import Path

log = logging.getLogger("streamer.history")


def keep_ip(address: str, mode: str, salt: bytes = b"") -> str:
    """The address as stored (pure): full; truncated (IPv4 /24, IPv6 /48, as analytics tools
    anonymise); hashed (keyed with the station's own secret, so it counts unique listeners
    without being reversible by trying every address); none ('')."""
    if mode == "full":
        return address
    if mode == "none":
        return ""
    if mode == "hashed":
        return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()[:16]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


class GeoIP:
    """Country codes from a MaxMind-format database (GeoLite2-Country, DB-IP, ...): none without one."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.error = ""
        self._reader = None
        if path is None:
            return
        try:
            import maxminddb

            self._reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, ImportError) as exc:  # a missing or broken file: no countries, said once
            self.error = f"{path}: {exc}"
            log.error("geoip.database %s cannot be read (%s); listeners are recorded without a country", path, exc)

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one reader for the process's life
    def country(self, address: str) -> str | None:
        if self._reader is None:
            return None
        try:
            record = self._reader.get(address)
        except (ValueError, TypeError):
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country") or record.get("registered_country") or {}
        code = country.get("iso_code") if isinstance(country, dict) else None
        return str(code) if code else None


# Players the user-agent database does not name, or names wrongly (ffmpeg's libavformat is not WMPlayer).
KNOWN_PLAYERS = (
    ("Lavf/", "FFmpeg"), ("mpv ", "mpv"), ("libmpv", "mpv"), ("NSPlayer", "Windows Media Player"), ("streamer relay", "streamer"),
)  # fmt: skip


@functools.lru_cache(maxsize=8192)
def player(user_agent: str) -> str:
    """A user agent's player or browser family, as reports group them."""
    if not user_agent:
        return "(none)"
    for prefix, name in KNOWN_PLAYERS:
        if user_agent.startswith(prefix):
            return name
    from ua_parser import parse

    family = getattr(parse(user_agent).user_agent, "family", None)
    if family and family != "Other":
        return str(family)
    return user_agent.split("/")[0].split(" ")[0][:40] or "(none)"
