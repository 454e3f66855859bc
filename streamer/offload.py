"""CPU-heavy Python work kept out of the station's process: YAML, folder walks, tag reading.

A thread would not do: while a thread parses a large YAML file it holds the interpreter lock,
and the event loop — which needs it for every write to a listener — waits for it in 5 ms
slices (a 50 MB file once stalled the audio for 5.7 s that way). So this work runs in one
worker process, started once, with a memory ceiling and a time limit; if it runs away it is
killed and replaced, and the station goes on with what it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger("streamer.offload")

T = TypeVar("T")
MEMORY_LIMIT = 1 << 30  # bytes of address space for the worker
PR_SET_PDEATHSIG = 1  # prctl(2)


class OffloadError(Exception):
    """The work did not finish: it timed out or the worker died (e.g. out of memory)."""


def _worker_init() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.nice(5)  # below the station's own process
    _die_with_parent()


def _die_with_parent() -> None:
    """A worker outlived a station killed with SIGKILL: it waits on its task queue, whose pipe it
    holds both ends of, for ever. On Linux it now gets SIGKILL when the station's process dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0 and os.getppid() == 1:
            os._exit(0)  # the station died before the line above: no one will ever send work


class Offload:
    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: forking a process with an event loop and threads is not safe.
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init)
        return self._pool

    async def run(self, timeout: float, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the worker process; OffloadError if it takes longer than `timeout`."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._get_pool(), fn, *args)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._kill(f"{getattr(fn, '__name__', fn)} took longer than {timeout:g} s")
            raise OffloadError(f"took longer than {timeout:g} s") from None
        except (BrokenProcessPool, MemoryError) as exc:
            self._kill(f"{getattr(fn, '__name__', fn)}: worker died ({type(exc).__name__})")
            raise OffloadError("the worker ran out of memory or died") from None

    def _kill(self, why: str) -> None:
        log.error("offload worker stopped: %s; a new one starts with the next job", why)
        self.close()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for proc in list(getattr(pool, "_processes", {}).values()):  # no public API to kill a stuck worker
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
