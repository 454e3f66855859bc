"""Small asyncio helpers shared by the long-running tasks."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import aiohttp

log = logging.getLogger("streamer")

_background: set[asyncio.Task] = set()


CANCEL_PATIENCE = 2.0  # seconds a task may take to end once cancelled, before it is left behind


async def cancel(task: asyncio.Task | None, patience: float = CANCEL_PATIENCE) -> None:
    """Cancel a task and wait until it has finished.

    The cancellation is repeated until the task ends: Python 3.11's `asyncio.wait_for` can lose
    a cancellation that arrives as the awaited thing finishes, and a task that lost it would run
    on (a bulletin build did, then waited for new headlines, and held the station's stop for
    more than 10 s). A task still running after `patience` is named in the log and left. The
    caller's own cancellation is not swallowed here."""
    if task is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while not task.done():
        if loop.time() > deadline:
            log.warning("task %r did not end when cancelled; left behind", task.get_name())
            return
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


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


def activated(env: Mapping[str, str], pid: int) -> list[int]:
    """The listening sockets a service manager passed this process (systemd's socket activation:
    LISTEN_FDS of them from descriptor 3, meant for LISTEN_PID) (pure). The manager holds the
    socket across restarts, so clients that connect meanwhile wait in its queue instead of
    being refused (QA: most players gave up on the refused connections of a restart)."""
    if env.get("LISTEN_PID") != str(pid):
        return []
    count = env.get("LISTEN_FDS", "")
    return list(range(3, 3 + int(count))) if count.isdigit() else []


async def listen(
    host: str, port: int, protocol: Callable[[], asyncio.Protocol], backlog: int = 100, fd: int | None = None
) -> asyncio.Server:
    """A TCP server on `host`:`port`, or on the listening socket `fd` a service manager passed.
    On "::" it takes IPv4 clients too, as [::] does on Linux by default and as an operator facing
    both families expects: asyncio's create_server sets IPV6_V6ONLY, which shut every IPv4
    listener out of a station configured with host "::"."""
    loop = asyncio.get_running_loop()
    if fd is not None:
        os.set_inheritable(fd, False)  # (QA: every ffmpeg child held the port, and would have kept it bound)
        inherited = socket.socket(fileno=fd)
        inherited.setblocking(False)
        return await loop.create_server(protocol, sock=inherited, backlog=backlog)
    if host != "::":
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return await loop.create_server(protocol, host, port, family=family, backlog=backlog, reuse_address=True)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        sock.setblocking(False)
        return await loop.create_server(protocol, sock=sock, backlog=backlog)
    except BaseException:
        sock.close()
        raise


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
