"""The recorder (history/recorder.py) driven as the station drives it, without a server: real
Listener objects on a stand-in mount, a real OnAir, the real database file; what it wrote is
read back with SQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path
from types import SimpleNamespace

from streamer.audio.onair import OnAir
from streamer.history import recorder, schema
from streamer.history.recorder import History
from streamer.history.render import build
from streamer.settings import Config, HistoryConfig, MountConfig
from streamer.stamp import read_stamp
from streamer.state import connect
from streamer.stream import listener as listener_module
from streamer.stream.listener import Listener
from streamer.stream.mount import Mount as StationMount
from streamer.stream.presence import Presence

from .test_history import ICECAST_LINE
from .test_history_live import db_rows as rows


def history(tmp: Path, **kw) -> History:
    return History(Config(file=tmp / "config.yaml", state_dir=tmp / "state", history=HistoryConfig(**kw)))


def test_a_title_set_with_control_bytes_is_stored_as_listeners_got_it(tmp_path):
    """Titles from outside enter through Mount.set_title, which cleans them for everyone."""

    async def run() -> None:
        h = history(tmp_path)
        await h.open()
        mount = StationMount(MountConfig("/main"), 0.25, None, lambda path, title: h.title_released(OnAir(), title, None))
        mount.set_title("\xff\xfe\x00bad - news\r\nflash")  # /admin/metadata?song=%FF%FE%00bad... read as Latin-1
        await h.close()

    asyncio.run(run())
    # as the ICY block carries it: control characters are spaces, runs of spaces one
    stored = rows(tmp_path, "SELECT kind, stream_title, artist, title FROM plays")
    assert stored == [("live", "\xff\xfe bad - news flash", "\xff\xfe bad", "news flash")]


class Clock:
    """Stands in for the recorder's `time` module: the test says what time it is."""

    def __init__(self, t: float) -> None:
        self.t = t

    def time(self) -> float:
        return self.t


def listeners_clock(monkeypatch, start: float) -> Clock:
    """The time the recorder and real Listener objects see, as the test says."""
    clock = Clock(start)
    monkeypatch.setattr(recorder, "time", clock)
    monkeypatch.setattr(listener_module, "time", clock)
    return clock


def stand_in_mount(path: str) -> SimpleNamespace:
    return SimpleNamespace(
        path=path, listeners=[], present=0, info=SimpleNamespace(bitrate=128), buffer=SimpleNamespace(end=0), passthrough=False
    )


def stand_in_listener(n: int) -> SimpleNamespace:
    return SimpleNamespace(id=n, address="127.0.0.1", user_agent=f"L{n}", referer="", request="GET / HTTP/1.1", sent=0, reason="left",
                           closed=False, pos=0)  # fmt: skip


def join(h: History, mount: SimpleNamespace, listener: SimpleNamespace) -> None:
    mount.listeners.append(listener)
    mount.present = len(mount.listeners)
    h.listener_changed(mount, listener, True)


def leave(h: History, mount: SimpleNamespace, listener: SimpleNamespace) -> None:
    mount.listeners.remove(listener)
    mount.present = len(mount.listeners)
    h.listener_changed(mount, listener, False)


def test_the_station_peak_is_the_most_listeners_at_once_not_the_sum_of_each_mounts_peak(tmp_path, monkeypatch):
    """3 on /main and 2 on /low, then /main's moved to /low (moveclients) in the same minute: the
    station never had more than 5, though /main's peak (3) and /low's (5) add up to 8."""
    start = dt.datetime(2026, 11, 20, 10, 0, 5, tzinfo=dt.UTC).timestamp()
    clock = Clock(start)
    monkeypatch.setattr(recorder, "time", clock)
    main, low = stand_in_mount("/main"), stand_in_mount("/low")
    people = [stand_in_listener(n) for n in range(5)]

    async def run() -> None:
        h = history(tmp_path)
        await h.open()
        for person in people[:3]:
            join(h, main, person)
        for person in people[3:]:
            join(h, low, person)
        clock.t += 20
        for person in people[:3]:  # Listener.move_to: off one mount, onto the other, on the same connection
            leave(h, main, person)
            join(h, low, person)
        clock.t += 20
        await h.commit()
        clock.t += 60
        await h.close()

    asyncio.run(run())
    assert rows(tmp_path, "SELECT mount, max(peak) FROM audience GROUP BY mount ORDER BY mount") == [
        ("/low", 5),
        ("/main", 3),
    ]  # per mount: each its own
    conn = sqlite3.connect(tmp_path / "state" / "history.sqlite")
    report = build(conn, "listeners", "2026-11-20", "2026-11-20", dt.UTC, "Test Radio")
    conn.close()
    sections = {s.name: [dict(zip(s.columns, row, strict=True)) for row in s.rows] for s in report.sections}
    assert sections["summary"][0]["peak_listeners"] == 5
    assert [(d["day"], d["peak_listeners"]) for d in sections["days"]] == [("2026-11-20", 5)]
    assert [(r["hour"], r["peak_listeners"]) for r in sections["hours"]] == [("2026-11-20 10:00", 5)]


class Transport:
    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):
        return default

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class Mount:
    """A mount as Listener sees it: its pacer's tick, who counts, and add/remove telling the history."""

    def __init__(self, h: History, interval: float = 0.25) -> None:
        self.h, self.interval, self.path, self.listeners = h, interval, "/main", set()
        self.info, self.buffer, self.passthrough = SimpleNamespace(bitrate=128), SimpleNamespace(end=0), False
        self.presence, self.peak = Presence(self), 0  # type: ignore[arg-type]
        self.on_listeners = h.listener_changed

    @property
    def present(self) -> int:
        return len(self.listeners) - len(self.presence.leaving)

    def add(self, listener: Listener) -> None:
        self.listeners.add(listener)
        self.h.listener_changed(self, listener, True)

    def remove(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        self.presence.leaving.discard(listener)
        self.h.listener_changed(self, listener, False)


def test_a_session_ends_when_the_listener_went_not_when_a_write_found_it_gone(tmp_path, monkeypatch):
    """A player that closes sends its FIN at once; the server learns the connection is gone only
    when a write fails, a tick or two later. The session ends at the FIN. A player that shut
    only its sending side and kept listening ends when its connection is lost; one killed by
    the operator after its FIN, when it was killed."""
    start = 1_795_000_000.25
    clock = listeners_clock(monkeypatch, start)

    async def run() -> None:
        h = history(tmp_path)
        await h.open()
        mount = Mount(h)
        closes, half, killed = (Listener(mount, Transport(), 0, 0, "127.0.0.1", name) for name in ("closes", "half-closes", "killed"))  # type: ignore[arg-type]
        for listener in (closes, half, killed):
            mount.add(listener)
        clock.t = start + 1.0
        half.eof_received()  # shuts its sending side, keeps reading
        clock.t = start + 240.05
        closes.eof_received()
        killed.eof_received()
        clock.t = start + 240.30
        killed.kill()
        clock.t = start + 240.55  # two ticks later a write fails: the peer had gone
        closes.connection_lost(ConnectionResetError())
        clock.t = start + 300.0
        half.connection_lost(BrokenPipeError())
        await h.close()

    asyncio.run(run())
    ended = {r[0]: r[1:] for r in rows(tmp_path, "SELECT user_agent, round(seconds, 2), round(ended - started, 2), reason FROM sessions")}
    assert ended == {"closes": (240.05, 240.05, "left"), "half-closes": (300.0, 300.0, "left"), "killed": (240.3, 240.3, "killed")}


def test_sessions_closed_after_a_crash_reach_the_access_log_at_the_next_start(tmp_path):
    """kill -9: the sessions left open are closed at the last heartbeat when the station starts
    again, and each gets its access-log line then, as every session does when it ends: the
    time it ended, the request, bytes and seconds (estimated from the heartbeat, as stored)."""
    conn = connect(tmp_path / "state" / "history.sqlite", schema.MIGRATIONS)
    conn.execute(schema.HEARTBEAT, ("1795000100.5",))
    conn.execute(schema.INSERT_SESSION, (1, "/main", "192.0.2.7", None, "VLC/3.0.18", "http://ref.example/", 1795000000.0, 128))
    conn.execute(schema.INSERT_SESSION, (2, "/hls/lo", "192.0.2.8", None, "AppleCoreMedia", "", 1795000090.0, 64))
    conn.execute(schema.INSERT_SESSION, (3, "/low", "192.0.2.9", None, "mpv", "", 1795000050.0, 48))
    conn.execute(schema.END_SESSION, (1795000060.0, 10.0, 60000, "left", 3))  # ended cleanly: logged then, not again
    conn.close()
    log = tmp_path / "logs" / "access.log"

    async def run() -> None:
        h = history(tmp_path, access_log=log)
        await h.open()
        await h.close()

    asyncio.run(run())
    lines = log.read_text().splitlines()
    assert len(lines) == 2, lines
    found = {m.group(1): m.groups() for m in map(ICECAST_LINE.match, lines)}
    when = recorder.time.strftime("%d/%b/%Y:%H:%M:%S %z", recorder.time.localtime(1795000100.5))
    vlc, hls = str(int(100.5 * 128 * 125)), str(int(10.5 * 64 * 125))  # bytes as recovery estimates them: seconds at the bitrate
    assert found["192.0.2.7"][2:] == (when, "GET /main HTTP/1.1", "200", vlc, "http://ref.example/", "VLC/3.0.18", "100")
    assert found["192.0.2.8"][2:] == (when, "GET /hls/lo/live.m3u8 HTTP/1.1", "200", hls, "-", "AppleCoreMedia", "10")
    assert rows(tmp_path, "SELECT id, estimated FROM sessions ORDER BY id") == [(1, 1), (2, 1), (3, 0)]


def on_clock(monkeypatch, start: dt.datetime) -> Clock:
    """The recorder's clock, at `start` (the test moves it)."""
    clock = Clock(start.timestamp())
    monkeypatch.setattr(recorder, "time", clock)
    return clock


def killed(h: History) -> None:
    """As a kill -9 leaves it: nothing closed, nothing more committed."""
    h.store._pool.shutdown(wait=True)


def restarted(tmp: Path) -> dict:
    """The next start's recovery (what it found), the station not run further."""

    async def go() -> dict:
        h = history(tmp)
        await h.open()
        found = h.recovered
        await h.store.close()
        return found

    return asyncio.run(go())


def test_a_steady_audience_costs_a_stamp_per_batch_not_rows_and_a_kill_is_still_known_to_the_half_second(tmp_path, monkeypatch):
    """QA: every half-second batch rewrote the heartbeat row and the audience minute's rows, 24 KB/s
    (2.1 GB a day) of WAL writes for a station whose audience did not change. Now the batch stamps
    the time in a file beside the database (rewritten in place) and the rows go every AUDIENCE_EVERY;
    the next start still closes what a kill left open at the last half second, and gives the
    audience minute back the seconds since it was saved."""
    clock = on_clock(monkeypatch, dt.datetime(2026, 11, 20, 10, 0, 5, tzinfo=dt.UTC))
    start, main = clock.t, stand_in_mount("/main")

    async def run() -> History:
        h = history(tmp_path)
        await h.open()
        join(h, main, stand_in_listener(1))
        await h.commit()  # the session's row and the first audience checkpoint
        written = h.store.written
        for _ in range(int(recorder.AUDIENCE_EVERY / recorder.COMMIT_EVERY) - 1):  # 9.5 s of batches: nothing changed
            clock.t += recorder.COMMIT_EVERY
            await h.commit()
        assert h.store.written == written, "rows were rewritten though nothing changed"
        clock.t += recorder.COMMIT_EVERY  # 10 s since the checkpoint: the minute so far and the heartbeat row
        await h.commit()
        assert h.store.written - written == 3  # the mount's minute, the station's minute, the heartbeat
        clock.t += 2.5
        for _ in range(5):
            clock.t += recorder.COMMIT_EVERY
            await h.commit()
        killed(h)
        return h

    asyncio.run(run())
    stamp = read_stamp(tmp_path / "state" / "history.sqlite")
    assert stamp == clock.t and (tmp_path / "state" / "history.sqlite-stamp").stat().st_size == 32

    found = restarted(tmp_path)
    assert found["heartbeat"] == clock.t and found["sessions_closed"] == 1
    assert rows(tmp_path, "SELECT ended, reason FROM sessions") == [(clock.t, "server stop")]
    # the audience minute saved 5 s before the kill gets those 5 s back from the session
    minute = int(start // 60)
    assert rows(tmp_path, "SELECT minute, mount, peak, listener_seconds FROM audience") == [(minute, "/main", 1, 15.0)]
    assert rows(tmp_path, "SELECT minute, peak, listener_seconds FROM station_audience") == [(minute, 1, 15.0)]


def test_a_kill_just_after_a_minute_ends_gives_back_its_seconds_once(tmp_path, monkeypatch):
    """The minute that ended is written when a listener's change crosses into the next one; a
    kill soon after must not add that minute's last seconds to it a second time."""
    clock = on_clock(monkeypatch, dt.datetime(2026, 11, 20, 10, 0, 52, tzinfo=dt.UTC))
    start, main = clock.t, stand_in_mount("/main")

    async def run() -> None:
        h = history(tmp_path)
        await h.open()
        join(h, main, stand_in_listener(1))
        await h.commit()  # the minute so far saved at :52
        while clock.t < start + 9.0:  # to 10:01:01, the new minute's first commits among them
            clock.t += recorder.COMMIT_EVERY
            if clock.t == start + 9.0:
                join(h, main, stand_in_listener(2))  # writes 10:00 as ended
            await h.commit()
        killed(h)

    asyncio.run(run())
    restarted(tmp_path)
    minute = int(start // 60)
    assert rows(tmp_path, "SELECT minute, peak, listener_seconds FROM audience ORDER BY minute") == [(minute, 1, 8.0), (minute + 1, 2, 1.0)]


def test_a_scheduled_title_on_air_for_an_instant_is_no_play(tmp_path, monkeypatch):
    """QA: as one DJ gave way to the next, the schedule's song aired 17 ms and stayed in the
    history (and so in the royalty reports). A DJ's own titles are kept, however short."""
    from pathlib import Path

    from streamer.library.tags import TrackInfo
    from streamer.schedule.model import Fades
    from streamer.schedule.scheduler import Choice

    clock = Clock(1_800_000_000.0)
    monkeypatch.setattr(recorder, "time", clock)
    onair = OnAir()

    def song(title: str) -> None:
        info = TrackInfo(Path(f"/music/{title}.mp3"), "Band", title, 180.0)
        onair.announce(info, Choice(info.path, "music", "song", None, Fades()), clock.t, 0)

    async def run() -> None:
        h = history(tmp_path)
        await h.open()
        steps = [("DJ One - Set", 60.0), ("Band - Between", 0.017), ("DJ Two - Set", 0.2), ("DJ Two - Next", 40.0), ("Band - Long", 0.6)]
        for title, seconds in steps:
            if title.startswith("Band"):
                song(title.split(" - ")[1])
            h.title_released(onair, title, None)
            clock.t += seconds
        h.title_released(onair, "", None)
        await h.close()

    asyncio.run(run())
    kept = rows(tmp_path, "SELECT kind, stream_title, round(seconds, 3) FROM plays ORDER BY started")
    assert kept == [
        ("live", "DJ One - Set", 60.0), ("live", "DJ Two - Set", 0.2), ("live", "DJ Two - Next", 40.0), ("song", "Band - Long", 0.6)
    ], kept  # fmt: skip


def test_the_open_play_and_sessions_go_into_a_database_made_afresh(tmp_path, monkeypatch):
    """QA: after `rm -r state/` while on air, the database was made afresh, but the play on air
    and the sessions already open were never written into it: their ends updated no row."""
    import shutil

    start = 1_795_000_000.0
    clock = listeners_clock(monkeypatch, start)

    async def run() -> None:
        h = history(tmp_path)
        await h.open()
        mount = Mount(h)
        mount.add(Listener(mount, Transport(), 0, 0, "127.0.0.1", "fan"))  # type: ignore[arg-type]
        h.title_released(OnAir(), "DJ - Morning Show", None)
        clock.t = start + 30
        await h.commit()
        shutil.rmtree(tmp_path / "state")
        clock.t = start + 60
        await h.commit()  # finds the file gone and makes it afresh
        clock.t = start + 90
        await h.close()

    asyncio.run(run())
    assert rows(tmp_path, "SELECT user_agent, round(seconds) FROM sessions") == [("fan", 90.0)]
    assert rows(tmp_path, "SELECT stream_title, round(seconds), listeners_unique FROM plays") == [("DJ - Morning Show", 90.0, 1)]
