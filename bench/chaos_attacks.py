"""Attack workers for bench/chaos.py: one attack per process. Run by chaos.py, not by hand.

    python bench/chaos_attacks.py fuzz --port 8000 --duration 60 --count 20000
    python bench/chaos_attacks.py {fuzz,slow,churn,sse,flood,garbage} --help

Every worker talks to 127.0.0.1 only, stops by itself after --duration seconds (or at once
on SIGTERM), closes every connection it opened and prints JSON lines on stdout: events for
the timeline as they happen ({"event": ..., "t": unix time, ...}) and, last, one
{"event": "result", "attack": NAME, ...} with what it did. Random choices come from --seed,
so the same command sends the same requests.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"
# Each attack comes from its own loopback address (127.0.0.0/8 is all this machine), as attackers
# do: the server throttles failed logins per address, and the DJ and the listeners the bench
# checks come from 127.0.0.1.
SOURCE_ADDRESS = {
    "fuzz": "127.0.0.11",
    "slow": "127.0.0.12",
    "churn": "127.0.0.13",
    "sse": "127.0.0.14",
    "flood": "127.0.0.15",
    "garbage": "127.0.0.16",
}
LOCAL: tuple[str, int] | None = None
ANSWER_TIMEOUT = 20.0  # a connection without a status line by then got "no answer" (a bug)
STATUS_RE = re.compile(rb"(?m)^(?:HTTP|ICE)/\d\.\d (\d{3})")
PASSWORD = b"hackme"  # the shipped config's source and admin password


def emit(event: str, **fields: object) -> None:
    """One JSON line for chaos.py: an event for the timeline, or the final result."""
    print(json.dumps({"event": event, "t": round(time.time(), 3), **fields}, ensure_ascii=False, default=str), flush=True)


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def basic(user: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user + b":" + password)


class Run:
    """The worker's clock: over after --duration seconds or on SIGTERM, whichever is first."""

    def __init__(self, duration: float) -> None:
        self.start = time.monotonic()
        self.end = self.start + duration
        self.stop = asyncio.Event()

    def left(self) -> float:
        return 0.0 if self.stop.is_set() else max(0.0, self.end - time.monotonic())

    @property
    def over(self) -> bool:
        return self.left() <= 0

    async def sleep(self, seconds: float) -> bool:
        """Sleep, cut short when the run ends; True while the run goes on."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), max(0.0, min(seconds, self.left())))
        return not self.over


class Probe(asyncio.Protocol):
    """Sends one request and waits for the first final status line (1xx noted, not final).

    A protocol rather than a StreamReader: a stream raises a reset before handing over
    the bytes that came with it, and a 431 answered just before a reset is still an answer."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buf = bytearray()
        self.informational = ""
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        if len(self.buf) < 65536:
            self.buf += data[:65536]
        for m in STATUS_RE.finditer(self.buf):
            code = m[1].decode()
            if not code.startswith("1"):
                self.done.set_result(code)
                return
            self.informational = code

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.informational or ("garbled" if self.buf else "closed"))


async def probe(port: int, request: bytes, timeout: float = ANSWER_TIMEOUT) -> str:
    """The answer to one request: a status code, 'closed' (no status line before the server
    closed), 'garbled', 'timeout' (nothing final within `timeout`) or 'connect-failed'."""
    loop = asyncio.get_running_loop()
    p = Probe(request)
    try:
        transport, _ = await asyncio.wait_for(loop.create_connection(lambda: p, HOST, port, local_addr=LOCAL), 5)
    except (OSError, TimeoutError):
        return "connect-failed"
    try:
        return await asyncio.wait_for(asyncio.shield(p.done), timeout)
    except TimeoutError:
        return f"{p.informational}-then-timeout" if p.informational else "timeout"
    finally:
        transport.abort()  # RST: no TIME_WAIT on our side, 20,000 times over


async def paced(run: Run, count: int, concurrency: int, job: Callable[[int], Awaitable[None]], tail: float) -> tuple[int, float]:
    """Start job(0..count-1) evenly over the run, at most `concurrency` at once; wait up to
    `tail` seconds after the run for the ones in flight. Returns how many were started, and
    over how many seconds."""
    inflight = 0
    tasks: set[asyncio.Task] = set()

    async def wrapped(i: int) -> None:
        nonlocal inflight
        try:
            await job(i)
        finally:
            inflight -= 1

    rate = count / max(1.0, run.left())
    started = 0
    for i in range(count):
        due = run.start + i / rate
        if due > time.monotonic() and not await run.sleep(due - time.monotonic()):
            break
        while inflight >= concurrency and not run.over:
            await asyncio.sleep(0.005)
        if run.over:
            break
        inflight += 1
        task = asyncio.create_task(wrapped(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        started += 1
    launching = time.monotonic() - run.start
    if tasks:
        await asyncio.wait(set(tasks), timeout=tail)
    for task in tasks:
        task.cancel()
    return started, launching


# --- 2. the request fuzzer ------------------------------------------------------------------------

NON_UTF8 = [b"\xff\xfe", b"caf\xe9", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x81\x82", b"\xf8\x88\x80\x80\x80", b"%ff%fe\xff"]
BAD_CREDENTIALS = [
    basic("ädmin".encode(), PASSWORD),
    basic(b"adm\xe9n", b"p\xe4ss"),
    basic(b"source", "pässwörd".encode()),
    basic(b"admin", PASSWORD + b"\xff"),
    b"Basic " + base64.b64encode(b"\xff\xfe\x00:\x00"),
    b"Basic !!!not-base64!!!",
    b"Basic " + base64.b64encode(b"nocolon"),
    b"Basic",
    b"Basic " + b"=" * 20,
    b"Basic " + base64.b64encode(b"admin:" + b"x" * 3000),
    b"Bearer \xff\xfe",
    b"Basic \xc3\xa4\xc3\xb6",
]
BAD_CHUNKS = [
    b"-5\r\nhello\r\n0\r\n\r\n",
    b"ffffffffffffffffffffffff\r\nxx\r\n",
    b"7fffffffffffffff\r\n" + b"x" * 100,
    b"0x10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n",
    b"5;ext=\xff\r\nhello\r\n0\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"1" * 2000 + b"\r\n",
    b" 5 \r\nhello\r\n0\r\n\r\n",
    b"-0\r\n\r\n",
    b"5\r\nhelloXX5\r\nhello\r\n",
    b"-ffffffffffffffff\r\nabc\r\n",
]
ABSURD_LENGTHS = [b"-1", b"99999999999999999999999999", b"18446744073709551616", b"1e9", b"abc", b"0x10", b" 10", b"10, 20", b"", b"+5"]
ABSURD_LENGTHS += [b"4294967296", b"100", b"-99999999999999999999"]
METHODS = [b"get", b"G\xc9T", b"GET\x00", b"PROPFIND", b"CONNECT", b"TRACE", b"DELETE", b"PATCH", b"X" * 5000, b"", b"BREW"]
METHODS += [b"SOURCE", b"PUT", b"POST", b"GET GET"]
PATHS = [
    b"/" + b"a" * 10000,
    b"/main?" + b"x=1&" * 2000,
    b"/%00%ff%c3%28",
    b"/../../../../etc/passwd",
    b"/main/../api/status",
    b"//main",
    b"/main%2f..",
    b"*",
    b"http://127.0.0.1/main",
    b"/main.m3u?" + b"\xff" * 10,
    b"/api/news/%ff%fe",
    b"/admin/metadata?mount=/main&mode=updinfo&song=" + b"%e9" * 3000,
    b"/" + b"%" * 100,
    b"/api/events?" + b"\x00" * 10,
    b"/low.xspf",
    b"",
]
VERSIONS = [b"HTTP/2.0", b"HTTP/1.1x", b"HTTP/9.9", b"ICE/1.0", b"HTTP/1", b"hTTP/1.1", b"HTTP/1.1 extra", b"HTTP/0.9", b"HTTP/\xff"]
HEADER_JUNK = [
    b"NoColonHere",
    b" folded: continuation",
    b": empty-name",
    b"X-Many: " + b"," * 8000,
    b"Host: a\r\nHost: b",
    b"Icy-MetaData: 1\r\nIcy-MetaData: 0",
    b"X:\t\t\x7f\x01",
    b"Content-Type: application/json; charset=\xff",
]


@dataclass
class Template:
    side: str  # stream | source | web
    head: bytes
    body: bytes = b""


def templates(port: int) -> list[Template]:
    """Valid requests of every kind the server takes; each is mutated before it is sent."""
    host = b"Host: 127.0.0.1:%d\r\n" % port
    admin = b"Authorization: " + basic(b"admin", PASSWORD) + b"\r\n"
    source = b"Authorization: " + basic(b"source", PASSWORD) + b"\r\n"
    wrong = b"Authorization: " + basic(b"source", b"wrong") + b"\r\n"
    news = b'{"title": "Chaos headline", "summary": "fuzzed", "source": "chaos", "expires": 60}'
    web = [b"/api/status", b"/api/events", b"/status-json.xsl", b"/main.m3u", b"/api/nowplaying"]
    out = [
        Template("stream", b"GET /main HTTP/1.0\r\n" + host + b"Icy-MetaData: 1\r\nUser-Agent: chaos-fuzz\r\n\r\n"),
        Template("stream", b"GET /low HTTP/1.1\r\n" + host + b"Range: bytes=0-1\r\n\r\n"),
        Template("stream", b"HEAD /main HTTP/1.1\r\n" + host + b"\r\n"),
        Template("stream", b"OPTIONS /main HTTP/1.1\r\n" + host + b"Origin: http://example.org\r\n\r\n"),
        Template("source", b"SOURCE /fuzzpass HTTP/1.0\r\n" + wrong + b"Content-Type: audio/mpeg\r\n\r\n", b"\xff\xfb\x90\x00" * 64),
        Template("source", b"PUT /fuzzpass HTTP/1.1\r\n" + host + source + b"Content-Type: audio/mpeg\r\n"
                 b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", b"4\r\n\xff\xfb\x90\x00\r\n0\r\n\r\n"),
        Template("web", b"POST /api/news HTTP/1.1\r\n" + host + admin + b"Content-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(news), news),
        Template("web", b"GET /admin/stats HTTP/1.1\r\n" + host + admin + b"\r\n"),
        Template("web", b"GET /admin/listclients?mount=/low HTTP/1.1\r\n" + host + admin + b"\r\n"),
        Template("web", b"GET /admin/metadata?mount=/low&mode=updinfo&song=Fuzz HTTP/1.1\r\n" + host + admin + b"\r\n"),
    ]  # fmt: skip
    out += [Template("web", b"GET " + path + b" HTTP/1.1\r\n" + host + b"Origin: http://example.org\r\n\r\n") for path in web]
    return out


def set_header(head: bytes, name: bytes, value: bytes) -> bytes:
    """Replace (or add) a header, right after the request line."""
    lines = head.split(b"\r\n")
    keep = [line for line in lines[1:] if not line.lower().startswith(name.lower() + b":")]
    return b"\r\n".join([lines[0], name + b": " + value, *keep])


def after_request_line(head: bytes, insert: bytes) -> bytes:
    i = head.find(b"\n") + 1
    return head[:i] + insert + b"\r\n" + head[i:] if i > 0 else head + insert


Mutation = Callable[[random.Random, bytes, bytes, list[Template]], tuple[bytes, bytes]]


def m_flip(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    b = bytearray(head)
    for _i in range(rng.randint(1, 4)):
        b[rng.randrange(len(b))] ^= rng.randint(1, 255)
    return bytes(b), body


def m_huge_header(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    return after_request_line(head, b"X-Huge: " + b"A" * 125_000), body  # ~125 KB, one write


def m_bare_newlines(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    choice = rng.randrange(3)
    if choice == 0:
        return head.replace(b"\r\n", b"\n"), body
    if choice == 1:
        return head.replace(b"\r\n", b"\r"), body
    return after_request_line(head, b"X-Bare: a\rb\nc"), body


def m_nul(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    i = rng.randrange(len(head))
    return head[:i] + b"\x00" + head[i:], body


def m_non_utf8(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    junk = rng.choice(NON_UTF8)
    where = rng.randrange(4)
    if where == 0:  # in the path
        sp = head.find(b" /") + 2
        return (head[:sp] + junk + head[sp:], body) if sp >= 2 else (head, body)
    name = [b"Host", b"Origin", b"Authorization"][where - 1]
    value = b"Basic " + base64.b64encode(junk + b":" + junk) if name == b"Authorization" else b"http://" + junk
    return set_header(head, name, value), body


def m_credentials(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    return set_header(head, b"Authorization", rng.choice(BAD_CREDENTIALS)), body


def m_chunked(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    return set_header(head, b"Transfer-Encoding", b"chunked"), rng.choice(BAD_CHUNKS)


def m_content_length(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    head = set_header(head, b"Content-Length", rng.choice(ABSURD_LENGTHS))
    if rng.random() < 0.3:
        head = after_request_line(head, b"Content-Length: 7")
    return head, body


def m_http09(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    parts = head.split(b" ")
    target = parts[1] if len(parts) > 2 else b"/"
    return b"GET " + target + rng.choice([b"\r\n", b"\r\n\r\n", b"\n"]), b""


def m_pipelined(rng: random.Random, head: bytes, body: bytes, all_: list[Template]) -> tuple[bytes, bytes]:
    more = b"".join(t.head + t.body for t in rng.sample(all_, rng.randint(1, 3)))
    return head, body + more


def m_truncate(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    return head[: rng.randrange(1, max(2, len(head) - 2))], b""


def m_method(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    sp = head.find(b" ")
    return (rng.choice(METHODS) + head[sp:], body) if sp > 0 else (head, body)


def m_header_junk(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    if rng.random() < 0.2:
        many = b"\r\n".join(b"X-%d: y" % i for i in range(rng.randint(100, 3000)))
        return after_request_line(head, many), body
    return after_request_line(head, rng.choice(HEADER_JUNK)), body


def m_path(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    parts = head.split(b" ", 2)
    return (b" ".join([parts[0], rng.choice(PATHS), parts[2]]), body) if len(parts) == 3 else (head, body)


def m_version(rng: random.Random, head: bytes, body: bytes, _: list[Template]) -> tuple[bytes, bytes]:
    i = head.find(b"\r\n")
    sp = head.rfind(b" ", 0, i)
    return (head[: sp + 1] + rng.choice(VERSIONS) + head[i:], body) if i > 0 and sp > 0 else (head, body)


MUTATIONS: dict[str, Mutation] = {
    "flip": m_flip, "huge-header": m_huge_header, "bare-cr-lf": m_bare_newlines, "nul": m_nul,
    "non-utf8": m_non_utf8, "credentials": m_credentials, "chunked": m_chunked,
    "content-length": m_content_length, "http/0.9": m_http09, "pipelined": m_pipelined,
    "truncated": m_truncate, "method": m_method, "header-junk": m_header_junk, "path": m_path, "version": m_version,
}  # fmt: skip


def mutate(rng: random.Random, bases: list[Template]) -> tuple[str, str, bytes]:
    """(side, mutation names, bytes to send in one write) for one fuzzed request."""
    base = rng.choice(bases)
    names = rng.sample(sorted(MUTATIONS), rng.choice([1, 1, 1, 2, 2, 3]))
    head, body = base.head, base.body
    for name in names:
        head, body = MUTATIONS[name](rng, head, body, bases)
    return base.side, "+".join(names), head + body


async def fuzz(args: argparse.Namespace, run: Run) -> dict:
    bases = templates(args.port)
    answers: Counter[str] = Counter()
    by_side: dict[str, Counter[str]] = defaultdict(Counter)
    by_mutation: dict[str, Counter[str]] = defaultdict(Counter)
    silent: list[dict] = []
    told: set[str] = set()  # answers already reported as an event (the first of each kind)

    async def one(i: int) -> None:
        side, names, data = mutate(random.Random(args.seed * 1_000_003 + i), bases)  # request i: the same every run
        sent = time.time()
        answer = await probe(args.port, data)
        answers[answer] += 1
        by_side[side][answer] += 1
        for name in names.split("+"):
            by_mutation[name]["no-answer" if "timeout" in answer else answer if answer in ("closed", "garbled") else "answered"] += 1
        if "timeout" in answer or answer in ("closed", "garbled"):
            if answer not in told:
                told.add(answer)
                emit(f"fuzz-{answer}", side=side, mutations=names, request=repr(data[:160]))
            if sum(s["answer"] == answer for s in silent) < 20:  # examples of each kind
                silent.append({"answer": answer, "t": sent, "side": side, "mutations": names, "request": repr(data[:200])})

    sent, elapsed = await paced(run, args.count, args.concurrency, one, tail=ANSWER_TIMEOUT + 5)
    no_answer = sum(n for a, n in answers.items() if "timeout" in a)
    return {
        "sent": sent,
        "seconds": round(elapsed, 1),
        "per_second": round(sent / max(elapsed, 1e-9), 1),
        "answers": dict(answers.most_common()),
        "by_side": {side: dict(c.most_common()) for side, c in by_side.items()},
        "no_answer_within_20s": no_answer,
        "no_answer_by_mutation": {k: c["no-answer"] for k, c in sorted(by_mutation.items()) if c["no-answer"]},
        "closed_without_status_by_mutation": {
            k: c["closed"] + c["garbled"] for k, c in sorted(by_mutation.items()) if c["closed"] + c["garbled"]
        },
        "examples": silent,
    }


# --- 3. slow and idle connections ----------------------------------------------------------------


class Holder(asyncio.Protocol):
    """A connection that is held open: notes every status line and when the server closes."""

    def __init__(self, first: bytes = b"") -> None:
        loop = asyncio.get_running_loop()
        self.first = first
        self.buf = bytearray()
        self.statuses: list[str] = []
        self.answered: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[float] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.first:
            transport.write(self.first)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if len(self.buf) < 262144:
            self.buf += data
            self.statuses = [m[1].decode() for m in STATUS_RE.finditer(self.buf)]
            if self.statuses and not self.answered.done():
                self.answered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(time.monotonic())


@dataclass
class SlowStats:
    opened: Counter[str] = field(default_factory=Counter)
    connect_failed: Counter[str] = field(default_factory=Counter)
    held_to_end: Counter[str] = field(default_factory=Counter)
    closed_after: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    open_now: int = 0
    open_peak: int = 0


SLOW_KINDS = ("idle", "idle-after-request", "trickle-stream", "trickle-web")


def slow_first_bytes(kind: str, port: int) -> bytes:
    if kind == "trickle-stream":
        return b"GET /main HTTP/1.0\r\n"
    if kind in ("idle-after-request", "trickle-web"):
        return b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
    return b""


async def slow_hold(kind: str, h: Holder, run: Run, interval: float) -> None:
    """Hold one connection until the server closes it or the run ends, trickling a header
    line every `interval` s (after a first complete request for the kept-alive web kinds)."""
    assert h.transport is not None
    if kind in ("idle-after-request", "trickle-web"):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(h.answered), ANSWER_TIMEOUT)
        if kind == "trickle-web" and not h.lost.done():
            h.transport.write(b"GET /api/status HTTP/1.1\r\n")
    step = 0
    while not run.over and not h.lost.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(h.lost), min(interval, max(0.01, run.left())))
        if kind.startswith("trickle") and not h.lost.done() and not run.over:
            h.transport.write(b"X-Slow-%d: %d\r\n" % (step, step))
            step += 1


async def slow_slot(kind: str, args: argparse.Namespace, run: Run, stats: SlowStats) -> None:
    loop = asyncio.get_running_loop()
    while not run.over:
        h = Holder(slow_first_bytes(kind, args.port))
        try:
            transport, _ = await asyncio.wait_for(loop.create_connection(lambda h=h: h, HOST, args.port, local_addr=LOCAL), 5)
        except (OSError, TimeoutError):
            stats.connect_failed[kind] += 1
            await run.sleep(1.0)
            continue
        opened = time.monotonic()
        stats.opened[kind] += 1
        stats.open_now += 1
        stats.open_peak = max(stats.open_peak, stats.open_now)
        try:
            await slow_hold(kind, h, run, args.interval)
            closed_by_server = h.lost.done()  # looked at before our own close below
        finally:
            stats.open_now -= 1
            transport.abort()
        answers = h.statuses[1:] if kind in ("idle-after-request", "trickle-web") else h.statuses
        if closed_by_server:
            stats.closed_after[kind].append(h.lost.result() - opened)
            stats.statuses[kind][answers[0] if answers else "none"] += 1
        else:
            stats.held_to_end[kind] += 1


async def slow(args: argparse.Namespace, run: Run) -> dict:
    stats = SlowStats()
    slots = []
    for i in range(args.count):
        if run.over:
            break
        slots.append(asyncio.create_task(slow_slot(SLOW_KINDS[i % 4], args, run, stats)))
        if i % 50 == 49:
            await run.sleep(50 / args.ramp)
    emit("slow-ramped", open=stats.open_now, slots=len(slots))
    await asyncio.wait(slots, timeout=run.left() + args.interval + 10)
    for task in slots:
        task.cancel()
    out = {}
    for kind in SLOW_KINDS:
        closes = stats.closed_after.get(kind, [])
        out[kind] = {
            "opened": stats.opened[kind],
            "connect_failed": stats.connect_failed[kind],
            "closed_by_server": len(closes),
            "closed_after_s_median": round(statistics.median(closes), 1) if closes else None,
            "closed_after_s_max": round(max(closes), 1) if closes else None,
            "answers_before_close": dict(stats.statuses.get(kind, Counter())),
            "held_to_the_end": stats.held_to_end[kind],
        }
    return {"slots": len(slots), "open_peak": stats.open_peak, "kinds": out}


# --- 4. listener churn ---------------------------------------------------------------------------


class ChurnListener(asyncio.Protocol):
    def __init__(self, request: bytes, want: int) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.want = want
        self.got = 0
        self.head = b""
        self.ready: asyncio.Future[bool] = loop.create_future()
        self.lost: asyncio.Future[float] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if len(self.head) < 64:
            self.head += data[:64]
        self.got += len(data)
        if self.got >= self.want and not self.ready.done():
            self.ready.set_result(True)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(time.monotonic())
        if not self.ready.done():
            self.ready.set_result(False)


@dataclass
class ChurnStats:
    actions: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    stalls_now: int = 0
    stall_peak: int = 0
    evicted_after: list[float] = field(default_factory=list)
    stalls_held: int = 0
    stall_tasks: set[asyncio.Task] = field(default_factory=set)


async def churn_stall(transport: asyncio.Transport, p: ChurnListener, hold: float, run: Run, stats: ChurnStats) -> None:
    """A listener that stops reading and holds on: does the server let it go, and when?"""
    transport.pause_reading()
    start = time.monotonic()
    stats.stalls_now += 1
    stats.stall_peak = max(stats.stall_peak, stats.stalls_now)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(p.lost), max(0.01, min(hold, run.left())))
        dropped = p.lost.done()  # looked at before our own close below
    finally:
        stats.stalls_now -= 1
        transport.abort()
    if dropped:
        stats.evicted_after.append(p.lost.result() - start)
    else:
        stats.stalls_held += 1


async def churn_cycle(i: int, rng: random.Random, args: argparse.Namespace, run: Run, stats: ChurnStats) -> None:
    loop = asyncio.get_running_loop()
    path = rng.choice([b"/main", b"/low"])
    meta = b"Icy-MetaData: 1\r\n" if rng.random() < 0.5 else b""
    action = rng.choices(["close", "abort", "stall"], [4, 4, 2])[0]
    want = rng.randint(1, 8) * 1024 if action == "stall" else rng.randint(1, 64) * 1024
    p = ChurnListener(b"GET " + path + b" HTTP/1.0\r\nUser-Agent: chaos-churn\r\n" + meta + b"\r\n", want)
    try:
        transport, _ = await asyncio.wait_for(loop.create_connection(lambda: p, HOST, args.port, local_addr=LOCAL), 5)
    except (OSError, TimeoutError):
        stats.actions["connect-failed"] += 1
        return
    try:
        ok = await asyncio.wait_for(asyncio.shield(p.ready), 10)
    except TimeoutError:
        ok = None
    m = STATUS_RE.match(p.head)
    stats.statuses[m[1].decode() if m else ("no status line" if p.head else "nothing")] += 1
    if not ok:
        stats.actions["no-bytes-in-10s" if ok is None else "closed-by-server-early"] += 1
        transport.abort()
        return
    if action == "stall" and stats.stalls_now < args.stall_max:
        task = asyncio.create_task(churn_stall(transport, p, rng.uniform(5, 40), run, stats))  # type: ignore[arg-type]
        stats.stall_tasks.add(task)
        task.add_done_callback(stats.stall_tasks.discard)
    else:
        action = "abort" if action == "stall" else action
        if action == "close":
            transport.close()  # FIN, as a player that stops
        else:
            transport.abort()  # RST, as a phone that loses its network
    stats.actions[action] += 1


async def churn(args: argparse.Namespace, run: Run) -> dict:
    rng = random.Random(args.seed)
    stats = ChurnStats()
    cycles, elapsed = await paced(run, args.count, args.concurrency, lambda i: churn_cycle(i, rng, args, run, stats), tail=15)
    if stats.stall_tasks:
        await asyncio.wait(set(stats.stall_tasks), timeout=5)
    ev = stats.evicted_after
    return {
        "cycles": cycles,
        "per_second": round(cycles / max(elapsed, 1e-9), 1),
        "actions": dict(stats.actions.most_common()),
        "answers": dict(stats.statuses.most_common()),
        "stall_peak": stats.stall_peak,
        "stalled_dropped_by_server": len(ev),
        "stalled_dropped_after_s_median": round(statistics.median(ev), 1) if ev else None,
        "stalled_held_until_we_let_go": stats.stalls_held,
    }


# --- 8. SSE clients that never read ----------------------------------------------------------------


def sse_state(sock: socket.socket) -> str:
    """What a never-read SSE socket holds now: its answer and whether the server closed it."""
    head = b""
    try:
        for _ in range(64):
            data = sock.recv(65536)
            if not data:
                return ("200" if head.startswith(b"HTTP/1.1 200") else "no answer") + ", closed by the server"
            head = head or data[:16]
    except BlockingIOError:
        pass
    except OSError:
        return "reset by the server"
    return ("200" if head.startswith(b"HTTP/1.1 200") else "no answer") + ", still open"


async def sse(args: argparse.Namespace, run: Run) -> dict:
    loop = asyncio.get_running_loop()
    request = b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n" % args.port
    socks: list[socket.socket] = []
    failed: Counter[str] = Counter()
    for i in range(args.count):
        if run.over:
            break
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tab that never reads
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (HOST, args.port)), 5)
            await asyncio.wait_for(loop.sock_sendall(sock, request), 5)
        except (OSError, TimeoutError) as exc:
            failed[type(exc).__name__] += 1
            sock.close()
            continue
        socks.append(sock)
        if i % 50 == 49:
            await run.sleep(50 / args.ramp)
    emit("sse-connected", clients=len(socks), failed=sum(failed.values()))
    await run.sleep(run.left())
    states = Counter(sse_state(s) for s in socks)
    for s in socks:
        with contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    return {"connected": len(socks), "connect_failed": dict(failed), "at_the_end": dict(states.most_common())}


# --- 7. wrong-password floods ----------------------------------------------------------------------


def wrong_credentials(rng: random.Random, user: bytes) -> bytes:
    if rng.random() < 0.2:  # non-ASCII: latin-1 and UTF-8 bytes, as real clients send them
        return basic(rng.choice([user, "ädmin".encode(), b"s\xf6urce"]), rng.choice(["pässwört".encode(), b"h\xe4ckme", b"\xff\xfe"]))
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    password = "".join(rng.choice(letters) for _ in range(rng.randint(6, 12)))
    return basic(user, (password if password != "hackme" else "hackmf").encode())


def flood_request(target: str, rng: random.Random, port: int) -> bytes:
    if target == "source":
        return (
            b"SOURCE /live HTTP/1.0\r\nAuthorization: " + wrong_credentials(rng, b"source")
            + b"\r\nContent-Type: audio/mpeg\r\nUser-Agent: chaos-flood\r\n\r\n"
        )  # fmt: skip
    path = rng.choice([b"/admin/stats", b"/admin/listmounts", b"/admin/listclients?mount=/main", b"/admin/streamlist.txt",
                       b"/admin/metadata?mount=/main&mode=updinfo&song=hijacked", b"/admin/killsource?mount=/live"])  # fmt: skip
    return b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n\r\n" % (port, wrong_credentials(rng, b"admin"))


async def flood(args: argparse.Namespace, run: Run) -> dict:
    answers: dict[str, Counter[str]] = {"source": Counter(), "admin": Counter()}
    per_second: dict[str, Counter[int]] = {"source": Counter(), "admin": Counter()}

    async def worker(target: str, seed: int) -> None:
        rng = random.Random(seed)
        while not run.over:
            answer = await probe(args.port, flood_request(target, rng, args.port), timeout=10)
            answers[target][answer] += 1
            per_second[target][int(time.monotonic() - run.start)] += 1
            if answer == "connect-failed":
                await run.sleep(0.1)

    workers = [worker(t, args.seed * 1000 + i) for t in answers for i in range(args.concurrency)]
    await asyncio.gather(*workers)
    elapsed = max(1e-9, time.monotonic() - run.start)
    out = {}
    for target, c in answers.items():
        secs = [per_second[target].get(s, 0) for s in range(1, int(elapsed))]
        out[target] = {
            "attempts": sum(c.values()),
            "per_second": round(sum(c.values()) / elapsed, 1),
            "slowest_second": min(secs) if secs else None,
            "fastest_second": max(secs) if secs else None,
            "answers": dict(c.most_common()),
        }
    return out


# --- 6. garbage from a source ---------------------------------------------------------------------


async def garbage(args: argparse.Namespace, run: Run) -> dict:
    """A source with good credentials whose body is random bytes; a listener on its mount."""
    loop = asyncio.get_running_loop()
    rng = random.Random(args.seed)
    head = b"SOURCE %s HTTP/1.0\r\nAuthorization: %s\r\nContent-Type: %s\r\nIce-Name: chaos garbage\r\n\r\n" % (
        args.mount.encode(), basic(b"source", args.password.encode()), args.content_type.encode())  # fmt: skip
    src = Holder(head)
    try:
        transport, _ = await asyncio.wait_for(loop.create_connection(lambda: src, HOST, args.port, local_addr=LOCAL), 5)
    except (OSError, TimeoutError) as exc:
        return {"mount": args.mount, "answer": f"connect failed: {exc!r}"}
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(src.answered), 10)
    out: dict = {"mount": args.mount, "content_type": args.content_type, "answer": src.statuses[0] if src.statuses else "none"}
    listener = Holder(b"GET %s HTTP/1.0\r\nUser-Agent: chaos-garbage-listener\r\n\r\n" % args.mount.encode())
    lt = None
    with contextlib.suppress(OSError, TimeoutError):
        lt, _ = await asyncio.wait_for(loop.create_connection(lambda: listener, HOST, args.port, local_addr=LOCAL), 5)
    sent = 0
    step = max(1, int(args.rate / 4))
    while out["answer"] == "200" and not run.over and not src.lost.done():
        transport.write(rng.randbytes(step))
        sent += step
        await run.sleep(0.25)
    out["bytes_sent"] = sent
    out["dropped_by_server_after_s"] = round(src.lost.result() - run.start, 1) if src.lost.done() else None
    transport.abort()
    out["listener_answer"] = listener.statuses[0] if listener.statuses else "none"
    out["listener_bytes"] = len(listener.buf)
    if lt is not None:
        lt.abort()
    return out


# --- the command line -----------------------------------------------------------------------------

ATTACKS: dict[str, Callable[[argparse.Namespace, Run], Awaitable[dict]]] = {
    "fuzz": fuzz, "slow": slow, "churn": churn, "sse": sse, "flood": flood, "garbage": garbage,
}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("attack", choices=sorted(ATTACKS))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--duration", type=float, required=True, help="seconds; then everything is closed")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=1000, help="requests (fuzz), connections (slow, sse), cycles (churn)")
    p.add_argument("--concurrency", type=int, default=100, help="at most this many at once (fuzz, churn; per target: flood)")
    p.add_argument("--ramp", type=float, default=250, help="new connections per second (slow, sse)")
    p.add_argument("--interval", type=float, default=8, help="seconds between trickled header lines (slow)")
    p.add_argument("--stall-max", type=int, default=300, help="stalled readers held at once (churn)")
    p.add_argument("--mount", default="/live", help="garbage: the mount to feed")
    p.add_argument("--content-type", default="audio/mpeg", help="garbage: the source's Content-Type")
    p.add_argument("--rate", type=float, default=16000, help="garbage: bytes per second")
    p.add_argument("--password", default=PASSWORD.decode(), help="garbage: the source password")
    p.add_argument("--nice", type=int, default=0, help="lower this worker's CPU priority by N")
    return p


async def main(args: argparse.Namespace) -> None:
    run = Run(args.duration)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, run.stop.set)
    global LOCAL
    LOCAL = (SOURCE_ADDRESS.get(args.attack, HOST), 0)
    emit("start", attack=args.attack)
    result = await ATTACKS[args.attack](args, run)
    emit("result", attack=args.attack, **result)


if __name__ == "__main__":
    arguments = parser().parse_args()
    raise_nofile()
    if arguments.nice:
        os.nice(arguments.nice)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(arguments))
    else:
        uvloop.run(main(arguments))
