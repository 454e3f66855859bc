"""The station's log: one line per record.

A file name, title or header is put into log messages as it came, so a line break in one (a file
named "x\n2026-11-28 00:00:00,000 CRITICAL fake line.mp3": QA) forged a line of its own. The
message part of each line has its control characters escaped; a traceback below it keeps its lines.
"""

from __future__ import annotations

import asyncio
import logging
import re

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def escape_controls(text: str) -> str:
    """`text` with line breaks and other control characters (not tabs) written as \\n, \\x01, ..."""
    return _CONTROL.sub(lambda m: repr(m[0])[1:-1], text)


class OneLineFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))


def configure_logging(level: str) -> None:
    """The root logger at `level`, writing one line per record to stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("aiohttp.server").addFilter(quiet_bad_requests)


def quiet_bad_requests(record: logging.LogRecord) -> bool:
    """A malformed request is the client's mistake, answered with a 400: one line, no traceback
    (a fuzzer or a broken client must not flood the log)."""
    from aiohttp.http_exceptions import HttpProcessingError  # here: the other commands start without aiohttp

    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, HttpProcessingError):
        record.msg, record.args = "bad request answered %s: %s", (exc.code, " ".join(str(exc.message).split())[:200])
        record.levelno, record.levelname, record.exc_info, record.exc_text = logging.INFO, "INFO", None, None
    elif isinstance(exc, ConnectionResetError | asyncio.CancelledError):
        return False  # a client that went away mid-answer: nothing to report
    return True
