import numpy as np

from streamer.audio.pcm import from_s16, mix, ramp, to_s16


def pcm(values) -> bytes:
    return np.array(values, dtype="<f4").tobytes()


def samples(data: bytes) -> list[float]:
    return np.frombuffer(data, dtype="<f4").tolist()


def test_ramp_scales_each_frame_of_both_channels():
    out = samples(ramp(pcm([0.5, -0.5] * 4), 2, 1.0, 0.0))
    assert out == [0.5, -0.5, 0.375, -0.375, 0.25, -0.25, 0.125, -0.125]
    assert ramp(b"", 2, 1.0, 0.0) == b""
    assert ramp(pcm([5, 6]), 1, 1.0, 1.0) == pcm([5, 6])


def test_mix_keeps_what_passes_full_scale_for_the_limiter_and_the_longer_tail():
    out = samples(mix(pcm([0.75, -0.75, 0.25]), pcm([0.5, -0.5])))
    assert out == [1.25, -1.25, 0.25]  # float: the sum is kept whole; the output's limiter brings it under the ceiling
    assert samples(mix(pcm([0.5]), pcm([0.25, 0.125]))) == [0.75, 0.125]


def test_sixteen_bit_pcm_both_ways_clipped_at_full_scale():
    s16 = np.array([0, 16384, -32768, 32767], dtype="<i2").tobytes()
    assert samples(from_s16(s16)) == [0.0, 0.5, -1.0, 32767 / 32768]
    assert to_s16(from_s16(s16)) == s16
    assert np.frombuffer(to_s16(pcm([1.5, -2.0])), dtype="<i2").tolist() == [32767, -32768]
