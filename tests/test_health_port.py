"""`server.health_port`: /healthz on a port of its own, on the real server."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys

import pytest

from .conftest import DEFAULT_CONFIG, DEFAULT_MOUNTS, free_port, make_tone

pytestmark = pytest.mark.interop


def one_tone(tmp_path) -> str:
    make_tone(tmp_path / "t.ogg", 440, 20.0, 44100, 2, ("-c:a", "libvorbis"), "Artist1", "Song1")
    return f"playlists:\n  t: {{files: ['{tmp_path / 't.ogg'}']}}\nfallback: t\n"


def test_the_health_port_answers_probes_on_a_kept_connection_and_nothing_else(server_factory, tmp_path):
    health = free_port()
    server = server_factory(one_tone(tmp_path), server_extra=f"health_port: {health}")
    probe = http.client.HTTPConnection("127.0.0.1", health, timeout=5)
    seen = []
    for method in ("GET", "HEAD", "GET"):  # one connection, as a load balancer keeps it
        probe.request(method, "/healthz")
        answer = probe.getresponse()
        body = answer.read()
        assert answer.status == 200 and answer.getheader("Content-Type") == "application/json; charset=utf-8", body
        seen.append(json.loads(body) if method == "GET" else body)
    assert seen[0]["ok"] is True and seen[0]["listeners"] == 0 and seen[1] == b"" and seen[2]["uptime"] >= seen[0]["uptime"]
    assert json.loads(server.get("/healthz")[2]).keys() == seen[0].keys()  # the public port's /healthz, the same document
    probe.request("GET", "/main")
    refused = probe.getresponse()
    assert refused.status == 404 and b"it answers GET /healthz only, not GET /main" in refused.read()
    assert f"health checks at http://127.0.0.1:{health}/healthz" in server.log_text()


def test_a_health_port_already_taken_stops_the_start_naming_it(tmp_path):
    (tmp_path / "playlists").mkdir()
    (tmp_path / "playlists" / "station.yaml").write_text(one_tone(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        config = DEFAULT_CONFIG.format(host="127.0.0.1", port=free_port(), mounts=DEFAULT_MOUNTS, server_extra=f", health_port: {busy}")
        (tmp_path / "config.yaml").write_text(config)
        run = [sys.executable, "-m", "streamer", "serve", "--config", str(tmp_path / "config.yaml")]
        done = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert f"streamer: cannot listen on 127.0.0.1:{busy} (server.health_port): Address already in use" in done.stderr
