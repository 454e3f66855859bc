"""Reading the news folder's article files (blocking: the folder scan runs in a thread).

Text is decoded as its byte-order mark says (Notepad's "Unicode" is UTF-16), else as UTF-8,
else as Windows-1252 (an older editor's). A file over the size cap is read to its last whole
line, so a line cut in the middle is never taken for the source credit. A file that changed
in the last SETTLE seconds is left for a later scan: a CMS that writes an article in pieces
must not put half a headline on air.
"""

from __future__ import annotations

import codecs
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..wire.text import display_path
from .article_text import parse_article, too_long
from .parse import NewsItem

ARTICLE_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".html", ".htm"}
MAX_ARTICLE_BYTES = 2_000_000
SETTLE = 2.0  # seconds a file must be left unchanged before it is read
NO_HEADLINE = "no headline found: put it on a line of its own above the body, without a full stop"
NOT_TEXT = "not a text file (it holds binary data): save articles as text, Markdown or HTML"
NO_HTML_HEADLINE = "no headline found: put it in an <h1> or <h2> above the article's first paragraph"
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def settled(mtime: float, now: float) -> bool:
    """Whether a file last changed at `mtime` has been left alone long enough to be read."""
    return now - mtime >= SETTLE or mtime > now  # (dated ahead: another machine's clock says nothing of when it was written)


def decode_article(raw: bytes) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return raw.decode(encoding, errors="replace")
    if (utf16 := _bomless_utf16(raw[:4096])) is not None:
        return raw.decode(utf16, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # saved by an older Windows editor: cp1252, not "Caf\ufffd"
        return raw.decode("cp1252", errors="replace")


def _bomless_utf16(head: bytes) -> str | None:
    """UTF-16 without its byte-order mark, by where the NUL bytes of its Latin letters fall (QA:
    "T h e c i t y ..." aired as a headline); None for anything else."""
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if len(head) < 16 or max(even, odd) < len(head) // 4:
        return None
    if odd > 4 * even:
        return "utf-16-le"
    return "utf-16-be" if even > 4 * odd else None


def is_binary(text: str) -> bool:
    """Whether decoded text is not text: control characters (but tabs, line and page breaks)
    in more than 1 % of its start; a text file has none (QA: random bytes aired as a headline)."""
    head = text[:4096]
    return len(_CONTROL.findall(head)) > len(head) // 100


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
    if is_binary(text):
        return None, NOT_TEXT
    try:
        item = parse_article(text, mastheads)
    except ValueError as exc:  # front matter that says something it cannot mean
        return None, str(exc)
    if item is None:
        return None, too_long(text) or (NO_HTML_HEADLINE if path.suffix.lower() in (".html", ".htm") else NO_HEADLINE)
    if item.expires is not None and item.expires <= time.time():  # (QA: it was left out without a word)
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(item.expires))
        return None, f"expires: {when} is past, so it is not listed (give a later time, or delete the line)"
    item.published = mtime
    item.origin = f"folder:{display_path(path.name)}"  # (a name's undecodable bytes made the saved list unwritable: QA)
    return item, ""


@dataclass(slots=True)
class FolderScan:
    """What a scan of the news folder found (made in a worker thread, applied on the loop)."""

    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    items: dict[str, NewsItem | None] = field(default_factory=dict)  # changed articles (None: unreadable)
    errors: dict[str, str] = field(default_factory=dict)
    folder_error: str = ""


def scan_folder(folder: Path, mastheads: tuple[str, ...], known: dict[str, tuple[int, int]]) -> FolderScan:
    """Blocking (a worker thread): reads the articles that changed since `known`."""
    scan = FolderScan()
    try:
        entries = [p for p in folder.iterdir() if p.suffix.lower() in ARTICLE_SUFFIXES and p.is_file()]
    except FileNotFoundError:
        entries = []
    except OSError as exc:
        scan.folder_error = str(exc)
        return scan
    for path in entries:
        key = str(path)
        try:
            st = path.stat()
        except OSError:
            continue
        if not settled(st.st_mtime, time.time()):  # still being written: a later scan reads it
            if key in known:
                scan.seen[key] = known[key]
            continue
        scan.seen[key] = (st.st_mtime_ns, st.st_size)
        if known.get(key) == scan.seen[key]:
            continue
        item, error = read_article(path, st.st_mtime, mastheads)
        scan.items[key] = item
        if item is None:
            scan.errors[key] = error
    return scan
