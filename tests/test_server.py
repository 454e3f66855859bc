"""The real server on a free loopback port, heard by real decoders (ffmpeg, mpv)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from streamer.audio.ffmpeg import ffmpeg_exe

from .conftest import decode_errors, free_port, make_tone, need, raw_request, record
from .history_ears import admin_get

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Tracks in several formats and rates, tagged, plus bad files."""
    d = tmp_path_factory.mktemp("media")
    make_tone(d / "a.mp3", 440, 3.0, 44100, 2, ("-c:a", "libmp3lame", "-b:a", "96k"), "Artist A", "Low Tone")
    make_tone(d / "b.ogg", 1500, 3.0, 48000, 2, ("-c:a", "libvorbis", "-q:a", "2"), "Artist \u00c9 \u2013 B", "High \u2018Tone\u2019")
    make_tone(d / "c.flac", 700, 3.0, 22050, 1, ("-c:a", "flac",), "Artist C", "Mid Tone")  # fmt: skip
    make_tone(d / "d.m4a", 440, 2.0, 32000, 2, ("-c:a", "aac", "-b:a", "64k"), "", "")
    (d / "corrupt.mp3").write_bytes(bytes(range(256)) * 64)
    (d / "empty.ogg").write_bytes(b"")
    return d


def sequential(*files, media) -> str:
    listed = ", ".join(f"'{media / f}'" for f in files)
    return f"playlists:\n  test:\n    files: [{listed}]\n    order: sequential\nfallback: test\n"


def test_stream_decodes_clean_across_formats_and_rates(server_factory, media, tmp_path):
    server = server_factory(sequential("a.mp3", "b.ogg", "c.flac", "d.m4a", media=media))
    rec = record(server.port, "/main", 9.0)
    low = record(server.port, "/low", 3.0, metadata=False)
    errors, stream = decode_errors(rec.audio, tmp_path)
    assert errors == []
    assert "44100 Hz, stereo" in stream and "128 kb/s" in stream
    titles = [b["StreamTitle"] for _, b in rec.blocks]
    assert titles[0]  # the first block always carries the title
    assert {"Artist A - Low Tone", "Artist \u00c9 \u2013 B - High \u2018Tone\u2019", "Artist C - Mid Tone", "d"} & set(titles)
    assert len(set(titles)) >= 3  # at least two changes in 9 s of 3 s tracks
    errors, stream = decode_errors(low.audio, tmp_path, "low.mp3")
    assert errors == [] and "22050 Hz, mono" in stream and "48 kb/s" in stream


def test_ffmpeg_as_a_listener(server_factory, media):
    server = server_factory(sequential("a.mp3", "b.ogg", media=media))
    out = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", server.url("/main"), "-t", "4", "-f", "null", "-"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert re.search(r"Audio: mp3.*44100 Hz, stereo", out.stderr)
    assert not re.search(r"error|invalid", out.stderr, re.I), out.stderr


def test_mpv_plays_and_shows_the_title(server_factory, media):
    mpv = need("mpv")
    server = server_factory(sequential("a.mp3", "c.flac", media=media))
    out = subprocess.run(
        [mpv, "--no-config", "--no-video", "--ao=null", "--length=3", "--msg-level=all=info", server.url("/main")],
        capture_output=True, text=True, timeout=40,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert re.search(r"icy-title: (Artist A - Low Tone|Artist C - Mid Tone)", text), text


def zero_crossing_rate(pcm: bytes, rate: int, window: float) -> list[float]:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    n = int(rate * window)
    out = []
    for i in range(0, len(samples) - n, n):
        w = samples[i : i + n]
        out.append(sum(1 for a, b in itertools.pairwise(w) if (a < 0) != (b < 0)) / window)
    return out


def test_title_changes_where_the_new_track_starts(server_factory, media, tmp_path):
    """Icecast is ~4 s off; here the block must come within one metaint after the audio change."""
    server = server_factory(sequential("a.mp3", "b.ogg", media=media), mounts="  /main: {bitrate: 128, metaint: 1024}")
    rec = record(server.port, "/main", 8.0)
    f = tmp_path / "rec.mp3"
    f.write_bytes(rec.audio)
    pcm = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(f), "-f", "s16le", "-ac", "1", "-"], capture_output=True, check=True
    ).stdout
    zcr = zero_crossing_rate(pcm, 44100, 0.02)
    # 440 Hz crosses zero ~880 times a second, 1500 Hz ~3000 times.
    changes = [i * 0.02 for i in range(1, len(zcr)) if (zcr[i - 1] > 1900) != (zcr[i] > 1900) and zcr[i] > 100 and zcr[i - 1] > 100]
    changes_told = rec.blocks[1:]  # the first block greets a new listener; the rest are changes
    assert changes_told, rec.blocks
    for offset, fields in changes_told:
        told = offset / 16000  # CBR 128 kbit/s: 16000 bytes a second
        heard = min(changes, key=lambda c: abs(c - told))
        assert -0.1 <= told - heard <= 1024 / 16000 + 0.1, (fields, told, changes)


def test_icecast_wire_shape(server_factory, media):
    server = server_factory(sequential("a.mp3", media=media))
    port = server.port
    plain = raw_request(port, b"GET /main HTTP/1.1\r\nHost: x\r\n\r\n", timeout=0.5, limit=70_000)  # the burst and a little
    head, _, body = plain.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.0 200 OK"
    names = [x.split(":")[0].lower() for x in lines[1:]]
    assert "content-length" not in names and "transfer-encoding" not in names and "icy-metaint" not in names
    assert "icy-br:128" in lines and "icy-name:Test Radio" in lines
    assert body[:2] in (b"\xff\xfb", b"\xff\xfa")  # starts on an MP3 frame
    assert len(body) >= 65536 - 4096  # the burst

    with_meta = raw_request(port, b"GET /main HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n", timeout=0.3, limit=4096)
    assert b"\r\nicy-metaint:16000\r\n" in with_meta.partition(b"\r\n\r\n")[0]

    head_only = raw_request(port, b"HEAD /main HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head_only.startswith(b"HTTP/1.0 200 OK\r\n") and head_only.endswith(b"\r\n\r\n")

    options = raw_request(
        port, b"OPTIONS /main HTTP/1.1\r\nOrigin: https://web.example\r\nAccess-Control-Request-Headers: icy-metadata\r\n\r\n"
    )
    assert options.startswith(b"HTTP/1.0 200 OK") and b"Access-Control-Allow-Origin: https://web.example" in options

    ranged = raw_request(port, b"GET /main HTTP/1.1\r\nRange: bytes=0-1\r\n\r\n", timeout=0.3, limit=4096)
    assert ranged.startswith(b"HTTP/1.0 200 OK")

    missing = raw_request(port, b"GET /nope HTTP/1.0\r\n\r\n")
    assert re.match(rb"HTTP/1.[01] 404", missing) and b"/main" in missing  # the error names the mounts there are

    bad = raw_request(port, b"NONSENSE\r\n\r\n")
    assert bad.startswith(b"HTTP/1.0 400") and b"malformed request line" in bad

    code, headers, m3u = server.get("/main.m3u")
    assert code == 200 and headers["Content-Type"].startswith("audio/x-mpegurl") and m3u.decode().strip() == server.url("/main")
    code, _, pls = server.get("/main.pls")
    assert b"File1=" + server.url("/main").encode() in pls
    code, headers, xspf = server.get("/main.xspf")
    assert headers["Content-Type"].startswith("application/xspf+xml") and b"<location>" in xspf

    code, _, body = server.get("/status-json.xsl")
    stats = json.loads(body)["icestats"]
    assert isinstance(stats["source"], list)  # two mounts: a list (one would be an object)
    assert [s["listenurl"] for s in stats["source"]] == [server.url("/main"), server.url("/low")]
    only = json.loads(server.get("/status-json.xsl?mount=/low")[2])["icestats"]
    assert only["source"]["listenurl"] == server.url("/low")  # one mount asked for: its object, as Icecast
    assert "source" not in json.loads(server.get("/status-json.xsl?mount=/nosuch")[2])["icestats"]
    assert server.get("/healthz")[0] == 200


STRONG = {"STREAMER_SOURCE_PASSWORD": "Src-8f2kq", "STREAMER_ADMIN_PASSWORD": "Adm-8f2kq", "STREAMER_RELAY_PASSWORD": "Rel-8f2kq"}


def test_links_without_a_host_header_name_the_address_the_request_came_in_on(server_factory, media):
    """On a wildcard listener (host: 0.0.0.0) an HTTP/1.0 request with no Host header got links
    to http://0.0.0.0:PORT, which no player can follow: the request's own socket address is used."""
    server = server_factory(sequential("a.mp3", media=media), host="0.0.0.0", env=STRONG)
    want = f"http://127.0.0.1:{server.port}/main".encode()
    m3u = raw_request(server.port, b"GET /main.m3u HTTP/1.0\r\n\r\n")
    assert re.match(rb"HTTP/1.[01] 200", m3u) and m3u.rstrip().endswith(want), m3u
    stats = raw_request(server.port, b"GET /status-json.xsl HTTP/1.0\r\n\r\n")
    assert b'"listenurl":"' + want + b'"' in stats and b"0.0.0.0" not in stats
    named = raw_request(server.port, b"GET /main.m3u HTTP/1.0\r\nHost: radio.example:8000\r\n\r\n")
    assert named.rstrip().endswith(b"http://radio.example:8000/main")  # a Host header still wins
    blank = raw_request(server.port, b"\r\n\r\nGET /main.m3u HTTP/1.0\r\n\r\n")  # empty lines first (RFC 9112, 2.2)
    assert re.match(rb"HTTP/1.[01] 200", blank) and blank.rstrip().endswith(want), blank
    raw_path = raw_request(server.port, b"GET /main\xff HTTP/1.0\r\n\r\n")  # QA: aiohttp's 400, its own Server header
    assert raw_path.startswith(b"HTTP/1.0 400") and b"not ASCII" in raw_path
    for answer in (m3u, stats, raw_path, raw_request(server.port, b"GET /nope/api HTTP/1.0\r\n\r\n")):  # aiohttp's answers too
        assert b"\r\nServer: streamer\r\n" in answer and b"aiohttp" not in answer


def test_a_station_on_host_colon_colon_takes_ipv4_and_ipv6_listeners(server_factory, media):
    """host "::" (every address, both families, as [::] on Linux) refused every IPv4 client:
    asyncio's create_server sets IPV6_V6ONLY (found in review). IPv4 clients are named as IPv4."""
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    server = server_factory(sequential("a.mp3", media=media), host='"::"', env=STRONG)
    four = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    six = socket.create_connection(("::1", server.port), timeout=5)
    with four, six:
        for sock, agent in ((four, "four"), (six, "six")):
            sock.sendall(f"GET /main HTTP/1.0\r\nUser-Agent: {agent}\r\n\r\n".encode())
            assert sock.recv(12).startswith(b"HTTP/1.0 200")
        clients = admin_get(server.port, "/admin/listclients?mount=/main", password=STRONG["STREAMER_ADMIN_PASSWORD"])
    seen = {agent: ip for ip, agent in re.findall(r"<IP>([^<]*)</IP>.*?<UserAgent>([^<]*)</UserAgent>", clients, re.S)}
    assert seen == {"four": "127.0.0.1", "six": "::1"}, clients


def activated_station(tmp_path, listening: socket.socket, log_name: str) -> subprocess.Popen:
    """The station as systemd starts it for a .socket unit: the listening socket on descriptor
    3, LISTEN_FDS=1 and LISTEN_PID its own (a launcher sets them, then becomes the station)."""
    fd = listening.fileno()
    launcher = (
        f"import os, sys; os.dup2({fd}, 3); {fd} != 3 and os.close({fd}); os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid())); "
        "os.execv(sys.executable, [sys.executable, '-m', 'streamer', 'serve', '--config', 'config.yaml'])"
    )
    log = (tmp_path / log_name).open("wb")
    return subprocess.Popen([sys.executable, "-c", launcher], pass_fds=(fd,), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


def cmdline_of(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:  # gone meanwhile
        return ""


def fds_of(pid: str) -> list[str]:
    try:
        return [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:  # gone meanwhile
        return []


def test_with_the_service_managers_socket_a_restart_refuses_no_client(media, tmp_path):
    """QA: a restart refused every connection for 2-3.5 s (the old process closing its socket
    until the new one was on air), and most players (mpv, VLC, ffmpeg's HLS) gave up. With
    systemd's socket activation (deploy/streamer.socket) the socket outlives the process: a
    client connecting meanwhile waits in its queue and is answered by the new process."""
    (tmp_path / "playlists").mkdir()
    (tmp_path / "playlists" / "station.yaml").write_text(sequential("a.mp3", media=media))
    (tmp_path / "config.yaml").write_text("server: {host: 127.0.0.1, port: 1, log_level: info}\nplaylists: playlists\n")
    listening = socket.create_server(("127.0.0.1", 0), backlog=128)  # what systemd holds (server.port is not used)
    port = listening.getsockname()[1]
    answers: list[tuple[float, object]] = []
    done = threading.Event()

    def poll() -> None:  # a client connecting every 50 ms, as players reconnecting do
        while not done.is_set():
            began = time.monotonic()
            try:
                answer = raw_request(port, b"GET /healthz HTTP/1.0\r\n\r\n", timeout=10)[:12]
            except OSError as exc:
                answer = exc
            answers.append((time.monotonic() - began, answer))
            time.sleep(0.05)

    first = activated_station(tmp_path, listening, "first.log")
    second = None
    try:
        deadline = time.monotonic() + 20
        while b"200" not in raw_request(port, b"GET /healthz HTTP/1.0\r\n\r\n", timeout=2)[:12]:
            assert time.monotonic() < deadline and first.poll() is None, (tmp_path / "first.log").read_text()
            time.sleep(0.2)
        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(1.0)
        first.send_signal(signal.SIGTERM)
        first.wait(15)
        time.sleep(0.5)  # a service manager's restart takes its time too
        second = activated_station(tmp_path, listening, "second.log")
        deadline = time.monotonic() + 20
        while not (answers and isinstance(answers[-1][1], bytes) and b"200" in answers[-1][1]) or answers[-1][0] > 0.5:
            assert time.monotonic() < deadline and second.poll() is None, (tmp_path / "second.log").read_text()
            time.sleep(0.1)
        done.set()
        poller.join()
        # the station's children (ffmpeg) do not hold the socket: they would keep the port bound after it
        port_inode = f"socket:[{os.fstat(listening.fileno()).st_ino}]"
        children = Path(f"/proc/{second.pid}/task/{second.pid}/children").read_text().split()
        # (a child caught between fork and exec is the station itself still, with all its descriptors:
        # the socket's is closed at the exec, so only children that run another program are judged)
        station_cmdline = Path(f"/proc/{second.pid}/cmdline").read_text()
        holding = [
            (c, cmdline[:60], fds_of(c).count(port_inode))
            for c in children
            if port_inode in fds_of(c) and (cmdline := cmdline_of(c)) not in (station_cmdline, "")
        ]
        assert children and not holding, (children, holding)
    finally:
        done.set()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
    failed = [answer for _, answer in answers if not isinstance(answer, bytes) or not answer.startswith(b"HTTP/1.")]
    longest = max(took for took, _ in answers)
    print(f"{len(answers)} connections across the restart, none refused; the longest wait {longest:.2f} s")
    assert failed == [] and longest > 0.5, (failed, longest)  # some waited out the restart in the queue
    assert "(the socket the service manager passed)" in (tmp_path / "second.log").read_text()


def test_wrong_methods_get_405_with_allow_and_every_path_answers_a_cors_preflight(server_factory, media):
    """A POST to /main or /api/status was told 404 "no mount or page at /main (mounts: /main,
    ...)"; a preflight for /api/nowplaying or HLS (a web player adding a header) got that 404 too."""
    server = server_factory(sequential("a.mp3", media=media))
    for method, path, allow in [
        ("POST", "/main", b"GET,HEAD,OPTIONS"), ("DELETE", "/main", b"GET,HEAD,OPTIONS"),
        ("POST", "/api/status", b"GET,HEAD"), ("GET", "/api/skip", b"POST"), ("POST", "/metrics", b"GET,HEAD"),
    ]:  # fmt: skip
        answer = raw_request(server.port, f"{method} {path} HTTP/1.0\r\nContent-Length: 0\r\n\r\n".encode())
        assert re.match(rb"HTTP/1.[01] 405", answer), (method, path, answer[:300])
        assert b"\r\nAllow: " + allow + b"\r\n" in answer and f"{method} is not allowed on {path}".encode() in answer
    assert re.match(rb"HTTP/1.[01] 404", raw_request(server.port, b"POST /nothing HTTP/1.0\r\nContent-Length: 0\r\n\r\n"))
    for path in ("/api/nowplaying", "/api/events", "/status-json.xsl", "/main.m3u", "/hls/live.m3u8"):
        preflight = raw_request(
            server.port, f"OPTIONS {path} HTTP/1.1\r\nOrigin: http://a.example\r\nAccess-Control-Request-Method: GET\r\n\r\n".encode()
        )
        assert preflight.startswith(b"HTTP/1.0 200") and b"Access-Control-Allow-Origin: http://a.example" in preflight, (path, preflight)


def test_listener_limits(server_factory, media):
    server = server_factory(sequential("a.mp3", media=media), mounts="  /main: {bitrate: 64, max_listeners: 2}")
    socks = []
    try:
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"GET /main HTTP/1.0\r\n\r\n")
            assert s.recv(12) == b"HTTP/1.0 200"
            socks.append(s)
        third = raw_request(server.port, b"GET /main HTTP/1.0\r\n\r\n")
        assert third.startswith(b"HTTP/1.0 403 Forbidden") and b"max listeners reached" in third
    finally:
        for s in socks:
            s.close()


def test_bad_files_are_skipped_and_reported(server_factory, media, tmp_path):
    playlist = sequential("a.mp3", "missing.mp3", "corrupt.mp3", "empty.ogg", "c.flac", media=media)
    server = server_factory(playlist)
    rec = record(server.port, "/main", 7.0)
    errors, _ = decode_errors(rec.audio, tmp_path)
    assert errors == []
    titles = {b["StreamTitle"] for _, b in rec.blocks}
    assert {"Artist A - Low Tone", "Artist C - Mid Tone"} <= titles
    problems = {p["file"].rsplit("/", 1)[-1]: p["reason"] for p in server.status()["problems"]}
    assert problems["missing.mp3"] == "file not found"
    assert problems["empty.ogg"] == "empty file"
    # Failed on air ("cannot decode: ..."), or found by the library first and passed over:
    assert problems["corrupt.mp3"].startswith(("cannot decode", "not an audio file", "header damaged"))
    assert re.search(r"(skipping|will not play).*corrupt\.mp3|corrupt\.mp3.*(skipping|will not play)", server.log_text())


def test_stalled_listener_is_evicted_while_others_play_on(server_factory, media):
    server = server_factory(sequential("a.mp3", media=media), mounts="  /main: {bitrate: 320, queue_size: 65536, burst_size: 16384}")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", server.port))
    stuck.sendall(b"GET /main HTTP/1.0\r\n\r\n")  # and never read
    got = {}
    t = threading.Thread(target=lambda: got.update(rec=record(server.port, "/main", 12.0, metadata=False)))
    t.start()
    deadline = time.monotonic() + 20
    evicted = 0
    while time.monotonic() < deadline and not evicted:
        time.sleep(0.5)
        evicted = server.status()["mounts"][0]["evicted"]
    t.join()
    assert evicted == 1
    # The healthy listener got its burst plus real time at 40,000 bytes a second throughout.
    assert len(got["rec"].audio) >= 16384 * 0.75 + 40000 * 11.5
    stuck.settimeout(5)
    with pytest.raises((ConnectionResetError, TimeoutError)):
        while stuck.recv(65536):
            pass
        raise ConnectionResetError  # a clean EOF also means the server let go
    stuck.close()
    assert "fell" in server.log_text() and "behind" in server.log_text()


def test_a_thousand_listeners_drop_at_once(server_factory, media, tmp_path):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    server = server_factory(sequential("a.mp3", "c.flac", media=media), mounts="  /main: {bitrate: 64}")
    socks = []
    try:
        for i in range(1000):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.sendall(b"GET /main HTTP/1.0\r\n" + (b"Icy-MetaData: 1\r\n" if i % 2 else b"") + b"\r\n")
            socks.append(s)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and server.status()["listeners"] < 1000:
            time.sleep(0.2)
        assert server.status()["listeners"] == 1000
        for s in socks:  # reset, not a polite close: the worst case for the server
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.status()["listeners"] > 0:
        time.sleep(0.2)
    status = server.status()
    assert status["listeners"] == 0 and status["mounts"][0]["listener_peak"] == 1000
    rec = record(server.port, "/main", 3.0)
    assert decode_errors(rec.audio, tmp_path)[0] == []
    assert rec.blocks and rec.blocks[0][1]["StreamTitle"]
    assert server.proc.poll() is None


def test_a_second_station_on_the_same_state_folder_is_refused_before_it_touches_the_history(server_factory, media, tmp_path):
    """QA: a second `streamer serve` on the running station's folder (other ports) went on air and
    wrote plays that never aired into its history; one that then failed on the busy port had
    already closed the running station's open listener and play as a crashed run's."""
    server = server_factory(sequential("a.mp3", media=media))
    listener = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        listener.sendall(b"GET /main HTTP/1.0\r\nUser-Agent: held\r\n\r\n")
        assert listener.recv(100).startswith(b"HTTP/1.0 200")
        time.sleep(1.5)  # the session is written to the history (its heartbeat too)
        run = [sys.executable, "-m", "streamer", "serve", "--config", str(tmp_path / "config.yaml"), "--port", str(free_port())]
        began = time.monotonic()
        done = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        took = time.monotonic() - began
        print(f"refused after {took:.1f} s: {done.stderr.strip()}")
        assert done.returncode == 2, done.stderr
        assert f"another station is running on this state folder (pid {server.proc.pid})" in done.stderr
        assert "history:" not in done.stderr and server.proc.poll() is None
        time.sleep(1.5)
    finally:
        listener.close()
    history = tmp_path / "state" / "history.sqlite"
    with contextlib.closing(sqlite3.connect(f"file:{history}?mode=ro", uri=True)) as db:
        query = "SELECT (SELECT count(*) FROM plays WHERE estimated), (SELECT count(*) FROM sessions WHERE estimated)"
        estimated = db.execute(query).fetchone()
    assert estimated == (0, 0)
