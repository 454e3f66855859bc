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


def test_an_item_is_faded_and_overlapped_for_at_most_a_quarter_of_its_length():
    """Under a block's 5 s crossfade a 5 s ident aired wholly under the next song, its title
    shown for 80 ms (found by QA): fades are fitted to the item, and a long previous ending is
    shortened under a short item, still ending in silence."""
    from streamer.audio.shaping import fitted
    from streamer.schedule.model import Fades

    rate, song = 1000, Fades(crossfade=5.0, fade_in=2.0, fade_out=3.0)
    assert fitted(song, 180.0, b"", rate, 2, False) == (song, b"")  # a song keeps them
    assert fitted(song, None, b"", rate, 2, False) == (song, b"")  # so does an item of unknown length
    assert fitted(song, 5.0, b"", rate, 2, False)[0] == Fades(crossfade=1.25, fade_in=1.25, fade_out=1.25)
    tail = ramp(np.ones(5 * rate * 2, dtype="<f4").tobytes(), 2, 1.0, 0.0)  # a song's 5 s ending, faded out
    fades, head = fitted(song, 4.0, tail, rate, 2, False)
    samples = np.frombuffer(head, dtype="<f4")
    assert len(samples) == 1 * rate * 2 and abs(samples[-1]) < 0.01 and samples[0] > 0.9  # 1 s, down to silence
    assert fades.fade_in == 1.0  # the item fades in over the ending under it
    assert fitted(song, 40.0, tail, rate, 2, False)[1] == tail  # a long item takes the whole ending
    assert fitted(song, 40.0, b"", rate, 2, True)[0].fade_in == 0.0  # a hard event: full level at its second
    assert fitted(song, 40.0, tail, rate, 2, True)[0].fade_in == 5.0  # ... unless an ending is under it
