"""An upstream server's http:// URL, checked once when the config is read (so `streamer check`
names a bad one at its line), and the request a relay sends it (pure). Its password never
leaves this module except in the Authorization header: logs and status pages show `safe`.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    user: str = ""
    password: str = ""
    withheld: bool = False  # a redirect from another server brought us here: its login was not sent

    @property
    def safe(self) -> str:
        """The URL as logs and status pages show it: a password is never shown."""
        login = f"{self.user}:***@" if self.password else (f"{self.user}@" if self.user else "")
        path, mark, _ = self.target.partition("?")
        return f"http://{login}{self.host_header}{path}{'?…' if mark else ''}"  # (a query may hold a token)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == 80 else f"{host}:{self.port}"

    def request(self, agent: str) -> bytes:
        lines = [f"GET {self.target} HTTP/1.0", f"Host: {self.host_header}", "Icy-MetaData: 1", f"User-Agent: {agent}"]
        if self.user or self.password:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            lines.append(f"Authorization: Basic {token}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_upstream(url: str) -> Upstream:
    """An http:// stream URL, or ValueError saying what is wrong with it (password hidden)."""
    shown = redact(url)
    if not url.lower().startswith("http://"):
        raise ValueError(f"must be an http:// stream URL, not {shown!r}")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError(f"{shown!r} has a space or a control character in it")
    bracketed = "the host in [ ] must be an IPv6 address, closed, like http://[::1]:8000/stream"
    try:
        parts = urlsplit(url)
    except ValueError:  # (Python's own words: "Invalid IPv6 URL")
        raise ValueError(f"{shown!r}: {bracketed}") from None
    host_port = parts.netloc.rpartition("@")[2]
    if host_port.startswith("[") and not re.fullmatch(r"\[[^\]]*\](:[^:]*)?", host_port):  # (urlsplit drops "x" in "[::1]x:80")
        raise ValueError(f"{shown!r}: {bracketed}, then nothing but :port")
    if not host_port.startswith("[") and host_port.count(":") > 1:
        raise ValueError(f"{shown!r}: an IPv6 address goes in [ ], like http://[::1]:8000/stream")
    try:
        port = 80 if parts.port is None else parts.port
    except ValueError:
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{shown!r} names no host (like http://host:8000/stream)")
    if port == 0:
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Upstream(parts.hostname, port, target, unquote(parts.username or ""), unquote(parts.password or ""))


def next_upstream(current: Upstream, url: str) -> Upstream:
    """Where a redirect or playlist sends us. The login goes along to the same host and port only
    (as curl does), so a redirect cannot make us give our password to another server."""
    after = parse_upstream(url)
    same_place = (after.host, after.port) == (current.host, current.port)
    if same_place and not (after.user or after.password):
        after = replace(after, user=current.user, password=current.password, withheld=current.withheld)
    elif not same_place and (current.user or current.password) and not (after.user or after.password):
        after = replace(after, withheld=True)
    return after


_LOGIN = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s'\"]*):[^/@\s'\"]*@")
_QUERY = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^?\s'\"]*)\?[^\s'\"]*")


def redact(text: str) -> str:
    """`text` (a URL, or a message holding URLs) with every URL's password replaced by *** and
    its query, which may hold a token, by ?… (as `Upstream.safe` shows them)."""
    return _QUERY.sub("\\1?…", _LOGIN.sub(r"\1:***@", text))
