"""Playlists' contents: sources (files, folders, globs, M3U) expanded to audio files, and
the rotation that picks the next one. `Rotation` is pure; `expand_sources` reads the disk.
"""

from __future__ import annotations

import glob
import random
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .programme import PlaylistDef

AUDIO_EXTENSIONS = {".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".m4a", ".aac", ".mp4", ".wma", ".aiff", ".aif", ".mka", ".webm"}
ORDERS = ("shuffle", "sequential", "random")


def expand_sources(spec: PlaylistDef) -> tuple[list[Path], list[str]]:
    """The audio files a playlist names, in a stable order, plus warnings for empty sources."""
    files: list[Path] = []
    warnings: list[str] = []
    for source in spec.sources:
        found = _expand(spec.base, source)
        if not found:
            warnings.append(f"{spec.where.file}:{spec.where.line}: playlist {spec.name!r}: {source!r} matches no audio files")
        files.extend(found)
    return files, warnings


def watched_folders(spec: PlaylistDef) -> list[Path]:
    """The folders whose listing decides what a playlist holds (its folders and glob roots, with
    their subfolders; an M3U's own file): watched so that a DJ's new file is picked up."""
    out: list[Path] = []
    for source in spec.sources:
        target = Path(source).expanduser()
        if not target.is_absolute():
            target = spec.base / target
        if any(ch in source for ch in "*?["):
            parts = target.parts
            target = Path(*parts[: next(i for i, part in enumerate(parts) if any(ch in part for ch in "*?["))])
        if target.is_dir():
            out.append(target)
            out.extend(sorted(d for d in target.rglob("*") if d.is_dir()))
        elif target.suffix.lower() in (".m3u", ".m3u8"):
            out.append(target)
    return out


def _expand(base: Path, source: str) -> list[Path]:
    target = Path(source).expanduser()
    if not target.is_absolute():
        target = base / target
    if any(ch in source for ch in "*?["):
        return sorted(Path(p) for p in glob.glob(str(target), recursive=True) if Path(p).suffix.lower() in AUDIO_EXTENSIONS)
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if target.suffix.lower() in (".m3u", ".m3u8"):
        return _read_m3u(target)
    return [target]  # a missing file is kept: the decoder reports it when its turn comes


def _read_m3u(file: Path) -> list[Path]:
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            out.append(p if p.is_absolute() else file.parent / p)
    return out


class Rotation:
    """Picks the next file of a playlist. Pure given its random generator.

    shuffle: every file once, in random order, before any repeats (and no file twice in a row
    across rounds); random: independent picks; sequential: in order, round and round.
    """

    def __init__(self, files: list[Path], order: str, rng: random.Random | None = None) -> None:
        self.files = list(files)
        self.order = order
        self.rng = rng or random.Random()
        self._queue: list[Path] = []
        self._index = 0
        self.last: Path | None = None

    def carry_over(self, old: Rotation) -> None:
        """Go on from where `old` (the same playlist before a reload) was, so a reload does not
        restart the round: files still listed keep their place, new ones join what is left."""
        if old.order != self.order:
            return
        self.last = old.last
        present = set(self.files)
        if self.order == "sequential" and old.last in present:
            self._index = self.files.index(old.last) + 1
        elif self.order == "shuffle" and old._queue:
            known = set(old.files)
            added = [f for f in self.files if f not in known]
            self._queue = [f for f in old._queue if f in present] + added
            if added:
                self.rng.shuffle(self._queue)

    def next(self) -> Path | None:
        if not self.files:
            return None
        if self.order == "sequential":
            pick = self.files[self._index % len(self.files)]
            self._index += 1
        elif self.order == "random":
            pick = self.rng.choice(self.files)
        else:
            if not self._queue:
                self._queue = self.files[:]
                self.rng.shuffle(self._queue)
                if len(self._queue) > 1 and self._queue[-1] == self.last:
                    self._queue[0], self._queue[-1] = self._queue[-1], self._queue[0]
            pick = self._queue.pop()
        self.last = pick
        return pick
