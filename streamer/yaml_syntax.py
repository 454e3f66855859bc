"""What a YAML syntax error says to a DJ (pure): PyYAML names the place where it gave up, which
for a quote, `{` or `[` left open is a later line than the mistake; a tab is named as a tab."""

from __future__ import annotations

import re

import yaml


def syntax_problem(text: str, exc: yaml.YAMLError) -> tuple[int, int, str]:
    """(line, column, message) for the YAML syntax error `exc` in `text`, 1-based."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = getattr(exc, "problem", None) or str(exc)
    quote = unclosed_quote(text, line)
    at = (text.splitlines()[line - 1 : line] or [""])[0][col - 1 : col]
    if at == "\t":  # (QA: "found character that cannot start any token")
        what = "a tab: YAML indents with spaces, not tabs (replace it with spaces)"
    elif quote is not None:  # YAML reads on to a later line and complains there (QA)
        line, col = quote
        what = f"this quote is not closed on its line (YAML read on and then: {what})"
    elif (bracket := unclosed_bracket(exc)) is not None:  # the same, for a { or [ (QA)
        line, col, what = bracket
    return line, col, f"YAML syntax: {what}"


_OPENING_QUOTE = re.compile(r"""(?:^|[:\-\[{,]\s*)(["'])""")


def unclosed_bracket(exc: yaml.YAMLError) -> tuple[int, int, str] | None:
    """(line, column, message) of a `{` or `[` that YAML found unclosed only on a later line,
    where it complains (`music: {files: [...], order: shuffle` with its `}` forgotten), else None."""
    context, opened, stopped = getattr(exc, "context", None), getattr(exc, "context_mark", None), getattr(exc, "problem_mark", None)
    kind = {"while parsing a flow mapping": "{", "while parsing a flow sequence": "["}.get(context or "")
    if kind is None or opened is None or stopped is None or opened.line >= stopped.line:
        return None
    closer = "}" if kind == "{" else "]"
    where = f"line {stopped.line + 1}, column {stopped.column + 1}"
    return opened.line + 1, opened.column + 1, f"this '{kind}' is not closed with '{closer}' (YAML read on to {where}: {exc.problem})"


def unclosed_quote(text: str, until: int) -> tuple[int, int] | None:
    """(line, column) of the last quoted value before line `until` (1-based) that opens a quote
    and does not close it on its line (`start: "06:00` saved half typed), else None (pure).
    Only a quote that begins a value counts: an apostrophe inside plain text does not."""
    found = None
    lines = text.splitlines()
    for number, line in enumerate(lines[:until], start=1):
        if line.lstrip().startswith("#"):
            continue
        for m in _OPENING_QUOTE.finditer(line):
            if not _closing(m[1], line[m.end() :]):
                # a quoted value may span lines: it is the culprit only if it closes on the
                # line YAML stopped at (then went on with what was meant as the next value), or never
                later = next((n for n in range(number + 1, len(lines) + 1) if _closing(m[1], lines[n - 1])), None)
                found = (number, m.start(1) + 1) if later is None or later >= until else found
            break  # the first value on the line decides; a later quote is inside it
    return found


def _closing(quote: str, text: str) -> bool:
    return bool(re.search(r'(?<!\\)"', text) if quote == '"' else re.search(r"'(?!')", text.replace("''", "")))
