"""The station's memory under load and over time, with the figures the README states.

    python bench/history.py load [--listeners 10000] [--ramp 20] [--hold 20]
    python bench/history.py soak [--duration 600]
    python bench/history.py year [--per-day 2000 3000]

load: the shipped station plays; a separate load process connects N listeners over `ramp`
seconds, holds them, and closes them over `ramp` seconds, counting starved listeners (fell
> 1 s behind real time) and probing a fresh listener's first byte throughout; `promtool check
metrics` runs on /metrics at the peak; afterwards: event-loop lag p99 (the station's own
histogram samples), sessions recorded, database size per 1,000 sessions.

soak: the test scenario (tests/test_history_live.py) for `duration` seconds: listeners join
and leave between title changes, every third is killed, every fifth stops reading and is
evicted; then plays against the ICY titles received, sessions against the listeners' own
clocks and byte counts, the access log, and SoundExchange performances.

year: a year of a station in SQLite (tests/test_history.py's year: plays every 4 minutes,
per-minute audience on two mounts, N sessions a day) and the time each report takes over it,
built and rendered as JSON as `streamer report` and /admin/reports do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402


def start(tmp: Path, playlist: str, mounts: str, extra: str = "") -> tuple[subprocess.Popen, int]:
    port = free_port()
    (tmp / "playlists").mkdir(exist_ok=True)
    (tmp / "playlists" / "bench.yaml").write_text(playlist)
    (tmp / "config.yaml").write_text(
        f"station: {{name: Test Radio}}\nserver: {{host: 127.0.0.1, port: {port}, max_listeners: 20000, log_level: warning, "
        f"fanout_interval: 0.1}}\nmounts:\n{mounts}\nplaylists: playlists\n{extra}"
    )
    log = (tmp / "streamer.log").open("ab")
    command = [sys.executable, "-m", "streamer", "serve", "--config", str(tmp / "config.yaml")]
    proc = subprocess.Popen(command, stdout=log, stderr=log, cwd=tmp)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("streamer did not come on air")


def status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10) as r:
        return json.load(r)


# --- load ---------------------------------------------------------------------------------------------


class Counting(asyncio.Protocol):
    __slots__ = ("lost", "n", "t0", "transport")

    def __init__(self) -> None:
        self.n, self.t0, self.lost, self.transport = 0, 0.0, False, None

    def connection_made(self, transport) -> None:
        self.transport, self.t0 = transport, time.monotonic()
        transport.write(b"GET /main HTTP/1.0\r\nUser-Agent: bench\r\n\r\n")

    def data_received(self, data: bytes) -> None:
        self.n += len(data)

    def connection_lost(self, exc) -> None:
        self.lost = True


async def probe(port: int) -> float:
    t0 = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /main HTTP/1.0\r\nUser-Agent: probe\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or data.endswith(b"\r\n\r\n"):
        data += await reader.read(65536)
    first = time.monotonic() - t0
    writer.close()
    return first


async def load_client(port: int, n: int, ramp: float, hold: float) -> dict:
    loop = asyncio.get_running_loop()
    listeners: list[Counting] = []
    probes: list[float] = []
    starved: set[int] = set()
    step = max(1, n // int(ramp / 0.05))

    def check() -> None:
        now = time.monotonic()
        for i, lst in enumerate(listeners):
            if not lst.lost and lst.t0 and lst.n < (now - lst.t0 - 1.0) * 16000:
                starved.add(i)

    last_check = last_probe = time.monotonic()
    for i in range(0, n, step):
        for _ in range(min(step, n - i)):
            lst = Counting()
            listeners.append(lst)
            await loop.create_connection(lambda lst=lst: lst, "127.0.0.1", port)
        await asyncio.sleep(0.05)
        if time.monotonic() - last_probe > 1.0:
            probes.append(await probe(port))
            last_probe = time.monotonic()
        if time.monotonic() - last_check > 2.0:
            check()
            last_check = time.monotonic()
    print(json.dumps({"event": "connected"}), flush=True)
    end = time.monotonic() + hold
    while time.monotonic() < end:
        check()
        probes.append(await probe(port))
        await asyncio.sleep(1.0)
    dropped = sum(lst.lost for lst in listeners)
    for i in range(0, n, step):
        for lst in listeners[i : i + step]:
            lst.transport.close()
        await asyncio.sleep(0.05)
        if time.monotonic() - last_probe > 1.0:
            probes.append(await probe(port))
            last_probe = time.monotonic()
    return {"listeners": n, "starved": len(starved), "dropped_by_server": dropped, "probes": len(probes),
            "first_byte_median_ms": round(statistics.median(probes) * 1000, 1),
            "first_byte_max_ms": round(max(probes) * 1000, 1)}  # fmt: skip


def run_load(args: argparse.Namespace) -> dict:
    music = ROOT / "playlists" / "audio" / "music"
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        playlist = f"playlists:\n  music: {{files: ['{music}']}}\nfallback: music\n"
        proc, port = start(tmp, playlist, "  /main: {bitrate: 128, max_listeners: 20000}")
        client = subprocess.Popen([sys.executable, __file__, "client", "--port", str(port), "--listeners", str(args.listeners),
                                   "--ramp", str(args.ramp), "--hold", str(args.hold)], stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert client.stdout is not None
        client.stdout.readline()  # connected
        time.sleep(args.hold / 2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            metrics = r.read()
        promtool = shutil.which("promtool")
        checked = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True) if promtool else None
        result = json.loads(client.stdout.readline())
        client.wait()
        time.sleep(2.0)
        lag = status(port)["event_loop_lag"]
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        db = tmp / "state" / "history.sqlite"
        conn = sqlite3.connect(db)
        sessions = conn.execute("SELECT count(*), count(ended) FROM sessions WHERE user_agent = 'bench'").fetchone()
        total = conn.execute("SELECT count(*) FROM sessions").fetchone()[0]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        size = db.stat().st_size
        verdict = "missing" if checked is None else "ok" if checked.returncode == 0 else (checked.stdout + checked.stderr).decode()
        result.update(
            promtool=verdict, loop_lag_p50_ms=lag.get("p50_ms"), loop_lag_p99_ms=lag.get("p99_ms"), loop_lag_max_ms=lag.get("max_ms"),
            lag_samples=lag.get("samples"),
            sessions_recorded=sessions[0], sessions_closed=sessions[1], database_bytes=size,
            database_kb_per_1000_sessions=round(size / max(1, total) * 1000 / 1024, 1),
        )  # fmt: skip
    return result


# --- soak -------------------------------------------------------------------------------------------------


def run_soak(args: argparse.Namespace) -> dict:
    from tests.history_ears import Ear, Staller, kill_client, wait_change
    from tests.test_history import ICECAST_LINE
    from tests.test_history_live import MOUNTS, SONGS, expected_performances, programme, tone

    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        audio = tmp / "audio"
        (audio / "songs").mkdir(parents=True)
        (audio / "ids").mkdir()
        for i, (artist, title, isrc) in enumerate(SONGS):
            tone(audio / "songs" / f"{i}.mp3", 300 + 100 * i, 6.0, ["-metadata", f"artist={artist}", "-metadata", f"title={title}",
                                                                    "-metadata", f"TSRC={isrc}"])  # fmt: skip
        tone(audio / "ids" / "id.mp3", 1200, 4.0, ["-metadata", "title=Station ID"])
        proc, port = start(tmp, programme(audio), MOUNTS)
        whole, low = Ear(port, "/main", "whole"), Ear(port, "/low", "low-until-stop")
        whole.start()
        low.start()
        ears, stallers, killed = [], [], set()
        change, cycle, t0 = 2, 0, time.time()
        while time.time() - t0 < args.duration:
            time.sleep(max(0.0, wait_change(whole, change) + 2.6 - time.time()))
            cycle += 1
            mount = "/low" if cycle % 2 else "/main"
            if cycle % 5 == 0:
                stallers.append(Staller(port, "/main", f"staller-{cycle}"))
                stallers[-1].start()
            ear = Ear(port, mount, f"ear-{cycle}")
            ear.start()
            ears.append(ear)
            time.sleep(max(0.0, wait_change(whole, change + 1) + 2.0 - time.time()))
            if cycle % 3 == 0:
                kill_client(port, mount, ear.heard.name)
                killed.add(ear.heard.name)
                ear.join(5)
            else:
                ear.leave()
            change += 2
        for s in stallers:
            s.join(60)
        time.sleep(max(0.0, wait_change(whole, change) + 2.0 - time.time()))
        whole.leave()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        low.join(5)
        heard = {e.heard.name: e.heard for e in [whole, low, *ears, *stallers]}
        conn = sqlite3.connect(tmp / "state" / "history.sqlite")
        plays = conn.execute("SELECT started, stream_title FROM plays").fetchall()
        offsets = [min((abs(a - p[0]) for p in plays if p[1] == t), default=99.0) for a, t in whole.heard.titles[1:]]
        sessions = {r[0]: r[1:] for r in conn.execute("SELECT user_agent, seconds, bytes, reason FROM sessions")}
        durations = [abs(sessions[n][0] - (h.closed - h.connected)) for n, h in heard.items()]
        rate = {"/main": 16000, "/low": 6000}
        bytes_off = [abs(sessions[n][1] - h.audio) / rate[h.mount] for n, h in heard.items() if "staller" not in n]
        reasons = {n: sessions[n][2] for n in heard}
        log_lines = (tmp / "logs" / "access.log").read_text().splitlines()
        out = subprocess.run([sys.executable, "-m", "streamer", "report", "soundexchange", "--config", str(tmp / "config.yaml")],
                             capture_output=True, text=True, cwd=tmp).stdout.strip().split("\n")[1:]  # fmt: skip
        got = {f"{f[2].strip('^')} - {f[3].strip('^')}": int(f[7]) for f in (line.split("|") for line in out)}
        expected = expected_performances(heard, "whole", tuple(s.heard.name for s in stallers))
        within = {song: low <= got.get(song, 0) <= high for song, (low, high) in expected.items()}
        return {
            "seconds": round(time.time() - t0), "title_changes": len(whole.heard.titles) - 1, "plays": len(plays),
            "icy_vs_play_start_max_s": round(max(offsets), 3), "sessions": len(heard), "sessions_recorded": len(sessions),
            "duration_error_max_s": round(max(durations), 3), "bytes_error_max_s_of_audio": round(max(bytes_off), 3),
            "reasons": {r: sum(1 for v in reasons.values() if v == r) for r in set(reasons.values())},
            "killed": len(killed), "evicted": len(stallers), "access_log_lines": len(log_lines),
            "access_log_icecast_format": all(ICECAST_LINE.match(line) for line in log_lines),
            "soundexchange": got, "expected_from_listeners": expected,
            "soundexchange_matches": all(within.values()) and set(got) == set(within),
        }  # fmt: skip


def run_year(args: argparse.Namespace) -> dict:
    from streamer.history.render import build, render
    from tests.test_history import HARARE, year_of_data

    out: dict = {}
    for per_day in args.per_day:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "history.sqlite"
            year_of_data(db, per_day)
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            took = {"sessions": 365 * per_day, "database_mb": round(db.stat().st_size / 1e6)}
            for kind in ("plays", "tracks", "soundexchange", "listeners"):
                t = time.perf_counter()
                render(build(conn, kind, "2025-01-01", "2025-12-31", HARARE, "Streamer Radio"), "json")
                took[f"{kind}_s"] = round(time.perf_counter() - t, 2)
            conn.close()
            print(took, flush=True)
            out[str(per_day)] = took
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    load = sub.add_parser("load")
    load.add_argument("--listeners", type=int, default=10000)
    load.add_argument("--ramp", type=float, default=20.0)
    load.add_argument("--hold", type=float, default=20.0)
    soak = sub.add_parser("soak")
    soak.add_argument("--duration", type=float, default=600.0)
    year = sub.add_parser("year")
    year.add_argument("--per-day", type=int, nargs="+", default=[2000, 3000])
    client = sub.add_parser("client")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--listeners", type=int, required=True)
    client.add_argument("--ramp", type=float, required=True)
    client.add_argument("--hold", type=float, required=True)
    args = p.parse_args()
    if args.what == "client":
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        print(json.dumps(asyncio.run(load_client(args.port, args.listeners, args.ramp, args.hold))), flush=True)
        return
    result = run_load(args) if args.what == "load" else run_year(args) if args.what == "year" else run_soak(args)
    print(json.dumps(result, indent=1))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"history-{args.what}-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=1))
    os.sync()


if __name__ == "__main__":
    main()
