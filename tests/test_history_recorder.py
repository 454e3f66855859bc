"""The recorder (history/recorder.py) driven as the station drives it, without a server: real
Listener objects on a stand-in mount, a real OnAir, the real database file; what it wrote is
read back with SQL."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from streamer.audio.onair import OnAir
from streamer.history.recorder import History
from streamer.settings import Config, HistoryConfig


def history(tmp: Path, **kw) -> History:
    return History(Config(file=tmp / "config.yaml", state_dir=tmp / "state", history=HistoryConfig(**kw)))


def rows(tmp: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(tmp / "state" / "history.sqlite")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_title_set_with_control_bytes_is_stored_as_listeners_got_it(tmp_path):
    async def run() -> None:
        h = history(tmp_path)
        await h.open()
        h.title_released(OnAir(), "\xff\xfe\x00bad - news\r\nflash", None)  # /admin/metadata?song=%FF%FE%00bad... read as Latin-1
        await h.close()

    asyncio.run(run())
    # as sanitize_title put it in the ICY block: control characters are spaces, runs of spaces one
    stored = rows(tmp_path, "SELECT kind, stream_title, artist, title FROM plays")
    assert stored == [("live", "\xff\xfe bad - news flash", "\xff\xfe bad", "news flash")]
