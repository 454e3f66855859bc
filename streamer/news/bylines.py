"""Lines of a saved article that are not its headline though they look like one: the byline,
the date line and the picture's caption that websites put between the headline and the body (pure).

QA saved "Fuel prices rise for third month", then "By Staff Reporter", then the body: the
byline went on air as the headline (and "27 November 2026" did, with a date line).
"""

from __future__ import annotations

import re

MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?"
    "|nov(?:ember)?|dec(?:ember)?"
)
WEEKDAYS = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
_DATE = re.compile(
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})\.?,?\s+\d{{4}}"  # 27 November 2026
    rf"|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # November 27, 2026
    r"|\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}",  # 2026-11-27, 27/11/2026
    re.I,
)
_TIME = re.compile(r"\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[A-Z]{2,5}\b)?", re.I)
_DATE_WORDS = re.compile(rf"\b(?:published|updated|posted|last updated|on|at|{WEEKDAYS})\b:?", re.I)
# "By Staff Reporter", "Written by Tendai Moyo and Rudo Banda", "By Our Correspondent in Harare"
_BYLINE = re.compile(r"(?:(?:written|reported|posted)\s+)?by\s+(.+)", re.I)
_NAME_JOINERS = {"and", "&", "in", "for", "of", "de", "da", "van", "von", "our"}
# "Image caption, Rescuers at the site", "Image source, Reuters", "Caption: …", "(Photo: …)", and
# "Photo: AFP" or "Picture: Getty Images" when short: "Pictures: Warriors come home" is a headline
_CAPTION = re.compile(
    r"(?:image|photo|picture)\s*(?:caption|source|copyright|credit)\b|(?:caption|credit)\s*:|\((?:photo|picture)s?\s*:"
    r"|(?:photo|photograph|picture)\s*:\s*\S+(?:\s+\S+){0,3}$",
    re.I,
)
_STAFF = re.compile(r"(?:staff\s+(?:reporter|writer|correspondent)|(?:our\s+)?(?:\w+\s+)?correspondent|reporter)", re.I)


def is_byline_or_dateline(line: str) -> bool:
    """A byline (names after "By", or "Staff Reporter"), a line with only a date and time (after a
    place in capitals: "HARARE, 28 November 2026"), or both ("By Staff Reporter | 28 November 2026")."""
    if _one(line):
        return True
    parts = [p for p in _PARTS.split(line) if p.strip()]
    return len(parts) > 1 and all(_one(p) for p in parts)


def _one(part: str) -> bool:
    return _is_byline(part) or _is_dateline(_PLACE.sub("", part))


_PARTS = re.compile(r"\s+[|·•\u2013\u2014]\s+")  # "By Staff Reporter | 28 November 2026"
_PLACE = re.compile(r"^\s*[A-Z][A-Z .'\-]{1,30}(?:\([A-Za-z .]{1,20}\))?\s*[,\u2013\u2014:-]\s*(?=\S)")  # "HARARE, ", "BULAWAYO — "


def is_caption(line: str) -> bool:
    """A picture's caption or credit line, by the words websites start it with."""
    return _CAPTION.match(line.strip()) is not None


def _is_byline(line: str) -> bool:
    if _STAFF.fullmatch(line.strip()):
        return True
    m = _BYLINE.fullmatch(line.strip())
    if m is None or ":" in m[1]:
        return False
    words = re.split(r"[\s,]+", m[1].strip())
    # names: capitalised words and the few small words between them ("By the numbers" is a headline)
    return 0 < len(words) <= 8 and all(w[:1].isupper() or w.casefold() in _NAME_JOINERS for w in words if w)


def _is_dateline(line: str) -> bool:
    if not _DATE.search(line):
        return False
    rest = _TIME.sub(" ", _DATE.sub(" ", line))
    return not re.sub(r"[\s,|·•\-\u2013\u2014()]+", "", _DATE_WORDS.sub(" ", rest))
