"""Soak check: the default station for N minutes, heard by real decoders.

    python bench/soak.py [--duration 600] [--churn 2]

Starts streamer with the shipped config and playlists on a free loopback port, then for the
whole duration: ffmpeg decodes /main straight from the URL (every error line counted), an
ICY client records /main with metadata (title changes and their byte offsets; the bytes
delivered per second against the nominal 16,000), and at the end mpv plays the stream for
20 s and must print the title. Meanwhile a listener comes every --churn seconds, stays 1 s
and goes (as players that probe, skip and retry do), and /api/nowplaying is asked for as
often: the station's own memory (VmRSS of the Python process, every 30 s) must not grow with
them. Prints a summary and writes bench/results/soak-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamer.audio.ffmpeg import ffmpeg_exe  # noqa: E402
from streamer.wire.icy import IcyReader  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record(port: int, seconds: float, out: Path, result: dict) -> None:
    """Listen like a player, with ICY metadata; note bytes over time and title changes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /main HTTP/1.0\r\nIcy-MetaData: 1\r\nUser-Agent: soak\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, _, body = buf.partition(b"\r\n\r\n")
        metaint = int(re.search(rb"icy-metaint:\s*(\d+)", head, re.I)[1])
        reader = IcyReader(metaint)
        start = time.monotonic()
        samples = []  # (seconds since connect, audio bytes so far)
        titles = []
        with out.open("wb") as f:
            data = body
            while True:
                audio, blocks = reader.feed(data)
                f.write(audio)
                now = time.monotonic() - start
                titles += [(round(now, 2), off, fields.get("StreamTitle", "")) for off, fields in blocks]
                samples.append((now, reader.position))
                if now >= seconds:
                    break
                s.settimeout(5)
                data = s.recv(65536)
                if not data:
                    result["closed_early_at"] = now
                    break
    result["samples"] = samples
    result["titles"] = titles


def churn(port: int, every: float, stop: threading.Event, counts: dict) -> None:
    """A listener that stays 1 s, every `every` seconds; and the now-playing document as often."""
    while not stop.wait(every):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /main HTTP/1.0\r\nIcy-MetaData: 1\r\nUser-Agent: soak-churn\r\n\r\n")
                end = time.monotonic() + 1.0
                while time.monotonic() < end and s.recv(65536):
                    pass
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/nowplaying", timeout=5).read()
            counts["visits"] = counts.get("visits", 0) + 1
        except OSError as exc:
            counts["failed"] = counts.get("failed", 0) + 1
            counts["last_error"] = str(exc)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory(pid: int, stop: threading.Event, samples: list) -> None:
    start = time.monotonic()
    while True:
        try:
            samples.append((round(time.monotonic() - start), round(rss_mb(pid), 1)))
        except OSError:
            return
        if stop.wait(30):
            return


def growth_per_hour(samples: list) -> float | None:
    """MB per hour, a least-squares line through the samples after the first two minutes
    (start-up: caches, the first tracks' analyses)."""
    later = [(t, mb) for t, mb in samples if t >= 120]
    if len(later) < 3:
        return None
    n, st, sm = len(later), sum(t for t, _ in later), sum(mb for _, mb in later)
    stt, stm = sum(t * t for t, _ in later), sum(t * mb for t, mb in later)
    return round((n * stm - st * sm) / (n * stt - st * st) * 3600, 2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=600)
    p.add_argument("--churn", type=float, default=2.0, help="seconds between short visits (0: none)")
    args = p.parse_args()
    ffmpeg = ffmpeg_exe()
    port = free_port()
    report: dict = {"duration": args.duration}
    with tempfile.TemporaryDirectory(prefix="streamer-soak-") as d:
        tmp = Path(d)
        config = (ROOT / "config.yaml").read_text()
        config = re.sub(r"(?m)^  port: \d+", f"  port: {port}", config)
        config = re.sub(r"(?m)^playlists: .*$", f"playlists: {ROOT / 'playlists'}", config)
        (tmp / "config.yaml").write_text(config)
        log = tmp / "server.log"
        server = subprocess.Popen(
            [sys.executable, "-m", "streamer", "serve", "--config", str(tmp / "config.yaml")],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.2)
            url = f"http://127.0.0.1:{port}/main"
            decoder = subprocess.Popen(
                [ffmpeg, "-nostdin", "-v", "error", "-i", url, "-t", str(args.duration), "-f", "null", "-"],
                stderr=subprocess.PIPE,
                text=True,
            )
            rec: dict = {}
            recording = tmp / "recording.mp3"
            stop, visits, rss = threading.Event(), {}, []
            helpers = [threading.Thread(target=memory, args=(server.pid, stop, rss), daemon=True)]
            if args.churn > 0:
                helpers.append(threading.Thread(target=churn, args=(port, args.churn, stop, visits), daemon=True))
            for helper in helpers:
                helper.start()
            t = threading.Thread(target=record, args=(port, args.duration, recording, rec))
            t.start()
            t.join()
            stop.set()
            report["churn"] = visits
            report["rss_mb"] = rss
            report["rss_growth_mb_per_hour"] = growth_per_hour(rss)
            _, errors = decoder.communicate(timeout=60)
            report["live_decoder_errors"] = [line for line in errors.splitlines() if line.strip()]
            after = subprocess.run(
                [ffmpeg, "-nostdin", "-v", "error", "-i", str(recording), "-f", "null", "-"], capture_output=True, text=True
            )
            report["recording_decode_errors"] = [line for line in after.stderr.splitlines() if line.strip()]
            report["recording_bytes"] = recording.stat().st_size
            samples = rec["samples"]
            t10 = next(s for s in samples if s[0] >= 10)
            end = samples[-1]
            report["steady_bytes_per_second"] = round((end[1] - t10[1]) / (end[0] - t10[0]), 2)
            report["steady_ratio"] = round(report["steady_bytes_per_second"] / 16000, 5)
            report["overall_bytes_per_second_incl_burst"] = round(end[1] / end[0], 2)
            report["titles"] = rec["titles"]
            report["title_changes"] = max(0, len(rec["titles"]) - 1)
            status = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5).read())
            report["status"] = {k: status[k] for k in ("problems", "silence_inserted_seconds")}
            report["status"]["mounts"] = [
                {k: m[k] for k in ("mount", "evicted", "clock_restarts", "encoder_restarts", "bytes_sent")} for m in status["mounts"]
            ]
            mpv = shutil.which("mpv")
            if mpv:
                out = subprocess.run(
                    [mpv, "--no-config", "--no-video", "--ao=null", "--length=20", url], capture_output=True, text=True, timeout=60
                )
                report["mpv_title_lines"] = [line.strip() for line in (out.stdout + out.stderr).splitlines() if "icy-title" in line]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
        played = re.findall(r"now playing '(.*?)' \((\w+),.*? from (\S+)", log.read_text())
        report["played"] = [(title, kind, Path(path).suffix) for title, kind, path in played]
        report["formats_played"] = sorted({Path(path).suffix for _, _, path in played})
    print(f"duration {args.duration:.0f} s")
    print(f"decode errors: live ffmpeg {len(report['live_decoder_errors'])}, recording {len(report['recording_decode_errors'])}")
    print(f"title changes seen by the ICY listener: {report['title_changes']}; formats played: {', '.join(report['formats_played'])}")
    print(f"bytes/s after the first 10 s: {report['steady_bytes_per_second']} = {report['steady_ratio']:.5f} x nominal 16000")
    print(f"mpv: {report.get('mpv_title_lines', 'mpv not installed')}")
    print(f"server: {report['status']}")
    rss = report["rss_mb"]
    if rss:
        print(
            f"station memory (VmRSS): {rss[0][1]} MB at start, {max(mb for _, mb in rss)} MB at most, {rss[-1][1]} MB at the end; "
            f"{report['rss_growth_mb_per_hour'] or 'n/a'} MB/hour after the first 2 minutes; short visits {report['churn']}"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / time.strftime("soak-%Y%m%d-%H%M%S.json")
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
