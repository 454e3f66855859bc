"""`streamer report KIND`: a report from the history database, read beside a running station
(read-only; WAL lets it read while the station writes)."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import sys
import zoneinfo
from pathlib import Path

from ..disk import read_only
from ..schedule import last_good
from ..schedule.programme import load_programme
from ..settings import Config
from ..yamldoc import ConfigError
from .render import build, render
from .reports import ReportError


def report_zone(config: Config) -> dt.tzinfo:
    """The station's time zone: the playlists', else the last good programme's as the station
    airs it (QA: a cron's monthly report fell back to UTC days on a typo), else UTC; said."""
    try:
        return load_programme(config.playlists_dir).timezone
    except ConfigError:
        pass
    said = "streamer report: the playlists do not load (streamer check says why); dates are"
    kept = last_good.read(config.state_dir / last_good.FILE)
    with contextlib.suppress(ConfigError):
        if kept is not None:
            tz = load_programme(config.playlists_dir, kept.texts).timezone
            print(f"{said} {tz}, as in the last good programme, which the station airs", file=sys.stderr)
            return tz
    print(f"{said} UTC", file=sys.stderr)
    return zoneinfo.ZoneInfo("UTC")


def report_command(config: Config, kind: str, start: str | None, end: str | None, fmt: str, tuning_hours: bool, output: str | None) -> int:
    """Print (or write to `output`) the report; 2 for a bad request, 1 when there is nothing to read."""
    tz = report_zone(config)
    path = config.state_dir / "history.sqlite"
    if not path.is_file():
        print(f"streamer report: no history at {path} yet (the station records once it has run)", file=sys.stderr)
        return 1
    try:
        with contextlib.closing(read_only(path, 10)) as conn:
            made = build(conn, kind, start, end, tz, config.station_name, tuning_hours)
    except ReportError as exc:
        print(f"streamer report: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"streamer report: {path}: {exc}", file=sys.stderr)
        return 1
    body, _ = render(made, fmt)
    if not output:
        sys.stdout.write(body if body.endswith("\n") else body + "\n")
        return 0
    target = Path(output)
    if target.is_dir():
        target = target / output_name(made.filename, kind, made.start, made.end, fmt)
    try:
        target.write_text(body, encoding="utf-8")
    except OSError as exc:
        print(f"streamer report: cannot write {target}: {write_problem(exc, target.parent.is_dir())}", file=sys.stderr)
        return 2
    print(f"wrote {target}", file=sys.stderr)
    return 0


def output_name(filename: str, kind: str, first: str, last: str, fmt: str) -> str:
    """The file a report is written to in a folder (pure): the report's own name (SoundExchange's)
    or KIND-FIRST-LAST, with the extension of the format it is written in."""
    return str(Path(filename).with_suffix(f".{fmt}")) if filename else f"{kind}-{first}-{last}.{fmt}"


def write_problem(exc: OSError, folder_exists: bool = False) -> str:
    """Why a file could not be written, in a few words (pure; `folder_exists`: its folder is there)."""
    if isinstance(exc, FileNotFoundError):  # the file itself is being created: its folder is what is missing,
        # or a folder that makes no files (QA: -o /proc/x said "no such folder")
        return "the folder does not take new files" if folder_exists else "no such folder"
    return (exc.strerror or type(exc).__name__).lower()
