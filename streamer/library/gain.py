"""The gain that airs a track at the station's loudness: from its analysis, or, for a file not
analysed yet, from its ReplayGain / R128 tags."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

LIMITER_ROOM = 3.0  # dB of true-peak over the ceiling left to the look-ahead limiter (see track_gain)
REPLAYGAIN_REFERENCE = -18.0  # LUFS: ReplayGain 2.0's reference loudness
R128_REFERENCE = -23.0  # LUFS: Opus R128_*_GAIN tags are relative to EBU R128's target


def track_gain(
    integrated: float,
    true_peak: float,
    target: float = -16.0,
    ceiling: float = -1.0,
    max_gain: float = 12.0,
    limiter_room: float = LIMITER_ROOM,
) -> float:
    """The gain (dB) that airs a track at `target` LUFS: `target - integrated`, at most `max_gain`
    (which also covers near-silent tracks), and lowered where the true peak after the gain
    would pass `ceiling` by more than `limiter_room`.

    The limiter takes small overs (up to LIMITER_ROOM = 3 dB of gain reduction on transients,
    about as much as a look-ahead limiter takes before it is heard), so peaky tracks still
    reach the target; bigger overs are taken off the whole track instead.
    """
    gain = min(target - integrated, max_gain) if math.isfinite(integrated) else max_gain
    if math.isfinite(true_peak):
        gain = min(gain, ceiling + limiter_room - true_peak)
    return gain


def replaygain_to_gain(
    tags: Mapping[str, object],
    target: float = -16.0,
    ceiling: float = -1.0,
    max_gain: float = 12.0,
    limiter_room: float = LIMITER_ROOM,
) -> float | None:
    """A track's gain (dB) from its tags, for a file not analysed yet: Opus `R128_TRACK_GAIN`
    (Q7.8 dB relative to -23 LUFS) or ReplayGain `replaygain_track_gain` (relative to -18 LUFS,
    with `replaygain_track_peak` as the peak), converted to `target` and capped as track_gain
    does. None when the tags say nothing usable. Keys in any case, also as mutagen spells them
    for ID3 (`TXXX:REPLAYGAIN_TRACK_GAIN`) and MP4 (`----:com.apple.iTunes:replaygain_track_gain`)."""
    measured = tag_loudness(tags)
    if measured is None:
        return None
    return track_gain(*measured, target, ceiling, max_gain, limiter_room)


def tag_loudness(tags: Mapping[str, object]) -> tuple[float, float] | None:
    """(integrated loudness in LUFS, peak in dB) as a file's R128 / ReplayGain tags give them
    (see replaygain_to_gain); the peak is -inf when the tags do not say."""
    values = {key.rsplit(":", 1)[-1].strip().lower(): value for key, value in tags.items()}
    r128 = _number(values.get("r128_track_gain"))
    replaygain = _number(values.get("replaygain_track_gain"))
    if r128 is not None:
        loudness = R128_REFERENCE - r128 / 256
    elif replaygain is not None:
        loudness = REPLAYGAIN_REFERENCE - replaygain
    else:
        return None
    peak = _number(values.get("replaygain_track_peak")) if r128 is None else None
    return loudness, 20 * math.log10(peak) if peak is not None and peak > 0 else -math.inf


_NUMBER = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))")


def _number(value: object) -> float | None:
    """The number at the start of a tag value ("-7.89 dB", b"-512", ["0.98"], an ID3 frame)."""
    if hasattr(value, "text"):  # mutagen ID3 frames carry a list of strings
        value = value.text
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    found = _NUMBER.match(value.replace("\u2212", "-"))
    number = float(found.group(1)) if found else None
    return number if number is not None and math.isfinite(number) else None
