import random

from streamer.stream.pacing import PacingClock, rebase_said


def run(clock, wakeups, lead=0.25, spf=1152):
    for now in wakeups:
        while clock.due(now, lead):
            clock.release(spf)


def test_no_drift_with_jittery_wakeups():
    rng = random.Random(1)
    clock = PacingClock(start=1000.0, sample_rate=44100)
    t = 1000.0
    wakeups = []
    for _ in range(40_000):  # ~10,000 s of 0.25 s ticks that wake up late by up to 40 ms
        t += 0.25
        wakeups.append(t + rng.uniform(0, 0.04))
    run(clock, wakeups)
    sent = clock.samples_sent / 44100
    elapsed = wakeups[-1] - 1000.0
    # Released audio tracks wall time to within one tick plus one frame, after hours.
    assert elapsed <= sent <= elapsed + 0.25 + 1152 / 44100


def test_bytes_per_second_exact_for_cbr():
    clock = PacingClock(0.0, 44100)
    frames = 0
    for i in range(1, 2401):  # 600 s
        while clock.due(i * 0.25, 0.0):
            clock.release(1152)
            frames += 1
    # 128 kbit/s at 44.1 kHz: 417.96 bytes per frame on average
    bytes_sent = frames * 144 * 128000 / 44100
    assert abs(bytes_sent / 600 - 16000) / 16000 < 0.001


def test_rebase_after_stall_does_not_burst():
    clock = PacingClock(0.0, 44100)
    run(clock, [1.0])
    assert clock.behind(10.0) > 8
    clock.rebase(10.0)
    assert clock.behind(10.0) == 0
    assert not clock.due(10.0, 0.0)  # after the restart nothing is owed: no catch-up burst


def test_a_source_that_keeps_falling_behind_is_said_once_a_minute_with_how_often():
    """QA: a relay's upstream slower than real time logged a clock restart every 2 s."""
    clock = PacingClock(0.0, 44100)
    said = [clock.rebase(t) for t in range(2, 130, 2)]  # a restart every 2 s for 128 s
    assert [(t, n) for t, n in zip(range(2, 130, 2), said, strict=True) if n] == [(2, 1), (62, 30), (122, 30)]
    assert clock.rebased == 64
    # Said as the source's, not the server's (QA: read as the server falling behind when a DJ paused)
    assert rebase_said("/live", 4.94, 0) == ""
    assert rebase_said("/live", 4.94, 1) == (
        "/live: the source's audio fell 4.9 s behind its clock (it paused, or sends slower than real time); restarting the clock"
    )
    assert rebase_said("/relay", 2.0, 30).endswith("restarting the clock (30 restarts since the last such line)")


def test_a_clock_on_the_station_timeline_makes_up_a_short_lag_and_restarts_after_a_long_one():
    """QA: a 2.2 s hold of the event loop restarted the mounts' clocks, so every later title and
    hard event reached listeners 2 s late for good. The station's mounts send the lag as a burst
    (the feeder makes the audio up at once); a relayed source's clock restarts as before."""
    station = PacingClock(0.0, 44100, catches_up=True)
    run(station, [1.0])
    assert not station.should_rebase(3.2)  # 2.2 s behind: made up
    run(station, [3.2])  # the audio came: all of it released at once
    assert station.behind(3.2) == 0 and not station.should_rebase(3.3) and station.lag_since is None
    run(station, [4.0])
    assert not station.should_rebase(5.5) and not station.should_rebase(7.4)  # a lag that lasts (nothing comes)...
    assert station.should_rebase(7.6)  # ...restarts the clock after CATCH_UP_WAIT
    station.rebase(7.6)
    assert not station.should_rebase(7.7)
    run(station, [7.7])
    assert station.should_rebase(14.0)  # over CATCH_UP_MAX behind: at once
    relayed = PacingClock(0.0, 44100)
    run(relayed, [1.0])
    assert relayed.should_rebase(3.2)
