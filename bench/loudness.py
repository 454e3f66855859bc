"""The track library and the loudness path, measured:

    python bench/loudness.py                 # everything (about 20 minutes)
    python bench/loudness.py --only analysis,air --air 120     # a quicker look

- analysis: one hour of music-like audio (MP3, FLAC, Ogg Vorbis, 4-minute files) scanned by
  `streamer library scan` on one core (taskset -c 1): audio hours per CPU hour (x real time).
- files: 2,000 ten-second files scanned in one run (the progress line as a terminal shows it),
  then a rescan with nothing changed (wall time of the whole command).
- start: a station whose programme names 10,000 files, none analysed: seconds from starting
  the process to the first byte of /main.
- air: a collection spanning 18 LU (levels from -8 to -26 LUFS, 1 s of silence at both ends
  of each file), --air seconds of /main recorded: every complete track's integrated loudness
  (2 s trimmed at each end), the recording's true peak, silences over 0.3 s, decode errors.
- cpu: two stations side by side on the same music, one with loudness off: CPU of each
  process and its children over --cpu seconds.

Results go to stdout and bench/results/loudness-<time>.json. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from listeners import cpu_ticks, free_port, rss_kb, wait_http

from streamer.wire.icy import IcyReader

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
LEVELS = [8.0, -10.0, 4.0, -6.0, 6.0, -8.0, 2.0, -4.0, 0.0, -2.0]  # dB from about -16 LUFS: -8 .. -26 LUFS
CODECS = {"mp3": ["-c:a", "libmp3lame", "-b:a", "192k"], "flac": ["-c:a", "flac"], "ogg": ["-c:a", "libvorbis"]}


def make_music(path: Path, freq: float, seconds: float, gain_db: float, silence: float = 1.0) -> None:
    chord = f"0.35*sin(2*PI*{freq}*t)+0.2*sin(2*PI*{freq * 1.26}*t)+0.15*sin(2*PI*{freq * 1.5}*t)"
    graph = (
        f"aevalsrc='({chord})*(0.55+0.45*sin(2*PI*0.7*t))':s=44100:c=stereo:d={seconds}[m];"
        f"anoisesrc=color=pink:amplitude=0.08:d={seconds}:seed=7,aformat=channel_layouts=stereo[n];"
        f"[m][n]amix=inputs=2:normalize=0,volume={gain_db - 6:.1f}dB,adelay=delays={int(silence * 1000)}:all=1,apad=pad_dur={silence}"
    )
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-filter_complex", graph, *CODECS[path.suffix[1:]],
                    "-metadata", "artist=Bench", "-metadata", f"title={path.stem}", str(path)], check=True)  # fmt: skip


def station_dir(tmp: Path, music: Path, port: int, extra: str = "") -> Path:
    (tmp / "playlists").mkdir(parents=True, exist_ok=True)
    (tmp / "playlists" / "bench.yaml").write_text(f"playlists:\n  m: {{files: ['{music}/'], order: sequential}}\nfallback: m\n")
    (tmp / "config.yaml").write_text(
        f"server: {{host: 127.0.0.1, port: {port}, log_level: warning}}\n{extra}mounts:\n  /main: {{bitrate: 128, metaint: 2048}}\n"
    )
    return tmp / "config.yaml"


def streamer(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamer", *args], capture_output=True, text=True, **kw)


def bench_analysis(tmp: Path) -> dict:
    music = tmp / "hour"
    music.mkdir()
    for i in range(15):  # 15 x 4 min = 1 h
        make_music(music / f"{i:02d}.{('mp3', 'flac', 'ogg')[i % 3]}", 200 + 17 * i, 238.0, LEVELS[i % len(LEVELS)])
    config = station_dir(tmp / "hour-station", music, free_port())
    started = time.monotonic()
    run = subprocess.run(["taskset", "-c", "1", sys.executable, "-m", "streamer", "library", "scan", "--config", str(config)],
                         capture_output=True, text=True)  # fmt: skip
    wall = time.monotonic() - started
    speed = re.search(r"([\d.]+) h of audio in ([\d:]+), (\d+)x real time", run.stdout)
    print(run.stdout.splitlines()[-4] if run.stdout else run.stderr)
    return {"audio_hours": 1.0, "wall_seconds": round(wall, 1), "speed_x": int(speed[3]) if speed else None}


def bench_files(tmp: Path) -> dict:
    music = tmp / "many"
    music.mkdir()
    seed = music / "seed.flac"
    make_music(seed, 330, 8.0, 0.0)
    for i in range(2000):
        os.link(seed, music / f"{i:04d}.flac")  # 2,000 paths (a library row each)
    seed.unlink()
    config = station_dir(tmp / "many-station", music, free_port())
    started = time.monotonic()
    first = streamer("library", "scan", "--config", str(config))
    scan = time.monotonic() - started
    started = time.monotonic()
    again = streamer("library", "scan", "--config", str(config))
    rescan = time.monotonic() - started
    print(first.stdout.splitlines()[-4], "|", again.stdout.splitlines()[0])
    return {"files": 2000, "scan_seconds": round(scan, 1), "rescan_seconds": round(rescan, 2), "summary": first.stdout.splitlines()[-4]}


def bench_start(tmp: Path) -> dict:
    music = tmp / "ten-thousand"
    music.mkdir()
    seed = music / "seed.flac"
    make_music(seed, 330, 30.0, 0.0)
    for i in range(10000):
        os.link(seed, music / f"{i:05d}.flac")
    seed.unlink()
    port = free_port()
    config = station_dir(tmp / "start-station", music, port)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "streamer", "serve", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/main", timeout=5) as r:
                    r.read(1)
                    break
            except OSError:
                time.sleep(0.05)
        first_byte = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"10,000 files, none analysed: first byte of /main {first_byte:.2f} s after the process started")
    return {"files": 10000, "first_byte_seconds": round(first_byte, 2)}


def ebur128(wav: Path, start: float = 0.0, seconds: float | None = None) -> tuple[float, float]:
    span = ["-ss", f"{start:.3f}", *(["-t", f"{seconds:.3f}"] if seconds else [])]
    out = subprocess.run([FFMPEG, "-nostdin", "-hide_banner", *span, "-i", str(wav), "-af", "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True).stderr  # fmt: skip
    summary = out[out.rindex("Summary:") :]
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1]), float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)[1])


def record_icy(port: int, seconds: float) -> tuple[bytes, list[tuple[int, str]]]:
    """/main with ICY metadata: (audio, [(audio offset, title)])."""
    import socket

    audio, titles = bytearray(), []
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /main HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, _, data = data.partition(b"\r\n\r\n")
        reader = IcyReader(int(re.search(rb"icy-metaint:\s*(\d+)", head, re.I)[1]))
        end = time.monotonic() + seconds
        while True:
            got, blocks = reader.feed(data)
            audio += got
            titles += [(offset, fields["StreamTitle"]) for offset, fields in blocks if "StreamTitle" in fields]
            if time.monotonic() >= end or not (data := s.recv(65536)):
                break
    return bytes(audio), titles


def bench_air(tmp: Path, seconds: float) -> dict:
    music = tmp / "levels"
    music.mkdir()
    for i, level in enumerate(LEVELS):
        make_music(music / f"{i:02d}.{('mp3', 'flac', 'ogg')[i % 3]}", 220 + 30 * i, 40.0, level)
    port = free_port()
    config = station_dir(tmp / "air-station", music, port)
    streamer("library", "scan", "--config", str(config))
    proc = subprocess.Popen([sys.executable, "-m", "streamer", "serve", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        audio, titles = record_icy(port, seconds)
    finally:
        proc.terminate()
        proc.wait(10)
    mp3, wav = tmp / "air.mp3", tmp / "air.wav"
    mp3.write_bytes(audio)
    errors = subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-i", str(mp3), "-y", str(wav)], capture_output=True, text=True).stderr
    starts = [(offset / 16000, title) for k, (offset, title) in enumerate(titles) if k == 0 or titles[k - 1][1] != title]
    tracks = [(title, *ebur128(wav, a + 2, b - a - 4)) for (a, title), (b, _) in itertools.pairwise(starts[1:])]
    integrated, peak = ebur128(wav)
    silence = subprocess.run([FFMPEG, "-nostdin", "-hide_banner", "-i", str(wav), "-af", "silencedetect=n=-45dB:d=0.3", "-f", "null", "-"],
                             capture_output=True, text=True).stderr  # fmt: skip
    gaps = re.findall(r"silence_start: (-?[\d.]+)", silence)
    worst = max(abs(i + 16) for _, i, _ in tracks) if tracks else None
    print(f"{len(tracks)} complete tracks: {[round(i, 1) for _, i, _ in tracks]} LUFS (worst {worst:.2f} LU off -16); "
          f"true peak {peak:.2f} dBTP; silences > 0.3 s: {len(gaps)}; decode errors: {len(errors.splitlines())}")  # fmt: skip
    return {
        "seconds": seconds, "tracks": [{"title": t, "lufs": i, "true_peak": p} for t, i, p in tracks], "worst_lu_off": worst,
        "true_peak": peak, "whole_lufs": integrated, "silences_over_0_3s": len(gaps), "decode_errors": len(errors.splitlines()),
    }  # fmt: skip


def tree_ticks(pid: int) -> int:
    total = cpu_ticks(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += tree_ticks(int(child))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total


def bench_cpu(tmp: Path, seconds: float) -> dict:
    music = tmp / "cpu"
    music.mkdir()
    for i, level in enumerate(LEVELS[:6]):
        make_music(music / f"{i:02d}.flac", 250 + 20 * i, 60.0, level)
    procs, ports = {}, {}
    for name, extra in (("loudness on", ""), ("loudness off", "audio: {loudness: off}\n")):
        ports[name] = free_port()
        config = station_dir(tmp / name.replace(" ", "-"), music, ports[name], extra)
        procs[name] = subprocess.Popen([sys.executable, "-m", "streamer", "serve", "--config", str(config)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for port in ports.values():
            wait_http(f"http://127.0.0.1:{port}/healthz")
        time.sleep(5)
        before = {n: tree_ticks(p.pid) for n, p in procs.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        out = {
            n: {"cpu_percent": round((tree_ticks(p.pid) - before[n]) / TICK / elapsed * 100, 2), "rss_mb": round(rss_kb(p.pid) / 1024, 1)}
            for n, p in procs.items()
        }
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(10)
    extra = out["loudness on"]["cpu_percent"] - out["loudness off"]["cpu_percent"]
    print(f"CPU over {seconds:g} s, process and children: {out}; the loudness path costs {extra:+.2f} % of a core")
    return {**out, "extra_cpu_percent": round(extra, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="analysis,files,start,air,cpu")
    parser.add_argument("--air", type=float, default=600.0, help="seconds of /main recorded (default 600)")
    parser.add_argument("--cpu", type=float, default=120.0, help="seconds of CPU measured (default 120)")
    args = parser.parse_args()
    results: dict = {"load_average": Path("/proc/loadavg").read_text().split()[:3]}
    jobs = {"analysis": bench_analysis, "files": bench_files, "start": bench_start,
            "air": lambda t: bench_air(t, args.air), "cpu": lambda t: bench_cpu(t, args.cpu)}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="streamer-loudness-") as tmp:
        for name in args.only.split(","):
            print(f"--- {name}")
            results[name] = jobs[name](Path(tmp))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"loudness-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
