"""Reports made and written out: JSON, CSV, plain text, and SoundExchange's own text layout
(AzuraCast's: `|`-delimited, every text field upper-cased and wrapped in `^`, numbers bare)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import sqlite3
from datetime import tzinfo
from pathlib import Path

from ..disk import read_only
from ..wire.icy import clean_title
from ..wire.text import ascii_text
from .audience_report import audience
from .reports import (
    FLAGS,
    KINDS,
    QUERY,
    WEB_MAX_DAYS,
    Report,
    ReportError,
    Section,
    parse_range,
    plays,
    soundexchange,
    soundexchange_name,
    tracks,
)


def build(
    conn: sqlite3.Connection,
    kind: str,
    start: str | None,
    end: str | None,
    tz: tzinfo,
    service: str,
    tuning_hours: bool = False,
    names: tuple[str, str] = FLAGS,
    max_days: int | None = None,
) -> Report:
    """The report `kind` for the dates asked (raises ReportError for a bad request, naming the
    dates as `names` says: reports.FLAGS or reports.QUERY; and a range longer than `max_days`)."""
    if kind not in KINDS:
        raise ReportError(f"unknown report {kind!r}: one of {', '.join(KINDS)}")
    if tuning_hours and kind != "soundexchange":
        asked = "--tuning-hours" if names == FLAGS else "variant=ath"
        raise ReportError(f"{asked} is SoundExchange's aggregate-tuning-hours variant: it means nothing for the {kind} report")
    t0, t1, first, last = parse_range(start, end, tz, names=names, max_days=max_days)
    report = Report(kind, first, last, str(tz))
    if kind == "plays":
        report.sections = [plays(conn, t0, t1, tz)]
    elif kind == "tracks":
        report.sections = [tracks(conn, t0, t1)]
    elif kind == "soundexchange":
        report.sections = [soundexchange(conn, t0, t1, service, tuning_hours)]
        last_day = dt.datetime.fromtimestamp(t1 - 1, tz).date().isoformat()  # (`last` may say a time)
        report.filename = soundexchange_name(service, first[:10], last_day)
    else:
        report.sections = audience(conn, t0, t1, tz)
    return report


def report_body(
    path: Path, fmt: str, kind: str, asked: tuple[str | None, str | None], tz: tzinfo, service: str, ath: bool
) -> tuple[bytes, str, str]:
    """A web request's report, made and written out in the offload worker (its own read-only
    connection): (body, content type, file name). Neither the query nor the formatting runs on
    the event loop, nor in a thread of the station's process, whose interpreter lock it would
    hold (a year of plays as JSON, 50 MB, stalled every stream for 1.9 s that way)."""
    with contextlib.closing(read_only(path, 10)) as conn:
        made = build(conn, kind, asked[0], asked[1], tz, service, ath, QUERY, WEB_MAX_DAYS)
    body, content_type = render(made, fmt)
    return body.encode(), content_type, made.filename


def soundexchange_text(section: Section) -> str:
    """The header row and one row per song, as AzuraCast writes it, each line ending in a newline
    (a text file's last line too: `wc -l` and line-reading tools count it)."""

    def field(value: object) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return "^" + clean_title(ascii_text(str(value))).upper().replace("^", "").replace("|", "") + "^"  # the file is ASCII

    return "".join("|".join(field(v) for v in row) + "\n" for row in [tuple(section.columns), *section.rows])


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet will not run: text that begins like a formula (=, +, -, @, a tab
    or CR) gets a leading apostrophe, as OWASP advises (a title is anyone's text: a DJ's, a tag's)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def render(report: Report, fmt: str) -> tuple[str, str]:
    """(body, content type) of `report` in `fmt` (json | csv | txt)."""
    if fmt == "json":
        body = {"report": report.kind, "from": report.start, "to": report.end, "timezone": report.timezone}
        for section in report.sections:
            body[section.name] = [dict(zip(section.columns, row, strict=True)) for row in section.rows]
        return json.dumps(body, ensure_ascii=False) + "\n", "application/json"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for i, section in enumerate(report.sections):
            if len(report.sections) > 1:
                out.write(("\n" if i else "") + f"# {section.name}\n")
            writer.writerow(section.columns)
            writer.writerows([spreadsheet_safe(v) for v in row] for row in section.rows)
        return out.getvalue(), "text/csv"
    if fmt == "txt" and report.kind == "soundexchange":
        return soundexchange_text(report.sections[0]), "text/plain"
    return text_tables(report), "text/plain"


def text_tables(report: Report) -> str:
    lines = [f"{report.kind}: {report.start} to {report.end} ({report.timezone})"]
    for section in report.sections:
        # one record a line: clean_title also for rows from before titles were cleaned where read
        table = [section.columns, *[["" if v is None else clean_title(str(v)) for v in row] for row in section.rows]]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(section.columns))]
        lines += ["", f"{section.name} ({len(section.rows)})"]
        lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join(lines) + "\n"
