import json

import pytest

from streamer.stream.routing import route
from streamer.wire.formats import StreamInfo
from streamer.wire.http import BadRequest, error_response, health_response, listener_head, options_response, parse_request_head
from streamer.wire.icecast import dumps
from streamer.wire.playlists import m3u, pls, xspf

DATE = "Tue, 24 Nov 2026 18:36:58 GMT"
INFO = StreamInfo(name="Radio \u00c9t\u00e9\r\nX-Evil: 1", description="d", genre="g", url="http://x/", bitrate=128)


def lines(raw: bytes) -> list[str]:
    head, _, _ = raw.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n")


def test_parse_request_head():
    h = parse_request_head(b"GET /main?x=1 HTTP/1.1\r\nHost: a\r\nIcy-MetaData: 1\r\nX: 1\r\nx: 2\r\n\r\n")
    assert (h.method, h.path, h.version) == ("GET", "/main", "HTTP/1.1")
    assert h.wants_metadata and h.header("x") == "1, 2"


@pytest.mark.parametrize(
    "raw", [b"GARBAGE\r\n\r\n", b"GET / SPDY/3\r\n\r\n", b"GET / HTTP/1.1\r\nno-colon\r\n\r\n", b"G@T / HTTP/1.1\r\n\r\n"]
)
def test_parse_errors_say_what(raw):
    with pytest.raises(BadRequest) as exc:
        parse_request_head(raw)
    assert exc.value.status == 400 and str(exc.value)


def test_listener_head_is_icecast_shaped():
    raw = listener_head(INFO, 16000, DATE)
    ls = lines(raw)
    assert ls[0] == "HTTP/1.0 200 OK"
    names = [line.split(":", 1)[0] for line in ls[1:]]
    assert names[:7] == ["Server", "Connection", "Date", "Content-Type", "Cache-Control", "Expires", "Pragma"]
    assert names[7:15] == ["icy-br", "ice-audio-info", "icy-description", "icy-genre", "icy-name", "icy-pub", "icy-url", "icy-metaint"]
    assert "icy-metaint:16000" in ls and "icy-br:128" in ls and "Connection: Close" in ls
    assert not any(n.lower() in ("content-length", "transfer-encoding") for n in names)
    assert not any(line.startswith("X-Evil") for line in ls)  # no header injection from the config
    assert raw.endswith(b"\r\n\r\n")


def test_no_metaint_unless_asked_and_never_for_ogg():
    assert b"icy-metaint:" not in listener_head(INFO, None, DATE)
    assert b"icy-metaint:" not in listener_head(StreamInfo(content_type="audio/ogg"), 16000, DATE)


def test_cors_and_options():
    assert b"Access-Control-Expose-Headers: icy-br" in listener_head(INFO, None, DATE)
    opt = options_response(DATE, "https://player.example")
    assert lines(opt)[0] == "HTTP/1.0 200 OK"
    assert b"Access-Control-Allow-Origin: https://player.example" in opt
    assert b"Icy-MetaData" in opt
    assert b"Vary: Origin\r\n" in opt  # an echoed origin: a cache must not hand it to another site
    assert b"Vary" not in options_response(DATE)  # "*" is the same for everyone


def test_a_preflight_allows_the_headers_the_page_asks_for():
    """An app polling now-playing with `Cache-Control: no-cache`, or an EventSource polyfill
    sending `Last-Event-ID`, was refused: only a fixed list was allowed (found by QA)."""
    opt = options_response(DATE, "https://app.example", "cache-control, last-event-id,Icy-MetaData")
    allowed = next(line for line in lines(opt) if line.startswith("Access-Control-Allow-Headers: "))
    names = allowed.split(": ", 1)[1].split(", ")
    assert {"cache-control", "last-event-id", "Icy-MetaData", "Range"} <= set(names) and len(names) == len(set(n.lower() for n in names))
    assert b"Vary: Origin, Access-Control-Request-Headers\r\n" in opt
    hostile = options_response(DATE, None, "x-ok, bad\rInjected: 1, a b, " + ", ".join(f"x-{i}" for i in range(50)))
    assert b"Injected" not in hostile and b"x-ok" in hostile and b"x-18" in hostile and b"x-19" not in hostile


def test_error_response_has_a_readable_body():
    raw = error_response(403, "max listeners reached", DATE)
    assert lines(raw)[0] == "HTTP/1.0 403 Forbidden"
    assert raw.endswith(b"\r\n\r\nmax listeners reached\n")
    assert b"Content-Length: 22" in raw


def test_playlist_files():
    assert m3u("http://h:8000/main") == "http://h:8000/main\r\n"
    assert "File1=http://h/main" in pls("http://h/main", "R") and "NumberOfEntries=1" in pls("http://h/main", "R")
    x = xspf("http://h/main?a=1&b=2", "R & B")
    assert "<location>http://h/main?a=1&amp;b=2</location>" in x and "R &amp; B" in x


def test_healthz_is_the_front_doors_own_answer():
    def kind(method: str, path: str) -> str:
        return route(parse_request_head(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()), None)

    assert [kind("GET", "/healthz"), kind("HEAD", "/healthz"), kind("POST", "/healthz"), kind("GET", "/healthzone")] == [
        "health", "health", "web", "web",
    ]  # fmt: skip
    up = health_response(True, '{"ok": true}', "Thu, 26 Nov 2026 01:00:00 GMT")
    head, _, body = up.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 12" in head and body == b'{"ok": true}'
    assert b"Access-Control-Allow-Origin: *" in head and b"Connection" not in head  # kept for the next poll
    down = health_response(False, '{"ok": false}', "Thu, 26 Nov 2026 01:00:00 GMT", head_only=True)
    assert down.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and down.endswith(b"\r\n\r\n") and b"Content-Length: 13" in down
    off_air = health_response(False, dumps({"ok": False, "off_air": ["/main"]}), "Thu, 26 Nov 2026 01:00:00 GMT")
    head, _, body = off_air.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503") and b"application/json" in head and json.loads(body) == {"ok": False, "off_air": ["/main"]}


def test_a_request_for_the_web_side_gets_crlf_lines_or_our_refusal():
    """QA: bare-LF requests were taken on streams and refused on the API, and a request line over
    8 KB for a page got aiohttp's own 400 (Server: Python/3.11 aiohttp/...)."""
    from streamer.stream.routing import head_for_web

    assert head_for_web(b"GET /api/status HTTP/1.1\nHost: x\n\nbody\n") == b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\nbody\n"
    same = b"POST /api/news HTTP/1.1\r\nContent-Length: 3\r\n\r\na\nb"
    assert head_for_web(same) == same
    assert head_for_web(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n") == (414, "request line longer than 8190 bytes")
    assert head_for_web(b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n") == (431, "a header line longer than 8190 bytes")
    assert head_for_web(b"GET / HTTP/1.1\r\nHost:") == b"GET / HTTP/1.1\r\nHost:"  # (not whole yet: aiohttp waits for it)
    # a body without its length (a hand-made request: printf | nc): said, not aiohttp's "Data after `Connection: close`"
    unsized = b'POST /api/news HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n{"title": "x"}'
    assert head_for_web(unsized) == (411, "this POST has a body but no Content-Length (nor Transfer-Encoding: chunked): send its length")
    assert error_response(411, "", "d").startswith(b"HTTP/1.0 411 Length Required\r\n")  # (it said "411 Unknown")
    sized = b'POST /api/news HTTP/1.0\r\ncontent-length: 14\r\n\r\n{"title": "x"}'
    chunked = b"PUT /api/news/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    assert head_for_web(sized) == sized and head_for_web(chunked) == chunked
    bodiless = b"POST /api/skip HTTP/1.1\r\nHost: x\r\n\r\n"  # curl -X POST: no body, no length, fine
    assert head_for_web(bodiless) == bodiless
    assert head_for_web(bodiless + b"GET /api/status HTTP/1.1\r\n\r\n") == bodiless + b"GET /api/status HTTP/1.1\r\n\r\n"  # pipelined


def test_a_head_too_large_is_a_url_too_long_when_its_first_line_is():
    """QA: a 100 KB URL was answered 431 (header fields too large), not 414 (URI too long)."""
    from streamer.stream.routing import oversized
    from streamer.wire.http import MAX_HEAD

    assert oversized(b"GET /" + b"a" * 100_000) == (414, f"request line (the URL) longer than {MAX_HEAD} bytes")
    assert oversized(b"GET / HTTP/1.0\r\nX: " + b"a" * 100_000) == (431, f"request head larger than {MAX_HEAD} bytes")


def test_a_source_method_on_the_servers_own_pages_goes_to_the_web_side():
    """QA: PUT /api/news was taken for a source login (logged as refused, answered 401 and counted
    toward the login lockout), where a page answers 405. A mount's path is still a source's, and
    SOURCE, which only source clients send, still gets the source side's answer there (403:
    reserved for the server's own pages)."""

    def kind(method: str, path: str) -> str:
        return route(parse_request_head(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()), None)

    assert [kind("PUT", "/api/news"), kind("PUT", "/"), kind("PUT", "/live"), kind("SOURCE", "/main"), kind("SOURCE", "/healthz")] == [
        "web", "web", "source", "source", "source",
    ]  # fmt: skip
