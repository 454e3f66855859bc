"""When one machine is not enough: the shipped deploy/nginx.conf, run by a real nginx in front of
the station, serves 2,000 HLS players from its cache at a cost to the station of about one
request per segment per variant, and passes the Icecast streams through unbuffered."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import ssl
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import decode_errors, free_port, make_tone, need, record
from .history_ears import admin_get

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parent.parent
SEGMENT = 2.0
CLIENTS = 2000
PASSWORD = "Adm-8f2kq"  # behind a proxy the station faces the network: no example passwords
SECONDS = 16.0


def nginx_config(tmp: Path, listen: int, station: int, tls: int) -> Path:
    """deploy/nginx.conf as shipped, on loopback ports (TLS on `tls`, with a certificate made
    here), inside a minimal main config."""
    key, cert = tmp / "radio.key", tmp / "radio.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    cache = re.search(r"^proxy_cache_path (\S+) ", site, re.M)[1]
    assert Path(cache).parent.is_dir(), cache  # (Debian's nginx makes no /var/cache/nginx: `nginx -t` refused the file, QA)
    site = site.replace(cache, str(tmp / "cache")).replace("127.0.0.1:8000", f"127.0.0.1:{station}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};").replace("listen 443 ssl;", f"listen 127.0.0.1:{tls} ssl;")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    (tmp / "site.conf").write_text(site)
    temp = " ".join(f"{kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = tmp / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach pytest's private temp dir
    main.write_text(
        f"{user}daemon off; pid {tmp / 'nginx.pid'}; error_log {tmp / 'error.log'} warn; worker_processes 1; worker_rlimit_nofile 8192;\n"
        f"events {{ worker_connections 6000; }}\nhttp {{ access_log off; {temp} include {tmp / 'site.conf'}; }}\n"
    )
    return main


async def player(port: int, variant: str, until: float, counts: dict) -> None:
    """An HLS player: polls the playlist every half segment over one kept-alive connection and
    fetches each new segment once."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    have: set[str] = set()

    async def get(path: str) -> bytes:
        writer.write(f"GET /hls/{variant}/{path} HTTP/1.1\r\nHost: radio\r\nUser-Agent: player\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head, re.I)[1])
        body = await reader.readexactly(length)
        counts[head[9:12].decode()] = counts.get(head[9:12].decode(), 0) + 1
        return body

    try:
        while time.monotonic() < until:
            text = (await get("live.m3u8")).decode()
            for uri in re.findall(r"^(\d+\.ts)$", text, re.M)[-2:]:
                if uri not in have:
                    have.add(uri)
                    await get(uri)
            await asyncio.sleep(SEGMENT / 2)
    finally:
        writer.close()


async def players(port: int) -> dict:
    counts: dict = {}
    until = time.monotonic() + SECONDS
    tasks = []
    for i in range(CLIENTS):
        tasks.append(asyncio.create_task(player(port, ("lo", "hi")[i % 2], until, counts)))
        if i % 200 == 199:
            await asyncio.sleep(0.2)  # 2,000 players arriving over two seconds
    results = await asyncio.gather(*tasks, return_exceptions=True)
    counts["failed"] = sum(1 for r in results if isinstance(r, BaseException))
    return counts


def start_nginx(nginx: str, tmp: Path, station: int) -> tuple[subprocess.Popen, int, int]:
    """nginx with deploy/nginx.conf in front of `station`: (process, http port, https port)."""
    port, tls = free_port(), free_port()
    for kind in ("cache", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / kind).mkdir()
    proc = subprocess.Popen([nginx, "-c", str(nginx_config(tmp, port, station, tls)), "-p", str(tmp)])
    time.sleep(1.0)
    assert proc.poll() is None, (tmp / "error.log").read_text()
    return proc, port, tls


def test_nginx_caches_hls_for_two_thousand_players(server_factory, tmp_path):
    nginx = need("nginx")
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    make_tone(tracks / "t.ogg", 440, 30.0, 44100, 2, ("-c:a", "libvorbis"), "Artist", "Song")
    playlist = f"timezone: UTC\nplaylists:\n  t: {{files: ['{tracks}/']}}\nfallback: t\n"
    hls = f"hls:\n  segment: {SEGMENT:g}\n  variants:\n    - {{name: lo, bitrate: 48}}\n    - {{name: hi, bitrate: 96}}\n"
    server = server_factory(playlist, config_extra=hls, server_extra="max_pending: 4000")
    deadline = time.monotonic() + 15
    while server.get("/hls/hi/live.m3u8")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    proc, port, _ = start_nginx(nginx, tmp_path, server.port)
    try:
        before = json.loads(server.get("/api/status")[2])["hls"]
        start = time.monotonic()
        with ThreadPoolExecutor(1) as pool:  # its own thread: the session's Playwright may own this one's event loop
            counts = pool.submit(asyncio.run, players(port)).result()
        elapsed = time.monotonic() - start
        status = json.loads(server.get("/api/status")[2])
        stream = record(port, "/main", 3.0)  # a listener through nginx: unbuffered, as from the station
    finally:
        proc.terminate()
        proc.wait(10)
    origin = {k: status["hls"]["requests"][k] - before["requests"][k] for k in ("segment", "playlist")}
    segments = elapsed / SEGMENT * 2  # produced in the run, both variants
    print(f"{CLIENTS} players through nginx for {elapsed:.0f} s: answers {counts}; the station answered "
          f"{origin['segment']} segment and {origin['playlist']} playlist requests for {segments:.0f} segments made")  # fmt: skip
    assert counts["failed"] == 0 and counts.get("200", 0) > CLIENTS * 5
    assert origin["segment"] <= segments + 4  # about one request per segment per variant (and the window nginx first fills)
    assert origin["playlist"] <= 2 * segments + 4  # a playlist is cached for half a segment
    assert status["hls"]["listeners"] >= 1  # the players reach the station only through nginx (one client)
    assert stream.headers.get("icy-metaint") and decode_errors(stream.audio, tmp_path)[0] == []
    # this station does not list nginx in server.trusted_proxies: said once, not per request
    assert server.log_text().count("but server.trusted_proxies does not list 127.0.0.1") == 1


def connect_from(source: str, port: int, request: str) -> socket.socket:
    """A client at loopback address `source` (any 127.x.y.z is this machine) that sent `request`."""
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    sock.sendall(request.encode())
    return sock


def status_from(source: str, port: int, password: str, origin: str = "") -> int:
    auth = base64.b64encode(f"admin:{password}".encode()).decode()
    origin = f"Origin: {origin}\r\n" if origin else ""
    head = f"GET /admin/stats HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n{origin}\r\n"
    with connect_from(source, port, head) as sock:
        return int(sock.recv(64)[9:12])


def test_nginx_passes_each_clients_address(server_factory, tmp_path):
    """With server.trusted_proxies naming the nginx in front, the station sees each client's own
    address (listclients, the login lockout), and a client that comes directly cannot pose as
    another with a forged X-Forwarded-For."""
    nginx = need("nginx")
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    make_tone(tracks / "t.ogg", 440, 30.0, 44100, 2, ("-c:a", "libvorbis"), "Artist", "Song")
    strong = {"STREAMER_SOURCE_PASSWORD": "Src-8f2kq", "STREAMER_ADMIN_PASSWORD": PASSWORD, "STREAMER_RELAY_PASSWORD": "Rel-8f2kq"}
    server = server_factory(
        f"playlists:\n  t: {{files: ['{tracks}/']}}\nfallback: t\n", server_extra="trusted_proxies: [127.0.0.1]", env=strong
    )
    proc, port, tls = start_nginx(nginx, tmp_path, server.port)
    try:
        listen = "GET /main HTTP/1.1\r\nHost: radio\r\nUser-Agent: {}\r\n{}\r\n"
        through = connect_from("127.0.0.9", port, listen.format("through-nginx", ""))
        direct = connect_from("127.0.0.10", server.port, listen.format("direct", "X-Forwarded-For: 198.51.100.7\r\n"))
        with through, direct:
            got = b""
            while b"\r\n\r\n" not in got or len(got.partition(b"\r\n\r\n")[2]) < 4:
                got += through.recv(4096)
            stream_head, _, stream_body = got.partition(b"\r\n\r\n")
            deadline, clients = time.monotonic() + 10, ""
            while clients.count("<listener>") < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
                clients = admin_get(server.port, "/admin/listclients?mount=/main", password=PASSWORD)
            seen = dict(re.findall(r"<IP>([^<]*)</IP>.*?<UserAgent>([^<]*)</UserAgent>", clients, re.S))
            with ThreadPoolExecutor(10) as pool:  # ten wrong passwords at once (failed logins are slowed)
                wrong = list(pool.map(lambda _: status_from("127.0.0.11", port, "guess"), range(10)))
            locked, operator = status_from("127.0.0.11", port, PASSWORD), status_from("127.0.0.12", port, PASSWORD)
            dashboard = status_from("127.0.0.12", port, PASSWORD, origin=f"http://127.0.0.1:{port}")  # the Host nginx passes on
        unverified = ssl._create_unverified_context()  # the certificate made for the test
        with urllib.request.urlopen(f"https://127.0.0.1:{tls}/main.m3u", context=unverified, timeout=5) as answer:
            playlist = answer.read().decode().strip()
        dj_start = time.monotonic()
        dj = subprocess.run(  # the README's DJ command, pointed at nginx instead of the station
            [need("ffmpeg"), "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "sine=d=5", "-c:a", "libmp3lame", "-content_type",
             "audio/mpeg", "-f", "mp3", f"icecast://source:Src-8f2kq@127.0.0.1:{port}/live"],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        dj_seconds = time.monotonic() - dj_start
    finally:
        proc.terminate()
        proc.wait(10)
    # a mount through nginx to an HTTP/1.1 client is the bare stream, as from the station: not chunked (a receiver that
    # does not de-chunk would find chunk sizes inside the MP3); QA found nginx chunking it
    assert b"transfer-encoding" not in stream_head.lower() and stream_body[:2] in (b"\xff\xfb", b"\xff\xf3"), got[:300]
    assert {agent: ip for ip, agent in seen.items()} == {"through-nginx": "127.0.0.9", "direct": "127.0.0.10"}
    assert wrong == [401] * 10 and locked == 429 and operator == 200  # the guesser is locked out, not everyone behind nginx
    assert dashboard == 200  # the dashboard's own requests through nginx are not taken for another site's
    log = server.log_text()
    assert "from 127.0.0.11" in log and "from 127.0.0.1 " not in log
    assert playlist == f"https://127.0.0.1:{tls}/main"  # a listener of the https side is given https links (X-Forwarded-Proto)
    # A live source cannot stream through an HTTP proxy: its software says so at once (it streamed into nothing).
    assert dj.returncode != 0 and dj_seconds < 3.0, (dj_seconds, dj.stderr)  # 5 s of audio at real time: refused at once
    assert "/live: source" not in log
