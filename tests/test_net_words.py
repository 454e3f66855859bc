"""Connection failures in words (net_words.py), from the errors aiohttp and sockets really raise."""

from __future__ import annotations

import asyncio
import socket
import ssl
from types import SimpleNamespace

import aiohttp
import pytest

from streamer.net_words import in_words


async def _failure(url: str) -> BaseException:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)):
                pass
        except aiohttp.ClientError as exc:
            return exc
    raise AssertionError(f"{url} answered")


def test_a_refused_connection_is_said_without_aiohttps_words():
    with socket.socket() as held:  # bound, not listening: refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        exc = asyncio.run(_failure(f"http://127.0.0.1:{port}/feed?token=secret"))
    assert "ssl:default" in str(exc)  # (what aiohttp says)
    assert in_words(exc) == "connection refused: nothing listens at that host and port"


def test_other_connection_failures_in_words():
    key = SimpleNamespace(host="news.example", port=443, ssl=True)
    dns = aiohttp.ClientConnectorDNSError(key, socket.gaierror(-2, "Name or service not known"))
    assert in_words(dns) == "host name not found (Name or service not known)"
    handshake = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    handshake.reason = "WRONG_VERSION_NUMBER"
    assert in_words(aiohttp.ClientConnectorSSLError(key, handshake)) == "TLS handshake failed (WRONG_VERSION_NUMBER)"
    assert in_words(aiohttp.ServerDisconnectedError()) == "the other side closed the connection before its answer"
    assert in_words(aiohttp.InvalidURL("https://x.example/?token=secret")) == "not a valid URL"  # never the URL
    assert in_words(ConnectionResetError(104, "Connection reset by peer")) == "the other side reset the connection"
    assert in_words(OSError(113, "No route to host")) == "No route to host"


@pytest.mark.parametrize("status", [404, 503])
def test_an_answer_that_is_an_error_is_its_status(status):
    info = SimpleNamespace(real_url="https://x.example/")
    exc = aiohttp.ClientResponseError(info, (), status=status, message="Not Found" if status == 404 else "Service Unavailable")
    assert in_words(exc).startswith(f"HTTP {status} ")
