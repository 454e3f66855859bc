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


def test_a_name_taken_again_at_once_keeps_the_new_task_and_stops_the_old():
    """QA: a DJ took a mount the moment the last source left; the old pacer's stop, asked for a
    moment earlier, stopped the new pacer by its name, and the old one was left unheld ("Task
    was destroyed but it is pending")."""

    async def scenario() -> tuple[bool, bool, bool]:
        sup = Supervisor()
        ran: list[str] = []

        def pacer(name: str):
            async def run() -> None:
                ran.append(name)
                await asyncio.sleep(3600)

            return run

        sup.start("pacer /live", pacer("old"))
        await asyncio.sleep(0.01)
        old = sup.tasks["pacer /live"].task
        stopping = asyncio.ensure_future(sup.stop_task("pacer /live"))  # as the source desk does, in the background
        sup.start("pacer /live", pacer("new"))  # the next DJ, before that stop has run
        await stopping
        await asyncio.sleep(0.01)
        new = sup.tasks["pacer /live"].task
        result = (old.done(), not new.done(), ran == ["old", "new"])
        await sup.stop()
        return result

    assert asyncio.run(scenario()) == (True, True, True)


def test_a_crashed_playlist_watcher_is_no_ok_reload(monkeypatch):
    """QA: a watcher task that crashed left `schedule.reload.ok` true while no edit was read."""
    from types import SimpleNamespace

    from streamer.documents import _reload_status

    monkeypatch.setattr(supervise, "FIRST_BACKOFF", 60.0)

    async def scenario() -> tuple[dict, dict]:
        sup = Supervisor()

        async def crashes() -> None:
            raise OSError(36, "File name too long")

        station = SimpleNamespace(watcher=SimpleNamespace(state={"ok": True, "errors": []}), supervisor=sup)
        before = _reload_status(station)
        sup.start("playlist watcher", crashes)
        await asyncio.sleep(0.05)
        after = _reload_status(station)
        await sup.stop()
        return before, after

    before, after = asyncio.run(scenario())
    assert before == {"ok": True, "errors": []}
    assert after["ok"] is False and "the playlist watcher failed (OSError: [Errno 36] File name too long)" in after["errors"][0], after
