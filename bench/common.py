"""Shared by the issue-12 benchmarks (formats.py, vs_liquidsoap.py, hls_load.py): free ports,
starting streamer from this checkout, CPU and memory of whole process trees from /proc, and
writing results. Not a benchmark itself.

CPU of a tree is the sum over its live processes of utime + stime + cutime + cstime: a child
that exits and is reaped moves its time into its parent's cutime, so children that come and
go between samples (streamer's per-track decoders, its per-title Ogg encoders) are counted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_http(url: str, timeout: float = 30) -> None:
    """Until `url` answers 200 (a 404 or 503 meanwhile is retried)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 in {timeout} s")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def start_streamer(tmp: Path, config: str, port: int, log_name: str = "streamer.log") -> subprocess.Popen:
    """streamer of this checkout (PYTHONPATH=ROOT) with `config` as its config.yaml, on the air."""
    (tmp / "config.yaml").write_text(config)
    if not (tmp / "news").exists():
        shutil.copytree(ROOT / "news", tmp / "news", ignore=shutil.ignore_patterns(".headlines.*"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (tmp / log_name).open("wb")
    cmd = [sys.executable, "-m", "streamer", "serve", "--config", str(tmp / "config.yaml")]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def stop(procs: list[subprocess.Popen], sig: int = signal.SIGTERM) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def write_results(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / time.strftime(f"{name}-%Y%m%d-%H%M%S.json")
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


Proc = tuple[int, int, int, int]  # ppid, utime + stime, cutime + cstime (reaped children), RSS in KB


def _stat(pid: str) -> Proc | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]), int(fields[21]) * PAGE_KB


def snapshot() -> dict[int, Proc]:
    procs = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (info := _stat(entry.name)) is not None:
            procs[int(entry.name)] = info
    return procs


def tree(procs: dict[int, Proc], roots: list[int]) -> list[int]:
    """The roots and all their descendants that are alive in `procs`."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [r for r in roots if r in procs]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (ffmpeg's libraries in every encoder) counted once."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Sample:
    t: float
    ticks: int  # the whole tree, reaped children included
    root_ticks: int  # the root processes' own
    rss_kb: int
    pss_kb: int
    processes: int
    each: dict[int, int] = field(default_factory=dict)  # pid -> its own utime + stime


@dataclass
class TreeMonitor:
    """Samples named process trees every `interval` seconds in a thread."""

    roots: dict[str, list[int]]
    interval: float = 1.0
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> TreeMonitor:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            now, procs = time.monotonic(), snapshot()
            for name, roots in self.roots.items():
                self.samples.setdefault(name, []).append(self._sample(now, procs, roots))
            self._stop.wait(self.interval)

    @staticmethod
    def _sample(now: float, procs: dict[int, Proc], roots: list[int]) -> Sample:
        pids = tree(procs, roots)
        ticks = sum(procs[p][1] + procs[p][2] for p in pids)
        own = sum(procs[p][1] for p in roots if p in procs)
        each = {p: procs[p][1] for p in pids}
        return Sample(now, ticks, own, sum(procs[p][3] for p in pids), sum(pss_kb(p) for p in pids), len(pids), each)

    def window(self, name: str, t0: float, t1: float) -> dict:
        """CPU (% of one core) and memory of a tree between two monotonic times."""
        inside = [s for s in self.samples.get(name, []) if t0 <= s.t <= t1]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        seconds = last.t - first.t
        return {
            "cpu_percent": round((last.ticks - first.ticks) / TICK / seconds * 100, 1),
            "cpu_seconds": round((last.ticks - first.ticks) / TICK, 2),
            "root_cpu_percent": round((last.root_ticks - first.root_ticks) / TICK / seconds * 100, 1),
            "seconds": round(seconds, 1),
            "rss_peak_mb": round(max(s.rss_kb for s in inside) / 1024, 1),
            "rss_mean_mb": round(sum(s.rss_kb for s in inside) / len(inside) / 1024, 1),
            "pss_peak_mb": round(max(s.pss_kb for s in inside) / 1024, 1),
            "pss_mean_mb": round(sum(s.pss_kb for s in inside) / len(inside) / 1024, 1),
            "processes_max": max(s.processes for s in inside),
        }

    def per_process(self, name: str, t0: float, t1: float) -> list[tuple[str, float]]:
        """CPU (% of one core) of each process of the tree alive for the whole window, by command."""
        inside = [s for s in self.samples.get(name, []) if t0 <= s.t <= t1]
        if len(inside) < 2:
            return []
        first, last = inside[0], inside[-1]
        seconds = last.t - first.t
        out = []
        for pid, ticks in last.each.items():
            if pid in first.each:
                out.append((command(pid), round((ticks - first.each[pid]) / TICK / seconds * 100, 2)))
        return sorted(out, key=lambda item: -item[1])


def command(pid: int) -> str:
    """A short name for a process: the program, and for ffmpeg what it encodes or decodes."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return str(pid)
    name = Path(args[0]).name
    if name == "ffmpeg" and "-i" in args:
        i = args.index("-i")
        options = [args[j + 1] for j in range(i, len(args) - 1) if args[j] in ("-c:a", "-b:a", "-ar", "-ac", "-f")]
        return f"ffmpeg {Path(args[i + 1]).name} -> {' '.join(options)}"
    return " ".join([name, *args[1:4]])[:80]
