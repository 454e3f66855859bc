"""HTTP Basic credentials (pure): an `Authorization` header in, a yes or no out.

Headers arrive in any encoding: UTF-8 from browsers and curl, Latin-1 from older source
clients, garbage from fuzzers. None of them may raise.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from .text import decode_text


def basic_user(header: str) -> str:
    """The user name an `Authorization: Basic …` header gives (for the log), or ""."""
    scheme, _, value = header.partition(" ")
    try:
        raw = base64.b64decode(value.strip(), validate=True) if scheme.lower() == "basic" else b""
    except (binascii.Error, ValueError):
        return ""
    return decode_text(raw).partition(":")[0][:64]


def check_basic(header: str, user: str, password: str) -> bool:
    """Does an `Authorization: Basic …` header carry exactly these credentials?"""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return False
    try:  # a header with non-ASCII characters is not base64 at all: b64decode raises ValueError
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    given_user, sep, given_password = decode_text(raw).partition(":")
    ok_user = hmac.compare_digest(given_user.encode(), user.encode())
    ok_password = hmac.compare_digest(given_password.encode(), password.encode())
    return bool(sep) and ok_user and ok_password
