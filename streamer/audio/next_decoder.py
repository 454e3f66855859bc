"""The next track's decoder, started while the one on air still has seconds left to decode.

Why: at a track change the feeder is `lookahead` (0.5 s) ahead of the air and silence must cover
once it is down to LOW_WATER (0.3 s), so the next file's decoder has 0.2 s to start and deliver
its first chunk. An ffmpeg starts in 80-110 ms on an idle machine; on a loaded one (analysis,
other programs, two cores) it took longer, and 0.1 s of silence aired at a track change. Started
PRESTART seconds early, the start-up is hidden in the track on air.

Only a guess is started early: the feeder still chooses the next item at the handover as ever.
The spare decoder is used only if that choice is the same file at the same level (gain, cue
points); otherwise it is killed and the chosen file starts as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..aio import background
from ..library.tags import TrackInfo
from ..schedule.scheduler import Choice
from .decoder import DecodeError, Decoder
from .leveling import Level
from .upcoming import Upcoming

log = logging.getLogger("streamer.feeder")

PRESTART = 3.0  # seconds of the track on air left to decode when the next one's decoder starts
# s of the track on air kept for the next one's decoder to start after its analysis: after a short
# item (a 0.3 s sting) a whole second's wait for the next file's analysis was dead air
ANALYSIS_MARGIN = 0.5

Prepared = tuple[Level, Decoder]  # a started decoder and the level it plays its file at
LevelOf = Callable[[Choice], Awaitable[tuple[TrackInfo, Level]]]
StartDecoder = Callable[[Path, Level], Awaitable[Decoder]]


class NextDecoder:
    """At most one spare decoder, for the file guessed to play next."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._task: asyncio.Task[Prepared] | None = None
        self._after: tuple[Path, asyncio.Task[Prepared]] | None = None  # the file after the next, when known

    def guess(self, ahead: Upcoming, level_of: LevelOf, start: StartDecoder) -> None:
        """Start the decoder of the file `ahead` says plays next (none for a bulletin or a DJ),
        at the level `level_of` gives it, with `start` (or take up the one started as `after`)."""
        if ahead is None or ahead[1].path is None:  # a bulletin or a DJ has no file of its own
            return
        choice, path = ahead[1], ahead[1].path
        if self._path == path and self._task is not None:
            return
        self._drop_spare()
        if self._after is not None and self._after[0] == path:
            (self._path, self._task), self._after = self._after, None
            return
        self._drop_after()
        self._path = path
        self._task = asyncio.ensure_future(_prepare(choice, level_of, start))

    def after(self, choice: Choice, level_of: LevelOf, start: StartDecoder) -> None:
        """Also start the decoder of the file after the next one: a bulletin's second segment,
        whose predecessor may air for a second or two only (its decoder started then was late
        under load). guess() takes it up when it names that file."""
        assert choice.path is not None
        if self._after is not None and self._after[0] == choice.path:
            return
        self._drop_after()
        self._after = (choice.path, asyncio.ensure_future(_prepare(choice, level_of, start)))

    async def primed(self, timeout: float) -> None:
        """Wait, at most `timeout`, until the spare decoder has its first audio (a bulletin asked
        for cuts in only then: a decoder slow to start cost it silence otherwise)."""
        task = self._task
        if task is None:
            return
        with contextlib.suppress(Exception):  # late, failed or dropped: it plays as it would have
            async with asyncio.timeout(timeout):
                _, decoder = await asyncio.shield(task)
                await decoder.prime()

    async def take(self, path: Path, level: Level) -> Decoder | None:
        """The spare decoder if it plays `path` at `level` and started; None otherwise (the spare,
        if any, is gone either way)."""
        task, spare = self._task, self._path
        self._path = self._task = None
        if task is None:
            return None
        if spare != path:
            _discard(task)
            return None
        try:
            started_level, decoder = await asyncio.shield(task)
        except asyncio.CancelledError:
            _discard(task)
            raise
        except DecodeError:
            return None  # the caller starts it again and reports its own error
        except Exception:  # a bug here must not cost the track: it starts as it would have
            log.exception("the early decoder of %s failed; starting it now", path.name)
            return None
        if started_level != level:  # analysed meanwhile: its gain or cue points changed
            background(decoder.close(), f"closing the early decoder of {path.name}")
            return None
        return decoder

    def drop(self) -> None:
        """Kill the spare decoders (the guess did not come true, or the feeder stops)."""
        self._drop_spare()
        self._drop_after()

    def _drop_spare(self) -> None:
        task, self._path, self._task = self._task, None, None
        if task is not None:
            _discard(task)

    def _drop_after(self) -> None:
        after, self._after = self._after, None
        if after is not None:
            _discard(after[1])


async def _prepare(choice: Choice, level_of: LevelOf, start: StartDecoder) -> Prepared:
    assert choice.path is not None
    _, level = await level_of(choice)
    return level, await start(choice.path, level)


def _discard(task: asyncio.Task[Prepared]) -> None:
    if not task.done():
        task.add_done_callback(_close_result)  # a start under way is let finish, then closed
        return
    _close_result(task)


def _close_result(task: asyncio.Task[Prepared]) -> None:
    if task.cancelled() or task.exception() is not None:
        return
    _, decoder = task.result()
    with contextlib.suppress(RuntimeError):  # the loop is closing: the child dies with its pipes
        background(decoder.close(), f"closing the unused early decoder of {decoder.path.name}")
