"""Fades, crossfades and cuts as pure functions on the station's PCM (pcm.py: float, interleaved).

The feeder holds back the end of each track so it can shape it: fade it out, keep its last
`crossfade` seconds to mix under the next track's start, or stop it at the exact sample of a
hard event after a fade that ends there. These functions do the sample arithmetic; the
feeder only decides when to call them.
"""

from __future__ import annotations

import math

from ..schedule.model import Fades
from .pcm import frame_bytes, mix, ramp

# At most this share of an item's aired length is faded or overlapped: under a block's 5 s
# crossfade a 5 s ident aired wholly under the next song (its title shown for 80 ms).
SHARE = 0.25


def fade_in(chunk: bytes, offset: int, length: int, channels: int) -> bytes:
    """`chunk` starts `offset` bytes into a track whose first `length` bytes fade in from 0."""
    if offset >= length or length <= 0:
        return chunk
    return ramp(chunk, channels, offset / length, min(1.0, (offset + len(chunk)) / length))


def faded_out(pcm: bytes, channels: int) -> bytes:
    """The whole of `pcm` faded from full level to silence."""
    return ramp(pcm, channels, 1.0, 0.0)


def fitted(fades: Fades, length: float | None, tail: bytes, rate: int, channels: int, hard: bool) -> tuple[Fades, bytes]:
    """An item's fades fitted to its aired `length` (None: unknown), and the previous item's
    faded ending (`tail`) to mix under its start, shortened (still ending in silence) when the
    item is short. It fades in over that ending; a hard event starts at full level otherwise."""
    most = length * SHARE if length else math.inf
    frame = frame_bytes(channels)
    head = tail if len(tail) // frame <= most * rate else faded_out(tail[: int(most * rate) * frame], channels)
    fade_in = max(0.0 if hard else min(fades.fade_in, most), len(head) // frame / rate)
    return Fades(min(fades.crossfade, most), fade_in, min(fades.fade_out, most)), head


def mix_under(chunk: bytes, head: bytes) -> tuple[bytes, bytes]:
    """Mix as much of `head` (an ending, faded out) under `chunk` as it covers: (chunk, rest of head)."""
    if not head:
        return chunk, head
    n = min(len(chunk), len(head))
    return mix(head[:n], chunk[:n]) + chunk[n:], head[n:]


def ending(body: bytes, fade_frames: int, keep_frames: int, channels: int) -> tuple[bytes, bytes]:
    """A track's held-back ending: its last `fade_frames` faded out, then split into what is fed
    now and its last `keep_frames` (the crossfade), kept to mix under the next track."""
    frame = frame_bytes(channels)
    n = len(body) // frame
    k = min(n, fade_frames)
    if k:
        split = (n - k) * frame
        body = body[:split] + ramp(body[split:], channels, 1.0, 0.0)
    keep = min(n, keep_frames) * frame
    return body[: len(body) - keep], body[len(body) - keep :]


def shape_for_cut(pcm: bytes, first: int, cut: int, fade_frames: int, channels: int) -> tuple[bytes, bool]:
    """PCM starting at station sample `first`, faded out over `fade_frames` so it reaches silence
    exactly at sample `cut` and stops there: (what to feed, whether the cut was reached)."""
    frame = frame_bytes(channels)
    last = first + len(pcm) // frame
    fade_start = cut - fade_frames
    if first >= cut:
        return b"", True
    if last > fade_start and fade_frames > 0:
        a, b = max(first, fade_start), min(last, cut)
        before = pcm[: (a - first) * frame]
        during = pcm[(a - first) * frame : (b - first) * frame]
        after = pcm[(b - first) * frame :]
        pcm = before + ramp(during, channels, 1.0 - (a - fade_start) / fade_frames, 1.0 - (b - fade_start) / fade_frames) + after
    if last >= cut:
        return pcm[: (cut - first) * frame], True
    return pcm, False


class WholeFrames:
    """Cuts a byte stream into whole sample frames, carrying the odd bytes to the next read
    (pipes hand out any number of bytes)."""

    __slots__ = ("_carry", "frame")

    def __init__(self, channels: int) -> None:
        self.frame = frame_bytes(channels)
        self._carry = b""

    def take(self, data: bytes) -> bytes:
        data = self._carry + data
        cut = len(data) - len(data) % self.frame
        self._carry = data[cut:]
        return data[:cut]
