"""Icecast's access log: one line per listener session, written as Icecast 2.4 writes it, so
existing log analysers read it unchanged:

    127.0.0.1 - - [25/Nov/2026:17:08:52 +0000] "GET /main HTTP/1.1" 200 31044 "http://ref/" "VLC/3.0.18" 2

(address, ident, user, the time the session ended, the request, status, bytes sent, referer,
user agent, seconds connected). Lines are collected on the event loop and written by a thread
of their own every half second; `reopen()` (SIGHUP, after logrotate moved the file) makes the
next write open the path afresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from ..ticks import sleep_on_grid

log = logging.getLogger("streamer.history")

WRITE_EVERY = 0.5
MAX_LINES = 100_000  # kept while the disk refuses them


def clf_time(t: float) -> str:
    """Common Log Format time, local: 25/Nov/2026:17:08:52 +0000."""
    return time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(t))


def _quoted(text: str) -> str:
    return (text or "-").replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")[:150]


def access_line(ip: str, ended: float, request: str, sent: int, referer: str, user_agent: str, seconds: float, status: int = 200) -> str:
    """One session as Icecast logs it (pure)."""
    return (
        f'{ip or "-"} - - [{clf_time(ended)}] "{_quoted(request)}" {status} {sent} "{_quoted(referer)}" "{_quoted(user_agent)}" '
        f"{max(0, int(seconds))}"
    )


def session_request(mount: str) -> str:
    """The request line of a session whose own was not kept (one closed after a crash, from its
    row): what a player asks for on that mount, as the live sessions' lines have it (pure)."""
    return f"GET {mount}/live.m3u8 HTTP/1.1" if mount.startswith("/hls/") else f"GET {mount} HTTP/1.1"


def recovered_lines(closed: list[tuple]) -> list[str]:
    """Access-log lines for the sessions a crash left open, closed at the next start (rows of
    upkeep.recover: ip, mount, user agent, referer, ended, seconds, bytes), stamped with the time
    they were taken to end, as every line is (pure)."""
    return [
        access_line(ip, ended, session_request(mount), sent, referer, agent, seconds)
        for ip, mount, agent, referer, ended, seconds, sent in closed
    ]


class AccessLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.error = ""
        self.written = 0
        self._lines: list[str] = []
        self._file: IO[str] | None = None
        self._reopen = False
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="access log")

    def add(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) > MAX_LINES:
            del self._lines[0]

    def reopen(self) -> None:
        """After logrotate: the next write opens the path again (a new file if it was moved)."""
        self._reopen = True

    def _write(self, lines: list[str], reopen: bool) -> None:
        if reopen and self._file is not None:
            self._file.close()
            self._file = None
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8", errors="replace")
        self._file.write("".join(line + "\n" for line in lines))
        self._file.flush()

    async def flush(self) -> None:
        lines, self._lines = self._lines, []
        reopen, self._reopen = self._reopen, False
        if not lines and not reopen:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._write, lines, reopen)
        except OSError as exc:
            if not self.error:
                log.error("access log %s: %s; lines are kept until it can be written", self.path, exc.strerror or exc)
            self.error = f"{self.path}: {exc.strerror or exc}"
            self._lines[:0] = lines
            self._reopen = True
            del self._lines[:-MAX_LINES]
            return
        self.error = ""
        self.written += len(lines)

    async def writing(self) -> None:
        """Write collected lines every half second (a supervised task)."""
        while True:
            await sleep_on_grid(WRITE_EVERY)
            await self.flush()

    async def close(self) -> None:
        await self.flush()

        def shut() -> None:
            if self._file is not None:
                self._file.close()
                self._file = None

        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=False)

    def status(self) -> dict:
        return {"file": str(self.path), "ok": not self.error, "error": self.error, "lines": self.written, "queued": len(self._lines)}
