"""CORS for the public, read-only answers (streams, HLS, now-playing): who may read them from a
page, which headers a preflight allows, and what a browser script may see. Pure: strings in, header
lines out."""

from __future__ import annotations

import re

CORS_EXPOSE = "icy-br, icy-description, icy-genre, icy-metaint, icy-name, icy-pub, icy-url, ice-audio-info"

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def safe_origin(origin: str | None) -> str | None:
    """An `Origin` we may echo back: scheme://host[:port] only (never a CR, LF or anything else
    that would end up inside our response head)."""
    return origin if origin and len(origin) <= 300 and _ORIGIN.match(origin) else None


CORS_HEADERS = ("Origin", "Accept", "X-Requested-With", "Content-Type", "Icy-MetaData", "Range")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")


def allowed_headers(requested: str | None) -> str:
    """The headers a preflight allows: ours, and those the page asks for (`Cache-Control` on a
    now-playing poll, `Last-Event-ID` from an EventSource polyfill). Every path that gets a
    preflight is public and read-only, and no credentials are allowed, so any header is
    harmless; only well-formed header names are echoed, at most 20."""
    known = {name.lower() for name in CORS_HEADERS}
    asked = [name.strip() for name in (requested or "")[:2000].split(",")]
    extra = list(dict.fromkeys(name for name in asked if _HEADER_NAME.match(name) and name.lower() not in known))
    return ", ".join([*CORS_HEADERS, *extra[:20]])


def cors(origin: str | None, requested: str | None = None) -> list[tuple[str, str]]:
    echoed = safe_origin(origin)
    lines = [
        ("Access-Control-Allow-Origin", echoed or "*"),
        ("Access-Control-Allow-Headers", allowed_headers(requested)),
        ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
        ("Access-Control-Expose-Headers", CORS_EXPOSE),
    ]
    if echoed:  # the answer depends on who asked: a cache in front must not give it to another site
        lines.append(("Vary", "Origin, Access-Control-Request-Headers" if requested else "Origin"))
    return lines
