"""News items from the places a newsroom keeps them (pure: text/bytes in, items out).

- Articles saved as text by the station's website: a masthead line, the headline, the body,
  a source credit (often glued to the end of the last paragraph).
- Markdown articles, with or without YAML front matter (`title:`, `summary:`, `source:`).
- RSS 2.0 and Atom feeds (parsed with defusedxml: feeds are untrusted XML).
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

import yaml
from defusedxml import ElementTree

from ..wire.text import safe_text
from .bylines import is_byline_or_dateline

MAX_HEADLINE = 300
# A headline's summary, not the article (a 234 KB one was in every nowplaying document); more
# than the bulletin reads (bulletin.MAX_SPOKEN), so what is read out still ends at a sentence.
MAX_SUMMARY = 500
_MARKUP = re.compile(r"<!--.{0,2000}?-->|</?[A-Za-z][A-Za-z0-9:-]{0,30}(?:\s[^<>]{0,500})?/?>", re.S)  # a tag or a comment, not '<5%'


@dataclass(slots=True)
class NewsItem:
    title: str
    summary: str = ""
    source: str = ""
    published: float = 0.0  # epoch seconds
    expires: float | None = None
    origin: str = ""  # "folder:…", "feed:…" or "api"
    link: str = ""
    id: str = field(default="")

    def __post_init__(self) -> None:
        self.title = clean_text(self.title)[:MAX_HEADLINE]
        self.summary = shorten(clean_text(self.summary), MAX_SUMMARY)
        self.source = clean_text(self.source)
        if not self.id:
            self.id = item_id(self.title)
        # Times come from feeds, files, the API and the saved state: a NaN or an infinity there
        # would make every JSON document that carries the item invalid.
        self.published = self.published if _finite(self.published) else 0.0
        self.expires = self.expires if _finite(self.expires) else None

    def to_json(self) -> dict:
        return asdict(self)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", safe_text(text or ""))
    text = _MARKUP.sub(" ", text)  # feeds put HTML in descriptions; "<5%" or "a > b" is text
    text = html.unescape(text)
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: cut after a whole word, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if (space := cut.rfind(" ")) > limit // 2:  # a word longer than half the room is cut in it
        cut = cut[:space]
    return cut.rstrip(" ,;:-\u2013\u2014") + "…"


def item_id(title: str) -> str:
    """Stable id from the headline's letters: the same story from two sources is one item."""
    key = re.sub(r"\W+", " ", unicodedata.normalize("NFKC", title).casefold()).strip()
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


# --- articles -------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…][\"'\u201d\u2019)]*$")
_STATEMENT_END = re.compile(r"[.…][\"'\u201d\u2019)]*$")
_HTML_BLOCK = re.compile(r"</?(?:h[1-6]|p|div|br|li|ul|ol|title|article|section|header|footer|blockquote)\b[^>]{0,500}>", re.I)
_HTML_UNREAD = re.compile(r"<(script|style|head|nav|noscript)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_SENTENCE_BREAK = re.compile(r"[.!?…][\"'\u201d\u2019)]*\s+[\"'\u201c\u2018(]*[A-Z0-9]")
QUESTION_HEADLINE = 100  # a line ending in ? or ! up to this long can be a headline ("Will the rains come?")
LONG_LINE = 160  # a line longer than this is body if it holds two sentences (a headline holds one)


def _is_body_line(line: str) -> bool:
    """Body text: a statement, a long question or exclamation, or a long line of sentences.
    Headlines and mastheads end without a full stop (a headline may ask or exclaim); a long
    headline is one sentence (QA: a 190-character one was taken for body, and the masthead aired)."""
    if _STATEMENT_END.search(line) or len(line) > MAX_HEADLINE:
        return True
    if len(line) > LONG_LINE and _SENTENCE_BREAK.search(line):
        return True
    return bool(_SENTENCE_END.search(line)) and len(line) > QUESTION_HEADLINE


def _html_as_lines(text: str) -> str:
    """An article saved as HTML: its blocks (headings, paragraphs) as lines, tags, scripts,
    styles and the page's head (its <title> repeats the headline with the site's name) dropped."""
    if not _HTML_BLOCK.search(text):
        return text
    text = _HTML_UNREAD.sub(" ", text)
    return html.unescape(re.sub(r"<[^>]{0,500}>", " ", _HTML_BLOCK.sub("\n", text)))


def parse_article(text: str, mastheads: tuple[str, ...] = ()) -> NewsItem | None:
    """Headline, summary and source credit of a saved article; None if there is no headline.

    The headline is the last short, unpunctuated line before the body starts, but for a
    byline or a date line; anything above it (the site's masthead, a section name) is not
    the headline. Known mastheads can also be named.
    """
    text = text.lstrip("\ufeff")
    if text.startswith("---"):
        return _front_matter(text)
    lines = [line.strip() for line in _html_as_lines(text).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    if lines[0].startswith("#"):  # Markdown without front matter: the first heading
        body = [line for line in lines[1:] if not line.startswith("#")]
        return _item(lines[0].lstrip("#").strip(), body)
    masthead_keys = {m.casefold() for m in mastheads}
    head: list[str] = []
    body_start = len(lines)
    for i, line in enumerate(lines):
        if _is_body_line(line):
            body_start = i
            break
        if line.casefold() not in masthead_keys:
            head.append(line)
    if not head:
        return None
    # a byline or date line between the headline and the body is not the headline (when there is another)
    return _item(next((line for line in reversed(head) if not is_byline_or_dateline(line)), head[-1]), lines[body_start:])


def _item(title: str, body: list[str]) -> NewsItem | None:
    if not clean_text(title):  # nothing left of it to read or show (a line of markup)
        return None
    summary = next((line for line in body if _is_body_line(line)), "")
    source = ""
    if body:
        # A credit glued to the end of the last paragraph: '… out of the city." BBC News'
        m = re.search(r"[.!?\"\u201d\u2019]\s+([A-Z][\w&.'\- ]{1,40})$", body[-1])
        if m and not _SENTENCE_END.search(m[1]):
            source = m[1].strip()
        elif len(body[-1]) <= 40 and not _is_body_line(body[-1]):
            source = body[-1]
    return NewsItem(title=title, summary=summary, source=source)


def _front_matter(text: str) -> NewsItem | None:
    _, _, rest = text.partition("---")
    meta_text, sep, body = rest.partition("\n---")
    if not sep:
        return None
    try:
        meta = yaml.safe_load(meta_text) or {}
    except yaml.YAMLError:
        return None
    if not isinstance(meta, dict):
        return None
    body_lines = [line.strip() for line in body.splitlines() if line.strip() and not line.startswith("#")]
    title = str(meta.get("title") or meta.get("headline") or "")
    if not title:
        heading = next((line for line in body.splitlines() if line.startswith("#")), "")
        title = heading.lstrip("#").strip()
    if not title:
        return None
    item = NewsItem(
        title=title,
        summary=str(meta.get("summary") or next((line for line in body_lines if _is_body_line(line)), "")),
        source=str(meta.get("source") or ""),
    )
    if meta.get("expires") is not None:
        item.expires = expiry(meta["expires"])
    return item


def expiry(value: object) -> float:
    """Front matter's `expires:` as epoch seconds: a date-time (quoted or not; UTC unless it says)
    or a date (its midnight, UTC). Anything else raises ValueError: it was ignored silently."""
    when = value
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            when = None
    elif isinstance(value, date) and not isinstance(value, datetime):
        when = datetime(value.year, value.month, value.day)
    if not isinstance(when, datetime):
        raise ValueError(f"expires: {value!r} is not a date or time like 2026-11-24 or 2026-11-24T18:00:00Z")
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


# --- feeds ----------------------------------------------------------------------------------

_ATOM = "{http://www.w3.org/2005/Atom}"


class FeedError(ValueError):
    pass


def parse_feed(data: bytes, origin: str = "") -> list[NewsItem]:
    """Items of an RSS 2.0 or Atom feed. Raises FeedError for anything else."""
    try:
        root = ElementTree.fromstring(data)
    except Exception as exc:  # defusedxml raises several types (ParseError, EntitiesForbidden…)
        raise FeedError(f"malformed XML: {exc}") from None
    items: list[NewsItem] = []
    if root.tag == "rss" or root.find("channel") is not None:
        channel = root.find("channel")
        source = clean_text(channel.findtext("title", "")) if channel is not None else ""
        for it in root.iter("item"):
            title = it.findtext("title", "")
            if not clean_text(title):
                continue
            items.append(
                NewsItem(
                    title=title,
                    summary=it.findtext("description", ""),
                    source=source,
                    published=_rfc822(it.findtext("pubDate", "")),
                    origin=origin,
                    link=(it.findtext("link", "") or "").strip(),
                )
            )
    elif root.tag == f"{_ATOM}feed":
        source = clean_text(root.findtext(f"{_ATOM}title", ""))
        for entry in root.iter(f"{_ATOM}entry"):
            title = entry.findtext(f"{_ATOM}title", "")
            if not clean_text(title):
                continue
            link = entry.find(f"{_ATOM}link")
            items.append(
                NewsItem(
                    title=title,
                    summary=entry.findtext(f"{_ATOM}summary", "") or entry.findtext(f"{_ATOM}content", ""),
                    source=source,
                    published=_iso(entry.findtext(f"{_ATOM}updated", "") or entry.findtext(f"{_ATOM}published", "")),
                    origin=origin,
                    link=link.get("href", "") if link is not None else "",
                )
            )
    else:
        raise FeedError(f"not an RSS 2.0 or Atom feed (root element <{root.tag}>)")
    return items


def _rfc822(text: str) -> float:
    try:
        return email.utils.parsedate_to_datetime(text.strip()).timestamp()
    except (TypeError, ValueError, IndexError):
        return 0.0


def _iso(text: str) -> float:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


# --- the merged list --------------------------------------------------------------------------


def merge(groups: list[list[NewsItem]], now: float, limit: int = 50) -> list[NewsItem]:
    """One list: expired items out, duplicates (same headline) merged, newest first."""
    best: dict[str, NewsItem] = {}
    for group in groups:
        for item in group:
            if item.expires is not None and item.expires <= now:
                continue
            kept = best.get(item.id)
            if kept is None or item.published > kept.published:
                best[item.id] = item
    return sorted(best.values(), key=lambda i: i.published, reverse=True)[:limit]


def dated_as_fetched(items: list[NewsItem], now: float, before: list[NewsItem]) -> None:
    """An item undated, or dated ahead (an Atom entry of 2027 stayed newest until then), counts
    from when it was first fetched: its time in `before` (the feed's last items), else `now`."""
    first = {i.id: i.published for i in before}
    for item in items:
        if not item.published or item.published > now:
            item.published = min(first.get(item.id, now), now)
