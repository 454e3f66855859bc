"""The station's grid of ticks (pure) and an encoder's output read at the grid's harvest points,
through a real child process's pipe."""

import asyncio
import sys

import pytest

from streamer import child
from streamer.ticks import next_tick, sleep_on_grid


def test_next_tick_is_the_next_point_of_one_grid():
    assert next_tick(10.1, 0.25) == pytest.approx(10.25)
    assert next_tick(10.25, 0.25) == pytest.approx(10.5)  # on a point: the next one
    assert next_tick(10.1, 0.25, 0.125) == pytest.approx(10.125)
    assert next_tick(10.125, 0.25, 0.125) == pytest.approx(10.375)
    # Two pacers asking at different moments of one tick wake at the same point.
    assert next_tick(7.01, 0.25) == next_tick(7.24, 0.25)


def test_next_tick_after_a_long_stall_skips_the_missed_points():
    assert next_tick(100.9, 0.25) == pytest.approx(101.0)
    assert next_tick(-0.1, 0.25) == pytest.approx(0.0)


def _grid_timer(period: float, offset: float, fired: list[float]) -> None:
    """A reference: a bare timer at every point of a grid, noting when the loop ran it. On a loaded
    machine (the suite's other workers) the loop wakes late; what is tested is that a wake-up comes
    with the grid's, not that the machine is idle."""
    loop = asyncio.get_running_loop()

    def fire() -> None:
        fired.append(loop.time())
        loop.call_at(next_tick(loop.time(), period, offset), fire)

    loop.call_at(next_tick(loop.time(), period, offset), fire)


def _with_the_grid(when: float, fired: list[float]) -> float:
    """How far `when` is from the reference timer's nearest firing."""
    return min(abs(when - f) for f in fired)


def test_chores_sleep_to_the_next_multiple_of_their_period_on_the_loop_clock():
    async def wakes() -> tuple[list[float], list[float]]:
        loop = asyncio.get_running_loop()
        out, fired = [], []
        _grid_timer(0.1, 0.0, fired)
        for _ in range(3):
            await sleep_on_grid(0.1)
            out.append(loop.time())
        return out, fired

    out, fired = asyncio.run(wakes())
    for when in out:
        phase = when % 0.1
        assert min(phase, 0.1 - phase) < 0.015 or _with_the_grid(when, fired) < 0.015, (when, fired)


# A child writing a small record every 20 ms for 0.6 s, as an encoder writes its frames.
WRITER = "import sys, time\nfor i in range(30):\n    sys.stdout.buffer.write(b'%02d' % i); sys.stdout.flush(); time.sleep(0.02)\n"


async def _collect(
    interval: float, hurry_after: int | None = None, fired: list[float] | None = None
) -> tuple[bytes, list[tuple[float, int]]]:
    loop = asyncio.get_running_loop()
    if fired is not None:
        _grid_timer(interval, interval / 2, fired)
    proc, (out,) = await child.spawn_harvested(lambda _: [sys.executable, "-c", WRITER], interval)
    got, reads = b"", []
    try:
        while data := await out.read():
            got += data
            reads.append((loop.time(), len(data)))
            if hurry_after is not None and len(reads) == hurry_after:
                out.hurry()
    finally:
        out.close()
        await child.stop(proc)
    return got, reads


def test_a_harvested_pipe_is_read_once_per_tick_at_the_half_tick_with_nothing_lost():
    fired: list[float] = []
    got, reads = asyncio.run(_collect(0.25, fired=fired))
    assert got == b"".join(b"%02d" % i for i in range(30))  # every byte, in order
    # 30 writes over ~0.6 s (after the interpreter's start) come in a handful of reads, not 30...
    assert len(reads) <= 6, reads
    # ...each (after the first, which waits for the child to start) at a harvest point: half a
    # tick after a point of the pacers' grid, when a bare timer at those points runs.
    for when, _ in reads[1:-1]:
        phase = (when - 0.125) % 0.25
        assert min(phase, 0.25 - phase) < 0.02 or _with_the_grid(when, fired) < 0.02, (when, reads, fired)


def test_hurry_reads_the_rest_as_it_comes():
    _, paced = asyncio.run(_collect(0.25))
    got, hurried = asyncio.run(_collect(0.25, hurry_after=1))
    assert got == b"".join(b"%02d" % i for i in range(30))
    assert len(hurried) > len(paced) + 5  # the writes after hurry() are read one by one


def test_interval_zero_reads_as_the_bytes_come():
    got, reads = asyncio.run(_collect(0.0))
    assert got == b"".join(b"%02d" % i for i in range(30))
    assert len(reads) >= 20


def test_an_encoder_never_waits_for_a_harvest_its_pipe_holds_seconds_of_output():
    """600 KB (3.4 s of 1411 kbit/s FLAC) written with no harvest due: the child is not held up."""

    async def run() -> int:
        loop = asyncio.get_running_loop()
        point = next_tick(loop.time(), 1000.0, 500.0)
        if point - loop.time() < 5:  # the next harvest point well after the child is done
            await asyncio.sleep(point - loop.time() + 0.05)
        writer = "import sys; sys.stdout.buffer.write(b'x' * 600_000); sys.stdout.flush()"
        proc, (out,) = await child.spawn_harvested(lambda _: [sys.executable, "-c", writer], 1000.0)
        reading = asyncio.ensure_future(out.read())
        try:
            await asyncio.wait_for(proc.wait(), 4.0)  # a 64 KB pipe would hold it up until the harvest
            out.hurry()
            got = await reading
            while more := await out.read():
                got += more
        finally:
            out.close()
            await child.stop(proc)
        return len(got)

    assert asyncio.run(run()) == 600_000


def test_a_child_with_several_outputs_has_each_read_from_its_own_pipe():
    """One encoder process for several outputs (the HLS variants): each output's bytes come out
    of its own harvested pipe, whole and unmixed, and each pipe ends when the child does."""
    seen: list[list[str]] = []

    def command(targets: list[str]) -> list[str]:
        seen.append(targets)
        fds = [1 if t == "pipe:1" else int(t.removeprefix("pipe:")) for t in targets]
        writer = f"import os\nfor i, fd in enumerate({fds}):\n    os.write(fd, bytes([65 + i]) * (300_000 + i))\n"
        return [sys.executable, "-c", writer]

    async def run() -> list[bytes]:
        proc, outs = await child.spawn_harvested(command, 0.0, 3)
        got = []
        try:
            for out in outs:
                data = b""
                while more := await out.read():
                    data += more
                got.append(data)
        finally:
            for out in outs:
                out.close()
            await child.stop(proc)
        assert proc.returncode == 0
        return got

    got = asyncio.run(run())
    assert seen[0][0] == "pipe:1" and len(set(seen[0])) == 3
    assert [len(data) for data in got] == [300_000, 300_001, 300_002]
    assert [set(data) for data in got] == [{65}, {66}, {67}]
