"""The health-check port's answers, from plain bytes (health_door.answer_bytes)."""

from __future__ import annotations

from streamer.stream.health_door import MAX_HEAD, answer_bytes
from streamer.wire.http import RequestHead

DATE = "Fri, 27 Nov 2026 09:00:00 GMT"


def health(head: RequestHead) -> bytes:
    return f"HEALTH {head.method}".encode()


def test_a_probe_is_answered_and_the_connection_kept_for_the_next():
    two = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /healthz HTTP/1.1\r\n\r\n"
    answer, used, keep = answer_bytes(two, health, DATE)
    assert (answer, keep) == (b"HEALTH GET", True) and two[used:] == b"HEAD /healthz HTTP/1.1\r\n\r\n"
    assert answer_bytes(two[used:], health, DATE) == (b"HEALTH HEAD", len(two) - used, True)


def test_http_1_0_and_connection_close_end_the_connection_after_the_answer():
    assert answer_bytes(b"GET /healthz HTTP/1.0\r\n\r\n", health, DATE)[2] is False
    assert answer_bytes(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", health, DATE)[2] is False
    assert answer_bytes(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", health, DATE)[2] is False


def test_an_incomplete_head_waits_and_an_endless_one_is_refused():
    assert answer_bytes(b"GET /healthz HTTP/1.1\r\nHost:", health, DATE) == (b"", 0, True)
    answer, used, keep = answer_bytes(b"GET /" + b"a" * MAX_HEAD, health, DATE)
    assert used == MAX_HEAD + 5 and answer.startswith(b"HTTP/1.0 431") and not keep
    assert f"request head over {MAX_HEAD} bytes".encode() in answer


def test_anything_but_a_health_check_is_told_where_it_is():
    answer, _, keep = answer_bytes(b"GET /main HTTP/1.1\r\n\r\n", health, DATE)
    assert answer.startswith(b"HTTP/1.0 404") and not keep
    assert b"this is the health-check port: it answers GET /healthz only, not GET /main" in answer
    assert answer_bytes(b"POST /healthz HTTP/1.1\r\n\r\n", health, DATE)[0].startswith(b"HTTP/1.0 404")
    bad, _, keep = answer_bytes(b"GET\r\n\r\n", health, DATE)
    assert bad.startswith(b"HTTP/1.0 400") and b"malformed request line" in bad and not keep


def test_empty_lines_before_a_request_line_are_passed_over():
    probe = b"\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"
    assert answer_bytes(probe, health, DATE) == (b"HEALTH GET", len(probe), True)
    assert answer_bytes(b"\r\n", health, DATE) == (b"", 0, True)
    flood, _, keep = answer_bytes(b"\r\n" * MAX_HEAD, health, DATE)
    assert flood.startswith(b"HTTP/1.0 400") and not keep
