"""What the web side sees of the station: this narrow interface, not its attributes.

The handlers read documents the station composes (status, now playing, health) and ask it to
act (kill a source, start a bulletin, skip what plays); they never reach into the feeder, the mounts' internals
or the scheduler themselves.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from ..news.desk import NewsDesk
from ..settings import Config
from ..sources.logins import LoginGuard
from ..stream.mount import Mount
from .doc_cache import DocumentCache


class StationPort(Protocol):
    config: Config
    news: NewsDesk
    logins: LoginGuard
    documents: DocumentCache  # public documents shared while flooded (doc_cache.py)

    def status(self) -> dict: ...
    def nowplaying(self, base_url: str) -> dict: ...
    def base_url(self, host_header: str, local: tuple | None = None, scheme: str = "http") -> str: ...
    def client_of(self, peer: str, forwarded_for: str, forwarded: str) -> str: ...
    def scheme_for(self, peer: str, forwarded_proto: str, forwarded: str) -> str: ...
    def mount(self, path: str) -> Mount | None: ...
    def mount_paths(self) -> list[str]: ...
    def live_mounts(self) -> list[Mount]: ...
    def source_user(self, path: str, authorization: str) -> str | None: ...
    def dj_mount(self) -> Mount | None: ...
    def kill_source(self, mount: Mount) -> bool: ...
    def request_bulletin(self) -> dict: ...
    def skip(self) -> dict: ...
    def schedule(self, hours: float, today: bool = False) -> dict | None: ...
    def listener_history(self, hours: float, step: float) -> dict: ...
    async def report(
        self, kind: str, start: str | None, end: str | None, fmt: str, tuning_hours: bool = False
    ) -> tuple[bytes, str, str]: ...
    def metrics(self) -> bytes: ...


STATION: web.AppKey[StationPort] = web.AppKey("station")


def station_of(request: web.Request) -> StationPort:
    return request.app[STATION]


def base_url(request: web.Request) -> str:
    local = request.transport.get_extra_info("sockname") if request.transport else None
    peer = request.transport.get_extra_info("peername") if request.transport else None
    station, headers = station_of(request), request.headers
    proto, forwarded = ", ".join(headers.getall("X-Forwarded-Proto", [])), ", ".join(headers.getall("Forwarded", []))
    return station.base_url(headers.get("Host", ""), local, station.scheme_for(str(peer[0]) if peer else "", proto, forwarded))
