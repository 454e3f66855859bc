"""streamer against Liquidsoap 2.1 + icecast2 making the same outputs from the same music, in one run.

    python bench/vs_liquidsoap.py [--measure 120] [--warmup 25] [--readers 2] [--sequential] [--loop N]

Both sides play the shipped music folder (playlists/audio/music) in order, no crossfade, and make:
/main MP3 128 kbit/s, /low MP3 48 kbit/s 22.05 kHz mono, /aac AAC-LC 64 kbit/s (ADTS), /opus
Opus 96 kbit/s, and HLS with two AAC variants (48 and 96 kbit/s, 4 s MPEG-TS segments).

- streamer (this checkout) serves all of it itself.
- Liquidsoap (/usr/bin/liquidsoap) decodes and encodes, sends the four streams to an icecast2
  (/usr/bin/icecast2, a temporary config) with output.icecast, and writes the HLS variants
  with output.file.hls into a temporary folder (AAC through its %ffmpeg encoder). Its MP3
  encoder is set to LAME quality 3, what ffmpeg's libmp3lame (streamer's encoder) uses by
  default (Liquidsoap's own default, 2, costs more); AAC is ffmpeg's encoder on both sides.

Each Icecast mount of each side has --readers listeners (HTTP, half with ICY metadata) that
count bytes; each HLS variant has one reader that follows the playlist and fetches every new
segment (over HTTP from streamer; from the folder for Liquidsoap, which serves no HTTP). Before
measuring, every output of both sides is decoded for 4 s by ffmpeg (codec, rate, channels,
errors), so the comparison never counts an output that does not work.

The shipped tracks are 30-40 s clips, about six times as many track changes as a station's
songs (3-4 minutes). streamer starts a decoder (and, on an Ogg mount, an encoder for the new
chain) per track, so --loop N plays each shipped file N times over as one track (a temporary
folder, the same audio: `--loop 5` makes 2.5-3.3 minute songs) to measure both sides at song
length too.

Measured over --measure seconds after --warmup: CPU (utime + stime of each process tree:
streamer and its ffmpeg children; liquidsoap; icecast2) as % of one core, RSS and PSS (peak and
mean), and the bytes each reader got. By default both sides run at the same time, so whatever
else loads the machine loads both alike; --sequential runs streamer's side, then Liquidsoap's.
Prints tables and the ratio streamer / (liquidsoap + icecast2), and writes
bench/results/vs-liquidsoap-<time>.json.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, TreeMonitor, free_port, get_json, loadavg, start_streamer, stop, wait_http, write_results
from readers import media_playlist

MUSIC = ROOT / "playlists" / "audio" / "music"
MOUNTS = ("/main", "/low", "/aac", "/opus")
VARIANTS = {"aac48": 48, "aac96": 96}
SEGMENT = 4
PASSWORD = "bench-pass-12"

STREAMER_MOUNTS = """mounts:
  /main: {bitrate: 128}
  /low: {bitrate: 48, sample_rate: 22050, channels: 1}
  /aac: {format: aac, bitrate: 64}
  /opus: {format: opus, bitrate: 96}
hls:
  segment: 4
  window: 6
  container: ts
  variants:
    - {name: aac48, bitrate: 48}
    - {name: aac96, bitrate: 96}
"""

LIQUIDSOAP = """settings.init.allow_root.set(true)
settings.log.stdout.set(true)
settings.log.level.set(3)
s = mksafe(playlist(mode="normal", reload_mode="never", "{music}"))
def ice(fmt, mount, src) =
  output.icecast(fmt, host="127.0.0.1", port={port}, password="{password}", mount=mount, src)
end
ice(%mp3(bitrate=128, samplerate=44100, internal_quality=3), "/main", s)
ice(%mp3(mono, bitrate=48, samplerate=22050, internal_quality=3), "/low", mean(s))
output.icecast(%ffmpeg(format="adts", %audio(codec="aac", b="64k")), format="audio/aac",
  host="127.0.0.1", port={port}, password="{password}", mount="/aac", s)
ice(%opus(bitrate=96, samplerate=48000), "/opus", s)
output.file.hls("{hls}", [
  ("aac48", %ffmpeg(format="mpegts", %audio(codec="aac", b="48k"))),
  ("aac96", %ffmpeg(format="mpegts", %audio(codec="aac", b="96k")))
], segment_duration=4., segments=6, s)
"""

ICECAST_XML = """<icecast>
  <limits><clients>200</clients><sources>8</sources><queue-size>524288</queue-size>
    <burst-size>65536</burst-size><source-timeout>10</source-timeout><header-timeout>15</header-timeout></limits>
  <authentication><source-password>{password}</source-password><relay-password>{password}</relay-password>
    <admin-user>admin</admin-user><admin-password>{password}</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{logdir}</logdir><webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"""


def looped_music(folder: Path, times: int) -> Path:
    """The shipped tracks, each played `times` times over as one file (stream copy, no re-encoding)."""
    folder.mkdir()
    for track in sorted(MUSIC.iterdir()):
        loop = ["-stream_loop", str(times - 1), "-i", str(track), "-map", "0:a", "-c", "copy"]
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", *loop, str(folder / track.name)], check=True)
    return folder


def start_streamer_side(tmp: Path, music: Path) -> tuple[list[subprocess.Popen], dict]:
    port = free_port()
    (tmp / "playlists").mkdir()
    (tmp / "playlists" / "bench.yaml").write_text(f"playlists:\n  music: {{files: ['{music}'], order: sequential}}\nfallback: music\n")
    config = f"server: {{host: 127.0.0.1, port: {port}, log_level: warning}}\n{STREAMER_MOUNTS}playlists: playlists\n"
    proc = start_streamer(tmp, config, port)
    for v in VARIANTS:
        wait_http(f"http://127.0.0.1:{port}/hls/{v}/live.m3u8")
    return [proc], {"port": port, "hls": f"http://127.0.0.1:{port}/hls", "roots": {"streamer": [proc.pid]}}


def start_icecast(tmp: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    ice = tmp / "icecast"
    ice.mkdir()
    tmp.chmod(0o755)
    ice.chmod(0o777)
    owner = "<changeowner><user>nobody</user><group>nogroup</group></changeowner>" if os.geteuid() == 0 else ""
    xml = ice / "icecast.xml"
    xml.write_text(ICECAST_XML.format(password=PASSWORD, port=port, logdir=ice, owner=owner))
    proc = subprocess.Popen(["icecast2", "-c", str(xml)], stdout=(ice / "stdout.log").open("wb"), stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/status-json.xsl")
    return proc, port


def start_liquidsoap_side(tmp: Path, music: Path) -> tuple[list[subprocess.Popen], dict]:
    ice, port = start_icecast(tmp)
    hls = tmp / "lq-hls"
    hls.mkdir()
    script = tmp / "bench.liq"
    script.write_text(LIQUIDSOAP.format(music=music, port=port, password=PASSWORD, hls=hls))
    log = (tmp / "liquidsoap.log").open("wb")
    lq = subprocess.Popen(["liquidsoap", str(script)], stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
    deadline = time.monotonic() + 30
    while _icecast_mounts(port) < set(MOUNTS):
        if time.monotonic() > deadline or lq.poll() is not None:
            stop([lq, ice])
            raise RuntimeError(f"liquidsoap did not feed icecast2: see {tmp / 'liquidsoap.log'}\n" + _tail(tmp / "liquidsoap.log"))
        time.sleep(0.5)
    return [lq, ice], {"port": port, "hls": str(hls), "roots": {"liquidsoap": [lq.pid], "icecast2": [ice.pid]}}


def _icecast_mounts(port: int) -> set[str]:
    try:
        sources = get_json(f"http://127.0.0.1:{port}/status-json.xsl")["icestats"].get("source", [])
    except (OSError, ValueError):
        return set()
    sources = sources if isinstance(sources, list) else [sources]
    return {"/" + s.get("listenurl", "").rsplit("/", 1)[-1] for s in sources}


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Counter:
    """Bytes a reader has got, readable from another thread."""

    name: str
    bytes: int = 0
    items: int = 0  # HLS segments
    errors: list[str] = field(default_factory=list)  # since the last mark
    marks: dict[str, tuple[float, int, int]] = field(default_factory=dict)

    def mark(self, label: str) -> None:
        self.marks[label] = (time.monotonic(), self.bytes, self.items)
        if label == "start":
            self.errors.clear()  # Liquidsoap's folder may be empty for the first seconds

    def rate(self, a: str, b: str) -> tuple[float, int]:
        (t0, b0, i0), (t1, b1, i1) = self.marks[a], self.marks[b]
        return (b1 - b0) / (t1 - t0), i1 - i0


def stream_reader(port: int, mount: str, icy: bool, counter: Counter, done: threading.Event) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            meta = "Icy-MetaData: 1\r\n" if icy else ""
            s.sendall(f"GET {mount} HTTP/1.0\r\nUser-Agent: bench-vs\r\n{meta}\r\n".encode())
            while not done.is_set():
                data = s.recv(65536)
                if not data:
                    counter.errors.append("closed by the server")
                    return
                counter.bytes += len(data)
    except OSError as e:
        counter.errors.append(repr(e))


def hls_http_reader(base: str, variant: str, counter: Counter, done: threading.Event) -> None:
    host, port = re.match(r"http://([^:/]+):(\d+)", base).groups()  # type: ignore[union-attr]
    conn = http.client.HTTPConnection(host, int(port), timeout=10)

    def get(path: str) -> bytes:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise OSError(f"{path}: {r.status}")
        return body

    _follow(lambda: get(f"/hls/{variant}/live.m3u8").decode(), lambda uri: get(f"/hls/{variant}/{uri}"), counter, done)


def hls_file_reader(folder: str, variant: str, counter: Counter, done: threading.Event) -> None:
    d = Path(folder)
    _follow(lambda: (d / f"{variant}.m3u8").read_text(), lambda uri: (d / uri).read_bytes(), counter, done)


def _follow(playlist: Callable[[], str], segment: Callable[[str], bytes], counter: Counter, done: threading.Event) -> None:
    """Read the playlist every half segment; fetch each segment not fetched yet, as a player does."""
    seen: set[str] = set()
    while not done.is_set():
        try:
            _, entries = media_playlist(playlist())
            for e in entries if seen else entries[-1:]:
                if e.uri not in seen:
                    counter.bytes += len(segment(e.uri))
                    counter.items += 1
                    seen.add(e.uri)
        except (OSError, ValueError) as e:
            counter.errors.append(repr(e))
        done.wait(SEGMENT / 2)


def start_readers(side: str, info: dict, readers: int, done: threading.Event) -> list[Counter]:
    counters, threads = [], []
    for mount in MOUNTS:
        for i in range(readers):
            c = Counter(f"{side} {mount} #{i + 1}")
            threads.append(threading.Thread(target=stream_reader, args=(info["port"], mount, i % 2 == 1, c, done), daemon=True))
            counters.append(c)
    follow = hls_http_reader if info["hls"].startswith("http") else hls_file_reader
    for v in VARIANTS:
        c = Counter(f"{side} hls {v}")
        threads.append(threading.Thread(target=follow, args=(info["hls"], v, c, done), daemon=True))
        counters.append(c)
    for t in threads:
        t.start()
    return counters


def verify(side: str, info: dict) -> dict:
    """Decode 4 s of every output with ffmpeg: codec, rate, channels and error lines."""
    base = f"http://127.0.0.1:{info['port']}"
    hls = info["hls"]
    sources = {m: base + m for m in MOUNTS}
    sources.update({f"hls {v}": f"{hls}/{v}/live.m3u8" if hls.startswith("http") else f"{hls}/{v}.m3u8" for v in VARIANTS})
    procs = {
        name: subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "level+info", "-t", "4", "-i", url, "-f", "null", "-"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        for name, url in sources.items()
    }  # fmt: skip
    out = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=60)
        audio = re.search(r"Stream #0:\d+.*?: Audio: (.*)", err)
        decoded = re.findall(r"time=(\d+):(\d+):([\d.]+)", err)
        h, m, s = decoded[-1] if decoded else ("0", "0", "0")
        out[name] = {
            "audio": audio[1].strip() if audio else None,
            "errors": [line for line in err.splitlines() if re.search(r"\[(error|fatal)\]", line)],
            "decoded_seconds": int(h) * 3600 + int(m) * 60 + float(s),
        }
    bad = [f"{side} {n}: {v}" for n, v in out.items() if v["audio"] is None or v["errors"] or v["decoded_seconds"] < 3.5]
    if bad and side == "streamer":
        raise RuntimeError("an output does not work:\n" + "\n".join(map(str, bad)))
    for line in bad:  # the other side's faults are reported (in the table too), not a reason to stop
        print(f"warning: {line}", file=sys.stderr)
    return out


def measure(sides: dict[str, tuple[list[subprocess.Popen], dict]], args: argparse.Namespace) -> dict:
    """Readers on, warm-up, verification, then the measured window; the JSON for these sides."""
    done = threading.Event()
    roots = {name: pids for _, info in sides.values() for name, pids in info["roots"].items()}
    monitor = TreeMonitor(roots).start()
    counters = [c for side, (_, info) in sides.items() for c in start_readers(side, info, args.readers, done)]
    time.sleep(args.warmup / 2)
    checks = {side: verify(side, info) for side, (_, info) in sides.items()}
    time.sleep(args.warmup / 2)
    load0 = loadavg()
    t0 = time.monotonic()
    for c in counters:
        c.mark("start")
    time.sleep(args.measure)
    for c in counters:
        c.mark("end")
    t1 = time.monotonic()
    load1 = loadavg()
    done.set()
    monitor.stop()
    readers = {}
    for c in counters:
        rate, items = c.rate("start", "end")
        readers[c.name] = {"bytes_per_second": round(rate), "segments": items, "errors": c.errors[:5]}
    trees = {name: monitor.window(name, t0, t1) for name in roots}
    each = {name: monitor.per_process(name, t0, t1) for name in roots}
    return {"trees": trees, "per_process": each, "readers": readers, "verify": checks, "loadavg": [load0, load1]}


def run_sides(tmp: Path, which: list[str], args: argparse.Namespace, music: Path) -> dict:
    sides: dict[str, tuple[list[subprocess.Popen], dict]] = {}
    try:
        if "streamer" in which:
            (tmp / "streamer").mkdir()
            sides["streamer"] = start_streamer_side(tmp / "streamer", music)
        if "liquidsoap" in which:
            (tmp / "liquidsoap").mkdir()
            sides["liquidsoap"] = start_liquidsoap_side(tmp / "liquidsoap", music)
        result = measure(sides, args)
        if "liquidsoap" in sides:
            result["liquidsoap_log_errors"] = _log_errors(tmp / "liquidsoap" / "liquidsoap.log")
            result["lq_hls_files"] = sorted(p.name for p in Path(sides["liquidsoap"][1]["hls"]).iterdir())
        return result
    finally:
        for procs, _ in sides.values():
            stop(procs)


def _log_errors(path: Path) -> list[str]:
    """Liquidsoap's severe (1) and important (2) log lines, but a track's normal end."""
    lines = path.read_text(errors="replace").splitlines()
    return [line for line in lines if re.search(r"\[[\w.]+:[12]\]", line) and "End_of_file" not in line][:30]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--measure", type=float, default=120, help="seconds measured")
    p.add_argument("--warmup", type=float, default=25, help="seconds on air before measuring (outputs verified meanwhile)")
    p.add_argument("--readers", type=int, default=2, help="listeners per Icecast mount on each side")
    p.add_argument("--sequential", action="store_true", help="one side after the other instead of both at once")
    p.add_argument("--loop", type=int, default=1, help="play each shipped track N times over as one track (song length)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="streamer-vs-lq-") as d:
        tmp = Path(d)
        tmp.chmod(0o755)  # icecast2 drops root for nobody, who must reach its log folder inside
        music = MUSIC if args.loop <= 1 else looped_music(tmp / "music", args.loop)
        if args.sequential:
            runs = {"streamer": run_sides(tmp, ["streamer"], args, music), "liquidsoap": run_sides(tmp, ["liquidsoap"], args, music)}
        else:
            runs = {"together": run_sides(tmp, ["streamer", "liquidsoap"], args, music)}
    mode = "sequential" if args.sequential else "simultaneous"
    report = {"mode": mode, "measure": args.measure, "readers": args.readers, "loop": args.loop, "runs": runs}
    report["summary"] = summary(runs)
    print_report(report)
    print(f"\nwritten to {write_results('vs-liquidsoap', report)}")
    return 0


def summary(runs: dict) -> dict:
    trees = {name: t for run in runs.values() for name, t in run["trees"].items()}
    s, lq, ice = trees["streamer"], trees["liquidsoap"], trees["icecast2"]
    theirs = lq["cpu_percent"] + ice["cpu_percent"]
    return {
        "streamer_cpu_percent": s["cpu_percent"],
        "liquidsoap_plus_icecast2_cpu_percent": round(theirs, 1),
        "cpu_ratio": round(s["cpu_percent"] / theirs, 2) if theirs else None,
        "streamer_rss_peak_mb": s["rss_peak_mb"],
        "streamer_pss_peak_mb": s["pss_peak_mb"],
        "liquidsoap_plus_icecast2_rss_peak_mb": round(lq["rss_peak_mb"] + ice["rss_peak_mb"], 1),
        "liquidsoap_plus_icecast2_pss_peak_mb": round(lq["pss_peak_mb"] + ice["pss_peak_mb"], 1),
    }


def print_report(r: dict) -> None:
    print(f"\nmode: {r['mode']}, {r['measure']:.0f} s measured, {r['readers']} readers per mount, each track played {r['loop']}x")
    print("\n| tree | CPU % of a core | root process only % | RSS peak / mean MB | PSS peak / mean MB | processes | load avg |")
    print("|---|---|---|---|---|---|---|")
    for run in r["runs"].values():
        for name, t in run["trees"].items():
            print(
                f"| {name} | {t['cpu_percent']} | {t['root_cpu_percent']} | {t['rss_peak_mb']} / {t['rss_mean_mb']} | "
                f"{t['pss_peak_mb']} / {t['pss_mean_mb']} | {t['processes_max']} | {' -> '.join(run['loadavg'])} |"
            )
    for run in r["runs"].values():
        for name, procs in run["per_process"].items():
            print(f"  {name}: " + ", ".join(f"{cmd} {cpu}" for cmd, cpu in procs))
    s = r["summary"]
    print(f"\nCPU streamer / (liquidsoap + icecast2): {s['streamer_cpu_percent']} / {s['liquidsoap_plus_icecast2_cpu_percent']} "
          f"= {s['cpu_ratio']}")  # fmt: skip
    print(f"memory: streamer RSS {s['streamer_rss_peak_mb']} MB (PSS {s['streamer_pss_peak_mb']}), liquidsoap+icecast2 RSS "
          f"{s['liquidsoap_plus_icecast2_rss_peak_mb']} MB (PSS {s['liquidsoap_plus_icecast2_pss_peak_mb']})")  # fmt: skip
    print("\n| reader | bytes/s | HLS segments | errors while measured |")
    print("|---|---|---|---|")
    for run in r["runs"].values():
        for name, c in run["readers"].items():
            print(f"| {name} | {c['bytes_per_second']} | {c['segments'] or ''} | {'; '.join(c['errors'])} |")
    print("\n| side | output | decoded by ffmpeg (4 s) | errors |")
    print("|---|---|---|---|")
    for run in r["runs"].values():
        for side, checks in run["verify"].items():
            for name, v in checks.items():
                print(f"| {side} | {name} | {v['audio']} | {len(v['errors'])} |")
        if run.get("liquidsoap_log_errors"):
            print("liquidsoap log:", *run["liquidsoap_log_errors"][:10], sep="\n  ")


if __name__ == "__main__":
    sys.exit(main())
