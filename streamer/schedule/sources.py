"""Playlists' contents: sources (files, folders, globs, M3U) expanded to audio files
(`expand_sources` reads the disk; rotation.py picks the next one of them).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .m3u import FOLDER, M3U_SUFFIXES, UNREADABLE, entry_kind, m3u_files, read_m3u

if TYPE_CHECKING:
    from .model import PlaylistDef

AUDIO_EXTENSIONS = {".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".m4a", ".aac", ".mp4", ".wma", ".aiff", ".aif", ".mka", ".webm"}
ORDERS = ("shuffle", "sequential", "random")
MAX_WALK = 200_000  # directory entries looked at per source: a runaway tree stops here


def expand_sources(spec: PlaylistDef, missing: list[Path] | None = None) -> tuple[list[Path], list[str]]:
    """The audio files a playlist names, in a stable order, plus warnings for empty sources;
    named files (an M3U's entries too) that are not there are added to `missing`."""
    files: list[Path] = []
    warnings: list[str] = []
    missing = [] if missing is None else missing
    for n, source in enumerate(spec.sources):
        absent = _absent(spec.base, source)
        # what is not there holds nothing (a hard event with only a missing file must not cut the
        # song on air for it); where it would appear is watched, so when it comes it is listed
        target = source_target(spec.base, source)
        if absent:
            found = []
        elif target.suffix.lower() in M3U_SUFFIXES and not _is_glob(source):
            found = m3u_files(target, spec.name, warnings, missing)
        else:
            found = _expand(spec.base, source)
        if absent == "file":
            missing.append(target)
        why = {"folder": "no such folder", "file": "file not found"}.get(absent, absent) or ("" if found else "matches no audio files")
        if why:
            at = spec.sources_where[n] if n < len(spec.sources_where) else spec.where  # (QA: the playlist's line, not the entry's)
            warnings.append(f"{at.file}:{at.line}:{at.column}: playlist {spec.name!r}: {source[:200]!r} {why}")
        files.extend(found)
    return files, warnings


def stamp(paths: Iterable[Path]) -> tuple:
    """Names, change times and sizes of `paths`: what a reload depends on. One that cannot be
    looked at (a dangling symlink) is there by name, so removing it reloads too."""
    entries = []
    for f in sorted(paths):
        try:
            st = f.stat()
        except OSError:
            entries.append((str(f), -1, -1))
            continue
        entries.append((str(f), st.st_mtime_ns, st.st_size))
    return tuple(entries)


def watched_folders(spec: PlaylistDef) -> list[Path]:
    """The folders whose listing decides what a playlist holds (its folders and glob roots, with
    their subfolders; an M3U's own file): watched so that a DJ's new file is picked up."""
    out: list[Path] = []
    for source in spec.sources:
        target = Path(source).expanduser()
        if not target.is_absolute():
            target = spec.base / target
        if _is_glob(source):
            target = _glob_root(target)
        kind = entry_kind(target)
        if kind == FOLDER:
            out.extend(sorted(d for d, _ in _walk(target)))
        elif target.suffix.lower() in M3U_SUFFIXES:
            out.append(target)
            out += [_listing(e.path) for e in read_m3u(target) if e.path is not None and not entry_kind(e.path)]
        elif not kind:  # a folder or file still to come: the listing it will appear in
            out.append(_listing(target))
    return out


def _listing(target: Path) -> Path:
    """The folder whose listing a file or folder still to come will appear in."""
    return next((a for a in target.parents if a.is_dir()), Path("/"))


def _is_glob(source: str) -> bool:
    return any(ch in source for ch in "*?[")


def _glob_root(target: Path) -> Path:
    parts = target.parts
    return Path(*parts[: next(i for i, part in enumerate(parts) if _is_glob(part))])


def _walk(root: Path, max_depth: int | None = None) -> Iterator[tuple[Path, list[os.DirEntry]]]:
    """Every folder under `root` (itself first, at most `max_depth` levels down) with its
    entries, following symbolic links but visiting each real folder once, so a link loop
    cannot make the walk endless; at most MAX_WALK entries in all."""
    seen: set[tuple[int, int]] = set()
    stack = [(root, 0)]
    budget = MAX_WALK
    while stack and budget > 0:
        folder, depth = stack.pop()
        try:
            st = folder.stat()
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)[:budget]
        except OSError:
            continue
        budget -= len(entries)
        yield folder, entries
        if max_depth is not None and depth >= max_depth:
            continue
        for entry in reversed(entries):
            try:
                if entry.is_dir():  # follows links; `seen` stops loops
                    stack.append((Path(entry.path), depth + 1))
            except OSError:
                continue


def _regular_file(entry: os.DirEntry) -> bool:
    """Only regular files play: a FIFO or a device would block whoever opens it."""
    try:
        return stat.S_ISREG(entry.stat().st_mode)
    except OSError:
        return False


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob (`*`, `?`, `[…]`, and `**/` for any number of folders) as a regex on '/' paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.S)


def _glob(target: Path) -> list[Path]:
    root = _glob_root(target)
    rest = target.relative_to(root).as_posix()
    regex = glob_regex(rest)
    found = []
    for folder, entries in _walk(root, None if "**" in rest else rest.count("/")):
        for entry in entries:
            rel = (folder / entry.name).relative_to(root).as_posix()
            if regex.match(rel) and Path(entry.name).suffix.lower() in AUDIO_EXTENSIONS and _regular_file(entry):
                found.append(Path(entry.path))
    return sorted(found)


def source_target(base: Path, source: str) -> Path:
    target = Path(source).expanduser()
    return target if target.is_absolute() else base / target


def _absent(base: Path, source: str) -> str:
    """What a source names that is not there: "file" (an audio file or M3U), "folder" (anything
    else), or "" when it is there or is a glob."""
    target = source_target(base, source)
    if _is_glob(source):
        return ""
    kind = entry_kind(target)
    if kind.startswith(UNREADABLE):  # (QA: a name too long for the system stopped the playlist watcher)
        return kind
    if kind:
        return ""
    named_file = target.suffix.lower() in AUDIO_EXTENSIONS | set(M3U_SUFFIXES) and not source.endswith("/")
    return "file" if named_file else "folder"


def _expand(base: Path, source: str) -> list[Path]:
    target = source_target(base, source)
    if _is_glob(source):
        return _glob(target)
    if target.is_dir():
        entries = (e for _, found in _walk(target) for e in found)
        return sorted(Path(e.path) for e in entries if Path(e.name).suffix.lower() in AUDIO_EXTENSIONS and _regular_file(e))
    return [target]
