"""The status documents' flood cache (web/doc_cache.py), with plain times: fresh below the
flood rate, at most one build per interval above it, fresh again once the flood is over."""

from __future__ import annotations

from streamer.web.doc_cache import BUSY, INTERVAL, MAX_KEYS, DocumentCache


class Source:
    """A document that changes at every build: what an answer says tells which build it was."""

    def __init__(self) -> None:
        self.version = 0

    def build(self) -> bytes:
        self.version += 1
        return b"v%d" % self.version


def ask(cache: DocumentCache, source: Source, times: list[float], key: str = "status") -> list[bytes]:
    return [cache.get(key, t, source.build) for t in times]


def test_below_the_flood_rate_every_answer_is_built_fresh():
    cache, source = DocumentCache(), Source()
    times = [100 + i / BUSY for i in range(3 * BUSY)]  # BUSY a second, for three seconds
    answers = ask(cache, source, times)
    assert answers == [b"v%d" % (i + 1) for i in range(len(times))]
    assert cache.shared == 0


def test_a_flood_is_answered_from_at_most_one_build_per_interval():
    cache, source = DocumentCache(), Source()
    rate, seconds = 600, 3
    times = [100 + i / rate for i in range(rate * seconds)]
    answers = ask(cache, source, times)
    assert cache.builds <= BUSY + 1 + seconds / INTERVAL  # the first second's fresh ones, then one per interval
    assert cache.builds + cache.shared == len(times)
    # no answer is older than the interval: each is the build last made, at most INTERVAL before it
    built_at: dict[bytes, float] = {}
    for t, body in zip(times, answers, strict=True):
        built_at.setdefault(body, t)
        assert t - built_at[body] < INTERVAL


def test_once_the_flood_is_over_the_next_answer_is_fresh():
    cache, source = DocumentCache(), Source()
    ask(cache, source, [100 + i / 400 for i in range(800)])  # two seconds of 400 a second
    before = source.version
    assert cache.get("status", 104.0, source.build) == b"v%d" % (before + 1)  # quiet for two seconds: built


def test_right_after_a_flood_answers_stay_within_the_interval():
    cache, source = DocumentCache(), Source()
    ask(cache, source, [100 + i / 400 for i in range(400)])  # one second of 400 a second, up to 100.9975
    last = source.version
    # the second after: still counted as flooded (the window before), but never older than INTERVAL
    assert cache.get("status", 101.5, source.build) == b"v%d" % (last + 1)  # the last build is 0.5 s old
    assert cache.get("status", 101.5 + INTERVAL / 2, source.build) == b"v%d" % (last + 1)
    assert cache.get("status", 101.5 + INTERVAL, source.build) == b"v%d" % (last + 2)


def test_documents_are_kept_apart_and_made_up_keys_do_not_pile_up():
    cache, a, b = DocumentCache(), Source(), Source()
    times = [100 + i / 400 for i in range(400)]
    for t in times:
        assert cache.get("status", t, a.build).startswith(b"v")
        assert cache.get("nowplaying http://x", t, b.build).startswith(b"v")
    assert a.version == b.version  # each flooded alike, each built for itself
    for i in range(10 * MAX_KEYS):  # a flood of Host headers, each its own base URL
        cache.get(f"icestats http://host{i}", 200 + i, a.build)
    assert len(cache._entries) <= MAX_KEYS


def test_a_clock_that_goes_back_builds_fresh():
    cache, source = DocumentCache(), Source()
    ask(cache, source, [100 + i / 400 for i in range(400)])
    last = source.version
    assert cache.get("status", 50.0, source.build) == b"v%d" % (last + 1)
