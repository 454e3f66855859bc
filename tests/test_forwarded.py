"""Who a request is from behind a reverse proxy (wire/forwarded.py), and server.trusted_proxies."""

from pathlib import Path

import pytest

from streamer.config import parse_config
from streamer.settings import parse_network
from streamer.wire.forwarded import address_of, client_of, hops
from streamer.yamldoc import ConfigError

LOCAL = (parse_network("127.0.0.1"), parse_network("10.0.0.0/8"))


def test_without_trusted_proxies_the_connection_is_the_client():
    assert client_of("127.0.0.1", "203.0.113.5", "", ()) == "127.0.0.1"


def test_a_client_that_is_no_trusted_proxy_cannot_name_another():
    assert client_of("198.51.100.2", "203.0.113.5", "for=192.0.2.1", LOCAL) == "198.51.100.2"


def test_a_trusted_proxy_names_its_client():
    assert client_of("127.0.0.1", "203.0.113.5", "", LOCAL) == "203.0.113.5"


def test_the_chain_is_read_from_the_right_up_to_the_first_untrusted_address():
    # The client sent a forged first hop; nginx (10.0.0.2) added the real one, the local proxy the next.
    assert client_of("127.0.0.1", "1.1.1.1, 203.0.113.5, 10.0.0.2", "", LOCAL) == "203.0.113.5"
    assert client_of("127.0.0.1", "10.0.0.3,10.0.0.2", "", LOCAL) == "10.0.0.3"  # all trusted: the farthest


def test_a_hop_that_is_no_address_ends_the_walk_at_the_last_one_known():
    assert client_of("127.0.0.1", "203.0.113.5, unknown", "", LOCAL) == "127.0.0.1"
    assert client_of("127.0.0.1", "203.0.113.5, 10.0.0.2, _hidden", "", LOCAL) == "127.0.0.1"
    assert client_of("127.0.0.1", "garbage, 10.0.0.2", "", LOCAL) == "10.0.0.2"
    assert client_of("127.0.0.1", "", "", LOCAL) == "127.0.0.1"


def test_ports_brackets_and_quotes_as_proxies_write_them():
    assert str(address_of("203.0.113.5:4711")) == "203.0.113.5"
    assert str(address_of('"[2001:db8::1]:4711"')) == "2001:db8::1"
    assert str(address_of(" 2001:db8::1 ")) == "2001:db8::1"
    assert str(address_of("::ffff:127.0.0.1")) == "127.0.0.1"  # a dual-stack socket's IPv4 peer
    assert address_of("unknown") is None and address_of("[2001:db8::1") is None and address_of("") is None


def test_forwarded_is_read_when_there_is_no_x_forwarded_for():
    header = 'for=192.0.2.60;proto=https;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"'
    assert hops("", header) == ["192.0.2.60", '"[2001:db8:cafe::17]:4711"']
    assert client_of("127.0.0.1", "", header, LOCAL) == "2001:db8:cafe::17"
    assert client_of("127.0.0.1", "203.0.113.5", header, LOCAL) == "203.0.113.5"  # X-Forwarded-For first
    assert client_of("::ffff:127.0.0.1", "203.0.113.5", "", LOCAL) == "203.0.113.5"


F = Path("/etc/streamer/config.yaml")


def test_trusted_proxies_in_the_config():
    c = parse_config("server:\n  trusted_proxies: [127.0.0.1, 10.0.0.0/8, '::1']\n", F, env={})
    assert [str(n) for n in c.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert [str(n) for n in parse_config("server: {trusted_proxies: 127.0.0.1}\n", F, env={}).trusted_proxies] == ["127.0.0.1/32"]
    assert parse_config("", F, env={}).trusted_proxies == ()


def test_a_bad_trusted_proxy_is_named_with_its_line():
    with pytest.raises(ConfigError) as exc:
        parse_config("server:\n  trusted_proxies:\n    - 127.0.0.1\n    - localhost\n", F, env={})
    assert [str(p) for p in exc.value.problems] == [
        "/etc/streamer/config.yaml:4:7: server.trusted_proxies: 'localhost' is not an IP address or network"
        " (such as 127.0.0.1, ::1 or 10.0.0.0/8)"
    ]
    with pytest.raises(ConfigError) as exc:
        parse_config("server:\n  trusted_proxies: {nginx: 127.0.0.1}\n", F, env={})
    assert "2:20: server.trusted_proxies must be an address or network, or a list of them" in str(exc.value.problems[0])


def test_trusting_everyone_is_said():
    c = parse_config("server:\n  trusted_proxies: [0.0.0.0/0]\n", F, env={})
    assert c.notes == (
        "/etc/streamer/config.yaml:2:20: server.trusted_proxies trusts every address: any client can claim to be another"
        " (and dodge the login lockout)",
    )


def test_an_ipv4_client_of_a_dual_stack_socket_is_named_as_ipv4():
    assert client_of("::ffff:203.0.113.5", "", "", ()) == "203.0.113.5"
    assert client_of("::ffff:127.0.0.1", "198.51.100.7", "", LOCAL) == "198.51.100.7"
    assert client_of("2001:db8::ffff:1", "", "", ()) == "2001:db8::ffff:1"


def test_links_are_https_when_a_trusted_proxy_says_its_client_came_over_tls():
    from streamer.wire.forwarded import scheme_of

    assert scheme_of("127.0.0.1", "https", "", LOCAL) == "https"
    assert scheme_of("127.0.0.1", "http", "", LOCAL) == "http"
    assert scheme_of("127.0.0.1", "", "for=192.0.2.60;proto=HTTPS;by=203.0.113.43", LOCAL) == "https"
    assert scheme_of("127.0.0.1", "https, http", "", LOCAL) == "http"  # the nearest proxy's word
    assert scheme_of("198.51.100.2", "https", "", LOCAL) == "http"  # not a trusted proxy: not believed
    assert scheme_of("127.0.0.1", "https", "", ()) == "http"
    assert scheme_of("::ffff:127.0.0.1", "https", "", LOCAL) == "https"


def test_a_proxy_whose_header_is_not_believed_is_worth_a_word():
    from streamer.wire.forwarded import unheeded

    assert unheeded("127.0.0.1", ()) and unheeded("10.1.2.3", ()) and unheeded("::1", ())
    assert not unheeded("127.0.0.1", LOCAL)  # listed: believed
    assert not unheeded("1.1.1.1", ())  # a client on the Internet sending the header: nothing to say
