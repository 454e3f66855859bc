"""The last good programme, kept across restarts in the state folder.

A running station keeps its last good programme through a broken edit (watch.py); a restart
used to read only the files, so the same edit, unnoticed, took the station off air at the next
reboot or crash (QA: an open quote in week.yaml, while playlists.yaml and its fallback were
fine). Each good load's files, as read, are written here (JSON, replaced whole: a crash mid-write
leaves the one before); a start whose files do not load goes on air with them and says why.
Files, not the parsed programme: the same parser reads them at their own paths, so relative paths
and error positions are as they were.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("streamer")

FILE = "last-good-programme.json"
VERSION = 1


@dataclass(frozen=True, slots=True)
class Kept:
    texts: list[tuple[Path, str]]
    saved_at: float  # wall time


def save(path: Path, texts: list[tuple[Path, str]]) -> None:
    """Write the programme's files (blocking: run it in a thread); a failure is a warning."""
    document = {"version": VERSION, "saved_at": time.time(), "files": [[str(file), text] for file, text in texts]}
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        log.warning("the last good programme could not be kept at %s (%s): a restart needs the files to load", path, exc.strerror or exc)


def read(path: Path) -> Kept | None:
    """The programme kept at `path`; None if there is none, or it cannot be read (said)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("version") != VERSION:
            raise ValueError(f"version {document.get('version')!r}, not {VERSION}")
        texts = [(Path(file), text) for file, text in document["files"] if isinstance(file, str) and isinstance(text, str)]
        return Kept(texts, float(document["saved_at"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # (json's errors are ValueErrors)
        log.warning("the last good programme at %s cannot be read (%s)", path, exc)
        return None
