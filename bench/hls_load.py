"""HLS under load: thousands of players polling the station directly while MP3 listeners connect.

    python bench/hls_load.py [--n 5000] [--hold 120] [--probes 100] [--batch 25]

Starts streamer (this checkout) on a free loopback port with /main MP3 128 and HLS (aac48 +
aac96, 4 s MPEG-TS segments), then --n players from a separate process (hlsclient.py: one
keep-alive connection each, the playlist every half segment, every new segment fetched;
half on each variant), connecting --batch every 50 ms. Once all are connected and a settle
time has passed, for --hold seconds: the players' answers (by status), failures, players
that lost their connection, missed a segment or went two segments without a good answer,
answer times; the station's CPU (its process tree, % of one core) and memory; and
--probes fresh MP3 listeners connecting to /main one after another from this process (time
to the first byte of audio and to 16 KB). Prints a summary and writes
bench/results/hls-load-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, TreeMonitor, free_port, get_json, loadavg, start_streamer, stop, wait_http, write_results

MUSIC = ROOT / "playlists" / "audio" / "music"


def station(tmp: Path, port: int, max_pending: int) -> str:
    (tmp / "playlists").mkdir()
    (tmp / "playlists" / "bench.yaml").write_text(f"playlists:\n  music: {{files: ['{MUSIC}']}}\nfallback: music\n")
    pending = f", max_pending: {max_pending}" if max_pending else ""
    return (
        f"server: {{host: 127.0.0.1, port: {port}, log_level: warning{pending}}}\n"
        "mounts:\n  /main: {bitrate: 128}\n"
        "hls:\n  segment: 4\n  window: 6\n  container: ts\n  variants:\n"
        "    - {name: aac48, bitrate: 48}\n    - {name: aac96, bitrate: 96}\n"
        "playlists: playlists\n"
    )


def probe(port: int) -> tuple[float, float]:
    """Seconds to the first byte of audio and to 16 KB of it, for a fresh /main listener."""
    t0 = time.monotonic()
    first = full = math.nan
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /main HTTP/1.0\r\nUser-Agent: bench-probe\r\n\r\n")
        buf = b""
        while math.isnan(full) and (chunk := s.recv(65536)):
            buf += chunk
            body = buf.find(b"\r\n\r\n")
            if body >= 0 and len(buf) > body + 4:
                first = time.monotonic() - t0 if math.isnan(first) else first
                full = time.monotonic() - t0 if len(buf) - body - 4 >= 16384 else full
    return first, full


def probes(port: int, count: int, seconds: float) -> list[tuple[float, float]]:
    out = []
    start = time.monotonic()
    for i in range(count):
        time.sleep(max(0.0, start + i * seconds / count - time.monotonic()))
        out.append(probe(port))
    time.sleep(max(0.0, start + seconds - time.monotonic()))
    return out


def run(port: int, server_pid: int, args: argparse.Namespace) -> dict:
    client = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "hlsclient.py"), "--port", str(port), "--n", str(args.n), "--hold", str(args.hold),
         "--settle", str(args.settle), "--batch", str(args.batch)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert client.stdout is not None
    connected = json.loads(client.stdout.readline())
    time.sleep(args.settle)
    monitor = TreeMonitor({"streamer": [server_pid]}).start()
    load0, t0 = loadavg(), time.monotonic()
    probed = probes(port, args.probes, args.hold * 0.9)
    status = get_json(f"http://127.0.0.1:{port}/api/status")
    result = json.loads(client.stdout.readline())
    t1 = time.monotonic()
    monitor.stop()
    client.wait(30)
    first = [p[0] for p in probed if not math.isnan(p[0])]
    full = [p[1] for p in probed if not math.isnan(p[1])]
    return {
        "connected": connected,
        "players": result,
        "streamer_tree": monitor.window("streamer", t0, t1),
        "hls_listeners_counted": status.get("hls"),
        "mp3_probes": len(probed),
        "mp3_probes_failed": len(probed) - len(first),
        "mp3_first_byte_ms_median_max": [round(statistics.median(first) * 1000, 1), round(max(first) * 1000, 1)] if first else None,
        "mp3_16k_ms_median_max": [round(statistics.median(full) * 1000, 1), round(max(full) * 1000, 1)] if full else None,
        "loadavg": [load0, loadavg()],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=5000, help="HLS players")
    p.add_argument("--hold", type=float, default=120, help="seconds measured")
    p.add_argument("--settle", type=float, default=10, help="seconds after all players connected before measuring")
    p.add_argument("--probes", type=int, default=100, help="fresh MP3 listeners during the hold")
    p.add_argument("--batch", type=int, default=25, help="players connecting together, every 50 ms")
    p.add_argument("--max-pending", type=int, default=0, help="server.max_pending (0: the server's default)")
    args = p.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="streamer-hls-load-") as d:
        tmp = Path(d)
        server = start_streamer(tmp, station(tmp, port, args.max_pending), port)
        try:
            for v in ("aac48", "aac96"):
                wait_http(f"http://127.0.0.1:{port}/hls/{v}/live.m3u8")
            time.sleep(5)
            report = run(port, server.pid, args)
        finally:
            stop([server])
        report["server_log_tail"] = (tmp / "streamer.log").read_text(errors="replace").splitlines()[-20:]
    report.update(n=args.n, hold=args.hold, batch=args.batch, max_pending=args.max_pending or "default")
    print_report(report)
    print(f"\nwritten to {write_results('hls-load', report)}")
    return 0


def print_report(r: dict) -> None:
    pl, tree = r["players"], r["streamer_tree"]
    print(f"\n{r['n']} HLS players ({r['batch']} every 50 ms), {pl['held_seconds']} s held, server.max_pending {r['max_pending']}; "
          f"load {' -> '.join(r['loadavg'])}")  # fmt: skip
    print("| players | connect failed | lost | stale | with missed segments | with failures | statuses | playlists | segments | "
          "min segments/player | MB/s | playlist ms med/p99/max | segment ms med/p99/max |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {pl['players']} | {pl['connect_failed']} | {pl['lost']} | {pl['stale']} | {pl['players_with_missed_segments']} | "
        f"{pl['players_with_failures']} | {pl['statuses']} | {pl['playlists']} | {pl['segments']} | {pl['segments_per_player_min']} | "
        f"{pl['mbytes_per_second']} | {pl['playlist_ms_median_p99_max']} | {pl['segment_ms_median_p99_max']} |"
    )
    print(f"\nstation: CPU {tree['cpu_percent']} % of a core (python alone {tree['root_cpu_percent']} %), "
          f"RSS peak {tree['rss_peak_mb']} MB, PSS peak {tree['pss_peak_mb']} MB")  # fmt: skip
    print(f"station's own HLS view: {r['hls_listeners_counted']}")
    print(f"MP3 /main, {r['mp3_probes']} fresh listeners ({r['mp3_probes_failed']} failed): first byte median/max "
          f"{r['mp3_first_byte_ms_median_max']} ms, 16 KB {r['mp3_16k_ms_median_max']} ms")  # fmt: skip
    print(f"load client CPU: {pl['client_cpu_seconds']} s over the hold")


if __name__ == "__main__":
    sys.exit(main())
