"""What went wrong on a connection the station made (a relay, a feed, a webhook, a bulletin's
audio, a push), in words for the log and the status pages: not a class name, an errno tuple or
aiohttp's "Cannot connect to host h:p ssl:default [...]". Never the URL, whose query may hold
a token: the caller names the address."""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiohttp


def in_words(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"its TLS certificate is not accepted ({getattr(exc.certificate_error, 'verify_message', '') or exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientConnectorError):  # could not connect: what the socket said
        return in_words(exc.os_error)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"too many redirects (more than {len(exc.history)})" if exc.history else "too many redirects"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status} {exc.message}".strip()
    if isinstance(exc, aiohttp.InvalidURL):  # (a redirect to a bad URL: its text is that URL)
        return "not a valid URL"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the other side closed the connection before its answer"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the other side's answer broke off"
    return _os_words(exc)


def _os_words(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"host name not found ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: nothing listens at that host and port"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "the other side closed the connection in the middle of its answer"
    if isinstance(exc, ConnectionResetError):
        return "the other side reset the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
