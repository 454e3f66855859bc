"""Every output format heard live at once, for minutes: decode errors, gaps and titles.

    python bench/formats.py [--duration 300] [--container ts|fmp4] [--silence 1.0]

Starts streamer (this checkout) on a free loopback port with the shipped default station
(playlists/, its week, events and news) and the mounts /main MP3 128, /low MP3 48 (22.05 kHz
mono), /aac AAC 64, /opus Opus 96, /vorbis Vorbis 128, /flac FLAC, plus HLS with two AAC
variants (aac48, aac96; 4 s segments; MPEG-TS, or fMP4 with --container fmp4). Then, all at
once for --duration seconds:

- each Icecast mount is read by one listener (with ICY metadata for MP3/AAC) whose bytes go
  live into an ffmpeg decoder; the titles are read from the same bytes (ICY StreamTitle, or
  the comment header of each new Ogg chain);
- ffmpeg decodes the HLS master playlist and each variant playlist itself (its HLS demuxer);
- one poller per variant reads the playlist every half segment over keep-alive, fetches
  every new segment, and checks that no sequence number is missing, that
  EXT-X-PROGRAM-DATE-TIME runs on without a jump, and reads the timed ID3 titles.

Per output it reports: ffmpeg's error and warning lines (errors must be 0), the decoded
duration against the wall time the decoder ran (their difference, the "lead", must not
shrink: a shrinking lead is a stall a player would hear), silences longer than --silence
(at -60 dBFS), the longest wait between two reads from the server, and the title changes
seen (compared with /main's). Also the station's CPU (its process tree) and the server's
own counters. Prints tables and writes bench/results/formats-<time>.json.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from common import ROOT, TreeMonitor, free_port, get_json, loadavg, start_streamer, stop, wait_http, write_results
from readers import IcyParser, OggScanner, fmp4_id3_titles, media_playlist, ts_id3_titles

MOUNTS = {  # path -> (config, how titles travel)
    "/main": ("{bitrate: 128}", "icy"),
    "/low": ("{bitrate: 48, sample_rate: 22050, channels: 1}", "icy"),
    "/aac": ("{format: aac, bitrate: 64}", "icy"),
    "/opus": ("{format: opus, bitrate: 96}", "ogg"),
    "/vorbis": ("{format: vorbis, bitrate: 128}", "ogg"),
    "/flac": ("{format: flac}", "ogg"),
}
VARIANTS = {"aac48": 48, "aac96": 96}
SEGMENT = 4.0
RATE = 8000  # decoders write mono 16-bit PCM at this rate: enough to find silence, cheap
BLOCK = RATE // 20  # 50 ms
SILENT_RMS = 32768 * 10 ** (-60 / 20)
# ffmpeg's own muxer complaining about the timestamps ffmpeg gave its decoded audio, not a decode
# error: at some chain boundaries of chained Ogg Vorbis its decoder's last packet of a chain
# overlaps the next chain's first by a few samples. Plain ffmpeg-made chains do it too
# (`cat a.ogg b.ogg | ffmpeg -i pipe:0 -f null -` with a first chain of exactly 40 s), so it
# is counted apart (bench/README.md).
OWN_TIMESTAMPS = "non monotonically increasing dts to muxer"


def station_config(port: int, container: str) -> str:
    mounts = "\n".join(f"  {path}: {conf}" for path, (conf, _) in MOUNTS.items())
    variants = "\n".join(f"    - {{name: {name}, bitrate: {kbit}}}" for name, kbit in VARIANTS.items())
    return (
        f"server: {{host: 127.0.0.1, port: {port}, log_level: info}}\n"
        f"mounts:\n{mounts}\n"
        f"hls:\n  segment: {SEGMENT}\n  window: 6\n  container: {container}\n  variants:\n{variants}\n"
        f"playlists: {ROOT / 'playlists'}\nnews: {{folder: news}}\n"
    )


@dataclass
class PcmMeter:
    """Counts decoded samples and finds silent stretches, as the PCM arrives."""

    t0: float
    samples: int = 0
    carry: bytes = b""
    silent_run: int = 0  # blocks
    silences: list[tuple[float, float]] = field(default_factory=list)  # (decoded second, length) >= 0.5 s
    leads: list[tuple[float, float]] = field(default_factory=list)  # (wall second, decoded - wall)

    def feed(self, data: bytes) -> None:
        data = self.carry + data
        usable = len(data) - len(data) % (2 * BLOCK)
        self.carry = data[usable:]
        if usable:
            blocks = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32).reshape(-1, BLOCK)
            for quiet in np.sqrt((blocks**2).mean(axis=1)) < SILENT_RMS:
                self._block(bool(quiet))
        wall = time.monotonic() - self.t0
        if not self.leads or wall - self.leads[-1][0] >= 1:
            self.leads.append((round(wall, 2), round(self.samples / RATE - wall, 3)))

    def _block(self, quiet: bool) -> None:
        self.samples += BLOCK
        if quiet:
            self.silent_run += 1
            return
        self.close_run()

    def close_run(self) -> None:
        if self.silent_run * BLOCK >= RATE // 2:
            length = self.silent_run * BLOCK / RATE
            self.silences.append((round(self.samples / RATE - length, 2), round(length, 2)))
        self.silent_run = 0


class Decoder:
    """ffmpeg decoding one input to PCM; its stderr lines kept with their time."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.t0 = time.monotonic()
        self.meter = PcmMeter(self.t0)
        self.lines: list[tuple[float, str]] = []
        self.stopped_at: float | None = None
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "level+warning", *(["-nostdin"] if source != "pipe:0" else [])]
        cmd += ["-i", source, "-vn", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "pipe:1"]
        stdin = subprocess.PIPE if source == "pipe:0" else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.threads = [_thread(self._pcm), _thread(self._stderr)]

    def _pcm(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(65536):
            self.meter.feed(chunk)
        self.meter.close_run()

    def _stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append((time.monotonic(), raw.decode("utf-8", "replace").rstrip()))

    def write(self, data: bytes) -> bool:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def stop(self) -> None:
        self.stopped_at = time.monotonic()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        else:
            self.proc.send_signal(signal.SIGTERM)

    def result(self) -> dict:
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for t in self.threads:
            t.join(10)
        end = self.stopped_at or time.monotonic()
        running = [f"{t - self.t0:.1f}s {line}" for t, line in self.lines if t <= end]
        leads = [lead for wall, lead in self.meter.leads if wall >= 10]
        timestamps = [line for line in running if OWN_TIMESTAMPS in line]
        return {
            "errors": [line for line in running if re.search(r"\[(error|fatal|panic)\]", line) and OWN_TIMESTAMPS not in line],
            "output_timestamp_lines": timestamps,
            "warnings": [line for line in running if "[warning]" in line],
            "lines_after_stop": [line for t, line in self.lines if t > end][:10],
            "wall_seconds": round(end - self.t0, 2),
            "decoded_seconds": round(self.meter.samples / RATE, 2),
            "lead_at_10s": leads[0] if leads else None,
            "lead_min": min(leads) if leads else None,
            "lead_end": leads[-1] if leads else None,
            "silences": self.meter.silences,
            "exit": self.proc.returncode,
        }


def _thread(target: Callable[[], None]) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


class MountListener:
    """One listener on an Icecast mount: its audio into a Decoder, its titles noted."""

    def __init__(self, port: int, mount: str, titles_by: str) -> None:
        self.port, self.mount, self.titles_by = port, mount, titles_by
        self.decoder = Decoder(mount, "pipe:0")
        self.titles: list[tuple[float, str]] = []
        self.bytes = 0
        self.max_wait = 0.0  # longest time between two reads, after the first 5 s
        self.closed_early: str | None = None
        self.ogg = OggScanner()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._stop = threading.Event()
        self.thread = _thread(self._run)

    def _run(self) -> None:
        meta = "Icy-MetaData: 1\r\n" if self.titles_by == "icy" else ""
        self.sock.sendall(f"GET {self.mount} HTTP/1.0\r\nUser-Agent: bench-formats\r\n{meta}\r\n".encode())
        head, body = _read_head(self.sock)
        metaint = re.search(rb"(?im)^icy-metaint:\s*(\d+)", head)
        icy = IcyParser(int(metaint[1])) if metaint else None
        t0 = last = time.monotonic()
        data = body
        while not self._stop.is_set():
            self._take(data, icy, time.monotonic() - self.decoder.t0)
            try:
                data = self.sock.recv(65536)
            except OSError as e:
                self.closed_early = None if self._stop.is_set() else repr(e)
                break
            now = time.monotonic()
            if now - t0 > 5:
                self.max_wait = max(self.max_wait, now - last)
            last = now
            if not data:
                self.closed_early = None if self._stop.is_set() else "server closed the connection"
                break

    def _take(self, data: bytes, icy: IcyParser | None, wall: float) -> None:
        self.bytes += len(data)
        if icy is not None:
            data, found = icy.feed(data)
        else:
            found = self.ogg.feed(data) if self.titles_by == "ogg" else []
        self.titles += [(round(wall, 1), title) for title in found]
        self.decoder.write(data)

    def stop(self) -> None:
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(10)
        self.sock.close()
        self.decoder.stop()

    def result(self) -> dict:
        out = self.decoder.result()
        out.update(
            bytes=self.bytes,
            max_wait_between_reads=round(self.max_wait, 2),
            closed_early=self.closed_early,
            titles=_changes(self.titles),
        )
        if self.titles_by == "ogg":
            out.update(ogg_chains=self.ogg.chains, ogg_pages=self.ogg.pages, ogg_bytes_out_of_sync=self.ogg.lost_sync)
        return out


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError(f"closed before the head: {buf[:200]!r}")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.split(b"\r\n", 1)[0].split()[1:2] == [b"200"]:
        raise RuntimeError(f"not 200: {head[:200]!r}")
    return head, body


def _changes(titles: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Only where the title differs from the one before (ICY repeats it; HLS at every segment)."""
    out: list[tuple[float, str]] = []
    for t, title in titles:
        if not out or out[-1][1] != title:
            out.append((t, title))
    return out


class HlsPoller:
    """Polls one variant's playlist every half segment and fetches every new segment."""

    def __init__(self, port: int, name: str, container: str) -> None:
        self.port, self.name = port, name
        self.titles_of = ts_id3_titles if container == "ts" else fmp4_id3_titles
        self.t0 = time.monotonic()
        self.entries: dict[int, tuple[float, float | None, bool, int]] = {}  # seq -> (EXTINF, PDT, discontinuity, bytes)
        self.missing: list[int] = []  # segments that left the window before we saw them
        self.failures: list[str] = []
        self.polls = 0
        self.titles: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self.thread = _thread(self._run)

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        last: int | None = None
        while not self._stop.is_set():
            try:
                last = self._poll(conn, last)
            except (OSError, http.client.HTTPException) as e:
                self.failures.append(f"{time.monotonic() - self.t0:.1f}s {e!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self._stop.wait(SEGMENT / 2)
        conn.close()

    def _get(self, conn: http.client.HTTPConnection, path: str) -> bytes:
        conn.request("GET", path, headers={"User-Agent": f"bench-formats-{self.name}"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise http.client.HTTPException(f"{path}: {r.status} {body[:120]!r}")
        return body

    def _poll(self, conn: http.client.HTTPConnection, last: int | None) -> int | None:
        self.polls += 1
        _, entries = media_playlist(self._get(conn, f"/hls/{self.name}/live.m3u8").decode())
        if last is None and entries:
            last = entries[-1].seq - 1
        if entries and last is not None and entries[0].seq > last + 1:
            self.missing += range(last + 1, entries[0].seq)
        for e in entries:
            if last is not None and e.seq <= last:
                continue
            data = self._get(conn, f"/hls/{self.name}/{e.uri}")
            wall = round(time.monotonic() - self.t0, 1)
            self.titles += [(wall, title) for title in self.titles_of(data)]
            self.entries[e.seq] = (e.duration, e.pdt, e.discontinuity, len(data))
            last = e.seq
        return last

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(15)

    def result(self) -> dict:
        seqs = sorted(self.entries)
        gaps = [b for a, b in itertools.pairwise(seqs) if b != a + 1]
        steps, offsets = [], []
        for a in seqs:
            dur, pdt, _, _ = self.entries[a]
            if pdt is not None and not self.entries[a][2]:  # a station (re)start begins mid-segment
                offsets.append(abs(pdt - a * SEGMENT))
            nxt = self.entries.get(a + 1)
            if pdt is not None and nxt and nxt[1] is not None:
                steps.append(abs(nxt[1] - pdt - dur))
        return {
            "polls": self.polls,
            "segments": len(seqs),
            "first_seq": seqs[0] if seqs else None,
            "last_seq": seqs[-1] if seqs else None,
            "seq_gaps": gaps,
            "missing": self.missing,
            "failures": self.failures,
            "pdt_step_error_max_ms": round(max(steps) * 1000, 1) if steps else None,
            "pdt_offset_from_seq_max_ms": round(max(offsets) * 1000, 1) if offsets else None,
            "extinf_sum_seconds": round(sum(self.entries[s][0] for s in seqs), 3),
            "discontinuities_after_first": sum(1 for s in seqs[1:] if self.entries[s][2]),
            "bytes_per_second": round(sum(self.entries[s][3] for s in seqs) / max(1, len(seqs)) / SEGMENT),
            "titles": _changes(self.titles),
        }


def run(port: int, duration: float, container: str) -> dict:
    base = f"http://127.0.0.1:{port}"
    listeners = {m: MountListener(port, m, how) for m, (_, how) in MOUNTS.items()}
    decoders = {"hls master": Decoder("hls master", f"{base}/hls/live.m3u8")}
    decoders.update({f"hls {v}": Decoder(v, f"{base}/hls/{v}/live.m3u8") for v in VARIANTS})
    pollers = {v: HlsPoller(port, v, container) for v in VARIANTS}
    t_end = time.monotonic() + duration
    loads = [loadavg()]
    while (left := t_end - time.monotonic()) > 0:
        time.sleep(min(60, left))
        loads.append(loadavg())
        print(f"  {duration - max(0, t_end - time.monotonic()):.0f} s, load {loads[-1]}", flush=True)
    for thing in [*listeners.values(), *decoders.values(), *pollers.values()]:
        thing.stop()
    outputs = {m: lst.result() for m, lst in listeners.items()}
    outputs.update({name: d.result() for name, d in decoders.items()})
    return {"outputs": outputs, "hls": {v: p.result() for v, p in pollers.items()}, "loadavg": loads}


def server_view(port: int) -> dict:
    status = get_json(f"http://127.0.0.1:{port}/api/status")
    keep = ("mount", "format", "listeners", "evicted", "clock_restarts", "encoder_restarts", "bytes_sent")
    view = {"mounts": [{k: m.get(k) for k in keep} for m in status.get("mounts", [])]}
    view.update({k: status.get(k) for k in ("problems", "silence_inserted_seconds", "tasks", "decoder_failures", "hls")})
    return view


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=300, help="seconds every output is listened to")
    p.add_argument("--container", choices=("ts", "fmp4"), default="ts", help="HLS segment container")
    p.add_argument("--silence", type=float, default=1.0, help="report silences at least this long (s) as gaps")
    p.add_argument("--warmup", type=float, default=15, help="seconds on air before listening (a full HLS window)")
    args = p.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="streamer-formats-") as d:
        tmp = Path(d)
        server = start_streamer(tmp, station_config(port, args.container), port)
        try:
            for v in VARIANTS:
                wait_http(f"http://127.0.0.1:{port}/hls/{v}/live.m3u8", timeout=30)
            time.sleep(args.warmup)
            monitor = TreeMonitor({"streamer": [server.pid]}).start()
            t0 = time.monotonic()
            print(f"listening to {len(MOUNTS)} mounts and HLS ({args.container}) for {args.duration:.0f} s, load {loadavg()}", flush=True)
            report = run(port, args.duration, args.container)
            monitor.stop()
            report["streamer_tree"] = monitor.window("streamer", t0, time.monotonic())
            report["server"] = server_view(port)
        finally:
            stop([server])
        log = (tmp / "streamer.log").read_text(errors="replace")
    report.update(duration=args.duration, container=args.container, silence_threshold=args.silence, **log_summary(log))
    print_report(report, args.silence)
    print(f"\nwritten to {write_results(f'formats-{args.container}', report)}")
    return 0


def log_summary(log: str) -> dict:
    played = re.findall(r"now playing '(.*?)' \((\w+)", log)
    problems = [line for line in log.splitlines() if re.search(r" (WARNING|ERROR|CRITICAL) |Traceback", line)]
    return {"played": played, "log_problems": problems[:50], "log_problem_count": len(problems)}


def print_report(r: dict, silence: float) -> None:
    main_titles = [t for _, t in r["outputs"]["/main"]["titles"]]
    print("\n| output | decode errors | ffmpeg output-timestamp lines | warnings | wall s | decoded s | lead at 10 s / min / end | "
          f"silences >= {silence} s | longest read wait s | title changes | titles as /main |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, o in r["outputs"].items():
        gaps = [s for s in o["silences"] if s[1] >= silence]
        titles = [t for _, t in o.get("titles", [])]
        same = "-" if "titles" not in o else _same(titles, main_titles)
        changes = max(0, len(titles) - 1) if "titles" in o else "-"
        print(
            f"| {name} | {len(o['errors'])} | {len(o['output_timestamp_lines'])} | {len(o['warnings'])} | "
            f"{o['wall_seconds']} | {o['decoded_seconds']} | "
            f"{o['lead_at_10s']} / {o['lead_min']} / {o['lead_end']} | {len(gaps)} {gaps[:3] if gaps else ''} | "
            f"{o.get('max_wait_between_reads', '-')} | {changes} | {same} |"
        )
    print("\n| HLS variant | polls | segments | missing | seq gaps | failures | PDT step error max ms | "
          "PDT - seq x D max ms | EXTINF sum s | discontinuities | B/s | ID3 title changes | titles as /main |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, h in r["hls"].items():
        titles = [t for _, t in h["titles"]]
        print(
            f"| {name} | {h['polls']} | {h['segments']} | {len(h['missing'])} | {len(h['seq_gaps'])} | {len(h['failures'])} | "
            f"{h['pdt_step_error_max_ms']} | {h['pdt_offset_from_seq_max_ms']} | {h['extinf_sum_seconds']} | "
            f"{h['discontinuities_after_first']} | {h['bytes_per_second']} | {max(0, len(titles) - 1)} | {_same(titles, main_titles)} |"
        )
    print(f"\nstreamer tree: {r['streamer_tree']}")
    print(f"load average: {r['loadavg']}")
    print(f"titles on /main: {r['outputs']['/main']['titles']}")
    print(f"server: {r['server']['mounts']}")
    print(f"server log: {r['log_problem_count']} warning/error lines; played {len(r['played'])} items")
    for name, o in r["outputs"].items():
        for line in (o["errors"] + o["output_timestamp_lines"] + o["warnings"])[:5]:
            print(f"  {name}: {line}")


def _same(titles: list[str], reference: list[str]) -> str:
    """'yes' when one list of changes is a run within the other, at most two longer: an
    output that started or stopped a little behind another sees a change fewer at an end."""
    short, long = sorted((titles, reference), key=len)
    if len(long) - len(short) <= 2 and any(long[i : i + len(short)] == short for i in range(len(long) - len(short) + 1)):
        return "yes"
    return "NO"


if __name__ == "__main__":
    sys.exit(main())
