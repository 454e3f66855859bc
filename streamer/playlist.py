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
