"""Who may change the station through the web side: admin (or a mount's own source)
credentials, from a client that is not locked out, never on behalf of another site.

Browsers say where a request comes from: `Sec-Fetch-Site` (Chromium, Firefox, Safari) and
`Origin` (on POST/DELETE, and on cross-origin fetches). A form on another site posting to us
with the browser's cached Basic credentials carries one of them; curl, source clients and
Icecast tools send neither and are judged by their credentials alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from ..wire.credentials import basic_user, check_basic
from ..wire.http import lockout
from ..wire.text import safe_text
from .port import station_of

log = logging.getLogger("streamer.api")


def cross_site(method: str, headers: dict[str, str], hosts: tuple[str, ...]) -> str | None:
    """Why a request that changes something must be refused as cross-site, or None (pure).
    `hosts` are the names this server answers to (the request's Host, the public URL's)."""
    site = headers.get("sec-fetch-site", "").lower()
    if site and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin", "")
    if origin and origin != "null":
        netloc = urlsplit(origin).netloc.lower()
        if netloc not in {h.lower() for h in hosts if h}:
            return f"cross-site request refused (Origin {safe_text(origin[:100])} is not this server)"
    elif origin == "null" and method not in ("GET", "HEAD", "OPTIONS"):
        return "cross-site request refused (Origin: null)"
    return None


def unauthorized() -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text="You need to authenticate\n", headers={"WWW-Authenticate": 'Basic realm="Icecast2 Server"'})


def client_address(request: web.Request) -> str:
    """Who sent `request`: its connection's address, or the client a trusted proxy names."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    forwarded_for, forwarded = ", ".join(request.headers.getall("X-Forwarded-For", [])), ", ".join(request.headers.getall("Forwarded", []))
    return station_of(request).client_of(str(peer[0]) if peer else "?", forwarded_for, forwarded)


def top_level_page(method: str, headers: dict[str, str]) -> bool:
    """A browser opening a page in its tab (a link or a bookmark), not a fetch, form, image or
    frame: harmless from another site when the page itself changes nothing (pure)."""
    return method == "GET" and headers.get("sec-fetch-mode") == "navigate" and headers.get("sec-fetch-dest") == "document"


async def authorised(request: web.Request, check: Callable[[str], bool], page: bool = False) -> None:
    """Credentials that `check` accepts, from a client that is not locked out, not cross-site
    (a `page` that changes nothing may be opened from a link on another site)."""
    station = station_of(request)
    hosts = (request.headers.get("Host", ""), urlsplit(station.config.public_url).netloc)
    headers = {k.lower(): v for k, v in request.headers.items()}
    refusal = cross_site(request.method, headers, hosts)
    if refusal and not (page and top_level_page(request.method, headers)):
        log.warning("%s %s from %s: %s", request.method, request.path[:100], client_address(request), refusal)
        raise web.HTTPForbidden(text=refusal + "\n")
    address, now = client_address(request), time.monotonic()
    locked = station.logins.locked(address, now)
    if locked:
        message, wait = lockout(address, locked)
        raise web.HTTPTooManyRequests(text=message + "\n", headers={"Retry-After": wait})
    header = request.headers.get("Authorization", "")
    if check(header):
        station.logins.succeeded(address)
        return
    if header and any(check_basic(header, user, password) for user, password in station.config.accounts()):
        # Good credentials of another kind (the relay user on listclients): refused, but no
        # guess, so not a step toward the lockout that would shut the operator out too.
        log.warning("%s %s from %s: these credentials are not allowed here", request.method, request.path[:100], address)
        await asyncio.sleep(station.logins.delay(address, now))  # timed as a failure: no hint the password is right
        raise unauthorized()
    if header:
        delay, count = station.logins.failed(address, now)
        who = basic_user(header)
        log.warning(
            "login as %r refused for %s %s from %s (%d failed in the last minute)", who, request.method, request.path[:100], address, count
        )
        await asyncio.sleep(delay)
    raise unauthorized()


async def admin_or(request: web.Request, *roles: str, page: bool = False) -> None:
    """Admin credentials, or those of one of `roles` (the relay user reads the stream list)."""
    users = station_of(request).config.users

    def check(header: str) -> bool:
        return any(check_basic(header, users[r].name, users[r].password) for r in ("admin", *roles))

    await authorised(request, check, page)


async def admin_or_source_of(request: web.Request, path: str) -> None:
    """Admin credentials, or the source credentials of mount `path` (a DJ may set titles on, list
    or move their own mount's listeners, and nobody else's)."""
    station = station_of(request)
    admin = station.config.users["admin"]
    await authorised(request, lambda h: check_basic(h, admin.name, admin.password) or station.source_user(path, h) is not None)
