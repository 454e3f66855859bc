"""The station's memory as it happens: every item whose title reaches listeners (a play),
every listener's session, every headline read, the audience minute by minute.

Nothing here waits: the hooks run on the event loop in microseconds and only queue rows
(`Store.write`); the store's own thread commits them in one batch every half second, then stamps
the time (the heartbeat: upkeep.last_heartbeat), so a `kill -9` loses at most that half second,
and what it left open is closed at the next start at the heartbeat. A play counts as heard by a
session when any of its audio reached it (a new listener's burst has the last item's end).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import TYPE_CHECKING

from ..audio.onair import NowPlaying, OnAir
from ..settings import Config
from ..state import Store
from ..ticks import sleep_on_grid
from . import schema
from .accesslog import AccessLog, access_line, recovered_lines
from .audience import STATION, Audience
from .heard import Credits, burst_reach
from .privacy import GeoIP, keep_ip
from .records import Play, Session, Who, announced_item, play_fields
from .upkeep import prune, recover

if TYPE_CHECKING:
    from ..stream.gate import TurnedAway
    from ..stream.hls_listeners import HlsClient
    from ..stream.listener import Listener
    from ..stream.mount import Mount

log = logging.getLogger("streamer.history")

COMMIT_EVERY = 0.5  # seconds between batches (and heartbeats)
SESSION_BYTES_EVERY = 10.0  # seconds between saves of the open sessions' bytes (for a kill -9)
# Seconds between saves of the minute in progress and of the heartbeat's row: each batch's rows put their pages
# in the WAL (both in every batch: 24 KB/s, 2.1 GB a day, of writes). After a kill -9, upkeep.fill_audience makes it up.
AUDIENCE_EVERY = 10.0
PRUNE_FIRST, PRUNE_EVERY = 60.0, 86400.0
FLASH = 0.5  # seconds: a scheduled play shorter than this is not kept (nothing anyone heard)
STOPPED = "server stop"  # the reason a session ends at a clean stop


class History:
    def __init__(self, config: Config) -> None:
        h = config.history
        self.store = Store(config.state_dir / "history.sqlite", schema.MIGRATIONS)
        self.ip_mode, self.salt, self.keep_days = h.ip, b"", h.keep_days
        self.geo = GeoIP(h.geoip)
        self.access = AccessLog(h.access_log) if h.access_log else None
        self.sessions: dict[int | str, Session] = {}  # by listener id (HLS players': "hls-<n>")
        self.hls_open: dict[str, int] = {}  # open HLS sessions by /hls/<variant>, for the audience minutes
        self.credits = Credits(burst_reach(config))  # the listeners on the station's own mounts, and the plays they heard
        self.play: Play | None = None
        self.audience = Audience()
        self._last_id = int(time.time() * 1000)  # ids stay unique across runs even when the file cannot be read
        self._first_id = self._last_id + 1
        self._last_item: NowPlaying | None = None
        self._reopened = 0  # the store's reopened count when the open rows were last written
        self.recovered: dict | None = None
        self._bytes_saved = self._audience_saved = 0.0  # when the open sessions' bytes, the minute in progress were saved last

    def _id(self) -> int:
        self._last_id = max(self._last_id + 1, int(time.time() * 1000))
        return self._last_id

    # --- start and stop ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Before the first listener: close what a crash left open, learn the ids in use."""
        await self._recover()

    async def _recover(self) -> None:
        try:
            found = await self.store.run(recover, self._first_id)
        except sqlite3.Error:
            return  # shown in status(); tried again with every batch until it works
        closed, (minute, rows) = found.pop("closed"), found.pop("audience")
        self.audience.resume(minute, rows, time.time(), self._minute)  # the minute it stopped in goes on
        if self.access is not None:  # they had no line yet: they get it now, ended at the heartbeat like their rows
            for line in recovered_lines(closed):
                self.access.add(line)
        self.recovered = found
        self.salt = found["salt"].encode()
        if self._last_id < self._first_id:  # no id handed out yet: continue above the file's
            self._last_id = max(self._last_id, found["max_id"])
            self._first_id = self._last_id + 1
        if found["sessions_closed"] or found["plays_closed"]:
            log.warning(
                "history: the last run stopped without closing %d session(s) and %d play(s); closed at its last heartbeat",
                found["sessions_closed"], found["plays_closed"],
            )  # fmt: skip

    async def commit(self, final: bool = False) -> None:
        """Queue the open play's counts (and every AUDIENCE_EVERY, at a new minute's first batch and when
        `final`, the audience and a heartbeat row); commit the batch and stamp the heartbeat. Not before
        the recovery has read the last run's heartbeat: it would read this run's."""
        now = time.time()
        recovered = self.recovered is not None
        if final or now >= self._audience_saved + AUDIENCE_EVERY or now // 60 != self._audience_saved // 60:  # (fill_audience)
            self._audience_saved = now
            self.audience.checkpoint(now, self._minute)
            if recovered:
                self.store.write(schema.HEARTBEAT, (repr(now),))
        play = self.play
        if play is not None and play.dirty:
            self.store.write(schema.UPDATE_PLAY_COUNTS, (play.unique, play.left, play.id))
            play.dirty = False
        if now >= self._bytes_saved + SESSION_BYTES_EVERY:
            self._bytes_saved = now
            for session in self.sessions.values():
                if session.listener.sent != session.saved:
                    session.saved = session.listener.sent
                    self.store.write(schema.SESSION_BYTES, (session.saved, now, session.id))
        await self.store.flush(stamp=now if recovered else None)
        if self.store.reopened != self._reopened:  # the file was deleted and made afresh: what is open goes in again
            self._reopened = self.store.reopened
            for session in self.sessions.values():
                self.store.write(schema.INSERT_SESSION, session.row)
            if self.play is not None:
                self.store.write(schema.INSERT_PLAY, self.play.row)
                self.play.dirty = True  # (its counts now)
        if not recovered:
            await self._recover()

    async def writing(self) -> None:
        while True:
            await sleep_on_grid(COMMIT_EVERY)
            await self.commit()

    async def pruning(self) -> None:
        """Delete what is older than keep_days: soon after the start, then daily."""
        await asyncio.sleep(PRUNE_FIRST)
        while True:
            try:
                deleted = await self.store.run(prune, time.time() - self.keep_days * 86400)
                if deleted:
                    log.info("history: %d row(s) older than %d days deleted", deleted, self.keep_days)
            except sqlite3.Error:
                pass  # shown in status()
            await asyncio.sleep(PRUNE_EVERY)

    async def close(self) -> None:
        """A clean stop: every session and the play on air end now, all of it committed."""
        now = time.time()
        for session in list(self.sessions.values()):
            session.listener.reason = STOPPED
            self._end_session(session.listener, now)
        if self.play is not None:
            self._close_play(self.play, now)
            self.play = None
        await self.commit(final=True)
        await self.store.close()
        if self.access is not None:
            await self.access.close()

    # --- listeners (the mounts' hook) ---------------------------------------------------------------

    def listener_changed(self, mount: Mount, listener: Listener, joined: bool) -> None:
        now = time.time()
        if not joined and listener.closed:
            now = listener.went_at(now)  # when it went, not when a write found it gone
        self.audience.set(mount.path, mount.present, now, self._minute)
        if joined:
            if listener.id not in self.sessions:
                self._start_session(mount, listener, now)
        elif listener.closed:
            self._end_session(listener, now)

    def _start_session(self, mount: Mount, listener: Listener, now: float) -> None:
        kbps = mount.info.bitrate or 0
        burst = (mount.buffer.end - listener.pos) / (kbps * 125) if kbps else 0.0
        self._open_session(listener, mount.path, not mount.passthrough, kbps, burst, now)

    def _open_session(self, who: Who, path: str, own: bool, kbps: int, burst: float, now: float) -> None:
        """A session starts; it heard the plays that aired up to `burst` seconds before now."""
        address = who.address
        session = Session(self._id(), now, own, keep_ip(address, self.ip_mode, self.salt), who, path)
        self.sessions[who.id] = session
        country = self.geo.country(address)
        session.row = (session.id, path, session.ip, country, who.user_agent, who.referer, now, kbps)
        self.store.write(schema.INSERT_SESSION, session.row)
        if session.own:  # (the burst carries audio that aired `burst` s ago)
            for play_id in self.credits.joined((address, who.user_agent), self.play, now - burst):
                self.store.write(schema.CREDIT_PLAY, (play_id,))

    def _end_session(self, listener: Who, now: float) -> Session | None:
        session = self.sessions.pop(listener.id, None)
        if session is None:
            return None
        seconds = now - session.started
        self.store.write(schema.END_SESSION, (now, seconds, listener.sent, listener.reason, session.id))
        if session.own:  # a station stop is not a listener leaving the song
            self.credits.left((listener.address, listener.user_agent), self.play if listener.reason != STOPPED else None)
        if self.access is not None:
            line = access_line(session.ip, now, listener.request, listener.sent, listener.referer, listener.user_agent, seconds)
            self.access.add(line)
        return session

    def turned_away(self, away: TurnedAway) -> None:
        """A listener refused for lack of room: an access-log line (403, nothing sent), no session."""
        if self.access is not None:
            ip = keep_ip(away.address, self.ip_mode, self.salt)
            self.access.add(access_line(ip, time.time(), away.request, 0, away.referer, away.user_agent, 0, status=403))

    # --- HLS players (the HLS output's hooks) ----------------------------------------------------------

    def hls_started(self, client: HlsClient, kbps: int, behind: float, now: float) -> None:
        """An HLS player's first request, `behind` s behind the live edge: it hears what aired then."""
        path = f"/hls/{client.variant}"
        self._open_session(client, path, True, kbps, behind, now)
        self._hls_count(path, 1, now)

    def hls_ended(self, client: HlsClient, ended: float) -> None:
        session = self._end_session(client, ended)
        if session is not None:
            self._hls_count(session.path, -1, ended)

    def _hls_count(self, path: str, change: int, now: float) -> None:
        count = self.hls_open[path] = self.hls_open.get(path, 0) + change
        self.audience.set(path, count, now, self._minute)

    def _minute(self, minute: int, mount: str, peak: int, seconds: float) -> None:
        if mount == STATION:
            self.store.write(schema.STATION_MINUTE, (minute, peak, round(seconds, 3)))
        else:
            self.store.write(schema.AUDIENCE_MINUTE, (minute, mount, peak, round(seconds, 3)))

    # --- plays (titles reaching listeners on the station's first mount) ----------------------------------

    def title_released(self, onair: OnAir, title: str, dj: str | None) -> Play | None:
        """A title reached listeners: the play it starts, or None when it continues the one on
        air (a bulletin's next segment on the same headline). A title no item announced was set
        through /admin/metadata: a live play (by the DJ on air, if one is)."""
        now = time.time()
        if not title:  # silence for want of anything playable: what played before ends here
            if self.play is not None:
                self._close_play(self.play, now)
            self.play = None
            return None
        item = announced_item(onair, self._last_item, title, now)
        prev = self.play
        if prev is not None:
            if (item is not None and item is prev.item) or (item is None and prev.item is None and prev.title == title):
                return None
            if item is not None and item.kind == "bulletin" and prev.kind == "bulletin" and prev.title == title:
                prev.item = item
                return None
        if item is not None:
            self._last_item = item
        play = self._open_play(item, title, dj, now, prev.kind if prev else None)
        if prev is not None and now - prev.started < FLASH and prev.kind not in ("bulletin", "live"):
            self.store.write(schema.DELETE_PLAY, (prev.id,))  # scheduled, on air an instant (QA: 17 ms between two DJs)
        elif prev is not None:
            self._close_play(prev, now)
        self.play = play
        if play.kind == "bulletin":
            if play.prev_kind != "bulletin":
                self.store.write(schema.INSERT_HEADLINE, (now, "bulletin", "bulletin"))
            self.store.write(schema.INSERT_HEADLINE, (now, "headline", title))
        return play

    def _open_play(self, item: NowPlaying | None, title: str, dj: str | None, now: float, prev_kind: str | None) -> Play:
        kind, credits = item.kind if item else "live", self.credits
        play = Play(self._id(), now, kind, title, item, credits.listeners, prev_kind, credits.play_began())
        play.row = (play.id, now, play.kind, *play_fields(item, title, dj), play.unique, play.unique)
        self.store.write(schema.INSERT_PLAY, play.row)
        return play

    def _close_play(self, play: Play, now: float) -> None:
        self.store.write(schema.END_PLAY, (now, now, play.unique, play.left, play.id))
        self.credits.play_ended(play, now)

    def status(self) -> dict:
        return {
            "database": self.store.status(),
            "access_log": self.access.status() if self.access else None,
            "sessions_open": len(self.sessions),
            "on_air": {"id": self.play.id, "kind": self.play.kind, "title": self.play.title, "listeners_heard": self.play.unique}
            if self.play
            else None,
            "recovered": None if self.recovered is None else {k: v for k, v in self.recovered.items() if k != "salt"},
            "geoip": self.geo.error or (str(self.geo.path) if self.geo.path else None),
        }
