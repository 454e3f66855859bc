from streamer.stream.buffer import StreamBuffer


def filled(capacity=100, chunks=(10,) * 20):
    b = StreamBuffer(capacity)
    for n, size in enumerate(chunks):
        b.append(bytes([n % 256]) * size)
    return b


def test_keeps_at_least_capacity_and_trims_whole_chunks():
    b = filled()
    assert b.end == 200
    assert 100 <= len(b) < 110
    assert b.base % 10 == 0


def test_slices_are_exact_and_zero_copy_at_the_edge():
    b = filled()
    pieces = b.slices(190, 200)
    assert len(pieces) == 1 and isinstance(pieces[0], bytes) and pieces[0] == bytes([19]) * 10
    joined = b"".join(bytes(p) for p in b.slices(125, 152))
    assert joined == bytes([12]) * 5 + bytes([13]) * 10 + bytes([14]) * 10 + bytes([15]) * 2


def test_burst_starts_on_a_chunk_boundary_within_size():
    b = filled()
    assert b.burst_start(35) == 170
    assert b.burst_start(30) == 170
    assert b.burst_start(10_000) == b.base
    assert b.burst_start(0) == 200


def test_titles_by_offset_survive_trimming():
    b = StreamBuffer(50)
    b.append(b"x" * 30)
    b.mark_title(30, "one")
    b.append(b"y" * 30)
    b.mark_title(60, "two")
    b.append(b"z" * 30)
    assert b.mark_at(45).title == "one"
    assert b.mark_at(60).title == "two"
    assert b.title == "two"
    for _ in range(10):
        b.append(b"w" * 30)
    assert b.mark_at(b.base).title == "two"


def test_two_titles_at_one_spot_keep_the_last():
    b = StreamBuffer(50)
    b.append(b"x" * 10)
    b.mark_title(10, "short jingle")
    b.mark_title(10, "song")
    assert b.mark_at(10).title == "song"
    assert b.mark_at(9).title == ""
