"""Child processes (ffmpeg, espeak-ng): started the one way, stopped the one way.

Every child is killed and reaped when its owner is done with it, so no process outlives its
track, its source or the station; a child that dies on its own is reported with its exit
status (a signal number means someone or something killed it).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence

from .ticks import HarvestedPipe

PIPE_BYTES = 1 << 20  # an encoder's output pipe: 6 s of the densest FLAC, Linux's default limit


async def spawn(
    *args: str, stdin: bool = False, stdout: bool | int = True, stderr: bool = True, nice: int = 0, pass_fds: Sequence[int] = ()
) -> asyncio.subprocess.Process:
    """Start a child with pipes as asked (`stdout` may be a file descriptor to write to; `pass_fds`
    are more it inherits, at the same numbers); `nice` > 0 runs it at that lower priority
    (background work such as analysis, which must never take CPU from the encoders)."""
    pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    out = stdout if not isinstance(stdout, bool) else pipe if stdout else null
    return await asyncio.create_subprocess_exec(
        *args, stdin=pipe if stdin else null, stdout=out, stderr=pipe if stderr else null, pass_fds=tuple(pass_fds),
        preexec_fn=functools.partial(os.nice, nice) if nice > 0 else None,
    )  # fmt: skip


def resize_pipe(fd: int, size: int) -> None:
    """Make a pipe hold `size` bytes (Linux's F_SETPIPE_SZ); elsewhere it keeps its size."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


async def spawn_harvested(
    command: Callable[[list[str]], list[str]], interval: float, outputs: int = 1
) -> tuple[asyncio.subprocess.Process, list[HarvestedPipe]]:
    """An encoder: PCM in on stdin, its `outputs` (stdout, then pipes it inherits) read at the
    station's harvest points (ticks.py). `command` gets the outputs' names ('pipe:1', 'pipe:N')."""
    pipes = [os.pipe() for _ in range(outputs)]
    reads, writes = [r for r, _ in pipes], [w for _, w in pipes]
    for read_fd in reads:
        resize_pipe(read_fd, PIPE_BYTES)  # room for seconds of FLAC between harvests
    try:
        targets = ["pipe:1", *(f"pipe:{fd}" for fd in writes[1:])]
        proc = await spawn(*command(targets), stdin=True, stdout=writes[0], pass_fds=writes[1:])
    except BaseException:
        for read_fd in reads:
            os.close(read_fd)
        raise
    finally:
        for write_fd in writes:
            os.close(write_fd)  # the child has its copies: each pipe ends when the child does
    opened: list[HarvestedPipe] = []
    try:
        for read_fd in reads:
            opened.append(await HarvestedPipe.open(read_fd, interval))
    except BaseException:
        for pipe in opened:
            pipe.close()
        for read_fd in reads[len(opened) + 1 :]:  # the one that failed belongs to its file object
            os.close(read_fd)
        await stop(proc)
        raise
    return proc, opened


async def stop(proc: asyncio.subprocess.Process | None) -> None:
    """Kill a child (if it still runs) and reap it; its pipes are closed."""
    if proc is None:
        return
    if proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
    if proc.returncode is None:
        # os.kill, not proc.kill: Popen.send_signal first polls, which can reap a child that has
        # just exited under asyncio's child watcher, which then reports exit status 255.
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()


async def last_words(proc: asyncio.subprocess.Process, into: deque[str], log_line: Callable[[str], None] | None = None) -> None:
    """A child's stderr, line by line to its end: the non-empty lines go into `into` (a bounded
    deque: its last words, to tell when it fails), each also to `log_line` if given."""
    assert proc.stderr is not None
    async for line in proc.stderr:
        if text := line.decode("utf-8", "replace").strip()[:300]:
            into.append(text)
            if log_line is not None:
                log_line(text)


def describe_exit(code: int | None) -> str:
    """How a child ended, in words: 'exit status 1', 'killed by SIGKILL'."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
