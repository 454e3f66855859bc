"""The supervisor's view of a task: one definition of `up` for /api/status and /metrics."""

from __future__ import annotations

import asyncio

from streamer import supervise
from streamer.supervise import Supervisor


def test_a_finished_one_shot_is_up_and_a_failed_one_is_down(monkeypatch):
    monkeypatch.setattr(supervise, "FIRST_BACKOFF", 60.0)  # the failed one stays down while looked at

    async def scenario() -> tuple[dict, dict, dict]:
        sup = Supervisor()

        async def done() -> None:
            return None

        async def fails() -> None:
            raise RuntimeError("no espeak")

        async def forever() -> None:
            await asyncio.sleep(3600)

        sup.start("prefetch", done, restart_on_exit=False)
        sup.start("flaky prefetch", fails, restart_on_exit=False)
        sup.start("builder", forever)
        await asyncio.sleep(0.05)
        views = {v["name"]: v for v in sup.status()}
        await sup.stop()
        return views["prefetch"], views["flaky prefetch"], views["builder"]

    finished, failed, running = asyncio.run(scenario())
    assert (finished["up"], finished["running"], finished["finished"]) == (True, False, True)
    assert (failed["up"], failed["running"], failed["finished"]) == (False, False, False) and "no espeak" in failed["last_error"]
    assert (running["up"], running["running"], running["finished"]) == (True, True, False)
