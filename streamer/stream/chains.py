"""Where each Ogg chain's header pages are in a mount's stream, so a listener who joins late is
sent the headers of the chain its burst begins in (pure bookkeeping on stream offsets).

An Ogg stream is a run of chains, each starting with header pages (identification, comments,
setup) that a decoder needs before any audio page of that chain. A burst may begin in the
middle of one chain and run into the next: the listener then needs that first chain's headers
ahead of it, and gets the next chain's headers in the burst itself.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

KEEP = 16  # chains remembered (more than a buffer's worth of track changes)


@dataclass(slots=True)
class Chain:
    start: int  # stream offset of its first header page
    end: int | None = None  # offset just past its last header page (None: not all in yet)
    headers: bytes = b""


class Chains:
    def __init__(self) -> None:
        self.chains: deque[Chain] = deque(maxlen=KEEP)

    def reset(self) -> None:
        self.chains.clear()

    def begin(self, offset: int) -> None:
        """A chain's header pages start at `offset`."""
        self.chains.append(Chain(offset))

    def headers_done(self, headers: bytes, end: int) -> None:
        """The current chain's header pages are all in, ending at `end`."""
        if not self.chains or self.chains[-1].end is not None:
            self.chains.append(Chain(end - len(headers)))
        chain = self.chains[-1]
        chain.end, chain.headers = end, headers

    @property
    def current(self) -> Chain | None:
        return self.chains[-1] if self.chains else None

    def listen_start(self, start: int, base: int) -> tuple[int, bytes]:
        """Where a listener whose burst would begin at `start` starts, and what it gets first."""
        if not self.chains:
            return start, b""
        chain = next((c for c in reversed(self.chains) if c.start <= start), None)
        if chain is None:  # before every chain we know of: begin at the first one's headers
            first = self.chains[0]
            return (first.start, b"") if first.start >= base else (start, b"")
        if chain.end is None or start < chain.end:  # inside the headers: begin at them
            return (chain.start, b"") if chain.start >= base else (start, b"")
        return start, chain.headers
