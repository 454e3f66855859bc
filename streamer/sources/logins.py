"""Failed logins, counted per client address (pure: times in, decisions out): for source
clients at the door and for the web side's admin API alike."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

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
        return _delay(count), count

    def delay(self, address: str, now: float) -> float:
        """How long a failure from `address` would be held back now, without counting one: for
        an answer that must not be told from a failure by its timing."""
        record = self._records.get(address)
        return _delay(1 + len([t for t in record.failures if now - t < WINDOW]) if record else 1)

    def succeeded(self, address: str) -> None:
        """A good login forgets nothing: failures leave the count only as they age out of WINDOW.
        (Forgetting them let one account's known password, a partner's relay login, reset the
        count between guesses at another: unlimited guesses at full speed.)"""


def _delay(count: int) -> float:
    """Seconds to hold back the answer to the `count`th failure in the window."""
    extra = count - FREE_FAILURES
    return min(MAX_DELAY, 0.25 * 2 ** (extra - 1)) if extra > 0 else 0.0
