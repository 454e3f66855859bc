"""The pages and the new endpoints over HTTP, on the real server (no browser): what a page is
without JavaScript, its assets' caching, what it may load, its weight; /api/schedule,
/api/skip and /api/listeners/history, and who may use them."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import make_tone, raw_request

pytestmark = pytest.mark.interop

USERS = "users:\n  source: {password: test-source-pw}\n  admin: {password: test-admin-pw}\n"
ADMIN = "Basic " + base64.b64encode(b"admin:test-admin-pw").decode()
MOUNTS = "  /main: {bitrate: 128}\n  /low: {bitrate: 48, sample_rate: 22050, channels: 1}\n  /studio: {source: true}"
PROGRAMME = """timezone: Africa/Harare
playlists:
  music: {{files: ['{music}']}}
blocks:
  all-day: {{days: daily, start: "00:00", end: "23:59", play: music, priority: 5}}
events:
  news: {{at: ":00", bulletin: true, start: hard}}
fallback: music
"""
PAGE_BUDGET = 50_000  # bytes of HTML + script + style + icon, uncompressed


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    d = tmp_path_factory.mktemp("music")
    make_tone(d / "long.ogg", 440, 30.0, 44100, 2, ("-c:a", "libvorbis"), "Band", "Long Song")
    return d


def station(server_factory, music):
    return server_factory(PROGRAMME.format(music=music / "long.ogg"), mounts=MOUNTS, config_extra=USERS)


def request(server, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None):
    req = urllib.request.Request(server.url(path), data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_the_public_page_is_whole_without_javascript_and_loads_only_from_the_station(server_factory, music):
    server = station(server_factory, music)
    request(server, "POST", "/api/news", {"Authorization": ADMIN, "Content-Type": "application/json"}, b'{"title": "Dam levels rise"}')
    code, headers, body = server.get("/")
    page = body.decode()
    assert code == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert f'<audio id="audio" controls preload="none" src="http://127.0.0.1:{server.port}/main">' in page
    assert '<p id="np-title" class="np-title" dir="auto">Long Song</p>' in page and ">Band<" in page
    assert '<span class="headline">Dam levels rise</span>' in page
    assert '<span class="block">all-day</span>' in page and "news (news bulletin): every hour at :00" in page
    assert '<a href="/main.m3u">main</a> (MP3, 128 kbit/s)' in page
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert f"media-src 'self' http://127.0.0.1:{server.port}" in policy
    # Nothing from elsewhere: every link the page loads is the station's own.
    loaded = re.findall(r'<(?:script|link|img|audio|source)[^>]* (?:src|href)="([^"]+)"', page)
    assert loaded and all(u.startswith("/") or u.startswith(server.url("/")) for u in loaded), loaded
    weight = len(body)
    for url in re.findall(r'"(/static/[^"]+)"', page):
        code, headers, asset = server.get(url)
        assert code == 200 and headers["Cache-Control"] == "public, max-age=31536000, immutable" and headers["ETag"], url
        weight += len(asset)
        again = request(server, "GET", url, {"If-None-Match": headers["ETag"]})
        assert again[0] == 304 and again[2] == b"" and again[1]["ETag"] == headers["ETag"]
        unversioned = request(server, "GET", url.split("?")[0])
        assert unversioned[0] == 200 and unversioned[1]["Cache-Control"] == "public, max-age=300"
    print(f"public page: {weight} bytes (HTML {len(body)}) uncompressed")
    assert weight < PAGE_BUDGET
    assert server.get("/static/nothing.js")[0] == 404


def test_embed_may_be_framed_and_a_mount_without_a_source_says_so(server_factory, music):
    server = station(server_factory, music)
    code, headers, body = server.get("/embed")
    assert code == 200 and "frame-ancestors *" in headers["Content-Security-Policy"] and "X-Frame-Options" not in headers
    assert b'<body class="embed"' in body and b'id="np-title"' in body
    for path in ("/?mount=/studio", "/embed?mount=/studio"):
        page = server.get(path)[2].decode()
        assert "No source on /studio right now: nothing to play." in page and "<audio" not in page, path
        assert 'data-mount="/studio"' in page
    assert "There is no stream /nowhere here." in server.get("/?mount=/nowhere")[2].decode()
    assert "There is no stream /caf\ufffd&lt;b&gt; here." in server.get("/embed?mount=/caf%E9%3Cb%3E")[2].decode()  # not UTF-8, not HTML
    assert server.status()["live"] == {"mount": "/live", "connected": None, "on_air": False, "name": None}


def test_the_schedule_api_is_what_streamer_schedule_prints(server_factory, music, tmp_path):
    server = station(server_factory, music)
    for _ in range(3):  # the CLI starts from its own now: ask again if a minute turned in between
        code, headers, body = server.get("/api/schedule?hours=24")
        printed = subprocess.run(
            [sys.executable, "-m", "streamer", "schedule", "--config", str(tmp_path / "config.yaml"), "--hours", "24"],
            capture_output=True, text=True, check=True, cwd=tmp_path,
        ).stdout.splitlines()  # fmt: skip
        doc = json.loads(body)
        if doc["lines"] == printed:
            break
    assert code == 200 and headers["Access-Control-Allow-Origin"] == "*"
    assert doc["lines"] == printed and doc["timezone"] == "Africa/Harare" and doc["hours"] == 24
    assert [e["name"] for e in doc["entries"] if e["kind"] == "event"] == ["news"] * 24
    assert doc["entries"][0]["kind"] == "block" and doc["entries"][0]["name"] in ("all-day", "")
    for bad in ("abc", "0", "49", "nan", "inf"):
        code, _, body = server.get(f"/api/schedule?hours={bad}")
        assert code == 400 and body.decode() == f"hours must be a number from 1 minute (0.017) to 48, not {bad!r}\n", bad


def test_skip_and_the_listener_history_are_for_the_admin_and_never_for_another_origin(server_factory, music):
    server = station(server_factory, music)
    assert request(server, "POST", "/api/skip")[0] == 401
    refused = request(server, "POST", "/api/skip", {"Authorization": ADMIN, "Origin": "http://evil.example"})
    assert refused[0] == 403 and b"cross-site request refused" in refused[2]
    refused = request(server, "POST", "/api/skip", {"Authorization": ADMIN, "Sec-Fetch-Site": "cross-site"})
    assert refused[0] == 403
    code, headers, body = request(server, "POST", "/api/skip", {"Authorization": ADMIN})
    assert code == 202 and json.loads(body) == {"skipped": True, "title": "Band - Long Song"}
    assert "Access-Control-Allow-Origin" not in headers and "Access-Control-Allow-Credentials" not in headers
    # A preflight from another origin is never told it may send credentials.
    pre = raw_request(
        server.port,
        b"OPTIONS /api/skip HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n"
        b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization\r\n\r\n",
    )
    assert b"access-control-allow-credentials" not in pre.lower() and b"evil.example" not in pre
    assert request(server, "GET", "/api/listeners/history")[0] == 401
    code, headers, body = request(server, "GET", "/api/listeners/history?hours=1&step=60", {"Authorization": ADMIN})
    history = json.loads(body)
    assert code == 200 and "Access-Control-Allow-Origin" not in headers
    assert (
        history["source"] == "memory" and history["step"] == 60 and history["points"] and history["mounts"] == ["/low", "/main", "/studio"]
    )
    assert request(server, "GET", "/api/listeners/history?step=-1", {"Authorization": ADMIN})[0] == 400
    # the newsroom's admin answers carry no CORS header either; its public list does
    posted = request(server, "POST", "/api/news", {"Authorization": ADMIN, "Content-Type": "application/json"}, b'{"title": "Rain"}')
    assert posted[0] == 201 and "Access-Control-Allow-Origin" not in posted[1]
    retracted = request(server, "DELETE", f"/api/news/{json.loads(posted[2])['id']}", {"Authorization": ADMIN})
    assert retracted[0] == 200 and "Access-Control-Allow-Origin" not in retracted[1]
    assert request(server, "GET", "/api/news")[1].get("Access-Control-Allow-Origin") == "*"


def test_a_crowd_that_came_and_went_between_two_samples_is_in_the_listener_history(server_factory, music):
    """The dashboard's graph and its 24 h peak: three listeners for a moment, gone before the
    next 10 s sample, are in it (a sample used to be the count at that instant)."""
    server = station(server_factory, music)
    crowd = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(3)]
    for sock in crowd:
        sock.sendall(b"GET /main HTTP/1.0\r\nHost: x\r\n\r\n")
    for sock in crowd:  # each is a listener once audio comes
        got = b""
        while len(got) < 2048:
            got += sock.recv(4096) or b"?" * 2048
        assert got.startswith(b"HTTP/1.0 200") or got.startswith(b"ICY 200"), got[:40]
    for sock in crowd:
        sock.close()
    gone = time.time()
    deadline = gone + 15
    while time.time() < deadline:  # the next sample (every 10 s)
        history = json.loads(request(server, "GET", "/api/listeners/history?hours=1", {"Authorization": ADMIN})[2])
        if history["points"] and history["points"][-1][0] > gone:
            break
        time.sleep(0.5)
    main = 2 + history["mounts"].index("/main")  # [time, station, each mount]
    assert history["points"][-1][0] > gone, history
    assert max(p[1] for p in history["points"]) == 3 and max(p[main] for p in history["points"]) == 3, history


def test_the_dashboard_needs_the_admin_and_may_be_opened_from_a_link_but_not_framed(server_factory, music):
    server = station(server_factory, music)
    code, headers, _ = request(server, "GET", "/admin/")
    assert code == 401 and headers["WWW-Authenticate"].startswith("Basic")
    code, headers, body = request(server, "GET", "/admin/", {"Authorization": ADMIN})
    assert code == 200 and b'id="skip"' in body and headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and headers["Cache-Control"] == "no-store"
    link = {"Authorization": ADMIN, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert request(server, "GET", "/admin/", link)[0] == 200
    assert request(server, "GET", "/admin/", {**link, "Sec-Fetch-Dest": "iframe"})[0] == 403
    assert request(server, "GET", "/admin/", {**link, "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"})[0] == 403
    moved = raw_request(server.port, b"GET /admin HTTP/1.0\r\nHost: x\r\n\r\n")
    assert b" 301 " in moved.split(b"\r\n")[0] and b"Location: /admin/" in moved


def test_a_widget_polling_the_status_documents_gets_304_while_nothing_changed(server_factory, music):
    """QA: /api/nowplaying had no ETag; a widget polling it got the whole document (11 KB with 26
    headlines) each time. Now an unchanged document is a 304 with no body, and a changed one is
    sent with its new ETag."""
    server = station(server_factory, music)
    for path in ("/api/nowplaying", "/status-json.xsl"):
        code, headers, body = request(server, "GET", path)
        etag = headers.get("ETag", "")
        assert code == 200 and etag.startswith('"') and body, headers
        again = request(server, "GET", path, {"If-None-Match": etag})
        assert (again[0], again[2], again[1].get("ETag"), again[1].get("Access-Control-Allow-Origin")) == (304, b"", etag, "*"), again
        assert request(server, "GET", path, {"If-None-Match": '"other"'})[0] == 200
    code, headers, _ = request(server, "GET", "/api/nowplaying")
    time.sleep(1.2)  # the progress of the song on air moves on: another document, another ETag
    changed = request(server, "GET", "/api/nowplaying", {"If-None-Match": headers["ETag"]})
    assert changed[0] == 200 and changed[1]["ETag"] != headers["ETag"] and changed[2]
