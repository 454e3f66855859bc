"""An article's text as the station's website saves it, to a news item (pure: text in, item out).

- Text: a masthead line, the headline, the body, a source credit (often glued to the end of
  the last paragraph). The headline is the last short line without a full stop above the body,
  but for a byline or a date line.
- HTML: its blocks as lines, the page's head and scripts dropped.
- Markdown, with or without YAML front matter (`title:`, `summary:`, `source:`, `expires:`).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

import yaml

from .bylines import is_byline_or_dateline, is_caption
from .parse import MAX_HEADLINE, NewsItem, clean_text, plain_text

# (and the full stops of Chinese and Japanese, with their closing quotes and brackets: QA)
_SENTENCE_END = re.compile("[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\u300d\u300f\uff09]*$")
_STATEMENT_END = re.compile("[.\u2026\u3002][\"'\u201d\u2019)\u300d\u300f\uff09]*$")
# Ends in a dot without a full stop: an ellipsis ("And the winner is…") or an abbreviation ("to visit the U.S.")
_OPEN_END = re.compile(r"(?:…|\.\.\.|\b(?:[A-Z]\.){2,})[\"'\u201d\u2019)]*$")
_ABBREVIATION_END = re.compile(r"\b(?:[A-Z]\.){2,}[\"'\u201d\u2019)]*$")
_HTML_BLOCK = re.compile(r"</?(?:h[1-6]|p|div|br|li|ul|ol|title|article|section|header|footer|blockquote)\b[^>]{0,500}>", re.I)
# not the article: scripts, the page's head, navigation, sidebars, footers, figures and their captions
_HTML_UNREAD = re.compile(r"<(script|style|head|nav|noscript|aside|footer|figure|form)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]{0,500}>")
_HTML_HEADING = re.compile(r"<h([12])\b[^>]{0,500}>(.*?)</h\1\s*>", re.I | re.S)
_HTML_PARAGRAPH = re.compile(r"<p\b[^>]{0,500}>(.*?)</p\s*>", re.I | re.S)
_SENTENCE_BREAK = re.compile(r"[.!?…][\"'\u201d\u2019)]*\s+[\"'\u201c\u2018(]*[A-Z0-9]")
QUESTION_HEADLINE = 100  # a line ending in ? or ! up to this long can be a headline ("Will the rains come?")
LONG_LINE = 160  # a line longer than this is body if it holds two sentences (a headline holds one)


def _is_body_line(line: str) -> bool:
    """Body text: a statement, a long question or exclamation, or a long line of sentences.
    Headlines and mastheads end without a full stop (a headline may ask, exclaim, trail off or end
    in an abbreviation such as "U.S." when as short as a question); a long headline is one
    sentence (QA: a 190-character one was taken for body, and the masthead aired)."""
    if len(line) > MAX_HEADLINE:
        return True
    if _STATEMENT_END.search(line) and not (_OPEN_END.search(line) and len(line) <= QUESTION_HEADLINE):
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
    return html.unescape(_HTML_TAG.sub(" ", _HTML_BLOCK.sub("\n", text)))


def _html_heading(text: str) -> NewsItem | None:
    """An HTML article's item from its heading: the last <h1>/<h2> before the first paragraph of
    body (a site's <h1> name comes before the article's <h2>), not a line of the page around it
    (QA: "Share this article", "Posted on … by …" aired as headlines); None without one."""
    if not _HTML_BLOCK.search(text):
        return None
    page = _HTML_UNREAD.sub(" ", text)
    first_body = next((m.start() for m in _HTML_PARAGRAPH.finditer(page) if _is_body_line(_plain(m[1]))), len(page))
    headings = [m for m in _HTML_HEADING.finditer(page, 0, first_body) if _plain(m[2])]
    if not headings:
        return None
    body = [line.strip() for line in _html_as_lines(page[headings[-1].end() :]).splitlines() if line.strip()]
    return _item(_plain(headings[-1][2]), body, decoded=True)


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(_HTML_TAG.sub(" ", fragment)).split())


def parse_article(text: str, mastheads: tuple[str, ...] = ()) -> NewsItem | None:
    """Headline, summary and source credit of a saved article; None if there is no headline.

    The headline is the last short, unpunctuated line before the body starts, but for a
    byline or a date line; anything above it (the site's masthead, a section name) is not
    the headline. Known mastheads can also be named.
    """
    text = text.lstrip("\ufeff")
    if text.startswith("---"):
        return _front_matter(text)
    if (heading := _html_heading(text)) is not None:
        return heading
    decoded = bool(_HTML_BLOCK.search(text))  # an HTML page's lines come tags out and entities decoded
    lines = [line.strip() for line in _html_as_lines(text).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    if lines[0].startswith("#"):  # Markdown without front matter: the first heading
        body = [line for line in lines[1:] if not line.startswith("#")]
        return _item(lines[0].lstrip("#").strip(), body, decoded)
    masthead_keys = {m.casefold() for m in mastheads}
    head: list[str] = []
    body_start = next((i for i, line in enumerate(lines) if _is_body_line(line)), None)
    if body_start is None:  # a paragraph that lost its full stop (QA: the credit line below it aired as the headline)
        body_start = next((i for i, line in enumerate(lines) if i and len(line) > QUESTION_HEADLINE), len(lines))
    for line in lines[:body_start]:
        if line.casefold() not in masthead_keys:
            head.append(line)
    if not head:
        return None
    named = len(head) < body_start
    if _first_paragraph_in_head(head, named):  # "… a trade deal with the U.S." under the headline
        body_start -= 1
        head.pop()
    return _item(_headline(head, named), lines[body_start:], decoded)


def _first_paragraph_in_head(head: list[str], named: bool) -> bool:
    """A short first paragraph that ends in an abbreviation ("… with the U.S.") looks like a
    headline; it is one only at the top. Below a headline of three words or more (and the
    masthead, unless that was named) it is the body's first paragraph (QA: it aired as the headline)."""
    first = 0 if named else 1
    above = head[-2] if len(head) - first >= 2 else ""
    return bool(_ABBREVIATION_END.search(head[-1])) and len(above.split()) >= 3 and not is_byline_or_dateline(above)


def _headline(head: list[str], named: bool) -> str:
    """The last line above the body but for a byline, a date line or a picture's caption (when
    there is another). A caption often comes twice (the picture's text and its caption): a line
    repeated is passed over when a line that is not stands below the masthead (the first line,
    unless a named masthead was left out) above it, as the headline does."""
    twice = {i for i in range(1, len(head)) if head[i].casefold() == head[i - 1].casefold()}
    twice |= {i - 1 for i in twice}
    first = 0 if named else 1
    for i in reversed(range(len(head))):
        line = head[i]
        if is_byline_or_dateline(line) or is_caption(line):
            continue
        if i in twice and any(j not in twice and not is_byline_or_dateline(head[j]) for j in range(first, i)):
            continue
        return line
    return head[-1]


def too_long(text: str) -> str:
    """Why an article with no headline found has none, when its first line of text is a headline
    too long to be one (QA: a 332-character headline was said as missing); '' otherwise."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) > MAX_HEADLINE and not _SENTENCE_END.search(first):
        return f"the headline is {len(first)} characters: a headline is at most {MAX_HEADLINE} (put the rest in the body)"
    return ""


def _item(title: str, body: list[str], decoded: bool = False) -> NewsItem | None:
    """The item from its headline and body lines; `decoded`: an HTML page's, its markup already
    read (read again, `&lt;new&gt;` decoded to `<new>` was then taken for a tag: QA)."""
    text = plain_text if decoded else clean_text
    title = text(title)
    if not title:  # nothing left of it to read or show (a line of markup)
        return None
    summary = next((line for line in body if _is_body_line(line) or _ABBREVIATION_END.search(line)), "")
    summary = summary or next((line for line in body if len(line) > QUESTION_HEADLINE), "")  # (one without its full stop)
    source = ""
    if body:
        # A credit glued to the end of the last paragraph: '… out of the city." BBC News'
        m = re.search(r"[.!?\"\u201d\u2019]\s+([A-Z][\w&.'\- ]{1,40})$", body[-1])
        if m and not _SENTENCE_END.search(m[1]):
            source = m[1].strip()
        elif len(body[-1]) <= 40 and not _is_body_line(body[-1]) and not _STATEMENT_END.search(body[-1]):  # "More to follow…"
            source = body[-1]
    return NewsItem(title=title, summary=text(summary), source=text(source))


def _front_matter(text: str) -> NewsItem | None:
    _, _, rest = text.partition("---")
    meta_text, sep, body = rest.partition("\n---")
    if not sep:
        return None
    try:
        meta = yaml.safe_load(meta_text) or {}
    except yaml.YAMLError as exc:  # (QA: said as "no headline found")
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)  # (an open quote: where it opens)
        where = f" at line {mark.line + 1}" if mark else ""  # (the front matter begins on the file's first line, after ---)
        what = "; ".join(filter(None, (getattr(exc, "context", None), getattr(exc, "problem", None)))) or str(exc)
        raise ValueError(f"the front matter is not valid YAML{where}: {what}") from None
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
        title=clean_text(title),
        summary=clean_text(str(meta.get("summary") or next((line for line in body_lines if _is_body_line(line)), ""))),
        source=clean_text(str(meta.get("source") or "")),
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
