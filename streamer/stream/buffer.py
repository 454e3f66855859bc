"""The shared buffer of one mount: the last few hundred KB of its stream, plus the titles.

Pure data structure, no I/O. Every listener of a mount reads from this one buffer with its
own absolute position; nothing is copied per listener. Chunks are immutable `bytes` (each
a run of whole frames), so a transport may hold a reference to one safely.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from ..wire.framing import MAX_UNIT, ogg_chain_end
from ..wire.icy import metadata_block


@dataclass(frozen=True, slots=True)
class TitleMark:
    """From byte `offset` of the stream on, `title` is playing."""

    offset: int
    title: str
    block: bytes = field(repr=False)  # precomputed ICY block: built once, sent to everyone


class StreamBuffer:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity  # bytes kept behind the live edge
        self._chunks: list[bytes] = []
        self._starts: list[int] = []
        self.base = 0  # absolute offset of the oldest byte held
        self.end = 0  # absolute offset one past the newest byte
        self._marks: list[TitleMark] = [TitleMark(0, "", metadata_block(""))]
        self._mark_offsets: list[int] = [0]

    def __len__(self) -> int:
        return self.end - self.base

    def append(self, chunk: bytes) -> None:
        """Add a run of whole frames at the live edge, dropping what falls out of capacity."""
        if not chunk:
            return
        self._chunks.append(chunk)
        self._starts.append(self.end)
        self.end += len(chunk)
        drop = 0
        starts = self._starts
        while drop + 1 < len(starts) and self.end - starts[drop + 1] >= self.capacity:
            drop += 1
        if drop:
            del self._chunks[:drop]
            del starts[:drop]
            self.base = starts[0]
            self._trim_marks()

    def _trim_marks(self) -> None:
        # Keep the mark in force at `base` and everything after it.
        keep = bisect_right(self._mark_offsets, self.base) - 1
        if keep > 0:
            del self._marks[:keep]
            del self._mark_offsets[:keep]

    def mark_title(self, offset: int, title: str) -> TitleMark:
        """Record that `title` starts at byte `offset` (at or after the live edge)."""
        marks, offsets = self._marks, self._mark_offsets
        # A title for a spot at or before the last mark replaces it (two changes in a frame).
        while len(marks) > 1 and offsets[-1] >= offset:
            marks.pop()
            offsets.pop()
        mark = TitleMark(max(offset, offsets[-1]), title, metadata_block(title))
        if mark.offset == offsets[-1]:
            marks[-1] = mark
        else:
            marks.append(mark)
            offsets.append(mark.offset)
        return mark

    def mark_at(self, offset: int) -> TitleMark:
        """The title playing at absolute byte `offset`."""
        marks = self._marks
        if offset >= marks[-1].offset:
            return marks[-1]
        return marks[max(0, bisect_right(self._mark_offsets, offset) - 1)]

    def block_at(self, offset: int) -> bytes:
        return self.mark_at(offset).block

    @property
    def title(self) -> str:
        """The title at the live edge."""
        return self.mark_at(self.end).title

    def burst_start(self, size: int) -> int:
        """Where a new listener starts: at a chunk (so frame) boundary, at most `size` back."""
        if not self._starts:
            return self.end
        target = self.end - size
        i = bisect_right(self._starts, target)
        if i > 0 and self._starts[i - 1] == target:
            i -= 1
        return self._starts[i] if i < len(self._starts) else self.end

    def slices(self, start: int, end: int) -> list[memoryview | bytes]:
        """The bytes [start, end) as zero-copy pieces. `start` must be >= base."""
        if start >= end:
            return []
        starts = self._starts
        chunks = self._chunks
        i = len(starts) - 1
        if starts[i] > start:  # not the common live-edge case: search
            i = bisect_right(starts, start) - 1
        out: list[memoryview | bytes] = []
        while start < end:
            chunk = chunks[i]
            lo = start - starts[i]
            hi = min(len(chunk), end - starts[i])
            out.append(chunk if lo == 0 and hi == len(chunk) else memoryview(chunk)[lo:hi])
            start += hi - lo
            i += 1
        return out

    def ogg_chain_end(self, pos: int) -> bytes:
        """The EOS page that ends the Ogg chain of the page ending at `pos` (b"": it has ended, or
        no whole page ends there), for a stream that goes on with another chain (RFC 3533)."""
        if pos <= self.base:
            return b""
        return ogg_chain_end(b"".join(self.slices(max(self.base, pos - MAX_UNIT), pos)))
