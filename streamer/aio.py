"""Small asyncio helpers shared by the long-running tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

import aiohttp

log = logging.getLogger("streamer")

_background: set[asyncio.Task] = set()


async def cancel(task: asyncio.Task | None) -> None:
    """Cancel a task and wait until it has finished."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def background(coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task:
    """A short job that nobody awaits (a title sent upstream, a process reaped): kept alive
    until done, and its failure logged with `what` it was."""
    task = asyncio.get_running_loop().create_task(coro, name=what)
    _background.add(task)
    task.add_done_callback(_finished)
    return task


async def cancel_background() -> None:
    """At stop: every short job still running is cancelled and awaited."""
    for task in list(_background):
        await cancel(task)


def _finished(task: asyncio.Task) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed", task.get_name(), exc_info=task.exception())


class TooLarge(ValueError):
    pass


async def read_capped(stream: aiohttp.StreamReader, cap: int) -> bytes:
    """A whole body, however many packets it arrives in, refusing more than `cap` bytes
    (`stream.read(n)` returns only what has arrived so far)."""
    data = bytearray()
    async for chunk in stream.iter_chunked(65536):
        data += chunk
        if len(data) > cap:
            raise TooLarge(f"larger than {cap:,} bytes")
    return bytes(data)
