"""The asyncio helpers with plain tasks: cancelling a task that loses a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from streamer.aio import cancel


async def _stubborn(swallowed: list[int]) -> None:
    """Loses its first cancellation, as a task inside 3.11's wait_for can, then waits on."""
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        swallowed.append(1)
    await asyncio.Event().wait()


def test_a_task_that_loses_a_cancellation_is_cancelled_again_until_it_ends():
    async def main() -> tuple[float, bool, int]:
        swallowed: list[int] = []
        task = asyncio.create_task(_stubborn(swallowed))
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.wait_for(cancel(task), 5.0)
        return loop.time() - began, task.cancelled(), len(swallowed)

    took, cancelled, swallowed = asyncio.run(main())
    assert cancelled and swallowed == 1 and took < 0.5, took


def test_a_task_that_will_not_end_is_left_behind_after_the_patience():
    stop = asyncio.Event()

    async def deaf() -> None:
        while not stop.is_set():
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                pass

    async def main() -> tuple[float, bool]:
        task = asyncio.create_task(deaf())
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await cancel(task, patience=0.3)
        took, done = loop.time() - began, task.done()
        stop.set()  # (the test's own clean-up, or asyncio.run would wait for it forever)
        task.cancel()
        await asyncio.wait({task})
        return took, done

    took, done = asyncio.run(main())
    assert not done and 0.3 <= took < 1.0, took


def test_a_task_that_failed_still_says_so():
    async def main() -> None:
        async def broken() -> None:
            raise ValueError("bad")

        task = asyncio.create_task(broken())
        await asyncio.sleep(0)
        await cancel(task)

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(main())


def test_the_sockets_a_service_manager_passed_are_found_for_this_process_only():
    from streamer.aio import activated

    assert activated({"LISTEN_PID": "42", "LISTEN_FDS": "2"}, 42) == [3, 4]
    assert activated({"LISTEN_PID": "41", "LISTEN_FDS": "2"}, 42) == []  # meant for a parent: not ours
    assert activated({"LISTEN_FDS": "1"}, 42) == [] and activated({"LISTEN_PID": "42", "LISTEN_FDS": "x"}, 42) == []
    assert activated({}, 42) == []
