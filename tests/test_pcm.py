import numpy as np

from streamer.audio.pcm import mix, ramp


def pcm(values) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def samples(data: bytes) -> list[int]:
    return np.frombuffer(data, dtype="<i2").tolist()


def test_ramp_scales_each_frame_of_both_channels():
    out = samples(ramp(pcm([1000, -1000] * 4), 2, 1.0, 0.0))
    assert out == [1000, -1000, 750, -750, 500, -500, 250, -250]
    assert ramp(b"", 2, 1.0, 0.0) == b""
    assert ramp(pcm([5, 6]), 1, 1.0, 1.0) == pcm([5, 6])


def test_mix_clips_instead_of_wrapping_and_keeps_the_longer_tail():
    out = samples(mix(pcm([30000, -30000, 1]), pcm([10000, -10000])))
    assert out == [32767, -32768, 1]
