"""HLS players as listeners (pure: times are passed in). A player has no connection to follow,
so a listener is a client (address and user agent) seen within two segment durations
(AzuraCast's rule), and its session runs from its first request until one segment after its
last one (the audio it fetched last lasts that long). Sessions start and end through the two
hooks, which the station points at its history, so HLS listeners are remembered, reported and
paid for as Icecast listeners are."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_CLIENTS = 100_000  # clients followed at once: more (a flood of invented user agents) are answered, not followed
SWEEP_EVERY = 1.0  # seconds between looks for players that went quiet


@dataclass(slots=True)
class HlsClient:
    """One HLS player's session, with the fields the history records for any listener."""

    id: str
    address: str
    user_agent: str
    referer: str
    variant: str  # the one it asks for now (a player may switch; the session stays one)
    first: float
    last: float
    sent: int = 0  # bytes of playlists and segments answered 200
    reason: str = "left"
    asked: dict[str, float] = field(default_factory=dict)  # variant -> when it was last asked for

    @property
    def request(self) -> str:
        return f"GET /hls/{self.variant}/live.m3u8 HTTP/1.1"


Hook = Callable[[HlsClient, float], None]


class HlsListeners:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.span = 2 * seconds
        self.seen: dict[tuple[str, str], HlsClient] = {}
        self.on_start: Hook | None = None  # (client, its first request's time)
        self.on_end: Hook | None = None  # (client, when its session ended)
        self._ids = itertools.count(1)
        self._next_sweep = 0.0

    def saw(self, address: str, agent: str, variant: str, now: float, referer: str = "") -> HlsClient | None:
        """A request from this client: its session (a new one if it was not seen within the
        span), or None when MAX_CLIENTS are followed already."""
        key = (address, agent[:200])
        client = self.seen.get(key)
        if client is not None and now - client.last > self.span:
            self._end(key, client)  # back after a silence: that session ended, a new one starts
            client = None
        if client is not None:
            client.last, client.variant = now, variant
            client.asked[variant] = now
            return client
        if len(self.seen) >= MAX_CLIENTS:
            self.sweep(now)  # still at most once a second: a flood of new clients costs no sweep each
            if len(self.seen) >= MAX_CLIENTS:
                return None
        client = self.seen[key] = HlsClient(
            f"hls-{next(self._ids)}", address, key[1], referer[:500], variant, now, now, asked={variant: now}
        )
        if self.on_start is not None:
            self.on_start(client, now)
        return client

    def sweep(self, now: float) -> None:
        """End the sessions of clients not seen within the span (at most once a second)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_EVERY
        for key in [k for k, c in self.seen.items() if now - c.last > self.span]:
            self._end(key, self.seen[key])

    def _end(self, key: tuple[str, str], client: HlsClient) -> None:
        del self.seen[key]
        if self.on_end is not None:
            self.on_end(client, client.last + self.seconds)

    def count(self, now: float, variant: str | None = None) -> int:
        """Clients seen within the span; of a variant, those that asked for it within the span (two
        players behind one address and user agent on two variants are one listener, on each:
        QA found one of the variants at 0 while it was polled)."""
        if variant is None:
            return sum(1 for c in self.seen.values() if now - c.last <= self.span)
        return sum(1 for c in self.seen.values() if now - c.asked.get(variant, -math.inf) <= self.span)
