"""Test listeners for the history tests (and bench/history.py): real sockets that read like a
player and note what they heard (each ICY title with the time it arrived, the audio bytes),
a listener that stops reading until it is evicted, and the plays-vs-ICY bookkeeping."""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass, field

from streamer.wire.icy import IcyReader


@dataclass
class Heard:
    name: str
    mount: str
    connected: float = 0.0
    answered: float = 0.0  # the response head arrived (the server starts a session between the two)
    closed: float = 0.0
    audio: int = 0
    titles: list[tuple[float, str]] = field(default_factory=list)  # (arrival, title) at each change
    ended_by_server: bool = False

    def runs(self) -> list[str]:
        return [t for _, t in self.titles]


class Ear(threading.Thread):
    """A player: reads the stream with ICY metadata until told to leave or the server closes."""

    def __init__(self, port: int, mount: str, name: str, referer: str = "") -> None:
        super().__init__(daemon=True)
        self.port, self.heard, self.referer = port, Heard(name, mount), referer
        self._leave = threading.Event()
        self.sock: socket.socket | None = None

    def run(self) -> None:
        h = self.heard
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock = s
        h.connected = time.time()
        referer = f"Referer: {self.referer}\r\n" if self.referer else ""
        s.sendall(f"GET {h.mount} HTTP/1.1\r\nHost: x\r\nUser-Agent: {h.name}\r\nIcy-MetaData: 1\r\n{referer}\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        h.answered = time.time()
        head, _, body = buf.partition(b"\r\n\r\n")
        metaint = int(re.search(rb"icy-metaint:\s*(\d+)", head, re.I).group(1))
        reader = IcyReader(metaint)
        s.settimeout(0.1)
        chunk = body
        while True:
            audio, blocks = reader.feed(chunk)
            h.audio += len(audio)
            for _, fields in blocks:
                title = fields.get("StreamTitle", "")
                if title and (not h.titles or h.titles[-1][1] != title):
                    h.titles.append((time.time(), title))
            if self._leave.is_set():
                break
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                chunk = b""
                continue
            except OSError:
                h.ended_by_server = True
                break
            if not chunk:
                h.ended_by_server = True
                break
        h.closed = time.time()
        s.close()

    def leave(self) -> Heard:
        self._leave.set()
        self.join(5)
        return self.heard


class Staller(threading.Thread):
    """Connects, then reads nothing: the server must evict it. Notes when it did, and how many
    bytes of audio had reached it (its receive buffer, read once it is dropped)."""

    def __init__(self, port: int, mount: str, name: str) -> None:
        super().__init__(daemon=True)
        self.port, self.heard = port, Heard(name, mount)

    def run(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.port))
        self.heard.connected = time.time()
        s.sendall(f"GET {self.heard.mount} HTTP/1.1\r\nHost: x\r\nUser-Agent: {self.heard.name}\r\n\r\n".encode())
        # Its window is shut, so no FIN or RST gets through: it learns it was dropped from the
        # server's list of listeners (Icecast's listclients), as an operator would.
        deadline = time.time() + 120
        time.sleep(0.5)
        while time.time() < deadline:
            if f"<UserAgent>{self.heard.name}</UserAgent>" not in admin_get(self.port, f"/admin/listclients?mount={self.heard.mount}"):
                break
            time.sleep(0.05)
        self.heard.closed = time.time()
        self.heard.ended_by_server = True
        self.heard.audio = len(self._drain(s).partition(b"\r\n\r\n")[2])  # what reached it after the head
        s.close()

    @staticmethod
    def _drain(s: socket.socket) -> bytes:
        """What sits in its receive buffer, read now (a reset ends it)."""
        s.setblocking(False)
        got = b""
        while True:
            try:
                data = s.recv(65536)
            except OSError:  # would block (all read), or reset by the server
                return got
            if not data:
                return got
            got += data


def admin_get(port: int, path: str, user: str = "admin", password: str = "hackme") -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.read().decode()


def kill_client(port: int, mount: str, user_agent: str) -> None:
    """Icecast's killclient for the listener whose user agent is `user_agent`."""
    clients = admin_get(port, f"/admin/listclients?mount={mount}")
    for block in re.findall(r"<listener>(.*?)</listener>", clients, re.S):
        if f"<UserAgent>{user_agent}</UserAgent>" in block:
            ident = re.search(r"<ID>(\d+)</ID>", block).group(1)
            admin_get(port, f"/admin/killclient?mount={mount}&id={ident}")
            return
    raise AssertionError(f"no listener {user_agent} on {mount}: {clients}")


def wait_change(ear: Ear, count: int, timeout: float = 30) -> float:
    """Wait until `ear` has seen `count` titles; the arrival time of the last."""
    deadline = time.time() + timeout
    while len(ear.heard.titles) < count:
        assert time.time() < deadline, f"{ear.heard.name} saw only {ear.heard.titles}"
        time.sleep(0.02)
    return ear.heard.titles[count - 1][0]
