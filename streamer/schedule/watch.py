"""Hot reload: the programme is read again whenever a YAML file in `playlists/`, or the
listing of an audio folder a playlist uses, changes. A broken edit keeps the last good
programme and shows its errors (FILE:LINE:COLUMN) until it is fixed.

Reading runs in the offload worker (YAML parsing and folder walks are CPU work that would
hold the interpreter lock the event loop needs); only a cheap signature (names, sizes and
times of the watched files and folders) is taken here, in a thread, once a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..offload import OffloadError
from ..ticks import sleep_on_grid
from ..wire.text import display_path
from ..yamldoc import ConfigError, Problem
from . import last_good
from .last_good import Kept
from .model import LoadedProgramme
from .programme import load_with_files, programme_listing
from .sources import stamp

log = logging.getLogger("streamer")

TIMEOUT = 30.0  # seconds to read the playlists (YAML, folders) at most
INTERVAL = 1.0  # seconds between looks for changes
# A file still being written is no programme: an upload (FTP, SFTP, SMB) or an editor empties it
# first and writes it over seconds. QA: an emptied week.yaml went on air 1.5 s into a save, its
# show replaced by the fallback until the song ended. So a changed file is read once it has
# rested SETTLE seconds, and an empty one is waited for up to EMPTY_HOLD seconds.
SETTLE = 1.0
EMPTY_HOLD = 10.0
RETRY_AFTER = 60.0  # seconds before a reading that timed out or lost its worker is tried again

Offload = Callable[..., Awaitable[Any]]


class ProgrammeWatcher:
    def __init__(
        self, folder: Path, offload: Offload, adopt: Callable[[LoadedProgramme], None], settle: float = SETTLE, keep: Path | None = None
    ) -> None:
        self.folder = folder
        self.keep = keep  # where the last good programme is kept across restarts (last_good.py)
        self.settle = settle
        self.offload = offload
        self.adopt = adopt  # a good (re)load goes on air through this
        self.state: dict = {"ok": True, "errors": [], "loaded_at": None, "files": []}
        self._signature: tuple = ()
        self._retry_at = 0.0  # when a reading that failed on its own (the worker, not the files) is tried again
        self._watched: list[Path] = []  # audio folders the playlists use
        self._names: dict[str, list[str]] = {}  # the programme's playlists, blocks and events by name

    async def load(self, kept: Kept | None = None) -> LoadedProgramme:
        """The playlists (`kept`: as last_good kept them), read in the offload worker; ConfigError lists every problem."""
        try:
            return await self.offload(TIMEOUT, load_with_files, self.folder, kept.texts if kept else None)
        except OffloadError as exc:
            self._retry_at = time.monotonic() + RETRY_AFTER  # (not the DJ's edit: the same files are read again then)
            raise ConfigError(
                [Problem(str(self.folder), 0, 0, f"reading the playlists failed: {exc}; trying again in {RETRY_AFTER:g} s")]
            ) from None

    async def first(self) -> None:
        """The programme the station starts with: the files', else the last good one kept (a
        broken edit found at a restart must not take the station off air); with neither, the
        start stops (ConfigError)."""
        files = await asyncio.to_thread(self._yaml_stamp)
        try:
            loaded = await self.load()
        except ConfigError as exc:
            kept = await asyncio.to_thread(last_good.read, self.keep) if self.keep else None
            if kept is None:
                raise
            try:
                loaded = await self.load(kept)
            except ConfigError:
                raise exc from None  # (what is wrong with the files, not with the copy kept)
            self._take(loaded)
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(kept.saved_at))
            errors = [str(p) for p in exc.problems]
            self.state = {**self.state, "ok": False, "errors": errors, "failed_at": time.time(), "kept_from": kept.saved_at}
            for line in errors:
                log.error("playlists do not load; on air with the last good programme (kept %s) until they do: %s", when, line)
        else:
            self._take(loaded)
            await self._keep(loaded)
        self._signature = (files, loaded.watched_stamp)

    async def _keep(self, loaded: LoadedProgramme) -> None:
        """Keep a good load of the files as the last good programme (in a thread, one at a time: in order)."""
        if self.keep is not None:
            await asyncio.to_thread(last_good.save, self.keep, loaded.programme.texts)

    def _take(self, loaded: LoadedProgramme) -> None:
        self._watched = loaded.watched
        programme = loaded.programme
        blocks, events = [b.name for b in programme.blocks], [e.name for e in programme.events]
        self._names = {"playlists": list(programme.playlists), "blocks": blocks, "events": events}
        self.adopt(loaded)
        self.state = {"ok": True, "errors": [], "loaded_at": time.time(), "files": [display_path(f) for f in loaded.programme.files]}

    def signature(self) -> tuple:
        """What a reload depends on: the YAML files, and the listings of the folders they use."""
        return self._yaml_stamp(), stamp(self._watched)

    def _yaml_stamp(self) -> tuple:
        try:  # (and the names of files meant as programme files, to say they are not read: QA)
            read, unread = programme_listing(self.folder)
            return stamp(read), tuple(f.name for f in unread)
        except OSError:
            return ()

    async def run(self) -> None:
        """Reload on every change (run by the station's supervisor)."""
        while True:
            await sleep_on_grid(INTERVAL)
            await self.look()

    async def look(self) -> bool:
        """Read the programme again if anything it depends on changed (True if it did)."""
        signature = await asyncio.to_thread(self.signature)
        if signature == self._signature and not (self._retry_at and time.monotonic() >= self._retry_at):
            return False
        if self.settle and signature[:1] != self._signature[:1] and being_written(signature[0], time.time(), self.settle):
            return False  # (looked at again at the next look)
        self._retry_at = 0.0
        self._signature = signature
        try:
            loaded = await self.load()
        except ConfigError as exc:
            errors = [str(p) for p in exc.problems]
            self.state = {**self.state, "ok": False, "errors": errors, "failed_at": time.time()}
            for line in errors:
                log.error("playlists not reloaded, keeping the last good programme: %s", line)
            return True
        before = self._names
        self._take(loaded)
        await self._keep(loaded)
        # the folders as the load found them: an edit that changes which folders are watched
        # is not read a second time at the next look (the log said "reloaded" twice)
        self._signature = (signature[0], loaded.watched_stamp)
        gone = removed(before, self._names)
        self.state["removed"] = gone
        log.info("playlists reloaded: %s%s", listed([f.name for f in loaded.programme.files]), f" (removed: {gone})" if gone else "")
        return True


def being_written(yaml_stamp: tuple, now: float, settle: float) -> bool:
    """Whether a programme file in `yaml_stamp` (ProgrammeWatcher._yaml_stamp: the files' names,
    change times and sizes, and the names of those not read) changed in the last `settle`
    seconds, or is empty and was emptied less than EMPTY_HOLD seconds ago (pure; a time ahead of
    the clock counts as settled)."""
    for _, mtime_ns, size in yaml_stamp[0] if yaml_stamp else ():
        held = EMPTY_HOLD if size == 0 else settle
        if mtime_ns >= 0 and now - held < mtime_ns / 1e9 <= now + settle:
            return True
    return False


def removed(before: dict[str, list[str]], after: dict[str, list[str]]) -> str:
    """What a reload took out of the programme, in words ('' for nothing): an emptied or deleted
    file is accepted (it is valid), but a DJ should see that a week's blocks went with it (pure)."""
    parts = []
    for kind, names in before.items():
        gone = [n for n in names if n not in after.get(kind, [])]
        if gone:
            parts.append(f"{kind} {listed(gone)}")
    return "; ".join(parts)


def listed(names: list[str], most: int = 10) -> str:
    """Names for a log line, the first `most` and how many more (QA: removing 16,500 playlists
    logged one line of 137 KB)."""
    more = len(names) - most
    return ", ".join(names[:most]) + (f" and {more:,} more" if more > 0 else "")
