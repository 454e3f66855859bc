"""One loudness on air: each track's gain and cue points from the library, and a slow automatic
gain for live DJs (pure: values and PCM in, values and PCM out).

A file's gain is `target - integrated loudness`, capped (gain.py); the decoder applies it in
float, the track starts at its cue-in and ends at its cue-out, and the true-peak limiter at the
output (output.py) keeps the stream under the ceiling whatever the gains and crossfades sum to.
The ceiling is set CODEC_MARGIN under the configured true peak: lossy encoders add overshoot
of their own (measured on /main at 128 kbit/s MP3, see README), and the promise is about the
stream the listener decodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..library.catalog import Entry
from ..library.gain import track_gain
from ..library.tags import TrackInfo
from ..settings import LoudnessConfig
from .pcm import DTYPE

CODEC_MARGIN = 1.0  # dB between the configured true peak and the limiter's ceiling (encoder overshoot)
MIN_CUE = 0.05  # s: a cue closer than this to the file's start or end is not worth a seek or a cut


@dataclass(frozen=True, slots=True)
class Level:
    """How one file is aired: its gain, and where its sound starts and ends."""

    gain_db: float = 0.0
    start: float = 0.0  # s into the file (cue-in)
    end: float | None = None  # s into the file (cue-out); None: to its end
    basis: str = "none"  # analysis | tags | none | off: where the gain came from (status)
    mono: bool = False  # the analysis found one channel: aired on both speakers at full level, as measured


def ceiling(loudness: LoudnessConfig) -> float:
    return loudness.true_peak - CODEC_MARGIN


def level_for(entry: Entry | None, info: TrackInfo | None, loudness: LoudnessConfig) -> Level:
    """The Level for a file: from its analysis, else from its ReplayGain/R128 tags, else unity."""
    start, end = 0.0, None
    mono = entry is not None and entry.channels == 1
    if entry is not None and entry.playable and entry.cue_out > entry.cue_in:
        start = entry.cue_in if entry.cue_in >= MIN_CUE else 0.0
        end = entry.cue_out if entry.duration - entry.cue_out >= MIN_CUE else None
    if not loudness.enabled:
        return Level(0.0, start, end, "off", mono)
    top = ceiling(loudness)
    if entry is not None and entry.playable and entry.integrated is not None:
        peak = entry.true_peak if entry.true_peak is not None else -math.inf
        return Level(round(track_gain(entry.integrated, peak, loudness.target, top, loudness.max_gain), 2), start, end, "analysis", mono)
    if info is not None and info.tag_loudness is not None:
        return Level(round(track_gain(*info.tag_loudness, loudness.target, top, loudness.max_gain), 2), start, end, "tags", mono)
    return Level(0.0, start, end, "none", mono)


# --- live DJs -------------------------------------------------------------------------------------

GATE_DB = -50.0  # dBFS mean square: quieter chunks (pauses, silence) leave the gain where it is
MEMORY = 3.0  # s: the level the gain follows is averaged over about this long
MAX_SLEW = 2.0  # dB per second the gain moves at most: no pumping
RMS_TO_LUFS = -0.7  # a programme's RMS level (dBFS) reads about this much higher in LUFS (K-weighting, measured on speech and music)


class SlowGain:
    """A DJ's level brought slowly toward the target: the gain follows a gated, averaged level,
    moving at most MAX_SLEW dB a second, never above max_gain, and not at all on silence."""

    def __init__(self, rate: int, channels: int, loudness: LoudnessConfig) -> None:
        self.rate = rate
        self.channels = channels
        self.target = loudness.target
        self.max_gain = loudness.max_gain
        self.gain_db = 0.0
        self.level_db: float | None = None  # the averaged level (LUFS estimate)

    def process(self, pcm: bytes) -> bytes:
        samples = np.frombuffer(pcm, dtype=DTYPE)
        n = len(samples) // self.channels
        if n == 0:
            return pcm
        seconds = n / self.rate
        power = float(np.mean(np.square(samples, dtype=np.float64)))
        start = self.gain_db
        if power > 0 and 10 * math.log10(power) > GATE_DB:
            level = 10 * math.log10(power) + RMS_TO_LUFS
            weight = min(1.0, seconds / MEMORY)
            self.level_db = level if self.level_db is None else self.level_db + weight * (level - self.level_db)
            wanted = min(self.max_gain, self.target - self.level_db)
            step = MAX_SLEW * seconds
            self.gain_db += max(-step, min(step, wanted - self.gain_db))
        if start == self.gain_db == 0.0:
            return pcm
        gains = 10 ** (np.linspace(start, self.gain_db, n, endpoint=False, dtype=np.float32) / 20)
        return (samples.reshape(n, self.channels) * gains[:, None]).astype(DTYPE).tobytes()
