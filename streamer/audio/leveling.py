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
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..library.analysis import CUE_IN_DB, MIN_SILENCE
from ..library.catalog import Entry
from ..library.gain import track_gain
from ..library.tags import TrackInfo
from ..settings import LoudnessConfig
from .pcm import DTYPE, frame_bytes, ramp

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


def first_above(pcm: bytes, channels: int, threshold: float) -> int | None:
    """The first sample frame of `pcm` with a sample over `threshold` (absolute), or None."""
    loud = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype=DTYPE)) > threshold)
    return int(loud[0]) // channels if loud.size else None


def ceiling(loudness: LoudnessConfig) -> float:
    return loudness.true_peak - CODEC_MARGIN


def cues(entry: Entry | None) -> tuple[float, float | None]:
    """Where a file's sound starts and ends (None: at its end), from its analysis."""
    if entry is None or not entry.playable or entry.cue_out <= entry.cue_in:
        return 0.0, None
    return (entry.cue_in if entry.cue_in >= MIN_CUE else 0.0), (entry.cue_out if entry.duration - entry.cue_out >= MIN_CUE else None)


def known_length(entry: Entry | None, info: TrackInfo | None) -> float | None:
    """Seconds a file airs (cue-in to cue-out), from its analysis or the tags read before (None: not known)."""
    duration = entry.duration if entry is not None and entry.duration else info.duration if info is not None else None
    if duration is None:
        return None
    return aired_span(duration, *cues(entry))


def aired_span(duration: float, start: float, end: float | None) -> float:
    """Seconds of a `duration`-second file that air from its cue-in `start` to its cue-out `end`."""
    return max(0.0, (duration if end is None else min(end, duration)) - start)


def level_for(entry: Entry | None, info: TrackInfo | None, loudness: LoudnessConfig) -> Level:
    """The Level for a file: from its analysis, else from its ReplayGain/R128 tags, else unity."""
    start, end = cues(entry)
    mono = entry is not None and entry.channels == 1
    if not loudness.enabled:
        return Level(0.0, start, end, "off", mono)
    top = ceiling(loudness)
    if entry is not None and entry.playable and entry.integrated is not None:
        peak = entry.true_peak if entry.true_peak is not None else -math.inf
        return Level(round(track_gain(entry.integrated, peak, loudness.target, top, loudness.max_gain), 2), start, end, "analysis", mono)
    if info is not None and info.tag_loudness is not None:
        return Level(round(track_gain(*info.tag_loudness, loudness.target, top, loudness.max_gain), 2), start, end, "tags", mono)
    return Level(0.0, start, end, "none", mono)


class LateLevel:
    """The level of a file that began to air before its analysis was done: the first track after
    a start when its analysis takes over FIRST_ANALYSIS, or a file new to the library on a busy
    machine. When the analysis comes in mid-track, from the next chunk on (pure: PCM in, PCM out):

    - the track ends at its cue-out, so its silent end is not aired (past the cue-out it is all
      under CUE_OUT_DB: ending a little after it costs nothing a listener hears);
    - its gain moves to the analysed one at MAX_SLEW dB a second, on top of its decoder's (a
      step would be heard).

    Its cue-in cannot wait for the analysis: a leading silence is found here, by the analysis's
    own rule (every sample under CUE_IN_DB, at the decoder's gain, for MIN_SILENCE or longer,
    from the first sample), and not aired; the sound then starts at the first sample over it.
    """

    def __init__(self, level: Level, analysed: Callable[[], Level | None], rate: int, channels: int) -> None:
        self.level = level  # what the track airs at: its decoder's level, then the analysed one
        self._decoder = level  # what its decoder applies (gain, and the cue-in it started at)
        self._analysed = analysed  # the file's analysed Level, None until the library has its row
        self._rate, self._channels, self._frame = rate, channels, frame_bytes(channels)
        self.end: int | None = None  # bytes into the decoder's output where the track ends (its cue-out)
        self.gain_db = 0.0  # applied here, on top of the decoder's gain
        self.goal_db = 0.0
        # Looking for the sound's start: the cue-in threshold as the decoder's output has it
        # (None once found, or for a decoder that starts at a cue-in of its own).
        self._quiet: float | None = 10 ** ((CUE_IN_DB + level.gain_db) / 20) if level.start == 0 else None
        self._held = b""  # silence from the first sample, shorter than MIN_SILENCE so far: it may yet air
        self.skipped = 0  # bytes of leading silence not aired
        self._found = False  # the analysis is in

    @property
    def waiting(self) -> bool:
        return not self._found

    @property
    def looking(self) -> bool:
        """Still looking for where the sound starts (the decoder's chunks so far are silence)."""
        return self._quiet is not None

    def seconds(self, size: int) -> float:
        """Seconds of audio in `size` bytes of PCM."""
        return size / (self._frame * self._rate)

    def apply(self, chunk: bytes, offset: int) -> bytes | None:
        """The decoder's `chunk`, which starts `offset` bytes into its output, as it airs; None
        once the track is past its cue-out; b"" for leading silence, which does not air."""
        if self.waiting and (found := self._analysed()) is not None:
            self._take(found)
        if self._quiet is not None:
            chunk = self._sound(chunk)
            if not chunk:
                return b""
        offset += self.skipped  # where `chunk` starts in the decoder's output
        if self.end is not None:
            if offset >= self.end:
                return None
            chunk = chunk[: self.end - offset]
        if self.gain_db == self.goal_db == 0.0:
            return chunk
        start, step = self.gain_db, MAX_SLEW * self.seconds(len(chunk))
        self.gain_db += max(-step, min(step, self.goal_db - self.gain_db))
        return ramp(chunk, self._channels, 10 ** (start / 20), 10 ** (self.gain_db / 20))

    def _sound(self, chunk: bytes) -> bytes:
        """What of `chunk` airs while the sound's start is looked for: b"" while all is silence."""
        assert self._quiet is not None
        held = self._held + chunk
        first = first_above(held, self._channels, self._quiet)
        silent = len(held) if first is None else first * self._frame
        if self.skipped == 0 and self.seconds(silent) < MIN_SILENCE:  # too short to be a leading silence
            self._held = held if first is None else b""
            silent = 0
        else:
            self._held = b""
            self.skipped += silent
        if first is not None:
            self._quiet = None
            self.level = replace(self.level, start=self._decoder.start + self.seconds(self.skipped))
        return b"" if first is None else held[silent:]

    def _take(self, found: Level) -> None:
        # The cue-in found here, not the analysis's: what was aired is what status tells.
        self._found = True
        self.level = replace(found, start=self._decoder.start + self.seconds(self.skipped))
        if found.basis == "analysis":
            self.goal_db = found.gain_db - self._decoder.gain_db
        if found.end is not None:
            self.end = max(0, round((found.end - self._decoder.start) * self._rate)) * self._frame


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
