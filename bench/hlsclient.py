"""HLS load client for bench/hls_load.py: N players in one process, run by it, not by hand.

Each player is one keep-alive HTTP/1.1 connection and one asyncio.Protocol (no task): it asks
for its variant's playlist, fetches the segments it has not had yet one after another (the
newest three when it starts, as hls.js does), and asks for the playlist again half a segment
after the last time. Players are spread over the variants and each has its own User-Agent,
so the station counts them as distinct listeners. Prints a JSON line when all are connected
and one with the results after --hold seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
from array import array
from collections import Counter

LATENCY = {"playlist": array("f"), "segment": array("f")}  # seconds per answered request
STATUS: Counter[int] = Counter()
BYTES = [0]


class Player(asyncio.Protocol):
    __slots__ = ("base", "body", "buf", "collect", "failures", "fetched", "head", "last", "lost", "missed", "n", "ok_at", "poll_at",
                 "poll_every", "queue", "remaining", "sent", "started", "transport", "variant", "want")  # fmt: skip

    def __init__(self, n: int, variant: str, segment: float) -> None:
        self.n, self.variant = n, variant
        self.poll_every = segment / 2
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.head: tuple[int, str] | None = None  # (status, what) of the response being read
        self.remaining = 0
        self.collect = False
        self.body = b""
        self.queue: list[int] = []  # segments to fetch
        self.want = ""  # "playlist" or "segment"
        self.sent = 0.0
        self.poll_at = 0.0
        self.last: int | None = None  # newest segment fetched
        self.fetched = self.missed = self.failures = 0
        self.base = 0  # segments fetched before the hold
        self.ok_at = 0.0  # when the last good answer came
        self.lost = False
        self.started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.started = True
        self.poll()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    def request(self, path: str, want: str) -> None:
        self.want, self.sent = want, time.monotonic()
        assert self.transport is not None
        self.transport.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: hlsload/{self.n}\r\n\r\n".encode())

    def poll(self) -> None:
        if self.lost:
            return
        self.poll_at = time.monotonic()
        self.request(f"/hls/{self.variant}/live.m3u8", "playlist")

    def data_received(self, data: bytes) -> None:
        BYTES[0] += len(data)
        self.buf += data
        while self.buf:
            if self.head is None and not self._read_head():
                return
            take = min(self.remaining, len(self.buf))
            body = bytes(self.buf[:take]) if self.collect else b""
            del self.buf[:take]
            self.remaining -= take
            if self.collect:
                self.body += body
            if self.remaining:
                return
            self._answered()

    def _read_head(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        del self.buf[: end + 4]
        status = int(lines[0].split()[1])
        length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0)
        self.head, self.remaining = (status, self.want), length
        self.collect, self.body = self.want == "playlist", b""
        return True

    def _answered(self) -> None:
        assert self.head is not None
        status, what = self.head
        self.head = None
        STATUS[status] += 1
        if status != 200:
            self.failures += 1
        else:
            LATENCY[what].append(time.monotonic() - self.sent)
            self.ok_at = time.monotonic()
            if what == "playlist":
                self._playlist(self.body.decode())
            else:
                self.fetched += 1
        self._next()

    def _playlist(self, text: str) -> None:
        seqs = [int(line.split(".", 1)[0]) for line in text.splitlines() if line and not line.startswith("#")]
        if not seqs:
            return
        if self.last is None:
            self.queue = seqs[-3:]
        else:
            if seqs[0] > self.last + 1:
                self.missed += seqs[0] - self.last - 1
            self.queue = [s for s in seqs if s > self.last]
        if self.queue:
            self.last = self.queue[-1]

    def _next(self) -> None:
        if self.queue:
            self.request(f"/hls/{self.variant}/{self.queue.pop(0)}.ts", "segment")
            return
        asyncio.get_running_loop().call_later(max(0.0, self.poll_at + self.poll_every - time.monotonic()), self.poll)


async def connect_all(args: argparse.Namespace) -> tuple[list[Player], int]:
    loop = asyncio.get_running_loop()
    variants = args.variants.split(",")
    players: list[Player] = []
    failed = 0
    for start in range(0, args.n, args.batch):
        batch = []
        for i in range(start, min(args.n, start + args.batch)):
            player = Player(i, variants[i % len(variants)], args.segment)
            players.append(player)
            batch.append(loop.create_connection(lambda p=player: p, "127.0.0.1", args.port))
        failed += sum(isinstance(r, BaseException) for r in await asyncio.gather(*batch, return_exceptions=True))
        await asyncio.sleep(0.05)
    return players, failed


def _ms(values: array, q: float) -> float | None:
    if not values:
        return None
    return round(statistics.quantiles(values, n=100)[int(q) - 1] * 1000, 1) if q < 100 else round(max(values) * 1000, 1)


def results(players: list[Player], failed: int, held: float, cpu0: float) -> dict:
    now = time.monotonic()
    alive = [p for p in players if p.started and not p.lost]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "event": "done",
        "players": len(players),
        "connect_failed": failed,
        "lost": sum(p.lost for p in players),
        "alive": len(alive),
        "stale": sum(1 for p in alive if now - p.ok_at > 4 * p.poll_every),  # no good answer for two segments
        "players_with_missed_segments": sum(1 for p in players if p.missed),
        "missed_segments": sum(p.missed for p in players),
        "players_with_failures": sum(1 for p in players if p.failures),
        "statuses": {str(k): v for k, v in STATUS.items()},
        "playlists": len(LATENCY["playlist"]),
        "segments": len(LATENCY["segment"]),
        "segments_per_player_min": min((p.fetched - p.base for p in players), default=0),
        "held_seconds": round(held, 1),
        "mbytes_per_second": round(BYTES[0] / held / 1e6, 2),
        "playlist_ms_median_p99_max": [_ms(LATENCY["playlist"], 50), _ms(LATENCY["playlist"], 99), _ms(LATENCY["playlist"], 100)],
        "segment_ms_median_p99_max": [_ms(LATENCY["segment"], 50), _ms(LATENCY["segment"], 99), _ms(LATENCY["segment"], 100)],
        "client_cpu_seconds": round(usage.ru_utime + usage.ru_stime - cpu0, 1),
    }


async def main(args: argparse.Namespace) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    players, failed = await connect_all(args)
    print(json.dumps({"event": "connected", "failed": failed}), flush=True)
    await asyncio.sleep(args.settle)
    for values in LATENCY.values():  # the counts cover the hold only
        del values[:]
    STATUS.clear()
    BYTES[0] = 0
    for player in players:
        player.base = player.fetched
    usage = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    await asyncio.sleep(args.hold)
    print(json.dumps(results(players, failed, time.monotonic() - t0, usage.ru_utime + usage.ru_stime)), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--variants", default="aac48,aac96")
    p.add_argument("--segment", type=float, default=4.0)
    p.add_argument("--hold", type=float, default=120)
    p.add_argument("--settle", type=float, default=10)
    p.add_argument("--batch", type=int, default=25, help="connections opened together, every 50 ms")
    args = p.parse_args()
    try:
        import uvloop

        uvloop.run(main(args))
    except ImportError:
        asyncio.run(main(args))
