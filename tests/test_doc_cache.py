"""The status documents' flood cache (web/doc_cache.py), with plain times: fresh below the
flood rate, at most one build per interval above it, fresh again once the flood is over."""

from __future__ import annotations

import pytest

from streamer.web.doc_cache import BUSY, INTERVAL, KNOWN_PER_INTERVAL, MAX_KEYS, NEW_PER_INTERVAL, Busy, DocumentCache


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


def test_a_flood_spread_over_many_documents_is_shared_too():
    cache, sources = DocumentCache(), [Source() for _ in range(10)]
    rate, seconds = 20, 3  # each document 20 a second (not a flood of its own), 200 a second together
    for i in range(rate * seconds):
        for k, source in enumerate(sources):
            cache.get(f"nowplaying http://host{k}", 100 + i / rate + k / 1000, source.build)
    built = sum(source.version for source in sources)
    # fresh until the BUSY+1st request of all together, then each at most once an interval
    assert built <= BUSY + 1 + len(sources) * (seconds / INTERVAL + 1)
    assert cache.shared == len(sources) * rate * seconds - built


def test_made_up_hosts_in_a_flood_are_refused_beyond_the_budget_and_real_readers_keep_their_answers():
    cache, made_up, real = DocumentCache(), Source(), Source()
    refused = answered = 0
    rate, seconds = 600, 3
    for i in range(rate * seconds):
        t = 100 + i / rate
        try:
            cache.get(f"nowplaying http://x{i}.example", t, made_up.build)
            answered += 1
        except Busy as busy:
            refused += 1
            assert "new documents asked for" in str(busy)
        if i % 30 == 0:  # a reader on the station's own host, 20 a second: never refused
            assert cache.get("nowplaying http://radio.example", t, real.build).startswith(b"v")
    intervals = seconds / INTERVAL + 1
    assert made_up.version == answered and answered <= NEW_PER_INTERVAL * intervals + BUSY + 1
    assert refused == rate * seconds - answered and cache.refused == refused
    assert real.version <= intervals + 1 + BUSY // 20  # shared while flooded, built at most once an interval
    assert "nowplaying http://radio.example" in cache._entries and len(cache._entries) <= MAX_KEYS


def test_without_a_flood_a_new_document_is_never_refused():
    cache, source = DocumentCache(), Source()
    for i in range(3 * BUSY):  # BUSY a second, each a new host
        assert cache.get(f"icestats http://h{i}", 100 + i / BUSY, source.build).startswith(b"v")
    with pytest.raises(Busy):
        for i in range(20 * BUSY):  # now 20 times that in one second
            cache.get(f"icestats http://n{i}", 103 + i / (20 * BUSY), source.build)


def test_a_reader_refused_in_a_flood_of_made_up_hosts_gets_in_when_it_tries_again():
    cache, made_up, late = DocumentCache(), Source(), Source()
    rate = 1000
    refused_first = None
    for i in range(3 * rate):
        t = 100 + i / rate
        try:
            cache.get(f"page http://x{i}.example", t, made_up.build)
        except Busy:
            pass
        if i == 2 * rate:  # a reader whose host nobody asked for yet, in the middle of the flood
            try:
                cache.get("page http://new-reader.example", t, late.build)
                refused_first = False
            except Busy:
                refused_first = True
        if i == 2 * rate + rate // 2:  # ... tries again half a second later
            assert cache.get("page http://new-reader.example", t, late.build).startswith(b"v")
    assert refused_first is True  # the made-up hosts had taken this interval's budget for new ones
    assert made_up.version <= BUSY + 1 + NEW_PER_INTERVAL * (3 / INTERVAL + 1)
    assert KNOWN_PER_INTERVAL > 0 and late.version == 1
