"""Open pages: what 1,000 pages following /api/events cost the server, and what a page weighs.

    python bench/pages.py [--pages 1000] [--hold 60] [--news-every 10]

Starts streamer on a free loopback port with the shipped programme (playlists/) and config
(two mounts), and measures:

- the page weight: the HTML of `/`, `/embed` and `/admin/` as served, plus the script,
  style and icon each loads, uncompressed (goal: under 50 KB);
- the server's CPU (% of one core, utime + stime from /proc over the hold) while the station
  plays, first with no page open, then with `--pages` Server-Sent Events subscribers held by
  a separate client process (raw sockets, one asyncio.Protocol each, as a browser's
  EventSource: a GET, then reading). In both holds a headline is posted every `--news-every`
  seconds, so the difference is what the open pages cost: each title change and each
  headline goes to every one of them;
- for each headline, how long until the last page had it; pages dropped; events per page.

Results go to stdout and bench/results/pages-<time>.json. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from listeners import ROOT, TICK, cpu_ticks, free_port, rss_kb, wait_http

ADMIN = "Basic " + base64.b64encode(b"admin:hackme").decode()


# --- the client: N open pages, in their own process -------------------------------------------


class Page(asyncio.Protocol):
    """One open page's event stream: counts events, notes when each headline arrived."""

    __slots__ = ("buf", "events", "lost", "news", "ready")

    def __init__(self) -> None:
        self.buf = b""
        self.events = 0
        self.news: list[float] = []
        self.ready = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(b"GET /api/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\n\n" in self.buf:
            block, self.buf = self.buf.split(b"\n\n", 1)
            if b"event: nowplaying" in block:
                self.events += 1
                self.ready = True
            elif b"event: news" in block:
                self.events += 1
                self.news.append(time.time())

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


async def client(port: int, count: int, seconds: float) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    pages = [Page() for _ in range(count)]
    for start in range(0, count, 50):  # 1,000 pages a second
        await asyncio.gather(*(loop.create_connection(lambda p=p: p, "127.0.0.1", port) for p in pages[start : start + 50]))
        await asyncio.sleep(0.05)
    while not all(p.ready or p.lost for p in pages):
        await asyncio.sleep(0.1)
    print(json.dumps({"event": "connected", "ready": sum(p.ready for p in pages)}), flush=True)
    await asyncio.sleep(seconds)
    arrivals = [[min(times), max(times)] for times in zip(*(p.news for p in pages if not p.lost), strict=False)]
    events = sorted(p.events for p in pages)
    print(json.dumps({"event": "done", "dropped": sum(p.lost for p in pages), "news_arrivals": arrivals,
                      "events_min": events[0], "events_median": events[len(events) // 2]}), flush=True)  # fmt: skip


# --- the bench -----------------------------------------------------------------------------------


def get(url: str, auth: str = "") -> bytes:
    req = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def page_weight(base: str) -> dict[str, dict[str, int]]:
    out = {}
    for path, auth in (("/", ""), ("/embed", ""), ("/admin/", ADMIN)):
        html = get(base + path, auth)
        assets = re.findall(r'"(/static/[^"]+)"', html.decode())
        files = {url.split("?")[0]: len(get(base + url)) for url in assets}
        out[path] = {"html": len(html), **files, "total": len(html) + sum(files.values())}
    return out


def post_news(base: str, n: int) -> float:
    body = json.dumps({"title": f"Bench headline {n}", "summary": "A summary of a sentence or two, as the newsroom writes them."})
    req = urllib.request.Request(base + "/api/news", data=body.encode(), method="POST")
    req.add_header("Authorization", ADMIN)
    req.add_header("Content-Type", "application/json")
    sent = time.time()
    urllib.request.urlopen(req, timeout=10).read()
    return sent


def hold(pid: int, base: str, seconds: float, every: float, first: int) -> tuple[float, list[float]]:
    """CPU of `pid` over `seconds` (% of one core), posting a headline every `every` seconds."""
    posted = []
    t0, c0 = time.monotonic(), cpu_ticks(pid)
    while time.monotonic() - t0 < seconds - every / 2:
        posted.append(post_news(base, first + len(posted)))
        time.sleep(every)
    elapsed = time.monotonic() - t0
    return 100.0 * (cpu_ticks(pid) - c0) / TICK / elapsed, posted


def start(tmp: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = (ROOT / "config.yaml").read_text()
    config = config.replace("port: 8000", f"port: {port}").replace("log_level: info", "log_level: warning")
    config = re.sub(r"^playlists: playlists", f"playlists: {ROOT / 'playlists'}", config, flags=re.M)
    (tmp / "config.yaml").write_text(config)
    (tmp / "news").mkdir()
    log = (tmp / "streamer.log").open("wb")
    command = [sys.executable, "-m", "streamer", "serve", "--config", str(tmp / "config.yaml")]
    proc = subprocess.Popen(command, stdout=log, stderr=log, cwd=tmp)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc, port


def main(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="streamer-pages-"))
    proc, port = start(tmp)
    base = f"http://127.0.0.1:{port}"
    load = None
    try:
        time.sleep(args.settle)
        weight = page_weight(base)
        idle_cpu, _ = hold(proc.pid, base, args.hold, args.news_every, 0)
        idle_rss = rss_kb(proc.pid)
        load = subprocess.Popen(
            [sys.executable, __file__, "client", "--port", str(port), "--pages", str(args.pages), "--seconds", str(args.hold + 5)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert load.stdout is not None
        connected = json.loads(load.stdout.readline())
        time.sleep(2)
        open_cpu, posted = hold(proc.pid, base, args.hold, args.news_every, 1000)
        open_rss = rss_kb(proc.pid)
        done = json.loads(load.stdout.readline())
        lags = [round(last - sent, 3) for sent, (_, last) in zip(posted, done["news_arrivals"], strict=False)]
        status = json.loads(get(base + "/api/status"))
        return {
            "pages": args.pages, "ready": connected["ready"], "hold_seconds": args.hold, "news_every": args.news_every,
            "cpu_percent_no_pages": round(idle_cpu, 2), "cpu_percent_with_pages": round(open_cpu, 2),
            "cpu_percent_for_pages": round(open_cpu - idle_cpu, 2), "rss_kb_no_pages": idle_rss, "rss_kb_with_pages": open_rss,
            "headline_to_last_page_seconds": lags, "dropped": done["dropped"],
            "subscribers_dropped": status["connections"]["subscribers_dropped"],
            "events_per_page_min": done["events_min"], "events_per_page_median": done["events_median"], "page_weight": weight,
        }  # fmt: skip
    finally:
        if load is not None and load.poll() is None:
            load.kill()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        shutil.rmtree(tmp, ignore_errors=True)


def report(r: dict) -> None:
    print("page weight (uncompressed): " + "; ".join(f"{p} {w['total']:,} B (HTML {w['html']:,})" for p, w in r["page_weight"].items()))
    print(
        f"{r['pages']} open pages ({r['ready']} had their snapshot): server CPU {r['cpu_percent_with_pages']:.2f} % of a core "
        f"vs {r['cpu_percent_no_pages']:.2f} % with none, so {r['cpu_percent_for_pages']:.2f} % for the pages; "
        f"RSS {r['rss_kb_with_pages'] - r['rss_kb_no_pages']:+,} KB"
    )
    lags = r["headline_to_last_page_seconds"]
    if lags:
        spread = f"{min(lags) * 1000:.0f} to {max(lags) * 1000:.0f} ms"
        print(f"a headline reached the last of them {spread} after its POST ({len(lags)} headlines)")
    print(f"dropped {r['dropped']} (server: {r['subscribers_dropped']}); events per page: min {r['events_per_page_min']}, "
          f"median {r['events_per_page_median']}")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        p = argparse.ArgumentParser()
        p.add_argument("client")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--pages", type=int, required=True)
        p.add_argument("--seconds", type=float, required=True)
        a = p.parse_args()
        asyncio.run(client(a.port, a.pages, a.seconds))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pages", type=int, default=1000)
    p.add_argument("--hold", type=float, default=60.0, help="seconds each measurement lasts")
    p.add_argument("--news-every", type=float, default=10.0, help="seconds between headlines posted during each hold")
    p.add_argument("--settle", type=float, default=5.0)
    result = main(p.parse_args())
    report(result)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"pages-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=1))
