"""Listener fan-out benchmark: streamer side by side with icecast2, in one run.

    python bench/listeners.py [--counts 1000,5000,10000] [--hold 60] [--no-icecast]

Starts streamer on a free loopback port (and, when /usr/bin/icecast2 exists, an icecast2
relaying streamer's /main, so both serve the very same stream), then for each count holds
that many 128 kbit/s listeners (half asking for ICY metadata) from a separate load-client
process and reports, per server: CPU (% of one core, from /proc over the hold), RSS and
RSS per listener, listeners starved (fell > 1 s behind real time) or dropped, and time to
first byte / to 16 KB for fresh listeners probed during the hold. Results go to stdout and
bench/results/listeners-<time>.json. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import wait_http  # re-exported: loudness.py and history.py import it from here

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_streamer(tmp: Path, max_listeners: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (tmp / "playlists").mkdir()
    (tmp / "playlists" / "bench.yaml").write_text(
        f"playlists:\n  music: {{files: ['{ROOT / 'playlists' / 'audio' / 'music'}']}}\nfallback: music\n"
    )
    (tmp / "config.yaml").write_text(
        f"server: {{host: 127.0.0.1, port: {port}, max_listeners: {max_listeners}, log_level: warning}}\n"
        f"mounts:\n  /main: {{bitrate: 128, max_listeners: {max_listeners}}}\nplaylists: playlists\n"
    )
    log = (tmp / "streamer.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "streamer", "serve", "--config", str(tmp / "config.yaml")], stdout=log, stderr=log)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc, port


ICECAST_XML = """<icecast>
  <limits><clients>{clients}</clients><sources>4</sources><queue-size>524288</queue-size>
    <burst-size>65536</burst-size><source-timeout>10</source-timeout><header-timeout>15</header-timeout></limits>
  <authentication><source-password>bench-pass-1</source-password><relay-password>bench-pass-1</relay-password>
    <admin-user>admin</admin-user><admin-password>bench-pass-1</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <relay><server>127.0.0.1</server><port>{upstream}</port><mount>/main</mount><local-mount>/main</local-mount>
    <on-demand>0</on-demand><relay-shoutcast-metadata>1</relay-shoutcast-metadata></relay>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{tmp}</logdir><webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"""


def start_icecast(tmp: Path, upstream: int, clients: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    ice = tmp / "icecast"
    ice.mkdir()
    tmp.chmod(0o755)  # icecast2 drops root for nobody, who must reach its log folder
    ice.chmod(0o777)
    owner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>" if os.geteuid() == 0 else ""
    xml = ice / "icecast.xml"
    xml.write_text(ICECAST_XML.format(clients=clients, port=port, upstream=upstream, tmp=ice, owner=owner))
    hard = __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE)[1]
    proc = subprocess.Popen(
        ["sh", "-c", f'ulimit -n {hard}; exec icecast2 -c "{xml}"'], stdout=(ice / "stdout.log").open("wb"), stderr=subprocess.STDOUT
    )
    wait_http(f"http://127.0.0.1:{port}/status-json.xsl")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # wait until the relay has the stream
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status-json.xsl", timeout=1) as r:
                if "source" in json.loads(r.read())["icestats"]:
                    return proc, port
        except (OSError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError("icecast2 did not pick up the relay")


def run_load(name: str, pid: int, port: int, n: int, hold: float, settle: float, rss0: int) -> dict:
    """`rss0`: the server's RSS before its first listener (memory freed later may not go back)."""
    client = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "loadclient.py"), "--port", str(port), "--n", str(n), "--hold", str(hold),
         "--settle", str(settle)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert client.stdout is not None
    first = json.loads(client.stdout.readline())
    assert first["event"] == "connected", first
    time.sleep(settle)
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    time.sleep(hold / 2)
    rss = rss_kb(pid)
    time.sleep(hold / 2)
    cpu = (cpu_ticks(pid) - c0) / TICK / (time.monotonic() - t0) * 100
    result = json.loads(client.stdout.readline())
    client.wait(timeout=60)
    result.update(
        server=name,
        cpu_percent=round(cpu, 1),
        rss_mb=round(rss / 1024, 1),
        rss_idle_mb=round(rss0 / 1024, 1),
        kb_per_listener=round((rss - rss0) / n, 2),
    )
    time.sleep(3)  # let the server see the disconnects before the next round
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--counts", default="1000,5000,10000", help="listener counts, comma-separated")
    p.add_argument("--hold", type=float, default=60, help="seconds to hold each count")
    p.add_argument("--settle", type=float, default=5, help="seconds after connecting before measuring")
    p.add_argument("--no-icecast", action="store_true", help="skip the icecast2 comparison")
    args = p.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    use_icecast = not args.no_icecast and shutil.which("icecast2") is not None
    procs: list[subprocess.Popen] = []
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="streamer-bench-") as d:
        tmp = Path(d)
        try:
            streamer, sport = start_streamer(tmp, max(counts) + 100)
            procs.append(streamer)
            servers = [("streamer", streamer.pid, sport, 0)]
            if use_icecast:
                ice, iport = start_icecast(tmp, sport, max(counts) + 100)
                procs.append(ice)
                servers.append(("icecast2", ice.pid, iport, 0))
            time.sleep(3)
            servers = [(name, pid, port, rss_kb(pid)) for name, pid, port, _ in servers]
            for n in counts:
                for name, pid, port, rss0 in servers:
                    r = run_load(name, pid, port, n, args.hold, args.settle, rss0)
                    results.append(r)
                    print(_row(r), flush=True)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print()
    print(_table(results, use_icecast))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / time.strftime("listeners-%Y%m%d-%H%M%S.json")
    path.write_text(json.dumps({"hold": args.hold, "results": results}, indent=2))
    print(f"\nwritten to {path}")
    return 0


def _row(r: dict) -> str:
    return (
        f"{r['server']:>9} {r['listeners']:>6} listeners: cpu {r['cpu_percent']:5.1f}%  rss {r['rss_mb']:6.1f} MB "
        f"({r['kb_per_listener']:.2f} KB/listener)  starved {r['starved']}  dropped {r['dropped']}  failed {r['failed']}  "
        f"rate {r['rate_per_listener']:.0f} B/s  ttfb {r['ttfb_median_ms']}/{r['ttfb_max_ms']} ms  "
        f"16KB {r['t16k_median_ms']}/{r['t16k_max_ms']} ms  client cpu {r['client_cpu_seconds']} s"
    )


def _table(results: list[dict], compare: bool) -> str:
    lines = [
        "| listeners | server | CPU % of a core | RSS MB | KB/listener | starved | dropped | TTFB med/max ms | 16 KB med/max ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['listeners']} | {r['server']} | {r['cpu_percent']} | {r['rss_mb']} | {r['kb_per_listener']} | {r['starved']} | "
            f"{r['dropped']} | {r['ttfb_median_ms']}/{r['ttfb_max_ms']} | {r['t16k_median_ms']}/{r['t16k_max_ms']} |"
        )
    if compare:
        lines.append("")
        lines.append("| listeners | CPU streamer/icecast2 | RSS-per-listener streamer/icecast2 |")
        lines.append("|---|---|---|")
        by = {(r["server"], r["listeners"]): r for r in results}
        for n in sorted({r["listeners"] for r in results}):
            s, i = by.get(("streamer", n)), by.get(("icecast2", n))
            if s and i and i["cpu_percent"]:
                kb = f"{s['kb_per_listener'] / i['kb_per_listener']:.2f}" if i["kb_per_listener"] > 0 else "n/a"
                lines.append(f"| {n} | {s['cpu_percent'] / i['cpu_percent']:.2f} | {kb} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
