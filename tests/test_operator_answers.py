"""What the operator is told, on the real server: /metrics agreeing with /api/status, HLS
players and refused listeners counted, and the admin API's answers naming what is wrong."""

from __future__ import annotations

import base64
import itertools
import json
import re
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from .conftest import DEFAULT_MOUNTS, make_tone, need, raw_request
from .conftest import eventually as wait_for

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


def test_a_flood_of_status_requests_is_answered_and_the_next_answer_after_it_is_fresh(server_factory, music):
    """Status documents asked for hundreds of times a second are shared for up to a quarter of a
    second (web/doc_cache.py): every answer is still a whole, valid document with its headers,
    and once the flood is over an answer again says what is true at that moment."""
    server = server_factory(PROGRAMME.format(music=music))
    answers: list[tuple[int, str | None, str | None, int]] = []
    end = time.monotonic() + 1.5
    while time.monotonic() < end:  # one client as fast as it can (a few hundred a second here)
        for path in ("/api/status", "/status-json.xsl", "/api/nowplaying"):
            code, headers, body = server.get(path)
            doc = json.loads(body)
            listeners = doc["listeners"] if path == "/api/status" else 0
            answers.append((code, headers.get("Content-Type"), headers.get("Access-Control-Allow-Origin"), listeners))
    assert len(answers) >= 30
    assert set(answers) == {(200, "application/json; charset=utf-8", "*", 0)}
    time.sleep(2.1)  # the flood's second and the one after it are over
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /main HTTP/1.0\r\nUser-Agent: After-The-Flood\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.0 200")
        assert server.status()["listeners"] == 1  # built for this answer, not one from the flood


def test_a_flood_of_metrics_scrapes_is_answered_from_shared_bodies_and_fresh_after_it(server_factory, music):
    """/metrics (public, as Prometheus scrapes it) was built for every request, at three times the
    cost of a status document: a monitor hammering it spent the loop. Its body changes with every
    build (the garbage collector's counters, the process's CPU seconds), so while flooded the
    answers repeat, a body per quarter second; afterwards an answer is built fresh."""
    server = server_factory(PROGRAMME.format(music=music))
    bodies: list[bytes] = []
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        code, headers, body = server.get("/metrics")
        assert code == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert body.endswith(b"\n") and b"streamer_listeners{" in body
        bodies.append(body)
    assert len(bodies) >= 120, len(bodies)  # a flood: over BUSY (50) a second
    assert len(set(bodies)) <= 50 + 2.0 / 0.25 + 2, (len(set(bodies)), len(bodies))
    time.sleep(2.1)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /main HTTP/1.0\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.0 200")
        assert 'streamer_listeners{format="audio/mpeg",mount="/main"} 1.0' in server.get("/metrics")[2].decode()


def post_headline(server, title: str) -> None:
    posted = urllib.request.Request(
        server.url("/api/news"), data=json.dumps({"title": title}).encode(), method="POST",
        headers={"Authorization": "Basic " + base64.b64encode(b"admin:hackme").decode(), "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(posted, timeout=5) as r:
        assert r.status in (200, 201)


def test_a_flood_of_page_views_shares_the_station_parts_but_not_the_readers_own(server_factory, music):
    """A news spike sends readers to `/` by the hundred a second: the station's parts of the page
    are made once per quarter second then (doc_cache.py), each reader's own part (the stream
    asked for with ?mount=) still per answer; after the flood a page says what is new."""
    server = server_factory(PROGRAMME.format(music=music))
    wanted = itertools.cycle(["", "/low", "/nowhere"])
    seen: dict[str, set[tuple]] = {"": set(), "/low": set(), "/nowhere": set()}
    answers = 0
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        answers += 1
        mount = next(wanted)
        code, headers, body = server.get("/?mount=" + mount if mount else "/")
        page = body.decode()
        player = re.search(r'<audio[^>]*src="([^"]+)"', page)
        said = "There is no stream /nowhere here." in page
        seen[mount].add((code, headers["Content-Type"], "media-src" in headers["Content-Security-Policy"], player and player[1], said))
    main, low = server.url("/main"), server.url("/low")
    assert answers >= 30
    assert seen[""] == {(200, "text/html; charset=utf-8", True, main, False)}, seen
    assert seen["/low"] == {(200, "text/html; charset=utf-8", True, low, False)}, seen
    assert seen["/nowhere"] == {(200, "text/html; charset=utf-8", True, None, True)}, seen
    time.sleep(2.1)  # the flood's second and the one after it are over
    post_headline(server, "Posted after the flood")
    assert "Posted after the flood" in server.get("/")[2].decode()  # built for this answer


def raw_get(port: int, path: str, host: str) -> tuple[bytes, bytes]:
    """(status line, rest) of one GET with this Host header, on a connection of its own."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    line, _, rest = data.partition(b"\r\n")
    return line, rest


def test_a_flood_of_made_up_hosts_is_refused_beyond_a_budget_while_a_real_reader_is_answered(server_factory, music):
    """Each Host header makes its own document (its URLs): a flood of made-up ones would build one
    per request. Beyond a budget a new one gets 503 with Retry-After; a reader on a host asked for
    before is answered throughout (doc_cache.py)."""
    server = server_factory(PROGRAMME.format(music=music))
    assert raw_get(server.port, "/api/nowplaying", "radio.example")[0] == b"HTTP/1.1 200 OK"
    made_up: list[tuple[bytes, bytes]] = []
    end = time.monotonic() + 1.5

    def flood(worker: int) -> None:
        for i in itertools.count():
            if time.monotonic() > end:
                return
            made_up.append(raw_get(server.port, "/api/nowplaying", f"x{worker}-{i}.example"))

    threads = [threading.Thread(target=flood, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    real = []
    while time.monotonic() < end:
        line, rest = raw_get(server.port, "/api/nowplaying", "radio.example")
        real.append(line)
        assert b'"listen_url":"http://radio.example/main"' in rest.replace(b" ", b"")
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert len(made_up) >= 150 and set(real) == {b"HTTP/1.1 200 OK"}, (len(made_up), set(real))
    refused = [rest for line, rest in made_up if line.startswith(b"HTTP/1.1 503")]
    assert {line for line, _ in made_up} <= {b"HTTP/1.1 200 OK", b"HTTP/1.1 503 Service Unavailable"}
    assert refused and all(b"Retry-After: 1" in rest and b"server busy: more than 8 new documents" in rest for rest in refused)


def first_event(port: int) -> dict:
    """Subscribe to /api/events as a page does and return its first event's data."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        data = b""
        while not re.search(rb"event: nowplaying\ndata: .*\n\n", data):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    return json.loads(re.search(rb"event: nowplaying\ndata: (.*)\n\n", data)[1])  # type: ignore[index]


def test_pages_subscribing_by_the_hundred_each_get_a_whole_first_event_and_later_ones_get_news(server_factory, music):
    """Every page reconnecting at once (a network blip) shares the first event's document while
    it is flooded (doc_cache.py); one subscribing after the flood gets what is new."""
    server = server_factory(PROGRAMME.format(music=music))
    firsts = [first_event(server.port) for _ in range(150)]
    assert all(doc["station"]["name"] == "Test Radio" and doc["mounts"] and "now_playing" in doc for doc in firsts)
    time.sleep(2.1)
    post_headline(server, "Posted after the reconnections")
    assert [h["title"] for h in first_event(server.port)["headlines"]][:1] == ["Posted after the reconnections"]


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


def test_listeners_turned_away_are_counted_and_logged_as_icecast_does(server_factory, music, tmp_path):
    """403 for a full mount (its max_listeners) or a full server: counted by mount and reason in
    /metrics, and one access-log line each (status 403, nothing sent), as Icecast logs them."""
    mounts = "  /main: {bitrate: 128, max_listeners: 1}\n  /low: {bitrate: 48, sample_rate: 22050, channels: 1}"
    server = server_factory(PROGRAMME.format(music=music), mounts=mounts, server_extra="max_listeners: 2")
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        for sock, path in zip(held, ("/main", "/low"), strict=True):
            sock.sendall(f"GET {path} HTTP/1.0\r\nUser-Agent: Holder\r\n\r\n".encode())
            assert sock.recv(64).startswith(b"HTTP/1.0 200")
        full_mount = raw_request(server.port, b"GET /main HTTP/1.0\r\nUser-Agent: Late-Main\r\nReferer: http://ref.example/\r\n\r\n")
        full_server = raw_request(server.port, b"GET /low HTTP/1.0\r\nUser-Agent: Late-Low\r\n\r\n")
        assert b" 403 " in full_mount.split(b"\r\n")[0] and b"max listeners reached" in full_mount
        assert b" 403 " in full_server.split(b"\r\n")[0] and b"server full" in full_server
        text = server.get("/metrics")[2].decode()
        assert metric(text, "streamer_listeners_refused_total", mount="/main", reason="max_listeners") == 1.0, text
        assert metric(text, "streamer_listeners_refused_total", mount="/low", reason="server_full") == 1.0, text
        assert metric(text, "streamer_connections_refused_total") == 0.0  # descriptors: a series of its own, unchanged
        log = tmp_path / "logs" / "access.log"
        lines = wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 2 and log.read_text().splitlines(), 5, "two lines")
    finally:
        for sock in held:
            sock.close()
    main = next(line for line in lines if "Late-Main" in line)
    assert re.match(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /main HTTP/1\.0" 403 0 "http://ref\.example/" "Late-Main" 0$', main), main
    assert any(re.search(r'"GET /low HTTP/1\.0" 403 0 "-" "Late-Low" 0$', line) for line in lines), lines


def test_a_title_for_the_stations_own_mount_is_refused_while_no_dj_is_on_air(server_factory, music, tmp_path):
    """/main takes its titles from the schedule: updinfo there (no DJ) is refused, saying where a
    DJ's titles go, and the history gets no bogus live play nor a cut song. A pass-through
    mount still takes titles."""
    server = server_factory(PROGRAMME.format(music=music), mounts=DEFAULT_MOUNTS + "\n  /studio: {source: true}")
    wait_for(lambda: server.status()["now_playing"], 10, "the song on air")
    time.sleep(1.0)
    asked = time.time()
    code, body = admin_call(server, "/admin/metadata?mount=/main&mode=updinfo&song=Bogus%20-%20Title")
    assert code == 403, (code, body)
    assert "/main is the station" in body and "own mount: its titles come from the schedule" in body and "(/live)" in body, body
    assert admin_call(server, "/admin/metadata?mount=/studio&mode=updinfo&song=Studio%20Title")[0] == 200  # pass-through: as before
    time.sleep(2.0)
    titles = {m["mount"]: m["title"] for m in server.status()["mounts"]}
    assert titles["/main"] == titles["/low"] == "Band - Song", titles
    stopped = time.time()
    server.stop()
    conn = sqlite3.connect(tmp_path / "state" / "history.sqlite")
    plays = conn.execute("SELECT started, ended, kind, stream_title FROM plays ORDER BY started").fetchall()
    conn.close()
    assert [p[2:] for p in plays] == [("song", "Band - Song")], plays  # no 'live' play
    assert plays[0][0] < asked and plays[0][1] >= stopped - 0.5, plays  # the song's play ran until the stop, not cut


def test_moveclients_refuses_a_destination_that_cannot_take_them_and_moves_when_it_can(server_factory, music):
    """Icecast moves listeners whatever the destination: an MP3 player moved onto an Ogg mount
    gets bytes it cannot decode, and a mount goes past its max_listeners. Here either is a 400
    naming why, and nobody moves; a destination with room and the same format takes them all."""
    mounts = "  /main: {bitrate: 128}\n  /low: {bitrate: 48, max_listeners: 1}\n  /opus: {format: opus, bitrate: 64}"
    server = server_factory(PROGRAMME.format(music=music), mounts=mounts)
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    try:
        for sock in held:
            sock.sendall(b"GET /main HTTP/1.0\r\nUser-Agent: Holder\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.0 200")
        code, body = admin_call(server, "/admin/moveclients?mount=/main&destination=/opus")
        across = "/opus carries audio/ogg, /main audio/mpeg: the players listening to /main could not decode it"
        assert code == 400 and across in body, (code, body)
        code, body = admin_call(server, "/admin/moveclients?mount=/main&destination=/low")
        assert code == 400 and "/low has room for 1 more listener(s) (its max_listeners), 2 would move" in body, (code, body)
        on = {m["mount"]: m["listeners"] for m in server.status()["mounts"]}
        assert (on["/main"], on["/low"], on["/opus"]) == (2, 0, 0), on
        held.pop().close()
        wait_for(lambda: {m["mount"]: m["listeners"] for m in server.status()["mounts"]}["/main"] == 1, 5, "one listener left /main")
        code, body = admin_call(server, "/admin/moveclients?mount=/main&destination=/low")
        assert code == 200 and "Clients moved from /main to /low" in body, (code, body)
        on = {m["mount"]: m["listeners"] for m in server.status()["mounts"]}
        assert (on["/main"], on["/low"]) == (0, 1), on
        held[0].settimeout(5)
        assert held[0].recv(4096)  # the moved listener's connection carries on
    finally:
        for sock in held:
            sock.close()


def admin_call(server, path: str, auth: bytes = b"admin:hackme") -> tuple[int, str]:
    req = urllib.request.Request(server.url(path), headers={"Authorization": "Basic " + base64.b64encode(auth).decode()})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
