"""Load client for bench/listeners.py: holds N listeners in one process, cheaply.

One asyncio.Protocol per connection that only counts bytes (no per-listener task), uvloop
when available. Prints one JSON line of results. Run by listeners.py, not by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import time

RATE_SLACK = 1.0  # seconds a listener may lag real time before it counts as starved


class Listener(asyncio.Protocol):
    __slots__ = ("connected", "first_byte", "lost", "n", "request", "t0")

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.n = 0
        self.t0 = 0.0
        self.first_byte = 0.0
        self.connected = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t0 = time.monotonic()
        self.connected = True
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if not self.n:
            self.first_byte = time.monotonic()
        self.n += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


def probe(port: int, path: str) -> tuple[float, float]:
    """Seconds to the first body byte and to 16 KB of body, for a fresh listener."""
    t0 = time.monotonic()
    first = full = float("nan")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        buf = b""
        body = -1
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if body < 0 and b"\r\n\r\n" in buf:
                body = buf.index(b"\r\n\r\n") + 4
            if body >= 0:
                got = len(buf) - body
                if got > 0 and first != first:
                    first = time.monotonic() - t0
                if got >= 16384:
                    full = time.monotonic() - t0
                    break
    return first, full


async def main(args: argparse.Namespace) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    listeners: list[Listener] = []
    failed = 0
    # Connect at a steady pace (500/s by default). icecast2 2.4 leaves about a fifth of the
    # listeners of a 250-at-once surge unserved for seconds (its accept backlog overflows), and
    # a CPU comparison is only fair while both servers serve everyone.
    for start in range(0, args.n, args.batch):
        batch = []
        for i in range(start, min(args.n, start + args.batch)):
            meta = b"Icy-MetaData: 1\r\n" if i % 2 else b""
            lst = Listener(f"GET {args.path} HTTP/1.0\r\nUser-Agent: bench\r\n".encode() + meta + b"\r\n")
            listeners.append(lst)
            batch.append(loop.create_connection(lambda lst=lst: lst, "127.0.0.1", args.port))
        for r in await asyncio.gather(*batch, return_exceptions=True):
            if isinstance(r, BaseException):
                failed += 1
        await asyncio.sleep(0.05)
    print(json.dumps({"event": "connected", "failed": failed}), flush=True)
    # Hold: check every 0.5 s whether anyone fell behind real time.
    await asyncio.sleep(args.settle)
    rate = args.bitrate * 1000 / 8
    starved: set[int] = set()
    probes: list[tuple[float, float]] = []
    hold_start = time.monotonic()
    bytes_start = sum(lst.n for lst in listeners)
    next_probe = hold_start + 1.0
    while (now := time.monotonic()) < hold_start + args.hold:
        for i, lst in enumerate(listeners):
            if lst.connected and not lst.lost and lst.n < (now - lst.t0 - RATE_SLACK) * rate:
                starved.add(i)
        if now >= next_probe and len(probes) < args.probes:
            probes.append(await loop.run_in_executor(None, probe, args.port, args.path))
            next_probe = now + args.hold / (args.probes + 1)
        await asyncio.sleep(0.5)
    held = time.monotonic() - hold_start
    bytes_end = sum(lst.n for lst in listeners)
    alive = [lst for lst in listeners if lst.connected and not lst.lost]
    ttfb = [p[0] for p in probes if p[0] == p[0]]
    t16 = [p[1] for p in probes if p[1] == p[1]]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "event": "done",
                "listeners": args.n,
                "connected": sum(lst.connected for lst in listeners),
                "failed": failed,
                "dropped": sum(lst.lost for lst in listeners),
                "starved": len(starved),
                "held_seconds": round(held, 2),
                "rate_per_listener": round((bytes_end - bytes_start) / held / max(1, len(alive)), 1),
                "ttfb_median_ms": round(statistics.median(ttfb) * 1000, 2) if ttfb else None,
                "ttfb_max_ms": round(max(ttfb) * 1000, 2) if ttfb else None,
                "t16k_median_ms": round(statistics.median(t16) * 1000, 2) if t16 else None,
                "t16k_max_ms": round(max(t16) * 1000, 2) if t16 else None,
                "client_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/main")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--hold", type=float, default=60)
    p.add_argument("--settle", type=float, default=3)
    p.add_argument("--batch", type=int, default=25, help="connections opened together, every 50 ms")
    p.add_argument("--bitrate", type=int, default=128)
    p.add_argument("--probes", type=int, default=10)
    args = p.parse_args()
    try:
        import uvloop

        uvloop.run(main(args))
    except ImportError:
        asyncio.run(main(args))
