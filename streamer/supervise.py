"""Every long-lived task of the station, supervised: a task that fails is logged with its
traceback (after a line that says which task failed and how often), restarted with back-off,
and shown in /api/status and /healthz until it runs again. Nothing dies silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .aio import background, cancel

log = logging.getLogger("streamer.supervise")

FIRST_BACKOFF = 0.1  # seconds before the first restart: a pacer must be back before listeners notice
MAX_BACKOFF = 5.0
HEALTHY_AFTER = 30.0  # a task that ran this long without failing starts its back-off afresh


@dataclass(slots=True)
class TaskState:
    name: str
    factory: Callable[[], Awaitable[None]]
    critical: bool  # the station is not on air while it is down (/healthz says so)
    restart_on_exit: bool
    task: asyncio.Task | None = None
    restarts: int = 0
    last_error: str = ""
    failed_at: float | None = None
    running_since: float = field(default_factory=time.time)
    down: bool = False  # failed and waiting to be restarted

    @property
    def running(self) -> bool:
        return not self.down and self.task is not None and not self.task.done()

    @property
    def finished(self) -> bool:
        """A one-shot task that did its work: it returned (one that raises is retried, so a
        one-shot that ends has succeeded), not cancelled."""
        task = self.task
        return not self.restart_on_exit and not self.down and task is not None and task.done() and not task.cancelled()

    @property
    def up(self) -> bool:
        """Running, or a one-shot that finished: the one definition of /api/status' `up` and
        /metrics' streamer_task_up, so an alert on 0 fires for a failed task, never a finished one."""
        return self.running or self.finished

    def view(self) -> dict:
        return {
            "name": self.name,
            "up": self.up,
            "running": self.running,
            "finished": self.finished,
            "critical": self.critical,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "failed_at": self.failed_at,
        }


class Supervisor:
    def __init__(self) -> None:
        self.tasks: dict[str, TaskState] = {}
        self._stopping = False

    def start(self, name: str, factory: Callable[[], Awaitable[None]], critical: bool = False, restart_on_exit: bool = True) -> None:
        """Run `factory()` as the task `name`, restarting it whenever it fails. A task already
        running under that name is stopped (it would otherwise run on with no one holding it)."""
        old = self.tasks.get(name)
        if old is not None:
            background(cancel(old.task), f"stopping the last {name}")
        state = TaskState(name, factory, critical, restart_on_exit)
        self.tasks[name] = state
        state.task = asyncio.create_task(self._run(state), name=name)

    async def _run(self, state: TaskState) -> None:
        backoff = FIRST_BACKOFF
        while not self._stopping:
            state.running_since = time.time()
            state.down = False
            try:
                await state.factory()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.restarts += 1
                state.last_error = f"{type(exc).__name__}: {exc}"[:500]
                state.failed_at = time.time()
                state.down = True
                if time.time() - state.running_since > HEALTHY_AFTER:
                    backoff = FIRST_BACKOFF
                log.error(
                    "task %r failed (%s); restarting in %.1f s (restart %d)",
                    state.name, state.last_error, backoff, state.restarts, exc_info=exc,
                )  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)
                continue
            if not state.restart_on_exit:
                return
            log.warning("task %r ended by itself; restarting", state.name)
            await asyncio.sleep(FIRST_BACKOFF)

    def stop_task(self, name: str) -> Awaitable[None]:
        """Forget the task `name` now, so a new one may take the name at once (QA: a DJ who took
        a mount the moment the last source left had their new pacer stopped in the old one's
        place); what is returned is awaited until it has stopped."""
        state = self.tasks.pop(name, None)
        return cancel(state.task if state is not None else None)

    def down(self) -> list[TaskState]:
        """Critical tasks that have failed and are not running again yet."""
        return [s for s in self.tasks.values() if s.critical and s.down]

    def status(self) -> list[dict]:
        return [s.view() for s in self.tasks.values()]

    async def stop(self) -> None:
        self._stopping = True
        for state in list(self.tasks.values()):
            await cancel(state.task)
