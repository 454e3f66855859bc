"""News items from the places a newsroom keeps them (pure: text/bytes in, items out).

- The news item and its text cleaning; articles' text is read in article_text.py.
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
from datetime import datetime
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

from ..wire.text import safe_text

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
        self.title = plain_text(self.title)[:MAX_HEADLINE]  # (markup is read where it comes in: clean_text)
        self.summary = shorten(plain_text(self.summary), MAX_SUMMARY)
        self.source = plain_text(self.source)
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


def plain_text(text: str) -> str:
    """Text as it is (a post, the saved list): made safe and NFC, control characters and runs of
    space folded. Nothing is read as markup: what the editor typed, `&lt;` or `a<b`, stays."""
    text = unicodedata.normalize("NFC", safe_text(text or ""))
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def clean_text(text: str) -> str:
    """Text from markup (feeds, articles): tags out, entities decoded, then plain_text. Done once,
    where the text comes in (QA: done again at every restart, `&lt;b&gt;` turned into `<b>`,
    then into nothing)."""
    text = _MARKUP.sub(" ", safe_text(text or ""))  # feeds put HTML in descriptions; "<5%" or "a > b" is text
    return plain_text(html.unescape(text))


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


# --- feeds ----------------------------------------------------------------------------------

_ATOM = "{http://www.w3.org/2005/Atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"  # Dublin Core: dc:date dates RSS items that have no pubDate


class FeedError(ValueError):
    pass


def parse_feed(data: bytes, origin: str = "") -> list[NewsItem]:
    """Items of an RSS 2.0 or Atom feed. Raises FeedError for anything else."""
    try:
        root = ElementTree.fromstring(data)
    except Exception as exc:  # defusedxml raises several types (ParseError, EntitiesForbidden…)
        raise FeedError(f"malformed XML: {exc}") from None
    if root.tag == "rss" or root.find("channel") is not None:
        return _rss(root, origin)
    if root.tag == f"{_ATOM}feed":
        return _atom(root, origin)
    raise FeedError(f"not an RSS 2.0 or Atom feed (root element <{root.tag}>)")


def _rss(root: Element, origin: str) -> list[NewsItem]:
    channel = root.find("channel")
    source = clean_text(channel.findtext("title", "")) if channel is not None else ""
    return [
        NewsItem(
            title=clean_text(title),
            summary=clean_text(it.findtext("description", "")),
            source=source,
            published=_rfc822(it.findtext("pubDate", "")) or _iso(it.findtext(f"{_DC}date", "")),
            origin=origin,
            link=(it.findtext("link", "") or "").strip(),
        )
        for it in root.iter("item")
        if clean_text(title := it.findtext("title", ""))
    ]


def _atom(root: Element, origin: str) -> list[NewsItem]:
    source = clean_text(_atom_text(root.find(f"{_ATOM}title")))
    items = []
    for entry in root.iter(f"{_ATOM}entry"):
        if not clean_text(title := _atom_text(entry.find(f"{_ATOM}title"))):
            continue
        # the story's page is the rel="alternate" link (no rel means alternate); an "edit" or
        # "enclosure" link may come first
        page = next((link for link in entry.findall(f"{_ATOM}link") if link.get("rel", "alternate") == "alternate"), None)
        items.append(
            NewsItem(
                title=clean_text(title),
                summary=clean_text(_atom_text(entry.find(f"{_ATOM}summary")) or _atom_text(entry.find(f"{_ATOM}content"))),
                source=source,
                published=_iso(entry.findtext(f"{_ATOM}updated", "") or entry.findtext(f"{_ATOM}published", "")),
                origin=origin,
                link=page.get("href", "") if page is not None else "",
            )
        )
    return items


def _atom_text(element: Element | None) -> str:
    """An Atom text construct's text: type "text" and "html" (escaped markup, cleaned later) are
    the element's text; type "xhtml" is a <div> whose text is spread over child elements."""
    return "".join(element.itertext()) if element is not None else ""


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
    """One list: expired items out, duplicates (same headline) merged, newest first.

    When there are more than `limit`, each group (the folder, the posted items, each feed) keeps
    its newest in turn, so a wire that posts a hundred items an hour cannot push the station's
    own articles and the other feeds off the list."""
    best: dict[str, tuple[NewsItem, int]] = {}
    for n, group in enumerate(groups):
        for item in group:
            if item.expires is not None and item.expires <= now:
                continue
            kept = best.get(item.id)
            # the same headline twice: the station's own (its folder, its posts) before a feed's,
            # then the newer (QA: an undated wire copy, "new" when fetched, took the newsroom's
            # summary and credit off its own story)
            if kept is None or (_own(item), item.published) > (_own(kept[0]), kept[0].published):
                best[item.id] = (item, n)
    by_group: dict[int, list[NewsItem]] = {}
    for item, n in best.values():
        by_group.setdefault(n, []).append(item)
    # an item's turn: its place in its own group, newest first (0, 1, 2 …); ties go to the newer
    turns = [(turn, item) for items in by_group.values() for turn, item in enumerate(sorted(items, key=_newest))]
    chosen = [item for _, item in sorted(turns, key=lambda t: (t[0], _newest(t[1])))[:limit]]
    return sorted(chosen, key=_newest)


def _own(item: NewsItem) -> bool:
    return not item.origin.startswith("feed:")


def _newest(item: NewsItem) -> float:
    return -item.published


def version_of(item: NewsItem) -> str:
    """A fingerprint of what an item says beyond its headline (its summary and credit)."""
    return hashlib.sha256(f"{item.summary}\0{item.source}".encode()).hexdigest()[:16]


def dated_as_fetched(items: list[NewsItem], now: float, before: list[NewsItem]) -> None:
    """An item undated, or dated ahead (an Atom entry of 2027 stayed newest until then), counts
    from when it was first fetched: its time in `before` (the feed's last items), else `now`."""
    first = {i.id: i.published for i in before}
    for item in items:
        if not item.published or item.published > now:
            item.published = min(first.get(item.id, now), now)
