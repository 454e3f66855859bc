"""HLS over HTTP, answered by the front door from memory: the master playlist, each variant's
playlist and its segments, with caching a CDN or nginx can use (segments never change: cached
for an hour; a playlist for at most half a segment), ETags and 304s, and CORS for web players.
An expired or future segment is a 404 at once, never a wait; only the next part, which the
playlist names as its preload hint, is held until it airs (as blocking reloads are). A playlist asked for before the
run's first segment exists (the seconds after a start or restart) is held until it does, up to
FIRST_WAIT: a player that was playing rides through the restart instead of meeting 404s, which
hls.js gives up on after two retries (three seconds) and a segment takes four.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import parse_qs

from ..wire.http import kept_response
from .hls import INIT, HlsVariant, master
from .hls_listeners import HlsListeners

PLAYLIST = "application/vnd.apple.mpegurl"
_TEXT = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-cache")]
SEGMENT = {"ts": "video/mp2t", "m4s": "audio/mp4"}
_PATH = re.compile(r"^/hls/(?:live\.m3u8|([A-Za-z0-9_-]{1,40})/(live\.m3u8|init\.mp4|(\d{1,12})(?:\.(\d{1,4}))?\.(ts|m4s)))$")
_NUMBER = re.compile(r"\d{1,12}")
ADVANCE_LIMIT = 2  # segments a blocking reload may ask beyond the newest (RFC 8216bis 6.2.5.2)
FIRST_WAIT = 8.0  # s a playlist request waits for the run's first segment (players allow a playlist 10 s)
STALE_SEGMENTS = 3  # segment durations with nothing published before a variant counts as off air


@dataclass(frozen=True, slots=True)
class Hold:
    """A blocking playlist reload that asks for a part not published yet: the front door keeps
    the request and asks again when `ready` (checked at each publication), or answers `expired`
    after `seconds` (three target durations, as the RFC suggests)."""

    ready: Callable[[], bool]
    seconds: float
    expired: Callable[[], bytes]
    waiters: list[tuple[Callable[[], bool], Callable[[], None], float]]

    def wait(self, wake: Callable[[], None], now: float) -> None:
        self.waiters.append((self.ready, wake, now + self.seconds))


def is_hls(path: str) -> bool:
    return path == "/hls" or path.startswith("/hls/")


class HlsOutput:
    def __init__(self, variants: list[HlsVariant], seconds: float) -> None:
        self.variants = {v.name: v for v in variants}
        self.seconds = seconds
        self.listeners = HlsListeners(seconds)
        self.requests = {"playlist": 0, "segment": 0, "part": 0, "not_found": 0}
        # Playlists change only when a segment (or part) is published, and thousands of players
        # poll them: each is made (and its ETag hashed) once per publication, not per request.
        self._playlists: dict[str, tuple[int, bytes, str]] = {}  # variant → (publications, body, ETag)
        self._master = master(variants).encode()
        self.waiters: list[tuple[Callable[[], bool], Callable[[], None], float]] = []  # held blocking reloads
        self.since = 0.0  # the first publication round (wall clock)

    def off_air(self, now: float) -> list[str]:
        """The variants that have published nothing for STALE_SEGMENTS segment durations (QA: an
        encoder failing again and again left the playlists frozen while /healthz said ok)."""
        stale = STALE_SEGMENTS * self.seconds
        return [f"/hls/{v.name}" for v in self.variants.values() if self.since and now - (v.published_at or self.since) > stale]

    def publish(self, now: float) -> None:
        self.since = self.since or now
        for variant in self.variants.values():
            variant.publish(now)
        self.listeners.sweep(now)
        if self.waiters:
            waiting, self.waiters = self.waiters, []
            for ready, wake, deadline in waiting:
                if ready():
                    wake()
                elif now < deadline:
                    self.waiters.append((ready, wake, deadline))

    def answer(self, method: str, path: str, headers: dict[str, str], client: tuple[str, str], now: float, query: str = "") -> bytes | Hold:
        """A complete HTTP/1.1 response (keep-alive) to one HLS request, or a Hold for a blocking
        reload to answer later. A client answered with a variant's playlist or segment is a
        listener (a 404 is not)."""
        match = _PATH.match(path)
        variant = self.variants.get(match[1]) if match and match[1] else None
        if match is None or (match[1] and variant is None):
            return self._not_found(f"no HLS at {path[:100]} (the master playlist is /hls/live.m3u8)")[1]
        if variant is None:
            return self._ok(method, headers, self._master, PLAYLIST, max(1, int(self.seconds // 2)))[1]
        if match[2] == "live.m3u8" and not variant.segments:
            return self._first_segment(variant)
        if match[2] == "live.m3u8" and variant.part_seconds and query:
            blocked = self._blocking(variant, query)
            if blocked is not None:
                return blocked
        if match[4] is not None and variant.part_seconds and (int(match[3]), int(match[4])) == variant.hint():
            return self._preloaded(variant, int(match[3]), int(match[4]))
        sent, response = self._variant_answer(method, match, variant, headers)
        if sent >= 0 and (who := self.listeners.saw(client[0], client[1], variant.name, now, headers.get("referer", ""))):
            who.sent += sent
        return response

    def _variant_answer(self, method: str, match: re.Match, variant: HlsVariant, headers: dict[str, str]) -> tuple[int, bytes]:
        if match[2] == "live.m3u8":
            self.requests["playlist"] += 1
            body, etag = self.playlist(variant)
            return self._ok(method, headers, body, PLAYLIST, max(1, int(self.seconds // 2)), etag)
        if match[2] == INIT or match[5] != variant.extension:
            if match[2] == INIT and variant.init:
                return self._ok(method, headers, variant.init, SEGMENT["m4s"], 3600, f'"{variant.name}-init"')
            return self._not_found(f"{variant.name} is {variant.container}: its playlist is /hls/{variant.name}/live.m3u8")
        if match[4] is not None:
            piece = variant.part(int(match[3]), int(match[4])) if variant.part_seconds else None
            if piece is None:
                return self._not_found(f"part {match[3]}.{match[4]} of {variant.name} is not available")
            self.requests["part"] += 1
            return self._ok(method, headers, piece.data, SEGMENT[variant.extension], 3600, f'"{variant.name}-{match[3]}.{match[4]}"')
        built = variant.segment(int(match[3]))
        if built is None:
            live = variant.live
            span = f"{live[0].seq}-{live[-1].seq}" if live else "none yet"
            return self._not_found(f"segment {match[3]} of {variant.name} is not available (live now: {span})")
        self.requests["segment"] += 1
        return self._ok(method, headers, built.data, SEGMENT[variant.extension], 3600, f'"{variant.name}-{built.seq}"')

    def _blocking(self, variant: HlsVariant, query: str) -> bytes | Hold | None:
        """A blocking reload (`?_HLS_msn=M[&_HLS_part=P]`): None when the playlist holds what it
        asks for already (answered now), a 400 for a bad or too distant request, else a Hold."""
        fields = parse_qs(query)
        msn_text, part_text = fields.get("_HLS_msn", [None])[0], fields.get("_HLS_part", [None])[0]
        if msn_text is None:
            if part_text is not None:
                return self._bad("_HLS_part needs _HLS_msn")
            return None
        if not _NUMBER.fullmatch(msn_text) or (part_text is not None and not _NUMBER.fullmatch(part_text)):
            return self._bad(f"_HLS_msn and _HLS_part must be whole numbers, not {msn_text[:20]!r}, {str(part_text)[:20]!r}")
        msn, part = int(msn_text), (int(part_text) if part_text is not None else None)
        newest = variant.newest
        if newest is None or msn > newest.seq + ADVANCE_LIMIT:
            edge = "none yet" if newest is None else newest.seq
            return self._bad(f"_HLS_msn={msn} is more than {ADVANCE_LIMIT} segments beyond the newest ({edge})")
        if variant.reached(msn, part):
            return None
        seconds = 3 * math.ceil(self.seconds)
        late = f"segment {msn}{'' if part is None else f' part {part}'} of {variant.name} was not published within {seconds} s"
        expired = lambda: head(503, [("Retry-After", "1"), *_TEXT], (late + "\n").encode())  # noqa: E731
        return Hold(lambda: variant.reached(msn, part), seconds, expired, self.waiters)

    def _preloaded(self, variant: HlsVariant, seq: int, n: int) -> Hold:
        """The playlist's preload hint asked for before it airs: held until it is published (the
        front door then asks again and serves it), or a 404 after three part targets."""
        seconds = 3 * variant.part_target
        late = f"part {seq}.{n} of {variant.name} was not published within {seconds:.1f} s"
        return Hold(lambda: variant.hint() != (seq, n), seconds, lambda: self._not_found(late, retry=True)[1], self.waiters)

    def _first_segment(self, variant: HlsVariant) -> Hold:
        """A playlist request before the variant's first segment: held until it is published, or
        a 404 with Retry-After if it is not within FIRST_WAIT (the encoder is failing)."""
        late = f"{variant.name} has no segment yet (none published within {FIRST_WAIT:g} s): try again in a few seconds"
        return Hold(lambda: bool(variant.segments), FIRST_WAIT, lambda: self._not_found(late, retry=True)[1], self.waiters)

    def _bad(self, message: str) -> bytes:
        return head(400, _TEXT, (message + "\n").encode())

    def playlist(self, variant: HlsVariant) -> tuple[bytes, str]:
        """The variant's playlist as published now, and its ETag."""
        last = variant.published
        cached = self._playlists.get(variant.name)
        if cached is None or cached[0] != last:
            body = variant.playlist().encode()
            cached = self._playlists[variant.name] = (last, body, etag_of(body))
        return cached[1], cached[2]

    def _ok(self, method: str, headers: dict[str, str], body: bytes, content_type: str, max_age: int, etag: str = "") -> tuple[int, bytes]:
        """(body bytes sent, the response): 200, or 304 for a matching If-None-Match."""
        etag = etag or etag_of(body)
        if headers.get("if-none-match") == etag:
            return 0, head(304, [("ETag", etag), ("Cache-Control", f"public, max-age={max_age}")], b"")
        cache = f"public, max-age={max_age}" + (", immutable" if content_type != PLAYLIST else "")
        lines = [("Content-Type", content_type), ("ETag", etag), ("Cache-Control", cache)]
        head_only = method == "HEAD"
        return (0 if head_only else len(body)), head(200, lines, b"" if head_only else body, len(body))

    def _not_found(self, message: str, retry: bool = False) -> tuple[int, bytes]:
        """(-1: no listener, the response)."""
        self.requests["not_found"] += 1
        lines = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-cache")]
        if retry:
            lines.append(("Retry-After", "2"))
        return -1, head(404, lines, (message + "\n").encode())

    def view(self, now: float) -> list[dict]:
        down = self.off_air(now)
        return [
            {"name": v.name, "bitrate": v.bitrate, "url": f"/hls/{v.name}/live.m3u8", "segments": len(v.segments),
             "listeners": self.listeners.count(now, v.name), "on_air": f"/hls/{v.name}" not in down}
            for v in self.variants.values()
        ]  # fmt: skip


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'


def head(status: int, lines: list[tuple[str, str]], body: bytes, length: int | None = None) -> bytes:
    """An HLS answer (kept open), dated now."""
    return kept_response(status, lines, body, formatdate(usegmt=True), length)
