"""What the operator is told, on the real server: /metrics agreeing with /api/status, HLS
players and refused listeners counted, and the admin API's answers naming what is wrong."""

from __future__ import annotations

import re
import time

import pytest

from .conftest import make_tone

pytestmark = pytest.mark.interop

PROGRAMME = "playlists:\n  music: {{files: ['{music}']}}\nfallback: music\n"


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    d = tmp_path_factory.mktemp("answers-music")
    return make_tone(d / "song.mp3", 440, 30.0, 44100, 2, ("-c:a", "libmp3lame"), "Band", "Song")


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of `name` with exactly these labels, or None."""
    for line in text.splitlines():
        m = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if m and dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or "")) == labels:
            return float(m.group(2))
    return None


def wait_for(check, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def test_task_up_in_metrics_is_what_api_status_says(server_factory, music):
    """A one-shot task that finished (bulletin prefetch) is up in both: it did its work, and an
    alert on streamer_task_up == 0 must not fire for it; both read one definition."""
    server = server_factory(PROGRAMME.format(music=music))

    def finished() -> list[dict] | None:
        tasks = server.status()["tasks"]
        prefetch = next(t for t in tasks if t["name"] == "bulletin prefetch")
        return tasks if prefetch["restarts"] == 0 and not prefetch["running"] else None

    tasks = wait_for(finished, 15, "the bulletin prefetch finished")
    text = server.get("/metrics")[2].decode()
    for task in tasks:
        up = task.get("up", task["running"])
        assert metric(text, "streamer_task_up", task=task["name"]) == (1.0 if up else 0.0), (task, text)
    assert next(t for t in tasks if t["name"] == "bulletin prefetch")["up"] is True
