"""Shared fixtures: real audio made with ffmpeg, a real streamer process on a free port,
and small clients that speak the wire protocol."""

from __future__ import annotations

import bisect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from streamer.audio.ffmpeg import ffmpeg_exe
from streamer.wire.icy import IcyReader

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ROOT = Path(__file__).resolve().parent.parent
# The newsroom's sample article (shared/ sits beside the clone); a faithful stand-in otherwise.
SAMPLE_ARTICLE = ROOT.parent / "shared" / "samples" / "article.txt"
SAMPLE_ARTICLE_TEXT = (
    "Zimbabwe News and Internet Radio\n\nSyria conflict: Russia tells rebels to leave Aleppo\n\n"
    "Russia and Syria have told rebel forces in Aleppo to leave by Friday evening.\n\n"
    "Site of regime bombing in Aleppo\nSite of regime bombing in Aleppo\n\n"
    "\u201cThey have no chance to break out of the city.\u201d BBC News"
)


def sample_article() -> str:
    return SAMPLE_ARTICLE.read_text(encoding="utf-8") if SAMPLE_ARTICLE.is_file() else SAMPLE_ARTICLE_TEXT


def need(program: str) -> str:
    """Path of a real peer program. Missing: skip on a developer's machine, fail in CI."""
    path = shutil.which(program)
    if path is None:
        message = f"{program} is not installed (apt-get install {program}); .ci/run installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def eventually(check, timeout: float, what: str):
    """`check()`'s first true value within `timeout` seconds (asked every 0.2 s), else an
    AssertionError saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tone(
    path: Path,
    freq: float,
    seconds: float,
    rate: int = 44100,
    channels: int = 2,
    codec: tuple[str, ...] = (),
    artist: str = "",
    title: str = "",
) -> Path:
    """A tagged sine tone in whatever format the file name says."""
    meta = []
    if artist:
        meta += ["-metadata", f"artist={artist}"]
    if title:
        meta += ["-metadata", f"title={title}"]
    subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}",
         "-ac", str(channels), *codec, *meta, str(path)],
        check=True,
    )  # fmt: skip
    return path


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def status(self) -> dict:
        return json.loads(self.get("/api/status")[2])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


DEFAULT_CONFIG = """
station: {{name: Test Radio, description: tests, genre: Test}}
server: {{host: {host}, port: {port}, log_level: info, fanout_interval: 0.1{server_extra}}}
audio: {{sample_rate: 44100, channels: 2}}
mounts:
{mounts}
playlists: playlists
"""

DEFAULT_MOUNTS = """  /main: {bitrate: 128, sample_rate: 44100}
  /low: {bitrate: 48, sample_rate: 22050, channels: 1}"""


def start_server(
    tmp: Path,
    playlist_yaml: str,
    mounts: str = DEFAULT_MOUNTS,
    config_extra: str = "",
    wait_on_air: bool = True,
    env: dict[str, str] | None = None,
    wrapper: tuple[str, ...] = (),
    server_extra: str = "",
    host: str = "127.0.0.1",
) -> Server:
    """The real server as its own process; `wrapper` runs it under e.g. prlimit, `env` adds to its environment."""
    for attempt in range(3):  # another test worker may take the free port before the server binds it
        try:
            return _start_server(tmp, playlist_yaml, mounts, config_extra, wait_on_air, env, wrapper, server_extra, host)
        except PortTaken:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class PortTaken(AssertionError):
    pass


def _start_server(
    tmp: Path, playlist_yaml: str, mounts: str, config_extra: str, wait_on_air: bool, env: dict[str, str] | None,
    wrapper: tuple[str, ...], server_extra: str, host: str,
) -> Server:  # fmt: skip
    port = free_port()
    (tmp / "playlists").mkdir(exist_ok=True)
    (tmp / "playlists" / "station.yaml").write_text(playlist_yaml)
    config = tmp / "config.yaml"
    extra = server_extra and ", " + server_extra
    config.write_text(DEFAULT_CONFIG.format(host=host, port=port, mounts=mounts, server_extra=extra) + config_extra)
    log = tmp / "server.log"
    proc = subprocess.Popen(
        [*wrapper, sys.executable, "-m", "streamer", "serve", "--config", str(config)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=tmp, env={**os.environ, **(env or {})},
    )  # fmt: skip
    server = Server(proc, port, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = server.log_text()
            if "address already in use" in text.lower():
                raise PortTaken(text)
            raise AssertionError(f"streamer exited with {proc.returncode}:\n{text}")
        try:
            code = server.get("/healthz", timeout=1)[0]
            if code == 200 or (code == 503 and not wait_on_air):
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"streamer did not come on air in 20 s:\n{server.log_text()}")


@pytest.fixture
def server_factory(tmp_path):
    servers: list[Server] = []

    def factory(playlist_yaml: str, **kw) -> Server:
        s = start_server(tmp_path, playlist_yaml, **kw)
        servers.append(s)
        return s

    yield factory
    for s in servers:
        s.stop()


@dataclass
class Recording:
    head: bytes
    headers: dict[str, str]
    audio: bytes
    blocks: list[tuple[int, dict[str, str]]]
    first_byte_after: float  # seconds from connect to the first body byte
    block_arrivals: list[tuple[float, dict[str, str]]]  # wall time each metadata block arrived
    audio_arrivals: list[tuple[float, int]]  # (wall time, audio bytes received by then) per read

    def arrival_of(self, audio_offset: int) -> float:
        """Wall time at which the audio byte at `audio_offset` had arrived."""
        counts = [n for _, n in self.audio_arrivals]
        return self.audio_arrivals[min(bisect.bisect_right(counts, audio_offset), len(counts) - 1)][0]


def raw_request(port: int, request: bytes, timeout: float = 5.0, limit: int = 200_000) -> bytes:
    """What the server answers, until it closes, `timeout` passes with nothing sent, or over
    `limit` bytes came (a stream never closes: it is read to the limit)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
                if len(out) > limit:
                    break
        except TimeoutError:
            pass
        return out


def sse_events(port: int, seconds: float, out: list) -> None:
    """Follow /api/events for `seconds` like a web page: (arrival time, event, data) into `out`."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as s:
        s.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        buf = b""

        def take(chunk: bytes) -> None:
            nonlocal buf
            buf += chunk
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                fields = dict(line.split(": ", 1) for line in block.decode().splitlines() if ": " in line and not line.startswith(":"))
                if "event" in fields and "data" in fields:
                    out.append((time.time(), fields["event"], json.loads(fields["data"])))

        receive_until(s, time.monotonic() + seconds, take)


def receive_until(s: socket.socket, end: float, take: Callable[[bytes], None], stop: threading.Event | None = None) -> None:
    """Hand each chunk the socket receives to `take` until monotonic time `end`, its close, or `stop`."""
    while (left := end - time.monotonic()) > 0 and not (stop is not None and stop.is_set()):
        s.settimeout(max(0.05, left if stop is None else min(left, 0.25)))
        try:
            chunk = s.recv(65536)
        except TimeoutError:
            if stop is not None:
                continue  # only looking at `stop` again
            return
        if not chunk:
            return
        take(chunk)


def record(port: int, path: str, seconds: float, metadata: bool = True, stop: threading.Event | None = None) -> Recording:
    """Listen like a player for `seconds` (or until `stop` is set), splitting out ICY metadata."""
    req = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n"
    if metadata:
        req += "Icy-MetaData: 1\r\n"
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((req + "\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"connection closed before headers: {buf!r}"
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        first = time.monotonic() - start if body else None
        metaint = int(headers.get("icy-metaint", 0))
        reader = IcyReader(metaint) if metaint else None
        audio = bytearray()
        blocks: list[tuple[int, dict[str, str]]] = []
        arrivals: list[tuple[float, dict[str, str]]] = []
        audio_arrivals: list[tuple[float, int]] = []

        def take(chunk: bytes) -> None:
            nonlocal first
            if first is None and chunk:
                first = time.monotonic() - start
            if reader is None:
                audio.extend(chunk)
            else:
                a, b = reader.feed(chunk)
                audio.extend(a)
                blocks.extend(b)
                arrivals.extend((time.time(), fields) for _, fields in b)
            audio_arrivals.append((time.time(), len(audio)))

        take(body)
        receive_until(s, start + seconds, take, stop)
    return Recording(head, headers, bytes(audio), blocks, first if first is not None else float("inf"), arrivals, audio_arrivals)


def tone_levels(audio: bytes, tmp: Path, freqs: tuple[float, ...], rate: int = 8000, name: str = "tones.mp3") -> tuple[float, np.ndarray]:
    """Each tone's amplitude in every 20 ms window of a recording, decoded with ffmpeg:
    (window length in seconds, array[window, tone])."""
    f = tmp / name
    f.write_bytes(audio)
    pcm = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(f), "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"], capture_output=True
    ).stdout
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    window = rate // 50
    t = np.arange(window) / rate
    probes = np.array([np.exp(-2j * np.pi * freq * t) for freq in freqs])  # one DFT bin per tone
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    return window / rate, np.abs(frames @ probes.T) / window


def tone_changes(audio: bytes, tmp: Path, freq_from: float, freq_to: float, name: str = "tones.mp3") -> list[float]:
    """Seconds into a recording at which the dominant tone switches between two frequencies:
    where the stronger of the two (ignoring near-silence) turns to the other and stays 100 ms."""
    step, levels = tone_levels(audio, tmp, (freq_from, freq_to), name=name)
    labels = [None if max(a, b) < 100 else (0 if a > b else 1) for a, b in levels]
    changes, current = [], None
    for i, label in enumerate(labels):
        if label is not None and label != current and all(x == label for x in labels[i : i + 5]):
            if current is not None:
                changes.append(i * step)
            current = label
    return changes


def decode_errors(audio: bytes, tmp: Path, name: str = "rec.mp3") -> tuple[list[str], str]:
    """Decode with ffmpeg: (error lines, ffmpeg's stream description line)."""
    f = tmp / name
    f.write_bytes(audio)
    errors = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(f), "-f", "null", "-"], capture_output=True, text=True
    ).stderr
    info = subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(f)], capture_output=True, text=True).stderr
    stream = next((line.strip() for line in info.splitlines() if "Audio:" in line), "")
    return [line for line in errors.splitlines() if line.strip()], stream


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium driven by Playwright (browser downloads are not reachable here).
    One per module: Playwright's sync API leaves its event loop set as running in this thread
    until it stops, and later modules (tests/test_state.py) call asyncio.run()."""
    path = need("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        message = "playwright is part of the test extras: pip install '.[test]'"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def second_origin(tmp_path):
    """A static web server on another port of 127.0.0.1: another origin, as a station's website is."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    Thread(target=httpd.serve_forever, daemon=True).start()
    yield site, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
