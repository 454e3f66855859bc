"""Child processes (ffmpeg, espeak-ng): started the one way, stopped the one way.

Every child is killed and reaped when its owner is done with it, so no process outlives its
track, its source or the station; a child that dies on its own is reported with its exit
status (a signal number means someone or something killed it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal


async def spawn(*args: str, stdin: bool = False, stdout: bool = True, stderr: bool = True) -> asyncio.subprocess.Process:
    pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    return await asyncio.create_subprocess_exec(
        *args, stdin=pipe if stdin else null, stdout=pipe if stdout else null, stderr=pipe if stderr else null
    )


async def stop(proc: asyncio.subprocess.Process | None) -> None:
    """Kill a child (if it still runs) and reap it; its pipes are closed."""
    if proc is None:
        return
    if proc.stdin is not None and not proc.stdin.is_closing():
        proc.stdin.close()
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await proc.wait()


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
