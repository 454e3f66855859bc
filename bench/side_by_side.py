"""Two or more streamer checkouts side by side, each making vs_liquidsoap.py's outputs for its
readers: the CPU of each station's Python process and of its whole tree, measured together.

    python bench/side_by_side.py OLD_CHECKOUT NEW_CHECKOUT [--measure 60] [--settle 15]

A change's effect on streamer's own CPU is a few tenths of a point; vs_liquidsoap.py's ratio
moves more than that between runs (the machine's load moves both sides, and Liquidsoap's cost
moves with the music). Running the versions at the same time, on the same music from the same
second, with the same readers, takes those out: run it in both orders (first-started pays the
other's start-up) and compare within each run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common
import vs_liquidsoap as vs

HZ = os.sysconf("SC_CLK_TCK")


def start(checkout: Path) -> tuple[list[subprocess.Popen], dict]:
    """A station of `checkout` (its own code, PYTHONPATH) with vs_liquidsoap's outputs."""

    def start_streamer(tmp: Path, config: str, port: int, log_name: str = "streamer.log") -> subprocess.Popen:
        (tmp / "config.yaml").write_text(config)
        shutil.copytree(checkout / "news", tmp / "news", ignore=shutil.ignore_patterns(".headlines.*"))
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        cmd = [sys.executable, "-m", "streamer", "serve", "--config", str(tmp / "config.yaml")]
        proc = subprocess.Popen(cmd, stdout=(tmp / log_name).open("wb"), stderr=subprocess.STDOUT, env=env, cwd=tmp)
        common.wait_http(f"http://127.0.0.1:{port}/healthz")
        return proc

    vs.start_streamer = start_streamer  # vs_liquidsoap's streamer side, with this checkout's code
    return vs.start_streamer_side(Path(tempfile.mkdtemp(prefix="streamer-side-")), vs.MUSIC)


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(the process's own utime + stime, the same with its children, reaped ones included)."""

    def stat(p: int) -> list[int]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return [int(x) for x in fields[11:15]]

    own, total = sum(stat(pid)[:2]), sum(stat(pid))
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += sum(stat(int(child)))
            except OSError:
                pass  # gone between the listing and the read
    return own, total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkouts", nargs="+", type=Path)
    p.add_argument("--measure", type=float, default=60.0)
    p.add_argument("--settle", type=float, default=15.0, help="seconds after the readers start, before measuring")
    args = p.parse_args()
    sides = [start(c.resolve()) for c in args.checkouts]
    done = threading.Event()
    for i, (_, info) in enumerate(sides):
        vs.start_readers(str(i), info, 2, done)
    try:
        time.sleep(args.settle)
        before, t0 = [cpu_ticks(procs[0].pid) for procs, _ in sides], time.monotonic()
        time.sleep(args.measure)
        after, seconds = [cpu_ticks(procs[0].pid) for procs, _ in sides], time.monotonic() - t0
    finally:
        done.set()
        for procs, _ in sides:
            common.stop(procs)
    print("| checkout | Python process, % of a core | whole station, % of a core |\n|---|---|---|")
    for checkout, (own0, all0), (own1, all1) in zip(args.checkouts, before, after, strict=True):
        print(f"| {checkout} | {(own1 - own0) / HZ / seconds * 100:.2f} | {(all1 - all0) / HZ / seconds * 100:.2f} |")


if __name__ == "__main__":
    main()
