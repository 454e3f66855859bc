"""The station's PCM and the arithmetic for fades and crossfades (pure: bytes in, bytes out).

32-bit float little-endian interleaved samples (full scale 1.0), as the decoders produce:
a track's loudness gain can push its peaks past full scale and a crossfade can sum two loud
endings, and float carries both without clipping to the true-peak limiter at the output,
which brings everything under the ceiling before the encoders. numpy does the per-sample
work: a 2 s crossfade is 176,400 samples, too many for a Python loop on the event loop.
"""

from __future__ import annotations

import numpy as np

SAMPLE_FORMAT = "f32le"  # ffmpeg's name for it (-f), and pcm_f32le its codec
SAMPLE_BYTES = 4
DTYPE = np.dtype("<f4")


def frame_bytes(channels: int) -> int:
    """Bytes per sample frame (one sample for each channel)."""
    return SAMPLE_BYTES * channels


def frames(pcm: bytes, channels: int) -> int:
    return len(pcm) // frame_bytes(channels)


def ramp(pcm: bytes, channels: int, gain_from: float, gain_to: float) -> bytes:
    """Scale the samples by a gain going linearly from `gain_from` to `gain_to`."""
    n = frames(pcm, channels)
    if n == 0 or gain_from == gain_to == 1.0:
        return pcm
    samples = np.frombuffer(pcm, dtype=DTYPE, count=n * channels).reshape(n, channels)
    gains = np.linspace(gain_from, gain_to, n, endpoint=False, dtype=np.float32)[:, None]
    return (samples * gains).astype(DTYPE).tobytes()


def mix(a: bytes, b: bytes) -> bytes:
    """Sum two PCM runs (the longer one's tail is kept); the limiter takes what passes full scale."""
    if len(a) < len(b):
        a, b = b, a
    x = np.frombuffer(a, dtype=DTYPE).copy()
    x[: len(b) // SAMPLE_BYTES] += np.frombuffer(b, dtype=DTYPE)
    return x.tobytes()


def to_s16(pcm: bytes) -> bytes:
    """Station PCM as signed 16-bit (clipped at full scale): for WAV files and tests."""
    return np.clip(np.rint(np.frombuffer(pcm, dtype=DTYPE) * 32768.0), -32768, 32767).astype("<i2").tobytes()


def from_s16(pcm: bytes) -> bytes:
    """Signed 16-bit PCM as station PCM."""
    return (np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0).astype(DTYPE).tobytes()
