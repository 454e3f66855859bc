"""Chaos: an operator's worst day against the default station, as one repeatable command.

    python bench/chaos.py                    # 300 s of attacks (the acceptance run, ~7 minutes in all)
    python bench/chaos.py --duration 60      # a quick look (~2.5 minutes in all)
    python bench/chaos.py --json --keep /tmp/chaos-out --skip dj,files --code /path/to/other/tree

Starts streamer (`python -m streamer serve`) on a free 127.0.0.1 port with a temporary copy of
config.yaml, playlists/ and news/, its log captured to a file. Two ICY listeners record /main
for the whole run (MP3 kept, ICY stripped), /low is watched for bytes, /healthz and
/api/nowplaying are polled every second, and the server's RSS, children and open files are
sampled. Then for --duration seconds, all at once, each in its own process (bench/chaos_attacks.py,
at --nice 5 so the bench does not starve the server of the 2 cores it has to share):
  fuzz   20,000 mutated request heads to stream, source and web paths (no answer within 20 s = a bug)
  slow   5,000 idle or trickling connections: front door, and kept-alive aiohttp connections
  churn  20,000 listener connect/disconnect cycles, some stalled readers held on
  sse    5,000 /api/events clients that never read
  flood  wrong-password SOURCE and /admin/ logins, as fast as they are answered
and at set times (see the timeline it prints): garbage SOURCEs to /live and to two pass-through
mounts; a FIFO and an untagged MP3 named caf<0xE9>.mp3 (not UTF-8) in the music folder; a YAML
"billion laughs" and a 50 MB YAML in playlists/ (removed again); kill -9 of /main's encoder and
of a decoder; SIGSTOP of /low's encoder for 15 s; a DJ whose ffmpeg sends a 10-minute MP3 to
/live without -re. `--skip fuzz,slow,churn,sse,flood,garbage,files,process,dj` leaves any out.

It prints (or, with --json, emits as one JSON document) the timeline (seconds from the start of
the attacks, wall clock, attacks and the server's notable log lines), what each attack did, and:
recorders still connected; ffmpeg decode errors of each recording; silences (50 ms RMS windows
under -60 dBFS) and player stalls (a player starting at the first byte, 16,000 B/s) over 1 s,
timestamped; /healthz polls unanswered / 200 / 503, each 503 checked against a real off-air
window (no bytes, silence or a stall in a recording of the mount it names, +-2 s), and every
answer checked for a mount it should have named (no bytes from it for over 6 s); the same polls
on `server.health_port` (the station runs with one; the attacks never touch it); server RSS
(and its children's) at start, peak and 30 s after the attacks stopped; peak open files; the
tracebacks in the log and those without a cause line (the log record right above the traceback
is not a `streamer.*` one saying what failed: aiohttp's "Error handling request", asyncio's
"Fatal error on transport", or none); how long the station stayed live after the DJ left (from
/api/nowplaying, else the log), and the RSS the DJ added; login attempts per second; the
server's own /api/status at the end.

Exit status 0 only if every acceptance check passes (the failed ones are listed): both recorders
connected, 0 decode errors, no silence or stall over 1 s, /healthz truthful throughout (every
poll answered within 5 s, too), every poll of the health port answered, RSS 30 s after within 100 MB of start (server + children), no
traceback without a cause line, and the server still running at the end.
Exit 1 if a check failed, 2 if the bench could not run. The server, every process started by it
or by the bench, and the temporary directory are removed at the end, on Ctrl-C and on errors; a
watchdog ends everything if the bench overruns its time budget; a server past --rss-cap MB is
killed (a YAML bomb can take the machine's memory). The bench itself stays well under 1 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = Path(__file__).resolve().parent / "chaos_attacks.py"
HOST = "127.0.0.1"
PASSWORD = "hackme"  # the shipped config's source password
WINDOW = 0.05  # seconds per RMS window
SILENCE_DBFS = -60.0
DEAD_AIR = 1.0  # seconds of silence, stall or gap that count
TOLERANCE = 2.0  # seconds either side when matching a 503 to an off-air window
HEALTH_LAG = 6.0  # an answer not naming a mount that has sent nothing for this long is a lie (the server allows 5 s)
MB = 1024  # kB per MB
LOG_READ = 256 * 1024 * 1024  # bytes of the server log analysed at most (the bench stays small)
TIMELINE_SERVER_LINES = 150  # server log lines in the timeline at most (a few of each kind)
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\w+) ([\w.]+): (.*)$")
CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
NOTABLE = re.compile(r"live:|encoder|restart|skipping|now playing|playlists|bulletin|event '|source connected|killed|memory")
SKIPPABLE = {"fuzz", "slow", "churn", "sse", "flood", "garbage", "files", "process", "dj"}


class BenchError(Exception):
    """The bench could not do its job (not a finding about the server)."""


# --- everything started is stopped, whatever happens ---------------------------------------------


class Cleanup:
    def __init__(self) -> None:
        self.groups: set[int] = set()  # process groups: every child gets its own session
        self.stopped: set[int] = set()  # processes we SIGSTOPped: continued first
        self.paths: list[Path] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        with self.lock:
            for pid in list(self.stopped):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            self.stopped.clear()
            for pgid in list(self.groups):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            self.groups.clear()
            for path in self.paths:
                shutil.rmtree(path, ignore_errors=True)
            self.paths.clear()


CLEANUP = Cleanup()


def start_watchdog(seconds: float) -> threading.Timer:
    def fire() -> None:
        print(f"chaos: the bench overran its {seconds:.0f} s budget; stopping everything", file=sys.stderr, flush=True)
        CLEANUP.run()
        os._exit(2)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    CLEANUP.groups.discard(pid)


# --- state ----------------------------------------------------------------------------------------


@dataclass
class Sample:
    t: float
    rss: int  # kB, the server
    children_rss: int  # kB, all its descendants
    children: int
    fds: int | None


@dataclass
class Poll:
    t: float
    status: int | None
    info: Any
    seconds: float


@dataclass
class Recorder:
    name: str
    mount: str
    file: Path | None
    status: str = ""
    byte_rate: int = 16000
    connected_at: float = 0.0
    ended_at: float = 0.0
    end_reason: str = ""  # empty: still connected when the bench stopped listening
    audio_bytes: int = 0
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (time, audio bytes so far)
    titles: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    port: int
    ffmpeg: str = "ffmpeg"
    server: subprocess.Popen | None = None
    t0: float = 0.0  # the attacks start
    t_stop: float = 0.0  # the attacks stopped
    timeline: list[dict] = field(default_factory=list)
    results: dict[str, dict] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    health: list[Poll] = field(default_factory=list)
    health_port: int = 0  # server.health_port: /healthz on a port of its own
    health_own: list[Poll] = field(default_factory=list)  # its polls
    nowplaying: list[Poll] = field(default_factory=list)
    recorders: list[Recorder] = field(default_factory=list)
    dj: dict = field(default_factory=dict)
    hostile: list[Path] = field(default_factory=list)
    yaml_at: float = 0.0  # when the first hostile YAML went in (RSS before it is the load's alone)
    rss_start: Sample | None = None
    rss_after: Sample | None = None
    final_status: dict | None = None
    server_gone: str = ""
    interrupted: bool = False
    stop_monitors: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def music(self) -> Path:
        return self.tmp / "playlists" / "audio" / "music"

    def rel(self, t: float) -> float:
        return round(t - self.t0, 1) if self.t0 else 0.0

    def note(self, what: str, source: str = "bench", t: float | None = None) -> None:
        t = time.time() if t is None else t
        self.timeline.append({"t": t, "source": source, "what": what})
        print(f"[{self.rel(t):+7.1f} s] {source}: {what}", file=sys.stderr, flush=True)


# --- the station ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def find_ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise BenchError(f"no ffmpeg: {exc}") from None


def prepare_station(tmp: Path, port: int, health_port: int) -> Path:
    """A private copy of the default station, on `port` (and /healthz on `health_port` too): the
    attacks never touch the repository."""
    shutil.copytree(ROOT / "playlists", tmp / "playlists")
    if (ROOT / "news").is_dir():
        shutil.copytree(ROOT / "news", tmp / "news", ignore=shutil.ignore_patterns(".headlines.*"))
    text, n = re.subn(r"(?m)^(  port:)\s*\d+", rf"\g<1> {port}\n  health_port: {health_port}", (ROOT / "config.yaml").read_text())
    if n != 1:
        raise BenchError("config.yaml: found no 'server: port:' line to point at a free port")
    (tmp / "config.yaml").write_text(text)
    if not (tmp / "playlists" / "audio" / "music").is_dir():
        raise BenchError("playlists/audio/music (the default playlists' music folder) is missing")
    return tmp / "config.yaml"


LAUGHS = """# chaos: a YAML "billion laughs": 9 levels of 9 aliases, 387,420,489 strings when expanded
playlists:
  laughs: {files: [audio/music/]}
lol1: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
lol2: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
lol3: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
lol4: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
lol5: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
lol6: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
lol7: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
lol8: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
lol9: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def write_hostile_yaml(tmp: Path, megabytes: int) -> None:
    """The two YAML files, made ahead (outside playlists/) so each appears there whole."""
    (tmp / "laughs.yaml").write_text(LAUGHS)
    size = megabytes * 1024 * 1024
    with (tmp / "huge.yaml").open("w") as f:
        f.write("# chaos: a 50 MB playlist file\nplaylists:\n  huge:\n    files:\n")
        written, i = 0, 0
        while written < size:
            chunk = "".join(f"      - audio/music/chaos-{j:08d}.mp3\n" for j in range(i, i + 20000))
            f.write(chunk)
            written += len(chunk)
            i += 20000


async def make_media(bench: Bench) -> None:
    """The DJ's long MP3 (two tones), the untagged MP3 for the odd file name, the YAML files."""
    secs = bench.args.dj_minutes * 60
    tone = "sine=frequency={}:sample_rate=44100:duration={}"
    mp3 = ["-c:a", "libmp3lame", "-b:a", "128k"]
    two_tones = ["-f", "lavfi", "-i", tone.format(440, secs), "-f", "lavfi", "-i", tone.format(554, secs)]
    dj = [*two_tones, "-filter_complex", "[0][1]amerge=inputs=2,volume=0.5", *mp3, str(bench.tmp / "dj.mp3")]
    untagged = ["-map_metadata", "-1", "-id3v2_version", "0", "-write_id3v1", "0"]
    cafe = ["-f", "lavfi", "-i", tone.format(660, 20), "-ac", "2", *mp3, *untagged, str(bench.tmp / "cafe-src.mp3")]
    procs = [
        await asyncio.create_subprocess_exec(bench.ffmpeg, "-nostdin", "-v", "error", "-y", *argv, stderr=subprocess.PIPE)
        for argv in (dj, cafe)
    ]
    await asyncio.to_thread(write_hostile_yaml, bench.tmp, 50)
    for proc in procs:
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        if proc.returncode:
            raise BenchError(f"ffmpeg could not make the test audio: {err.decode(errors='replace')[-500:]}")


def start_server(bench: Bench, config: Path) -> subprocess.Popen:
    env = dict(os.environ)
    if bench.args.code:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(bench.args.code).resolve()), env.get("PYTHONPATH", "")) if p)
    with (bench.tmp / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamer", "serve", "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=bench.tmp,
            env=env,
            start_new_session=True,
        )
    CLEANUP.groups.add(proc.pid)
    return proc


def log_tail(bench: Bench, lines: int = 15) -> str:
    try:
        with (bench.tmp / "server.log").open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


async def wait_on_air(bench: Bench, timeout: float = 40) -> None:
    assert bench.server is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bench.server.poll() is not None:
            raise BenchError(f"the server exited with status {bench.server.returncode} before going on air:\n{log_tail(bench)}")
        answer = await http_get(bench.port, "/healthz", 2)
        if answer and answer[0] == 200:
            return
        await asyncio.sleep(0.3)
    raise BenchError(f"the server did not answer /healthz with 200 within {timeout:.0f} s:\n{log_tail(bench)}")


async def stop_server(bench: Bench) -> None:
    proc = bench.server
    if proc is None:
        return
    for pid in list(CLEANUP.stopped):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        for _ in range(100):
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            bench.note("the server did not stop within 10 s of SIGTERM; killed")
    kill_group(proc.pid)  # and every child it left behind
    await asyncio.to_thread(proc.wait, 10)


# --- watching: recorders, polls, /proc -----------------------------------------------------------------


async def http_get(port: int, path: str, timeout: float) -> tuple[int, bytes] | None:
    """(status, body) of a GET on a fresh connection, or None if no answer within `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(HOST, port)
            try:
                head = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\nUser-Agent: chaos-monitor\r\n\r\n"
                writer.write(head.encode())
                data = await reader.read()
            finally:
                writer.close()
    except (OSError, TimeoutError, ValueError):
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/\d\.\d (\d{3})", head)
    return (int(m[1]), body) if m else None


class IcyStripper:
    """Takes the ICY metadata blocks out of a listener's stream: audio bytes and titles."""

    def __init__(self, metaint: int) -> None:
        self.metaint = metaint
        self.until_meta = metaint
        self.meta_left = -1  # -1: in audio (or at the length byte when until_meta is 0)
        self.meta = bytearray()

    def feed(self, data: bytes) -> tuple[bytes, list[str]]:
        if not self.metaint:
            return data, []
        audio, titles, i = bytearray(), [], 0
        while i < len(data):
            if self.meta_left < 0 and self.until_meta > 0:
                take = min(self.until_meta, len(data) - i)
                audio += data[i : i + take]
                i, self.until_meta = i + take, self.until_meta - take
            elif self.meta_left < 0:
                self.meta_left, i = data[i] * 16, i + 1
                self.meta.clear()
                if self.meta_left == 0:
                    self.meta_left, self.until_meta = -1, self.metaint
            else:
                take = min(self.meta_left, len(data) - i)
                self.meta += data[i : i + take]
                i, self.meta_left = i + take, self.meta_left - take
                if self.meta_left == 0:
                    text = bytes(self.meta).rstrip(b"\0").decode("utf-8", "replace")
                    m = re.search(r"StreamTitle='(.*?)';", text, re.S)
                    titles.append(m[1] if m else text)
                    self.meta_left, self.until_meta = -1, self.metaint
        return bytes(audio), titles


async def record(rec: Recorder, port: int, stop: asyncio.Event) -> None:
    """Listen like a player (ICY metadata on), keep the audio, note when every byte came."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, limit=1 << 20), 10)
        meta = "Icy-MetaData: 1\r\n" if rec.file else ""
        writer.write(f"GET {rec.mount} HTTP/1.0\r\nHost: {HOST}:{port}\r\nUser-Agent: chaos-recorder\r\n{meta}\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        rec.status = head.split(b"\r\n", 1)[0].decode("latin-1")
        metaint = re.search(rb"(?im)^icy-metaint:\s*(\d+)", head)
        bitrate = re.search(rb"(?im)^icy-br:\s*(\d+)", head)
        rec.byte_rate = int(bitrate[1]) * 125 if bitrate else rec.byte_rate
        stripper = IcyStripper(int(metaint[1]) if metaint else 0)
        rec.connected_at = time.time()
        with rec.file.open("wb") if rec.file else contextlib.nullcontext() as out:
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(65536), 1.0)
                except TimeoutError:
                    continue
                if not data:
                    rec.end_reason = "closed by the server"
                    break
                audio, titles = stripper.feed(data)
                now = time.time()
                rec.audio_bytes += len(audio)
                rec.arrivals.append((now, rec.audio_bytes))
                rec.titles += [(now, title) for title in titles]
                if out is not None:
                    out.write(audio)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        rec.end_reason = f"{type(exc).__name__}: {exc}"[:200]
    finally:
        rec.ended_at = time.time()
        if writer is not None:
            writer.close()


def health_digest(body: bytes) -> str:
    return body[:300].decode("utf-8", "replace")


def nowplaying_digest(body: bytes) -> dict:
    try:
        doc = json.loads(body)
        return {"live": doc.get("live"), "title": (doc.get("now_playing") or {}).get("title")}
    except (ValueError, AttributeError) as exc:
        return {"error": str(exc)[:100]}


async def poll_loop(bench: Bench, path: str, out: list[Poll], digest: Callable[[bytes], Any], timeout: float = 5.0, port: int = 0) -> None:
    """GET `path` every second on a fresh connection (several in flight if the server is slow),
    on the public port or `port`."""
    tasks: set[asyncio.Task] = set()

    async def once() -> None:
        t = time.time()
        answer = await http_get(port or bench.port, path, timeout)
        out.append(Poll(t, answer[0] if answer else None, digest(answer[1]) if answer else None, round(time.time() - t, 3)))

    while not bench.stop_monitors.is_set():
        task = asyncio.create_task(once())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bench.stop_monitors.wait(), 1.0)
    if tasks:
        await asyncio.wait(set(tasks), timeout=timeout + 1)


def proc_children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            kids.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    return kids


def descendants(pid: int) -> list[int]:
    kids, out, stack = proc_children(), [], [pid]
    while stack:
        for child in kids.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [os.fsdecode(part) for part in raw.split(b"\0") if part]


def take_sample(pid: int, fds: bool = True) -> Sample:
    kids = descendants(pid)
    return Sample(time.time(), rss_kb(pid), sum(rss_kb(k) for k in kids), len(kids), fd_count(pid) if fds else None)


async def sample_loop(bench: Bench) -> None:
    """RSS every second, open files every other; kills a server whose memory runs away."""
    assert bench.server is not None
    pid, i = bench.server.pid, 0
    while not bench.stop_monitors.is_set():
        if bench.server.poll() is None:
            s = take_sample(pid, fds=i % 2 == 0)
            bench.samples.append(s)
            if s.rss > bench.args.rss_cap * MB and not bench.server_gone:
                bench.server_gone = f"killed by the bench: RSS {s.rss / MB:.0f} MB over --rss-cap {bench.args.rss_cap} MB"
                kill_group(pid)
                bench.note(f"server {bench.server_gone}")
        elif not bench.server_gone:
            bench.server_gone = f"exited by itself with status {bench.server.returncode}"
            bench.note(f"the server {bench.server_gone}:\n{log_tail(bench, 8)}")
        i += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bench.stop_monitors.wait(), 1.0)


def start_monitors(bench: Bench) -> list[asyncio.Task]:
    bench.recorders = [
        Recorder("rec1", "/main", bench.tmp / "rec1.mp3"),
        Recorder("rec2", "/main", bench.tmp / "rec2.mp3"),
        Recorder("low-watch", "/low", None),  # bytes only: to check a 503 that names /low
    ]
    tasks = [asyncio.create_task(record(r, bench.port, bench.stop_monitors)) for r in bench.recorders]
    tasks.append(asyncio.create_task(poll_loop(bench, "/healthz", bench.health, health_digest)))
    tasks.append(asyncio.create_task(poll_loop(bench, "/healthz", bench.health_own, health_digest, port=bench.health_port)))
    tasks.append(asyncio.create_task(poll_loop(bench, "/api/nowplaying", bench.nowplaying, nowplaying_digest)))
    tasks.append(asyncio.create_task(sample_loop(bench)))
    return tasks


# --- attacks run from here ----------------------------------------------------------------------------


def describe_event(obj: dict) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in obj.items() if k not in ("event", "t"))
    return f"{obj.get('event')}{': ' + fields if fields else ''}"[:240]


async def run_worker(bench: Bench, name: str, argv: list[str]) -> None:
    """One attack process: its JSON lines go to the timeline, its result to the report."""
    a = bench.args
    common = ["--port", str(bench.port), "--seed", str(a.seed), "--nice", str(a.nice)]
    with (bench.tmp / f"{name}.stderr").open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ATTACKS), *argv, *common, stdout=subprocess.PIPE, stderr=err, start_new_session=True, limit=1 << 22
        )
    CLEANUP.groups.add(proc.pid)
    try:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if obj.get("event") == "result":
                for example in obj.get("examples", []):
                    example["at"] = bench.rel(example.pop("t", bench.t0))
                bench.results[name] = {k: v for k, v in obj.items() if k not in ("event", "t", "attack")}
                bench.note("finished", name, obj.get("t"))
            else:
                bench.note(describe_event(obj), name, obj.get("t"))
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
        kill_group(proc.pid)
    if proc.returncode:
        tail = (bench.tmp / f"{name}.stderr").read_text(errors="replace")[-400:]
        bench.note(f"worker exited with status {proc.returncode}: {tail}", name)


def worker_plan(bench: Bench) -> list[tuple[str, list[str]]]:
    a = bench.args
    d = ["--duration", str(a.duration)]
    plan = [
        ("fuzz", ["fuzz", *d, "--count", str(a.fuzz), "--concurrency", str(a.fuzz_concurrency)]),
        ("slow", ["slow", *d, "--count", str(a.slow)]),
        ("churn", ["churn", *d, "--count", str(a.churn), "--concurrency", str(a.churn_concurrency), "--stall-max", str(a.stall_max)]),
        ("sse", ["sse", *d, "--count", str(a.sse)]),
        ("flood", ["flood", *d, "--concurrency", str(a.flood_concurrency)]),
    ]
    return [(name, argv) for name, argv in plan if name not in a.skip]


def garbage_argv(mount: str, content_type: str, seconds: float) -> list[str]:
    return ["garbage", "--duration", f"{seconds:.1f}", "--mount", mount, "--content-type", content_type, "--password", PASSWORD]


async def garbage_sources(bench: Bench, seconds: float) -> None:
    await asyncio.gather(
        run_worker(bench, "garbage-mp3", garbage_argv("/chaos-mp3", "audio/mpeg", seconds)),
        run_worker(bench, "garbage-ogg", garbage_argv("/chaos-ogg", "audio/ogg", seconds)),
    )


async def drop_fifo_and_cafe(bench: Bench) -> None:
    fifo = bench.music / "chaos-fifo.mp3"
    os.mkfifo(fifo)
    bench.hostile.append(fifo)
    bench.note("FIFO playlists/audio/music/chaos-fifo.mp3 created (no writer: opening it blocks for ever)")
    target = os.fsencode(bench.music) + b"/caf\xe9.mp3"
    os.rename(os.fsencode(bench.tmp / "cafe-src.mp3"), target)
    bench.hostile.append(Path(os.fsdecode(target)))
    bench.note("untagged MP3 added as playlists/audio/music/caf\\xe9.mp3 (not UTF-8; a 20 s 660 Hz tone)")


async def drop_yaml(bench: Bench, which: str, hold: float) -> None:
    src = bench.tmp / f"{which}.yaml"
    dst = bench.tmp / "playlists" / f"zz-chaos-{which}.yaml"
    size = src.stat().st_size
    os.rename(src, dst)  # whole at once, as an editor saves
    bench.yaml_at = bench.yaml_at or time.time()
    bench.hostile.append(dst)
    bench.note(f"playlists/{dst.name} ({size:,} bytes) dropped in; removed again in {hold:.0f} s")
    await asyncio.sleep(hold)
    dst.unlink(missing_ok=True)
    bench.note(f"playlists/{dst.name} removed")


def find_child(bench: Bench, kind: str) -> tuple[int, str] | None:
    """One of the server's ffmpeg children: /main's encoder (`-f mp3 pipe:1`, 128k), or a
    decoder (`-i FILE`, not the live decoder's pipe)."""
    assert bench.server is not None
    found: list[tuple[int, str]] = []
    for pid in proc_children().get(bench.server.pid, []):
        argv = cmdline(pid)
        line = " ".join(argv)
        if not argv or "ffmpeg" not in Path(argv[0]).name:
            continue
        if kind == "encoder" and "-f mp3" in line:
            found.insert(0, (pid, "/main's encoder")) if "-b:a 128k" in line else found.append((pid, "an encoder"))
        elif kind == "low-encoder" and "-f mp3" in line and "-b:a 48k" in line:
            found.append((pid, "/low's encoder"))
        elif kind == "decoder" and "-i" in argv and argv.index("-i") + 1 < len(argv) and argv[argv.index("-i") + 1] != "pipe:0":
            found.append((pid, f"the decoder of {Path(argv[argv.index('-i') + 1]).name}"))
    return found[0] if found else None


async def wait_child(bench: Bench, kind: str, timeout: float = 10.0) -> tuple[int, str] | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find_child(bench, kind)
        if found:
            return found
        await asyncio.sleep(0.2)
    bench.note(f"no {kind} found among the server's children within {timeout:.0f} s; skipped")
    return None


async def kill_child(bench: Bench, kind: str) -> None:
    found = await wait_child(bench, kind)
    if found:
        os.kill(found[0], signal.SIGKILL)
        bench.note(f"kill -9 {found[1]} (pid {found[0]})")


async def stop_encoder(bench: Bench, seconds: float) -> None:
    """SIGSTOP /low's encoder: /main must not notice (its recorders are the checks); /low's byte
    watcher shows the gap while it is replaced (stated, not failed)."""
    found = await wait_child(bench, "low-encoder")
    if not found:
        return
    pid, what = found
    CLEANUP.stopped.add(pid)
    os.kill(pid, signal.SIGSTOP)
    bench.note(f"SIGSTOP {what} (pid {pid}) for {seconds:.0f} s")
    try:
        await asyncio.sleep(seconds)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        CLEANUP.stopped.discard(pid)
        bench.note(f"SIGCONT {what} (pid {pid})")


async def run_dj(bench: Bench) -> None:
    """A DJ's ffmpeg without -re: the whole file as fast as the server takes it, then gone."""
    assert bench.server is not None
    pid = bench.server.pid
    url = f"icecast://source:{PASSWORD}@{HOST}:{bench.port}/live"
    argv = ["-nostdin", "-v", "error", "-i", str(bench.tmp / "dj.mp3"), "-c", "copy", "-f", "mp3", "-content_type", "audio/mpeg", url]
    before = rss_kb(pid)
    started = time.time()
    with (bench.tmp / "dj.stderr").open("wb") as err:
        proc = await asyncio.create_subprocess_exec(bench.ffmpeg, *argv, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    CLEANUP.groups.add(proc.pid)
    bench.note(f"DJ connects to /live: ffmpeg sends a {bench.args.dj_minutes}-minute MP3 without -re")
    peak = before
    try:
        while proc.returncode is None and time.time() - started < 120:
            peak = max(peak, rss_kb(pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 0.1)
    finally:
        if proc.returncode is None:
            proc.kill()
        kill_group(proc.pid)
    left = time.time()
    for _ in range(30):  # what the server was sent stays in it: 3 s more
        peak = max(peak, rss_kb(pid))
        await asyncio.sleep(0.1)
    errors = (bench.tmp / "dj.stderr").read_text(errors="replace").strip().splitlines()
    bench.dj = {
        "connected_at": started,
        "left_at": left,
        "send_seconds": round(left - started, 2),
        "ffmpeg_exit": proc.returncode,
        "ffmpeg_errors": errors[:5],
        "rss_before_mb": round(before / MB, 1),
        "rss_peak_mb": round(peak / MB, 1),
    }
    rss = f"server RSS {before / MB:.0f} MB before, {peak / MB:.0f} MB at most while it sent and in the 3 s after"
    bench.note(f"DJ left after {left - started:.1f} s (ffmpeg exit {proc.returncode}); {rss}", t=left)


def timed_plan(bench: Bench) -> list[tuple[float, str, Callable[[], Awaitable[Any]]]]:
    """What happens when, in seconds from the start of the attacks (fractions of --duration)."""
    d = bench.args.duration
    g = min(8.0, 0.1 * d)
    plan: list[tuple[float, str, Callable[[], Awaitable[Any]]]] = [
        (0.05 * d, "garbage", lambda: run_worker(bench, "garbage-live", garbage_argv("/live", "audio/mpeg", g))),
        (0.08 * d, "files", lambda: drop_fifo_and_cafe(bench)),
        (0.10 * d, "garbage", lambda: garbage_sources(bench, g)),
        (0.18 * d, "process", lambda: kill_child(bench, "encoder")),
        (0.25 * d, "process", lambda: kill_child(bench, "decoder")),
        (0.30 * d, "process", lambda: stop_encoder(bench, 15.0)),
        (0.58 * d, "dj", lambda: run_dj(bench)),
        (0.70 * d, "files", lambda: drop_yaml(bench, "laughs", min(10.0, 0.08 * d))),
        (0.80 * d, "files", lambda: drop_yaml(bench, "huge", min(20.0, 0.1 * d))),
    ]
    return [p for p in plan if p[1] not in bench.args.skip]


async def at(bench: Bench, offset: float, name: str, make: Callable[[], Awaitable[Any]]) -> None:
    await asyncio.sleep(max(0.0, bench.t0 + offset - time.time()))
    if bench.server_gone:
        bench.note(f"{name}: skipped, the server is gone")
        return
    try:
        await make()
    except Exception as exc:  # a failed attack is reported, and the run goes on
        bench.note(f"{name} failed: {exc!r}")


async def finish(tasks: list[asyncio.Task], timeout: float) -> None:
    """Wait up to `timeout` for the tasks, then cancel the rest and wait for their cleanup."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout) if timeout > 0 else (None, [t for t in tasks if not t.done()])
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- the run --------------------------------------------------------------------------------------------


def on_signals(bench: Bench) -> None:
    """Ctrl-C or SIGTERM: cancel the run, so every finally below stops what it started; a
    second one stops everything at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def interrupted() -> None:
        if bench.interrupted:
            CLEANUP.run()
            os._exit(130)
        bench.interrupted = True
        print("chaos: stopping everything (again to stop at once)", file=sys.stderr, flush=True)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted)


async def run_bench(bench: Bench) -> dict:
    on_signals(bench)
    bench.ffmpeg = find_ffmpeg()
    config = prepare_station(bench.tmp, bench.port, bench.health_port)
    bench.note("making the DJ's MP3, the untagged MP3 and the hostile YAML files")
    await make_media(bench)
    bench.server = start_server(bench, config)
    await wait_on_air(bench)
    bench.note(f"server on air: pid {bench.server.pid}, http://{HOST}:{bench.port}/")
    monitors = start_monitors(bench)
    try:
        await attack_window(bench)
        bench.rss_after = take_sample(bench.server.pid) if bench.server.poll() is None else None
        answer = await http_get(bench.port, "/api/status", 10)
        with contextlib.suppress(ValueError):
            bench.final_status = json.loads(answer[1]) if answer and answer[0] == 200 else None
    finally:
        bench.stop_monitors.set()
        await finish(monitors, timeout=10)
        await stop_server(bench)
    return await asyncio.to_thread(analyse, bench)


async def attack_window(bench: Bench) -> None:
    a = bench.args
    await asyncio.sleep(a.baseline)  # recorders connected, memory settled
    assert bench.server is not None
    bench.rss_start = take_sample(bench.server.pid)
    bench.t0 = time.time()
    names = [name for name, _ in worker_plan(bench)]
    bench.note(f"attacks start for {a.duration:.0f} s: {', '.join(names) or 'no load workers'} (and the timed ones below)")
    tasks = [asyncio.create_task(run_worker(bench, name, argv)) for name, argv in worker_plan(bench)]
    tasks += [asyncio.create_task(at(bench, offset, name, make)) for offset, name, make in timed_plan(bench)]
    try:
        await asyncio.sleep(a.duration)
        bench.note("attack window over; waiting for the attacks to finish (the fuzzer waits up to 20 s for its last answers)")
        await finish(tasks, timeout=45)
    finally:  # interrupted too: each task's own finally stops its processes (and SIGCONTs)
        await finish(tasks, timeout=0)
    for path in bench.hostile:
        with contextlib.suppress(OSError):
            path.unlink()
    bench.t_stop = time.time()
    bench.note(f"attacks stopped (hostile files removed); listening {a.after:.0f} s more")
    await asyncio.sleep(a.after)


# --- analysis ---------------------------------------------------------------------------------------------


def decode_errors(ffmpeg: str, path: Path) -> list[str]:
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return [line for line in out.stderr.splitlines() if line.strip()]


def find_silences(ffmpeg: str, path: Path) -> tuple[list[tuple[float, float]], float]:
    """Runs of 50 ms windows under -60 dBFS longer than 1 s, as (audio seconds, length);
    and the seconds decoded."""
    rate = 20000
    window = int(rate * WINDOW)
    threshold = 32768 * 10 ** (SILENCE_DBFS / 20)
    cmd = [ffmpeg, "-nostdin", "-v", "quiet", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"]
    runs: list[tuple[int, int]] = []
    start, index, carry = None, 0, b""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(window * 2 * 400):
            data = carry + chunk
            n = len(data) // (window * 2)
            carry = data[n * window * 2 :]
            samples = np.frombuffer(data[: n * window * 2], dtype="<i2").astype(np.float32).reshape(n, window)
            for silent in np.sqrt((samples * samples).mean(axis=1)) < threshold:
                if silent and start is None:
                    start = index
                elif not silent and start is not None:
                    runs.append((start, index - start))
                    start = None
                index += 1
    if start is not None:
        runs.append((start, index - start))
    return [(s * WINDOW, n * WINDOW) for s, n in runs if n * WINDOW > DEAD_AIR], index * WINDOW


def arrival_gaps(rec: Recorder, end: float) -> list[tuple[float, float]]:
    """(start, seconds) of each time over 1 s with no bytes, up to the end of the connection."""
    times = [t for t, _ in rec.arrivals]
    gaps = [(a, b - a) for a, b in itertools.pairwise(times) if b - a > DEAD_AIR]
    if times and end - times[-1] > DEAD_AIR:
        gaps.append((times[-1], end - times[-1]))
    return gaps


def player_stalls(rec: Recorder, end: float) -> list[tuple[float, float]]:
    """Where a player that starts at the first byte and plays `byte_rate` bytes a second runs dry."""
    stalls: list[tuple[float, float]] = []
    buffered, prev_t, prev_total = 0.0, None, 0
    rate = rec.byte_rate
    for t, total in rec.arrivals:
        if prev_t is not None:
            need = (t - prev_t) * rate
            if need > buffered:
                dry = prev_t + buffered / rate
                stalls.append((dry, t - dry))
                buffered = 0.0
            else:
                buffered -= need
        buffered += total - prev_total
        prev_t, prev_total = t, total
    if prev_t is not None and end - prev_t > buffered / rate:  # dry before the connection ended
        dry = prev_t + buffered / rate
        stalls.append((dry, end - dry))
    return [(s, d) for s, d in stalls if d > DEAD_AIR]


def analyse_recording(bench: Bench, rec: Recorder) -> dict:
    end = rec.ended_at or time.time()
    out: dict[str, Any] = {
        "name": rec.name,
        "mount": rec.mount,
        "answer": rec.status,
        "connected_at_end": not rec.end_reason and rec.status.split()[1:2] == ["200"],
        "end_reason": rec.end_reason or ("" if rec.status else "never connected"),
        "ended_at": bench.rel(rec.ended_at) if rec.end_reason and rec.ended_at else None,
        "audio_bytes": rec.audio_bytes,
        "title_changes": max(0, len(rec.titles) - 1),
        "gaps": [{"at": bench.rel(s), "seconds": round(d, 1)} for s, d in arrival_gaps(rec, end)],
        "stalls": [{"at": bench.rel(s), "seconds": round(d, 1)} for s, d in player_stalls(rec, end)],
    }
    if rec.file is None or not rec.file.exists():
        return out
    errors = decode_errors(bench.ffmpeg, rec.file)
    silences, decoded = find_silences(bench.ffmpeg, rec.file)
    totals = [n for _, n in rec.arrivals]

    def sent_at(audio_seconds: float) -> float:
        i = bisect.bisect_left(totals, audio_seconds * rec.byte_rate)
        return rec.arrivals[min(i, len(totals) - 1)][0] if totals else 0.0

    out.update(
        file=rec.file.name,
        decoded_seconds=round(decoded, 1),
        decode_errors=len(errors),
        decode_error_lines=errors[:8],
        silences=[{"at": bench.rel(sent_at(s)), "seconds": round(d, 2), "audio_at": round(s, 2)} for s, d in silences],
        longest_silence=max((round(d, 2) for _, d in silences), default=0.0),
    )
    return out


def off_air_windows(bench: Bench, recs: list[dict]) -> dict[str, list[tuple[float, float]]]:
    """Per mount, the (start, end) times (relative) where a recording shows no bytes, silence or a stall."""
    windows: dict[str, list[tuple[float, float]]] = {}
    for r in recs:
        spans = windows.setdefault(r["mount"], [])
        for item in r["gaps"] + r["stalls"] + r.get("silences", []):
            spans.append((item["at"], item["at"] + item["seconds"]))
    return windows


def silent_since(rec: Recorder, t: float) -> float | None:
    """Seconds since `rec` last got bytes, at time t; None if it was not connected then."""
    if not rec.connected_at or t < rec.connected_at or (rec.end_reason and t > rec.ended_at):
        return None
    times = [a for a, _ in rec.arrivals]
    i = bisect.bisect_right(times, t)
    return t - (times[i - 1] if i else rec.connected_at)


def analyse_health(bench: Bench, recs: list[dict]) -> dict:
    polls = sorted(bench.health, key=lambda p: p.t)
    windows = off_air_windows(bench, recs)
    unmatched, lies = [], []
    for p in (p for p in polls if p.status is not None):
        rel = bench.rel(p.t)
        try:
            names = json.loads(p.info).get("off_air") or [] if p.status == 503 else []
        except (ValueError, AttributeError):
            names = []
        if p.status == 503:
            ok = bool(names) and all(any(a - TOLERANCE <= rel <= b + TOLERANCE for a, b in windows.get(n, [])) for n in names)
            if not ok:
                unmatched.append({"at": rel, "body": p.info[:160]})
        for mount in ("/main", "/low"):  # off air (no bytes at all for a while, nor just after) but not said so
            late = p.t + p.seconds + TOLERANCE
            quiet = [q for q in (silent_since(r, late) for r in bench.recorders if r.mount == mount) if q is not None]
            if quiet and min(quiet) > HEALTH_LAG + TOLERANCE + p.seconds and mount not in names:
                lies.append({"at": rel, "answer": p.status, "mount": mount, "no_bytes_for": round(min(quiet) - TOLERANCE - p.seconds, 1)})
    runs = poll_runs(bench, polls)
    return {
        "polls": len(polls),
        "unanswered": sum(p.status is None for p in polls),
        "answers": dict(Counter(str(p.status) for p in polls if p.status is not None).most_common()),
        "slowest_answer_s": max((p.seconds for p in polls if p.status is not None), default=None),
        "nowplaying_answers": dict(Counter(str(p.status or "no answer") for p in bench.nowplaying).most_common()),
        "health_port": {
            "polls": len(bench.health_own),
            "unanswered": sum(p.status is None for p in bench.health_own),
            "answers": dict(Counter(str(p.status) for p in bench.health_own if p.status is not None).most_common()),
            "slowest_answer_s": max((p.seconds for p in bench.health_own if p.status is not None), default=None),
        },
        "unmatched_503": unmatched,
        "off_air_not_reported": lies,
        "runs": runs,
    }


def poll_runs(bench: Bench, polls: list[Poll]) -> list[dict]:
    """Consecutive polls with the same answer and body, for the timeline (all but 200)."""
    runs: list[dict] = []
    for p in polls:
        label = "no answer" if p.status is None else str(p.status)
        if runs and runs[-1]["answer"] == label and (label == "200" or runs[-1]["body"] == str(p.info or "")[:120]):
            runs[-1]["until"] = bench.rel(p.t)
            runs[-1]["polls"] += 1
        else:
            runs.append({"answer": label, "from": bench.rel(p.t), "until": bench.rel(p.t), "polls": 1, "body": str(p.info or "")[:120]})
    return [r for r in runs if r["answer"] != "200"]


def analyse_memory(bench: Bench) -> dict:
    s = bench.samples
    start, after = bench.rss_start, bench.rss_after

    def mb(kb: float | None) -> float | None:
        return None if kb is None else round(kb / MB, 1)

    def total(x: Sample) -> int:
        return x.rss + x.children_rss

    peak = max(s, key=lambda x: x.rss, default=None)
    peak_total = max(s, key=total, default=None)
    before_yaml = max((x for x in s if bench.yaml_at and x.t < bench.yaml_at), key=lambda x: x.rss, default=None)
    fds = [x for x in s if x.fds is not None]
    peak_fds = max(fds, key=lambda x: x.fds or 0, default=None)
    return {
        "server_mb": {"start": mb(start and start.rss), "peak": mb(peak and peak.rss), "after": mb(after and after.rss)},
        "children_mb": {
            "start": mb(start and start.children_rss),
            "peak": mb(max((x.children_rss for x in s), default=None)),
            "after": mb(after and after.children_rss),
        },
        "total_mb": {
            "start": mb(start and total(start)),
            "peak": mb(peak_total and total(peak_total)),
            "after": mb(after and total(after)),
        },
        "peak_at": bench.rel(peak.t) if peak else None,
        "server_peak_before_yaml_mb": mb(before_yaml and before_yaml.rss),
        "children": {
            "start": start.children if start else None,
            "peak": max((x.children for x in s), default=None),
            "after": after.children if after else None,
        },
        "fds_peak": peak_fds.fds if peak_fds else None,
        "fds_peak_at": bench.rel(peak_fds.t) if peak_fds else None,
        "fds_after": after.fds if after else None,
    }


def printable(text: str) -> str:
    """Control characters (a fuzzed request's NUL in a log line) escaped, so the report stays text."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", lambda m: f"\\x{ord(m[0]):02x}", text)


def read_log(bench: Bench) -> str:
    try:
        with (bench.tmp / "server.log").open("rb") as f:
            return f.read(LOG_READ).decode("utf-8", "replace")
    except OSError:
        return ""


def log_time(stamp: str, millis: str) -> float:
    return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000


def analyse_log(bench: Bench) -> dict:
    """Levels, the most frequent warnings and errors, tracebacks and their cause lines; notable
    lines go to the timeline (a few of each kind)."""
    lines = [printable(line) for line in read_log(bench).splitlines()]
    if not lines:
        return {"error": "no server log"}
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    tracebacks: list[dict] = []
    last_t = 0.0
    for i, line in enumerate(lines):
        if m := LOG_LINE.match(line):
            last_t = log_time(m[1], m[2])
            levels[m[3]] += 1
            key = f"{m[3]} {m[4]}: {re.sub(r'[0-9]+', 'N', m[5])[:150]}"
            if m[3] in ("WARNING", "ERROR", "CRITICAL"):
                messages[key] += 1
            if (m[3] != "INFO" or NOTABLE.search(m[5])) and shown[key] < 3 and shown.total() < TIMELINE_SERVER_LINES:
                shown[key] += 1
                bench.timeline.append({"t": last_t, "source": "server", "what": f"{m[3]} {m[4]}: {m[5]}"[:240]})
        elif line.startswith("Traceback (most recent call last):"):
            tb = traceback_entry(lines, i, bench.rel(last_t) if last_t else None)
            if tb is not None:
                tracebacks.append(tb)
    return {
        "levels": dict(levels),
        "top_warnings_and_errors": [{"count": n, "line": k} for k, n in messages.most_common(15)],
        "tracebacks": len(tracebacks),
        "tracebacks_without_cause": sum(not tb["cause_line"] for tb in tracebacks),
        "traceback_kinds": traceback_kinds(tracebacks),
    }


def traceback_entry(lines: list[str], i: int, rel: float | None) -> dict | None:
    """The traceback at line i and the log record it belongs to: the record right above it,
    past the continuation lines of a multi-line message (asyncio's "protocol: ..." lines)."""
    above = [line for line in lines[max(0, i - 10) : i] if line.strip()]
    if above and above[-1].startswith(CHAINED):
        return None  # the same error, chained: counted with the first traceback
    prev, m = (above[-1] if above else ""), None
    for line in reversed(above):
        if line.startswith((" ", "Traceback")):
            break  # the end of an earlier traceback: this one was printed bare
        if m := LOG_LINE.match(line):
            prev = line
            break
    exc = next((line for line in lines[i + 1 :] if line and not line.startswith((" ", "Traceback"))), "")
    cause = bool(m and m[4].startswith("streamer") and m[5].strip())
    return {"at": rel, "preceding": prev[:200], "exception": exc[:200], "cause_line": cause}


def traceback_kinds(tracebacks: list[dict]) -> list[dict]:
    kinds: dict[tuple, dict] = {}
    for tb in tracebacks:
        pre = LOG_LINE.match(tb["preceding"])
        where = f"{pre[3]} {pre[4]}: {pre[5]}" if pre else tb["preceding"]
        key = (re.sub(r"[0-9]+", "N", where)[:120], tb["exception"].split(":")[0])
        first = {"count": 0, "first_at": tb["at"], "preceding": where[:200], "exception": tb["exception"], "cause_line": tb["cause_line"]}
        entry = kinds.setdefault(key, first)
        entry["count"] += 1
    return sorted(kinds.values(), key=lambda k: -k["count"])


def live_from_log(bench: Bench, since: float) -> tuple[float | None, float | None, float]:
    """When the log says a DJ took over after `since`, and when the schedule resumed."""
    start = end = None
    last = since
    text = read_log(bench)
    for m in re.finditer(r"(?m)^(\S+ \S+),(\d{3}) \w+ [\w.]+: (.*)$", text):
        t = log_time(m[1], m[2])
        last = max(last, t)
        if t >= since and start is None and re.match(r"live: .* takes over", m[3]):
            start = t
        elif start is not None and end is None and re.match(r"live: .* (ended|silent for)", m[3]):
            end = t
    return start, end, last


def analyse_dj(bench: Bench) -> dict:
    """How long the station stayed live after the DJ left: /api/nowplaying's `live`, or, when
    that does not answer, the server log's takeover and resume lines."""
    dj = dict(bench.dj)
    if not dj:
        return {}
    polls = sorted((p for p in bench.nowplaying if isinstance(p.info, dict) and "live" in p.info), key=lambda p: p.t)
    went_live = next((p.t for p in polls if p.t >= dj["connected_at"] and p.info["live"]), None)
    ended = next((p.t for p in polls if went_live and p.t >= max(dj["left_at"], went_live) and not p.info["live"]), None)
    last = polls[-1].t if polls else dj["left_at"]
    dj["measured_by"] = "/api/nowplaying live"
    if went_live is None or ended is None:  # no answers, or none after a while: the log goes on
        log_live, log_ended, log_last = live_from_log(bench, dj["connected_at"])
        if log_live is not None and (went_live is None or log_last > last):
            went_live, ended, last = went_live or log_live, log_ended, max(last, log_last)
            dj["measured_by"] = "/api/nowplaying live, then the server log" if polls else "the server log"
    dj.update(
        live_from=bench.rel(went_live) if went_live else None,
        live_after_left_s=round(ended - dj["left_at"], 1) if ended else None,
        still_live_at_end=bool(went_live and ended is None),
        live_at_least_s=round(last - dj["left_at"], 1) if went_live and ended is None else None,
        rss_added_mb=round(dj["rss_peak_mb"] - dj["rss_before_mb"], 1),
        connected_at=bench.rel(dj["connected_at"]),
        left_at=bench.rel(dj["left_at"]),
    )
    return dj


def status_summary(status: dict | None) -> dict:
    if not status:
        return {"error": "no /api/status answer at the end"}
    keep = ("mount", "listeners", "evicted", "clock_restarts", "encoder_restarts", "on_air", "connections")
    return {
        "mounts": [{k: m.get(k) for k in keep} for m in status.get("mounts", [])],
        "listeners": status.get("listeners"),
        "silence_inserted_seconds": status.get("silence_inserted_seconds"),
        "problems": (status.get("problems") or [])[-8:],
        "reload": {k: v for k, v in ((status.get("schedule") or {}).get("reload") or {}).items() if k != "files"},
    }


def analyse(bench: Bench) -> dict:
    recs = [analyse_recording(bench, r) for r in bench.recorders]
    report: dict[str, Any] = {
        "duration": bench.args.duration,
        "seed": bench.args.seed,
        "port": bench.port,
        "code": bench.args.code or "installed streamer package",
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(bench.t0)) if bench.t0 else None,
        "server": bench.server_gone or "ran to the end",
        "recordings": recs,
        "healthz": analyse_health(bench, recs),
        "memory": analyse_memory(bench),
        "log": analyse_log(bench),
        "dj": analyse_dj(bench),
        "attacks": bench.results,
        "final_status": status_summary(bench.final_status),
    }
    findings: dict[tuple, list[str]] = {}
    for r in recs:
        for kind in ("silences", "stalls", "gaps"):
            for item in r.get(kind, []):
                findings.setdefault((item["at"], kind[:-1], item["seconds"]), []).append(f"{r['name']} {r['mount']}")
    for (rel, kind, seconds), names in findings.items():
        label = {"gap": "no bytes for", "stall": "a player stalls for", "silence": "silence of"}[kind]
        bench.timeline.append({"t": bench.t0 + rel, "source": "finding", "what": f"{', '.join(names)}: {label} {seconds} s"})
    for run in report["healthz"]["runs"]:
        what = f"/healthz {run['answer']} x{run['polls']} until +{run['until']} s {run['body']}"
        bench.timeline.append({"t": bench.t0 + run["from"], "source": "finding", "what": what[:200]})
    report["timeline"] = [
        {"at": bench.rel(e["t"]), "clock": time.strftime("%H:%M:%S", time.localtime(e["t"])), "source": e["source"], "what": e["what"]}
        for e in sorted(bench.timeline, key=lambda e: e["t"])
    ]
    report["checks"] = acceptance(report)
    return report


def acceptance(report: dict) -> list[dict]:
    checks: list[dict] = []

    def add(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    mains = [r for r in report["recordings"] if "file" in r]
    add("server ran to the end", report["server"] == "ran to the end", report["server"])
    connected = "; ".join(
        f"{r['name']}: " + ("yes" if r["connected_at_end"] else f"no ({r['end_reason']} at +{r['ended_at']} s)") for r in mains
    )
    add("both recorders still connected", len(mains) == 2 and all(r["connected_at_end"] for r in mains), connected)
    errors = ", ".join(f"{r['name']}: {r['decode_errors']}" for r in mains)
    add("0 decode errors", all(r["decode_errors"] == 0 for r in mains), errors)
    dead = [(r["name"], kind[:-1], x) for r in mains for kind in ("silences", "stalls") for x in r[kind]]
    worst = max(dead, key=lambda d: d[2]["seconds"], default=None)
    longest = f"; longest: {worst[0]} {worst[1]} of {worst[2]['seconds']} s at +{worst[2]['at']} s" if worst else ""
    add("no silence or stall over 1 s", not dead, f"{len(dead)} found{longest}")
    h = report["healthz"]
    truthful = not h["unanswered"] and not h["unmatched_503"] and not h["off_air_not_reported"]
    detail = (
        f"{h['unanswered']} of {h['polls']} unanswered; answers {h['answers']}; {len(h['unmatched_503'])} 503 without an "
        f"off-air window; {len(h['off_air_not_reported'])} answers not naming a mount that sent nothing for > {HEALTH_LAG:.0f} s"
    )
    add("/healthz truthful throughout", truthful, detail)
    own = h["health_port"]
    said = f"{own['unanswered']} of {own['polls']} unanswered; slowest {own['slowest_answer_s']} s"
    add("server.health_port answered every poll", own["polls"] > 0 and not own["unanswered"], said)
    total = report["memory"]["total_mb"]
    grew = None if total["start"] is None or total["after"] is None else round(total["after"] - total["start"], 1)
    growth = "" if grew is None else f" ({grew:+} MB)"
    within = grew is not None and grew <= 100
    after = f"{total['after']} MB{growth}" if total["after"] is not None else f"no server to measure ({report['server']})"
    add("RSS 30 s after within 100 MB of start (server + children)", within, f"{total['start']} MB -> {after}")
    log = report["log"]
    without = log.get("tracebacks_without_cause", "?")
    add("no traceback without a cause line", without == 0, f"{log.get('tracebacks', '?')} tracebacks, {without} without a cause line")
    return checks


# --- the report --------------------------------------------------------------------------------------------


def table(rows: list[tuple[str, ...]], indent: str = "  ") -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows)


def print_timeline(report: dict) -> None:
    print("\nTimeline (seconds from the start of the attacks):")
    for e in report["timeline"]:
        print(f"  {e['at']:+7.1f}  {e['clock']}  {e['source']:<12} {e['what']}")


def spans(items: list[dict]) -> str:
    return ", ".join(f"{x['seconds']} s at +{x['at']}" for x in items) or "none"


def load_rows(r: dict) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if f := r.get("fuzz"):
        no_answer = f"NO ANSWER within 20 s: {f['no_answer_within_20s']} {f['no_answer_by_mutation'] or ''}"
        rows.append(("fuzz", f"{f['sent']:,} requests ({f['per_second']}/s); answers {f['answers']}; {no_answer}"))
        if f.get("closed_without_status_by_mutation"):
            rows.append(("fuzz", f"closed without a status line, by mutation: {f['closed_without_status_by_mutation']}"))
        for x in sorted(f.get("examples", []), key=lambda x: "timeout" not in x["answer"])[:6]:
            rows.append((f"fuzz {x['answer']}", f"sent at +{x['at']} s, {x['side']} {x['mutations']}: {x['request'][:150]}"))
    for kind, v in (r.get("slow") or {}).get("kinds", {}).items():
        median = v["closed_after_s_median"]
        how = "" if median is None else f" (median after {median} s, answers {v['answers_before_close']})"
        closed = f"{v['closed_by_server']} closed by the server{how}"
        rows.append((f"slow {kind}", f"{v['opened']:,} opened, {closed}, {v['held_to_the_end']:,} held to the end"))
    if c := r.get("churn"):
        median = c["stalled_dropped_after_s_median"]
        stalled = f"stalled readers dropped by the server: {c['stalled_dropped_by_server']}" + (
            f" (median after {median} s)" if median else ""
        )
        rows.append(("churn", f"{c['cycles']:,} cycles ({c['per_second']}/s); {c['actions']}; answers {c['answers']}; {stalled}"))
    if e := r.get("sse"):
        rows.append(("sse", f"{e['connected']:,} connected ({e['connect_failed'] or 'none'} failed); at the end: {e['at_the_end']}"))
    for target, v in (r.get("flood") or {}).items():
        rate = f"{v['per_second']}/s (slowest second {v['slowest_second']})"
        rows.append((f"flood {target}", f"{v['attempts']:,} wrong logins, {rate}, answers {v['answers']}"))
    for name in ("garbage-live", "garbage-mp3", "garbage-ogg"):
        if g := r.get(name):
            sent = f"answer {g['answer']}, {g.get('bytes_sent', 0):,} random bytes sent"
            after = g.get("dropped_by_server_after_s")
            dropped = "kept to the end by the server" if after is None else f"dropped by the server after {after} s"
            heard = f"a listener got {g.get('listener_bytes', 0):,} bytes ({g.get('listener_answer')})"
            rows.append((name, f"{g['mount']} ({g.get('content_type')}): {sent}, {dropped}; {heard}"))
    return rows


def recording_rows(report: dict) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for r in report["recordings"]:
        if "file" in r:
            connected = "yes" if r["connected_at_end"] else f"NO ({r['end_reason']} at +{r['ended_at']} s)"
            decoded = f"{r['decoded_seconds']} s decoded, {r['decode_errors']} decode errors"
            rows.append((f"{r['name']} {r['mount']}", f"connected at end: {connected}; {decoded}; silences > 1 s: {spans(r['silences'])}"))
        rows.append((f"{r['name']} delivery", f"no bytes > 1 s: {spans(r['gaps'])}; player stalls > 1 s: {spans(r['stalls'])}"))
        rows += [(f"{r['name']} decode error", line[:160]) for line in r.get("decode_error_lines", [])[:3]]
    h = report["healthz"]
    answered = f"{h['polls']} polls: {h['unanswered']} unanswered, answers {h['answers']}, slowest {h['slowest_answer_s']} s"
    truth = f"503 without an off-air window: {len(h['unmatched_503'])}; off air but not named: {len(h['off_air_not_reported'])}"
    rows.append(("/healthz", f"{answered}; {truth}"))
    own = h["health_port"]
    said = f"{own['polls']} polls: {own['unanswered']} unanswered, answers {own['answers']}, slowest {own['slowest_answer_s']} s"
    rows.append(("/healthz (health_port)", said))
    rows.append(("/api/nowplaying", f"{sum(h['nowplaying_answers'].values())} polls, answers {h['nowplaying_answers']}"))
    for x in h["unmatched_503"][:3]:
        rows.append(("/healthz 503 unmatched", f"at +{x['at']} s: {x['body']}"))
    for x in h["off_air_not_reported"][:3]:
        rows.append(
            ("/healthz not naming", f"at +{x['at']} s answered {x['answer']} while {x['mount']} sent nothing for {x['no_bytes_for']} s")
        )
    for run in h["runs"][:12]:
        rows.append(("/healthz run", f"{run['answer']} x{run['polls']} from +{run['from']} to +{run['until']} s {run['body'][:90]}"))
    return rows


def server_rows(report: dict) -> list[tuple[str, str]]:
    m = report["memory"]
    server, children = m["server_mb"], m["children_mb"]
    rows = [
        ("server RSS", f"start {server['start']} MB, peak {server['peak']} MB (at +{m['peak_at']} s), 30 s after {server['after']} MB"),
        ("server RSS", f"peak before the first hostile YAML went in: {m['server_peak_before_yaml_mb']} MB"),
        (
            "children RSS",
            f"start {children['start']} MB, peak {children['peak']} MB, 30 s after {children['after']} MB; count {m['children']}",
        ),
        ("open files", f"peak {m['fds_peak']} (at +{m['fds_peak_at']} s), 30 s after {m['fds_after']}"),
    ]
    if dj := report["dj"]:
        if dj["live_after_left_s"] is not None:
            live = f"{dj['live_after_left_s']} s"
        else:
            live = f"still live at the end, >= {dj['live_at_least_s']} s" if dj["still_live_at_end"] else "never seen live"
        sent = f"sent for {dj['send_seconds']} s (+{dj['connected_at']} to +{dj['left_at']}), ffmpeg exit {dj['ffmpeg_exit']}"
        rss = f"server RSS {dj['rss_before_mb']} -> {dj['rss_peak_mb']} MB ({dj['rss_added_mb']:+} MB)"
        rows.append(("DJ", f"{sent}; live after the DJ left: {live} (from {dj['measured_by']}); {rss}"))
        rows += [("DJ ffmpeg said", line[:200]) for line in dj.get("ffmpeg_errors", [])[:2]]
    if fl := report["attacks"].get("flood"):
        rows.append(("login flood", ", ".join(f"{t} {v['per_second']} attempts/s" for t, v in fl.items())))
    return rows + log_rows(report)


def log_rows(report: dict) -> list[tuple[str, str]]:
    log = report["log"]
    rows = [
        (
            "server log",
            f"levels {log.get('levels')}; {log.get('tracebacks')} tracebacks, {log.get('tracebacks_without_cause')} without cause",
        )
    ]
    for k in log.get("traceback_kinds", [])[:8]:
        cause = "cause" if k["cause_line"] else "NO cause line"
        rows.append((f"traceback x{k['count']}", f"first at +{k['first_at']} s, {cause}: {k['preceding'][:110]} -> {k['exception'][:110]}"))
    rows += [(f"log x{w['count']}", w["line"][:200]) for w in log.get("top_warnings_and_errors", [])[:10]]
    st = report["final_status"]
    if "mounts" not in st:
        return [*rows, ("/api/status at end", st.get("error", ""))]
    for m in st["mounts"]:
        restarts = f"encoder restarts {m['encoder_restarts']}, clock restarts {m['clock_restarts']}"
        rows.append((f"at end {m['mount']}", f"listeners {m['listeners']}, evicted {m['evicted']}, {restarts}, on air {m['on_air']}"))
    rows.append(
        ("at end", f"{len(st['mounts'])} mounts; silence inserted {st['silence_inserted_seconds']} s; problems {st['problems']}"[:400])
    )
    rows.append(("reload state", json.dumps(st["reload"], ensure_ascii=False)[:300]))
    return rows


def print_report(report: dict) -> None:
    head = f"chaos: {report['duration']:.0f} s of attacks on streamer ({report['code']})"
    print(f"{head}, seed {report['seed']}, started {report['started']}")
    print_timeline(report)
    print("\nWhat each attack did:")
    print(table([("attack", "result"), *load_rows(report["attacks"])]))
    print("\nFigures:")
    print(table([("what", "value"), *recording_rows(report), *server_rows(report)]))
    print("\nAcceptance checks:")
    print(table([("check", "result", "detail"), *[(c["check"], "PASS" if c["ok"] else "FAIL", c["detail"]) for c in report["checks"]]]))
    failed = [c["check"] for c in report["checks"] if not c["ok"]]
    print(f"\n{'FAILED: ' + '; '.join(failed) if failed else 'all acceptance checks passed'}")


# --- the command line -----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=300, help="seconds of attacks (default 300; 60 for a quick look)")
    p.add_argument("--after", type=float, default=30, help="seconds recorded after the attacks stopped (default 30)")
    p.add_argument("--baseline", type=float, default=5, help="seconds recorded before the attacks (default 5)")
    p.add_argument("--seed", type=int, default=1, help="the same seed sends the same requests")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of tables (progress goes to stderr)")
    p.add_argument("--keep", metavar="DIR", help="copy the server log, recordings and worker logs here")
    p.add_argument("--code", metavar="DIR", help="run the server from this tree (put first on PYTHONPATH) instead of the installed one")
    p.add_argument("--skip", default="", help=f"comma-separated attacks to leave out: {','.join(sorted(SKIPPABLE))}")
    p.add_argument("--fuzz", type=int, default=20000, help="mutated requests over the run (default 20,000)")
    p.add_argument("--fuzz-concurrency", type=int, default=1000, help="fuzzed requests in flight (a truncated head holds one 15 s)")
    p.add_argument("--slow", type=int, default=5000, help="slow/idle connections held (default 5,000)")
    p.add_argument("--churn", type=int, default=20000, help="listener connect/disconnect cycles (default 20,000)")
    p.add_argument("--churn-concurrency", type=int, default=200)
    p.add_argument("--stall-max", type=int, default=300, help="stalled readers held at once (default 300)")
    p.add_argument("--sse", type=int, default=5000, help="SSE clients that never read (default 5,000)")
    p.add_argument("--flood-concurrency", type=int, default=4, help="wrong-password logins in flight per target (default 4)")
    p.add_argument("--nice", type=int, default=5, help="attack workers run this much nicer than the server (default 5)")
    p.add_argument("--dj-minutes", type=int, default=10, help="length of the DJ's MP3 (default 10)")
    p.add_argument("--rss-cap", type=int, default=3000, help="kill the server above this RSS in MB (default 3000)")
    args = p.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.skip - SKIPPABLE:
        p.error(f"--skip: unknown {', '.join(sorted(args.skip - SKIPPABLE))} (choose from {', '.join(sorted(SKIPPABLE))})")
    if args.duration < 20:
        p.error("--duration: at least 20 s")
    return args


def keep_files(tmp: Path, where: str) -> None:
    out = Path(where)
    out.mkdir(parents=True, exist_ok=True)
    for pattern in ("server.log", "rec*.mp3", "*.stderr"):
        for f in tmp.glob(pattern):
            shutil.copy2(f, out / f.name)


def main() -> int:
    args = parse_args()
    raise_nofile()
    tmp = Path(tempfile.mkdtemp(prefix="streamer-chaos-"))
    CLEANUP.paths.append(tmp)
    watchdog = start_watchdog(300 + args.baseline + args.duration + 60 + args.after + 300)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (a background job)
    bench = Bench(args, tmp, free_port(), health_port=free_port())
    try:
        report = asyncio.run(run_bench(bench))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("chaos: interrupted; the server and every process started were stopped", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    except Exception:  # a bug in the bench: say so, and still clean up
        traceback.print_exc()
        print("chaos: the bench failed (above); the server and every process started were stopped", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            with contextlib.suppress(OSError):
                keep_files(tmp, args.keep)
        CLEANUP.run()
        watchdog.cancel()
    if args.keep:
        with contextlib.suppress(OSError):
            (Path(args.keep) / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    else:
        print_report(report)
    return 0 if all(c["ok"] for c in report["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
