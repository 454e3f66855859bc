"""Reading one article file of the news folder (blocking: the folder scan runs in a thread).

Text is decoded as its byte-order mark says (Notepad's "Unicode" is UTF-16), else as UTF-8,
else as Windows-1252 (an older editor's). A file over the size cap is read to its last whole
line, so a line cut in the middle is never taken for the source credit. A file that changed
in the last SETTLE seconds is left for a later scan: a CMS that writes an article in pieces
must not put half a headline on air.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from .article_text import parse_article
from .parse import NewsItem

MAX_ARTICLE_BYTES = 2_000_000
SETTLE = 2.0  # seconds a file must be left unchanged before it is read
NO_HEADLINE = "no headline found: put it on a line of its own above the body, without a full stop"
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def settled(mtime: float, now: float) -> bool:
    """Whether a file last changed at `mtime` has been left alone long enough to be read."""
    return now - mtime >= SETTLE or mtime > now  # (dated ahead: another machine's clock says nothing of when it was written)


def decode_article(raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # saved by an older Windows editor: cp1252, not "Caf\ufffd"
        return raw.decode("cp1252", errors="replace")


def read_article(path: Path, mtime: float, mastheads: tuple[str, ...]) -> tuple[NewsItem | None, str]:
    """(the article's item, '') or (None, why not)."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_ARTICLE_BYTES + 1)
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if not raw.strip():
        return None, "empty file"
    text = decode_article(raw[:MAX_ARTICLE_BYTES])
    if len(raw) > MAX_ARTICLE_BYTES:  # cut: its last line is a fragment, not a credit
        text = text.rsplit("\n", 1)[0]
    try:
        item = parse_article(text, mastheads)
    except ValueError as exc:  # front matter that says something it cannot mean
        return None, str(exc)
    if item is None:
        return None, NO_HEADLINE
    item.published = mtime
    item.origin = f"folder:{path.name}"
    return item, ""
