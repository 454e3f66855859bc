"""The pull relay's pure parts: an upstream URL checked, what is sent, and how answers are judged."""

import base64

import pytest

from streamer.sources.upstream_answer import Follow, judge_answer, playlist_stream
from streamer.upstream_url import next_upstream, parse_upstream, redact
from tests.test_config import problems


def test_a_url_with_a_password_is_sent_as_basic_auth_and_never_shown():
    up = parse_upstream("http://relay:p%40ss@upstream.example:8001/live?x=1")
    assert (up.host, up.port, up.target, up.user, up.password) == ("upstream.example", 8001, "/live?x=1", "relay", "p@ss")
    assert up.safe == "http://relay:***@upstream.example:8001/live?…"  # a query may hold a token (QA): not shown
    request = up.request("streamer relay").decode()
    assert request.startswith("GET /live?x=1 HTTP/1.0\r\nHost: upstream.example:8001\r\n")  # the port too (QA: it was left out)
    assert f"Authorization: Basic {base64.b64encode(b'relay:p@ss').decode()}\r\n" in request
    assert request.endswith("\r\n\r\n")
    assert "Authorization" not in parse_upstream("http://h/s").request("x").decode()
    assert parse_upstream("http://h/s").host_header == "h"  # port 80 is not said
    assert parse_upstream("http://[::1]:8000/s").host_header == "[::1]:8000"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:99999/s", "the port must be a number from 1 to 65535"),
        ("http://127.0.0.1:0/s", "the port must be a number from 1 to 65535"),
        ("http:///nohost", "names no host"),
        ("https://h/s", "must be an http:// stream URL"),
        ("http://h/a b", "a space or a control character"),
        ("http://[::1:8000/s", r"the host in \[ \] must be an IPv6 address, closed"),
        ("http://[nohost]:8000/s", r"the host in \[ \] must be an IPv6 address"),
        ("http://[::1]x:8000/s", r"the host in \[ \] must be an IPv6 address, closed, .*then nothing but :port"),  # (QA: the x was dropped)
        ("http://::1:8000/s", r"an IPv6 address goes in \[ \]"),
    ],
)
def test_a_bad_upstream_url_is_said(url, said):
    with pytest.raises(ValueError, match=said):
        parse_upstream(url)


def test_a_password_is_hidden_in_errors_about_the_url():
    with pytest.raises(ValueError) as exc:
        parse_upstream("http://u:topsecret@h:99999/s")
    assert "topsecret" not in str(exc.value) and "u:***@" in str(exc.value)
    assert redact("icecast://source:pw@h:8000/m") == "icecast://source:***@h:8000/m"
    assert redact("url 'http://h:99999/x?token=abc': the port") == "url 'http://h:99999/x?…': the port"  # (QA: check printed the token)


def test_the_config_names_a_bad_relay_or_push_url_at_its_line():
    got = problems(
        "relays:\n  - {mount: /r, url: 'http://u:secret@127.0.0.1:99999/s'}\n  - {mount: /q, url: 'http:///nohost'}\n"
        "push:\n  - {mount: /main, url: 'icecast://source:pw@h:70000/main'}\n"
    )
    assert len(got) == 3, got
    assert any(p.startswith("/etc/streamer/config.yaml:2:22: relays[0].url 'http://u:***@127.0.0.1:99999/s': the port") for p in got)
    assert any(p.startswith("/etc/streamer/config.yaml:3:22: relays[1].url 'http:///nohost' names no host") for p in got)
    assert any(p.startswith("/etc/streamer/config.yaml:5:25: push[0].url 'icecast://source:***@h:70000/main': the port") for p in got)
    assert not any("secret" in p or ":pw@" in p for p in got)


UP = parse_upstream("http://h:8000/live")


def test_answers_judged():
    assert judge_answer(UP, 200, {"content-type": "audio/mpeg"}) == "audio/mpeg"
    assert judge_answer(UP, 200, {}) == "audio/mpeg"  # SHOUTcast 1 may not say
    assert judge_answer(UP, 200, {"content-type": "application/ogg; charset=x"}) == "application/ogg"
    assert judge_answer(UP, 302, {"location": "/other"}) == Follow("http://h:8000/other")
    assert judge_answer(UP, 301, {"location": "http://b:9/s"}) == Follow("http://b:9/s")
    assert judge_answer(UP, 200, {"content-type": "audio/x-mpegurl"}) == Follow("")
    for status, headers, said in [
        (200, {"content-type": "text/html; charset=utf-8"}, "upstream sent text/html, not audio"),
        (200, {"content-type": "application/json"}, "not audio"),
        (200, {"content-type": "application/vnd.apple.mpegurl"}, "HLS playlist"),
        (302, {}, "no Location"),
        (200, {"icy-metaint": "8k"}, "icy-metaint is not a number: '8k'"),
        (401, {}, "give it in the URL, as http://user:password@host:port/mount"),
        (404, {}, r"no stream at /live \(404\)"),
        (503, {}, "answered 503"),
    ]:
        with pytest.raises(ValueError, match=said):
            judge_answer(UP, status, headers)
    with pytest.raises(ValueError, match=r"refused the user and password .*http://u:\*\*\*@h/s"):
        judge_answer(parse_upstream("http://u:pw@h/s"), 401, {})


def test_a_login_follows_a_redirect_to_the_same_server_only():
    here = parse_upstream("http://u:pw@h:8000/old")
    assert next_upstream(here, "http://h:8000/new").password == "pw"
    assert next_upstream(here, "http://other:8000/new").password == ""
    assert next_upstream(here, "http://h:8001/new").user == ""
    # That server asks for a password: not "give it in the URL" (it had one, QA), but why it was not sent.
    there = next_upstream(here, "http://other:8000/new")
    with pytest.raises(ValueError, match=r"http://other:8000/new asks for a password \(401\), and the relay's login was not sent there"):
        judge_answer(there, 401, {})
    assert not next_upstream(parse_upstream("http://h/s"), "http://other/s").withheld  # (no login: nothing withheld)


def test_a_playlist_gives_its_first_http_stream():
    assert playlist_stream(b"#EXTM3U\n#EXTINF:-1,Radio\nhttp://a:8000/s\nhttp://b/s\n") == "http://a:8000/s"
    assert playlist_stream(b"[playlist]\nNumberOfEntries=1\nFile1=http://c:8000/live\nTitle1=x\n") == "http://c:8000/live"
    with pytest.raises(ValueError, match="https:// streams only"):
        playlist_stream(b"https://secure/s\n")
    with pytest.raises(ValueError, match="lists no http:// stream"):
        playlist_stream(b"#EXTM3U\n")


def test_an_upstream_slower_than_its_bitrate_is_said(caplog):
    """QA: an upstream that dribbled showed connected and healthy while listeners heard gaps."""
    import logging
    from types import SimpleNamespace

    from streamer.sources.relay import RateWatch, RelayPull

    relay = RelayPull("http://u:pw@up:8000/s", "/r", lambda *a: None)  # (no connection made)
    watch = RateWatch(relay, SimpleNamespace(info=SimpleNamespace(bitrate=128)), now=0.0)
    with caplog.at_level(logging.INFO, logger="streamer.relay"):
        for t in range(1, 21):
            watch.count(4000, now=t)  # 32 kbit/s for 20 s
        assert relay.view()["kbps"] == 32.0 and relay.slow
        assert relay.view()["error"] == "the upstream sends 32 kbit/s of a 128 kbit/s stream"
        for t in range(21, 32):
            watch.count(16000, now=t)  # 128 kbit/s
        assert not relay.slow and relay.view()["error"] == ""
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "relay /r ← http://u:***@up:8000/s: the upstream sends 32 kbit/s of a 128 kbit/s stream: listeners hear gaps",
        "relay /r ← http://u:***@up:8000/s: the upstream sends at its bitrate again",
    ], said  # once each, not every window


def test_the_config_refuses_a_relay_on_the_live_mount_or_twice_on_one_mount_and_hides_a_password_anywhere():
    """QA: a relay on /live passed check and then locked every DJ out; a second relay on the same
    mount never ran, with no word; a URL given as a list was printed with its password."""
    got = problems(
        "relays:\n  - {mount: /live, url: 'http://h/a'}\n  - {mount: /x, url: 'http://h/b'}\n  - {mount: /x, url: 'http://h/c'}\n"
        "  - {mount: /y, url: ['http://relay:SuperSecret9@h/auth']}\n"
    )
    assert any("relays[0].mount: /live is the live mount: a relay there would lock every DJ out" in p for p in got), got
    assert any("relays[2].mount: /x is relayed already (relays[1])" in p for p in got), got
    assert not any("SuperSecret9" in p for p in got) and any("relay:***@h/auth" in p for p in got), got


def test_a_dj_dropped_after_their_decoder_closed_ends_without_an_error():
    """QA: every DJ dropped for a stream that does not decode logged an IndexError: the source's
    end reached a LiveInput already closed, and the rest of its clean-up (log, status) was skipped."""
    import asyncio

    from streamer.audio.live_input import LiveInput

    async def closed_then_ended() -> bool:
        live = LiveInput("ffmpeg", "DJ", 44100, 2, "application/ogg")
        await live.close()
        live.end()  # the source's on_gone, after the close
        return live.ended

    assert asyncio.run(closed_then_ended())
