"""Who may change the station: failed-login throttling per client address, and the
same-site rule for state-changing web requests. Pure: times and header values in, decisions out.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

WINDOW = 60.0  # seconds over which failed logins are counted
FREE_FAILURES = 5  # typos are free: no delay for the first few
MAX_DELAY = 2.0  # seconds an answer to a failed login is held back, at most
LOCKOUT_AFTER = 10  # failures in WINDOW after which the address is refused outright
LOCKOUT = 60.0  # seconds the refusal lasts
MAX_ADDRESSES = 10_000  # addresses remembered (oldest forgotten first): bounded memory


@dataclass(slots=True)
class _Record:
    failures: list[float]
    locked_until: float = 0.0


class LoginGuard:
    """Failed logins are counted per client address. Each failure past the first few is answered
    later and later (up to MAX_DELAY), and an address that keeps failing is refused for a while,
    so a password cannot be guessed at thousands of tries a second."""

    def __init__(self) -> None:
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def locked(self, address: str, now: float) -> float:
        """Seconds this address is still refused (0: it may try)."""
        record = self._records.get(address)
        return max(0.0, record.locked_until - now) if record else 0.0

    def failed(self, address: str, now: float) -> tuple[float, int]:
        """Count a failure: (seconds to hold the answer back, failures in the window)."""
        record = self._records.pop(address, None) or _Record([])
        self._records[address] = record  # most recent last
        record.failures = [t for t in record.failures if now - t < WINDOW] + [now]
        count = len(record.failures)
        if count >= LOCKOUT_AFTER:
            record.locked_until = now + LOCKOUT
        while len(self._records) > MAX_ADDRESSES:
            self._records.popitem(last=False)
        extra = count - FREE_FAILURES
        return (min(MAX_DELAY, 0.25 * 2 ** (extra - 1)) if extra > 0 else 0.0), count

    def succeeded(self, address: str) -> None:
        self._records.pop(address, None)


def cross_site(method: str, headers: dict[str, str], hosts: tuple[str, ...]) -> str | None:
    """Why a request that changes something must be refused as cross-site, or None.

    Browsers say where a request comes from: `Sec-Fetch-Site` (Chromium, Firefox, Safari) and
    `Origin` (on POST/DELETE, and on cross-origin fetches). A form on another site posting to us
    with the browser's cached Basic credentials carries one of them; curl, source clients and
    Icecast tools send neither and are judged by their credentials alone. `hosts` are the
    names this server answers to (the request's Host, and the public URL's behind a proxy).
    """
    site = headers.get("sec-fetch-site", "").lower()
    if site and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin", "")
    if origin and origin != "null":
        netloc = urlsplit(origin).netloc.lower()
        if netloc not in {h.lower() for h in hosts if h}:
            return f"cross-site request refused (Origin {origin[:100]} is not this server)"
    elif origin == "null" and method not in ("GET", "HEAD", "OPTIONS"):
        return "cross-site request refused (Origin: null)"
    return None
