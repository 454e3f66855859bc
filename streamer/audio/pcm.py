"""PCM arithmetic for fades and crossfades (pure: bytes in, bytes out).

Signed 16-bit little-endian interleaved samples, as the decoders produce. numpy does the
per-sample work: a 2 s crossfade is 176,400 samples, too many for a Python loop on the
event loop.
"""

from __future__ import annotations

import numpy as np


def frames(pcm: bytes, channels: int) -> int:
    return len(pcm) // (2 * channels)


def ramp(pcm: bytes, channels: int, gain_from: float, gain_to: float) -> bytes:
    """Scale the samples by a gain going linearly from `gain_from` to `gain_to`."""
    n = frames(pcm, channels)
    if n == 0 or gain_from == gain_to == 1.0:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2").reshape(n, channels).astype(np.float32)
    gains = np.linspace(gain_from, gain_to, n, endpoint=False, dtype=np.float32)[:, None]
    return _to_pcm(samples * gains)


def mix(a: bytes, b: bytes) -> bytes:
    """Sum two PCM runs (the longer one's tail is kept), clipping instead of wrapping."""
    if len(a) < len(b):
        a, b = b, a
    x = np.frombuffer(a, dtype="<i2").astype(np.int32)
    y = np.frombuffer(b, dtype="<i2").astype(np.int32)
    x[: len(y)] += y
    return _to_pcm(x)


def _to_pcm(values: np.ndarray) -> bytes:
    return np.clip(np.rint(values), -32768, 32767).astype("<i2").tobytes()
