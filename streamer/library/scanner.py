"""The track library at work: the analysis rows in memory for the feeder, kept up to date by a
background scan of the files the programme uses.

One file is analysed at a time, at low priority (analyser.py), so the scan never takes CPU the
encoders need on a two-core machine. Files about to air jump the queue (`prefer`): the feeder
names the next file of every playlist it may play next when a track starts, so even a file
dropped in a minute ago is analysed while the current track plays. A sweep (when the programme
changes, and every SWEEP_EVERY seconds) finds files that are new or changed (size or mtime)
and drops the rows of files that are gone. The rows live in SQLite (catalog.py, through
state.Store) and survive restarts; the station never waits for any of this to go on air.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..state import Store
from ..wire.text import display_path
from .analyser import NICE, AnalysisHung, FileState, analyse, file_state
from .catalog import DELETE, MIGRATIONS, TRUNCATED, UPSERT, Entry, load_all, path_key, row_of

log = logging.getLogger("streamer.library")

SWEEP_EVERY = 300.0  # seconds between looks for changed and vanished files
SWEEP_TIMEOUT = 120.0  # seconds a sweep's stat calls may take (a hung network file system)
RETRY_CHANGED = 30.0  # seconds before a file that changed during its analysis is tried again
RETRY_HUNG = 300.0  # seconds before a file whose analysis hung is tried again (doubling each time)


def open_store(state_dir: Path) -> Store:
    return Store(state_dir / "library.sqlite", MIGRATIONS)


@dataclass(slots=True)
class Progress:
    """The current scan: for the status endpoint and the CLI's progress bar."""

    total: int = 0  # files to analyse in this scan
    done: int = 0
    audio_seconds: float = 0.0  # audio analysed
    cpu_seconds: float = 0.0  # wall time spent analysing
    current: str = ""


class Library:
    def __init__(self, store: Store, ffmpeg: str, nice: int = NICE) -> None:
        self.store = store
        self.ffmpeg = ffmpeg
        self.nice = nice
        self.entries: dict[str, Entry] = {}
        self.loaded = False
        self.wanted: list[Path] = []  # the programme's files
        self.pending: dict[str, Path] = {}  # new or changed, in the programme's order
        self.urgent: deque[Path] = deque()  # about to air
        self.progress = Progress()
        self.on_entry: Callable[[Entry], None] | None = None  # told of each new row (the CLI's progress)
        self._sweep_due = True
        self._wake = asyncio.Event()
        self._later: dict[str, float] = {}  # path → when a file that changed mid-analysis may be tried again
        self.stalls: dict[str, tuple[int, str]] = {}  # path → (analyses that hung in a row, what the operator is told)
        self._first_keys: set[str] = set()  # files analysed for the feeder right now (the scan leaves them)
        self._scanning = ""  # the file the scan analyses right now
        self._scanned = asyncio.Event()  # set when the scan finishes that file

    # --- what the feeder asks -----------------------------------------------------------------------

    def lookup(self, path: Path) -> Entry | None:
        return self.entries.get(str(path))

    def want(self, paths: Iterable[Path]) -> None:
        """The programme's files (a reload): the next sweep looks at them."""
        self.wanted = list(dict.fromkeys(paths))
        self._sweep_due = True
        self._wake.set()

    def prefer(self, paths: Iterable[Path]) -> None:
        """Files about to air: analysed before anything else, if they have no row yet (a changed
        file with a row is found by the sweep)."""
        for path in paths:
            if str(path) not in self.entries and path not in self.urgent:
                self.urgent.appendleft(path)
                self._wake.set()

    async def analyse_now(self, path: Path, timeout: float) -> Entry | None:
        """The row for a file about to air, analysed now if it has none and it takes less than
        `timeout` (the station's first track, before anything airs); else None (its analysis
        goes on and its row is there for the next time). Each file is analysed once: if the scan
        is at it already, its row is awaited; the scan skips a file analysed here."""
        entry = self.lookup(path)
        if entry is not None:
            return entry
        key = str(path)
        if key == self._scanning:  # wait for the scan's row rather than analyse the file twice
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._scanned.wait()), timeout)
            return self.lookup(path)
        self._first_keys.add(key)
        try:
            return await asyncio.wait_for(asyncio.shield(self._first(path)), timeout)
        except TimeoutError:
            return None

    async def _first(self, path: Path) -> Entry | None:
        key = str(path)
        try:
            entry = await analyse(self.ffmpeg, path, 0)
        except AnalysisHung as exc:
            self._stalled(key, path, exc)
            return None
        finally:
            self._first_keys.discard(key)
        if entry is not None and key not in self.entries:
            self.entries[key] = entry
            self.store.write(UPSERT, row_of(entry))
            self.pending.pop(key, None)  # done: the scan need not analyse it again
        return entry

    # --- the scan -----------------------------------------------------------------------------------

    async def load(self) -> None:
        try:
            self.entries = await self.store.run(load_all)
        except Exception as exc:  # the database is moved aside and rebuilt by the store; play on meanwhile
            log.error("library: cannot read %s (%s); files are analysed again", self.store.path, exc)
        self.loaded = True

    async def run(self) -> None:
        """The background scan (a supervised task): never ends."""
        if not self.loaded:
            await self.load()
        while True:
            if self._sweep_due:
                await self.sweep()
            path = self._next()
            if path is None:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), SWEEP_EVERY)
                except TimeoutError:
                    self._sweep_due = True
                continue
            await self.analyse_one(path)

    async def scan(self) -> Progress:
        """Analyse everything pending now (the CLI's `library scan`; sweep first)."""
        while (path := self._next()) is not None:
            await self.analyse_one(path)
        await self.store.flush()
        return self.progress

    def _next(self) -> Path | None:
        now = time.time()
        while self.urgent:
            path = self.urgent.popleft()
            key = str(path)
            self.pending.pop(key, None)
            if key not in self.entries and key not in self._first_keys and self._later.get(key, 0) <= now:
                return path
        for key, path in self.pending.items():
            if key not in self._first_keys and self._later.get(key, 0) <= now:
                del self.pending[key]
                return path
        return None

    async def sweep(self) -> None:
        """Find new and changed files among the wanted ones; drop the rows of vanished files."""
        self._sweep_due = False
        try:
            await self.store.flush()  # our own newest rows first, or the file's older ones would come back
            self.entries = {**self.entries, **await self.store.run(load_all)}  # rows another process (the CLI) wrote
        except Exception as exc:
            log.warning("library: could not re-read the database (%s)", exc)
        paths = list({str(p): Path(p) for p in (*self.wanted, *self.entries)}.values())  # each file once
        try:
            states = await asyncio.wait_for(asyncio.to_thread(_states, paths), SWEEP_TIMEOUT)
        except TimeoutError:
            log.error("library: the file system did not answer within %g s; the sweep is tried again later", SWEEP_TIMEOUT)
            return
        for key, state in states.items():
            if state is None and key in self.entries:
                self._forget(key)
        self.pending = {}
        for path in self.wanted:
            state, entry = states.get(str(path)), self.entries.get(str(path))
            if state is not None and (entry is None or not entry.unchanged(state.size, state.mtime_ns)):
                self.pending[str(path)] = path
        self.progress = Progress(total=len(self.pending))

    async def analyse_one(self, path: Path) -> Entry | None:
        """Analyse a file and keep its row; the feeder may wait for it (analyse_now)."""
        self._scanning, self._scanned = str(path), asyncio.Event()
        try:
            return await self._analyse_one(path)
        finally:
            self._scanning = ""
            self._scanned.set()

    async def _analyse_one(self, path: Path) -> Entry | None:
        key = str(path)
        self.progress.current = display_path(path)
        started = time.monotonic()
        try:
            entry = await analyse(self.ffmpeg, path, self.nice)
        except (TimeoutError, OSError) as exc:
            log.warning("library: %s could not be analysed now (%s); tried again later", display_path(path), exc)
            self._later[key] = time.time() + RETRY_CHANGED
            return None
        except AnalysisHung as exc:
            self._stalled(key, path, exc)
            return None
        finally:
            self.progress.current = ""
        progress = self.progress
        progress.cpu_seconds += time.monotonic() - started
        if entry is None:  # gone, or changed while it was read
            if await asyncio.to_thread(file_state, path) is None:
                self._forget(key)
            else:
                self._later[key] = time.time() + RETRY_CHANGED
                self.pending[key] = path
            return None
        self.entries[key] = entry
        self.store.write(UPSERT, row_of(entry))
        self.stalls.pop(key, None)
        progress.done += 1
        progress.audio_seconds += entry.duration
        if not entry.playable:
            log.warning("library: %s will not play: %s", display_path(path), entry.reason)
        elif entry.status == TRUNCATED:  # (QA: a 2.5 s stub of a song aired with no word in the log)
            log.warning("library: %s is %s: it airs what it has", display_path(path), entry.reason)
        if self.on_entry is not None:
            self.on_entry(entry)
        return entry

    def _stalled(self, key: str, path: Path, exc: AnalysisHung) -> None:
        """An analysis that hung: no row (the file airs meanwhile), tried again later, each time
        twice as late (RETRY_HUNG, up to an hour)."""
        count, _ = self.stalls.get(key, (0, ""))
        wait = min(RETRY_HUNG * 2**count, 3600.0)
        self.stalls[key] = (count + 1, f"{exc} (a busy machine or a slow disk?); analysed again in {wait:g} s")
        self._later[key] = time.time() + wait
        self.pending[key] = path
        log.warning("library: %s: %s; it airs meanwhile, at its tags' gain", display_path(path), self.stalls[key][1])

    def _forget(self, key: str) -> None:
        self.entries.pop(key, None)
        self.store.write(DELETE, (path_key(key),))

    # --- what the operator sees ---------------------------------------------------------------------

    def unplayable(self) -> list[Entry]:
        """The programme's files the library found will not play (passed over until they change)."""
        return [e for p in self.wanted if (e := self.entries.get(str(p))) is not None and not e.playable]

    def problems(self, unplayable_only: bool = True) -> list[dict]:
        """The programme's files that will not play (or, with False, that are silent or truncated too)."""
        wanted = [self.entries.get(str(p)) for p in self.wanted]
        found = [
            {"file": display_path(Path(e.path)), "status": e.status, "reason": e.reason}
            for e in wanted
            if e is not None and (not e.playable if unplayable_only else e.status != "ok")
        ]
        if not unplayable_only and self.stalls:  # (they play: an analysis that hung is not held against the file)
            keys = {str(p) for p in self.wanted}
            stalled = [(k, why) for k, (_, why) in self.stalls.items() if k in keys]
            found += [{"file": display_path(Path(k)), "status": "stalled", "reason": why} for k, why in stalled]
        return found

    def status(self) -> dict:
        analysed = sum(1 for p in self.wanted if str(p) in self.entries)
        problems = self.problems(unplayable_only=False)
        p = self.progress
        rate = p.audio_seconds / p.cpu_seconds if p.cpu_seconds else None
        left = max(0, p.total - p.done)
        return {
            "files": len(self.wanted), "analysed": analysed, "pending": len(self.wanted) - analysed, "problems": problems[:100],
            "problem_count": len(problems), "rows": len(self.entries),
            "scan": {"total": p.total, "done": p.done, "current": p.current, "audio_hours": round(p.audio_seconds / 3600, 3),
                     "speed": round(rate, 1) if rate else None,
                     "eta_seconds": round(left * p.cpu_seconds / p.done, 1) if p.done and left else 0},
            "database": self.store.status(),
        }  # fmt: skip


def _states(paths: list[Path]) -> dict[str, FileState | None]:
    return {str(p): file_state(p) for p in paths}
