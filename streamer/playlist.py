"""Playlists: the YAML files in `playlists/` read into rotations of audio files.

A playlist file looks like:

    playlists:
      music:
        files: [audio/, "more/*.mp3", favourites.m3u]   # relative to this YAML file
        order: shuffle        # shuffle | sequential | random
    fallback: music           # what plays when nothing else is scheduled

Parsing and rotation are pure; `expand_sources` touches the file system (globs, folders).
"""

from __future__ import annotations

import glob
import random
from dataclasses import dataclass, field
from pathlib import Path

from .yamldoc import ConfigError, Doc, Problem, Reader, one_of

AUDIO_EXTENSIONS = {".mp3", ".ogg", ".oga", ".opus", ".flac", ".wav", ".m4a", ".aac", ".mp4", ".wma", ".aiff", ".aif", ".mka", ".webm"}
ORDERS = ("shuffle", "sequential", "random")


@dataclass(slots=True)
class PlaylistSpec:
    name: str
    sources: list[str]
    order: str
    base: Path  # folder of the YAML file that defined it
    where: Problem  # where it was defined, for messages


@dataclass(slots=True)
class Programme:
    playlists: dict[str, PlaylistSpec] = field(default_factory=dict)
    fallback: str | None = None
    files: list[Path] = field(default_factory=list)


def parse_playlist_file(text: str, file: Path, programme: Programme, problems: list[Problem]) -> None:
    try:
        doc = Doc(str(file), text)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return
    if doc.data is None:
        return
    top = Reader(doc, (), problems)
    raw = top.raw("playlists") or {}
    if not isinstance(raw, dict):
        top.error(("playlists",), "playlists must map names to playlists, e.g. 'music: {files: [audio/]}'")
        raw = {}
    for name, body in raw.items():
        path = ("playlists", name)
        r = Reader(doc, path, problems, body or {})
        sources = r.raw("files")
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
            r.error((*path, "files"), f"playlists.{name}.files must be a list of files, folders, globs or .m3u playlists")
            sources = []
        order = r.get("order", str, "shuffle", one_of(*ORDERS))
        r.finish()
        if name in programme.playlists:
            r.error(path, f"playlist {name!r} is defined twice (also at {programme.playlists[name].where})")
            continue
        programme.playlists[str(name)] = PlaylistSpec(str(name), sources, order, file.parent, doc.problem(path, ""))
    fallback = top.get("fallback", str, None)
    if fallback is not None:
        if programme.fallback is not None:
            top.error(("fallback",), f"fallback is set twice (already {programme.fallback!r})")
        programme.fallback = fallback
    top.finish()


def load_programme(folder: Path) -> Programme:
    """Read every *.yaml/*.yml in `folder`; raises ConfigError listing all problems."""
    programme = Programme()
    problems: list[Problem] = []
    if not folder.is_dir():
        raise ConfigError([Problem(str(folder), 1, 1, "playlists folder not found")])
    for file in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        programme.files.append(file)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), 1, 1, f"cannot read: {exc}"))
            continue
        parse_playlist_file(text, file, programme, problems)
    if not programme.playlists and not problems:
        problems.append(Problem(str(folder), 1, 1, "no playlists defined (add a YAML file with 'playlists:')"))
    if programme.fallback is None and programme.playlists and not problems:
        programme.fallback = next(iter(programme.playlists))
    elif programme.fallback is not None and programme.fallback not in programme.playlists:
        problems.append(
            Problem(str(folder), 1, 1, f"fallback {programme.fallback!r} is not a playlist (have: {', '.join(programme.playlists)})")
        )
    if problems:
        raise ConfigError(problems)
    return programme


def expand_sources(spec: PlaylistSpec) -> tuple[list[Path], list[str]]:
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
