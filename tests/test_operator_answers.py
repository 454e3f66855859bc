"""What the operator is told, on the real server: /metrics agreeing with /api/status, HLS
players and refused listeners counted, and the admin API's answers naming what is wrong."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request

import pytest

from .conftest import make_tone, need

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


def test_hls_players_are_in_metrics_and_promtool_passes(server_factory, music):
    """An HLS player is a listener (hls_listeners: seen within two segments): /metrics counts it
    per variant, as /api/status does, and the exposition still passes promtool."""
    promtool = need("promtool")
    hls = "hls:\n  segment: 1\n  window: 6\n  variants:\n    - {name: lo, bitrate: 48}\n    - {name: hi, bitrate: 96}\n"
    server = server_factory(PROGRAMME.format(music=music), config_extra=hls)
    wait_for(lambda: all(v["segments"] >= 2 for v in server.status()["hls"]["variants"]), 15, "the first HLS segments")
    for agent in ("Player-A", "Player-B"):
        req = urllib.request.Request(server.url("/hls/lo/live.m3u8"), headers={"User-Agent": agent})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
    text = server.get("/metrics")[2].decode()
    assert metric(text, "streamer_hls_listeners", variant="lo") == 2.0, text
    assert metric(text, "streamer_hls_listeners", variant="hi") == 0.0, text
    checked = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
