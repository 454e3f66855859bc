"""The station's programme: every YAML file in `playlists/` read into one validated model.

Pure apart from reading the files: problems are collected as FILE:LINE:COLUMN messages,
and the model is plain data for the scheduler.

    timezone: Africa/Harare
    playlists:
      music: {files: [audio/], order: shuffle, no_repeat: {track: 60, artist: 20}}
      ids:   {files: [ids/]}
    blocks:
      breakfast:
        days: weekdays            # mon..sun, weekdays, weekends, daily, mon-fri, or a list
        start: "06:00"
        end: "10:00"              # may cross midnight (22:00 → 02:00)
        dates: {from: 2026-12-01, until: 2026-12-31}   # optional
        priority: 10              # higher wins where blocks overlap
        play: {music: 3, talk: 1} # one playlist, or weights
        jingles: {play: ids, every: 4 songs}           # or: every: 15 min
        crossfade: 2              # seconds; also fade_in, fade_out
    events:
      top-of-hour: {at: ":00", play: ids, start: hard}    # hard | soft | wait 30
      news:        {at: "07:00", days: weekdays, play: news, start: hard}
    fallback: music
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..config import PLAYLISTS_NOT_FOUND
from ..yamldoc import ConfigError, Doc, Problem, Reader, read_yaml_file
from .entries import read_block, read_event, read_fades, read_playlist
from .model import Block, Event, Fades, LoadedProgramme, PlaylistDef, Programme
from .sources import expand_sources, stamp, watched_folders
from .timeline import overlaps

# The model's classes are importable from here too, where callers and tests have found them.
__all__ = [
    "Block",
    "Event",
    "Fades",
    "LoadedProgramme",
    "PlaylistDef",
    "Programme",
    "load_programme",
    "load_with_files",
    "parse_programme_file",
]

KINDS = {"playlists": "playlist", "blocks": "block", "events": "event"}


def parse_programme_file(text: str, file: Path, programme: Programme, problems: list[Problem]) -> bool:
    """Add what `file` defines to `programme`; False if its YAML could not be read at all."""
    try:
        doc = Doc(str(file), text)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return False
    if doc.data is None:
        return True
    top = Reader(doc, (), problems)
    tz = top.get("timezone", str, None)
    if tz is not None:
        try:
            zone = zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            top.error(("timezone",), f"timezone {tz!r} is not an IANA time zone name (like Africa/Harare or Europe/London)")
        else:
            first = programme.timezone_where
            if first is not None and zone != programme.timezone:  # the last file read would move every time
                top.error(("timezone",), f"timezone is set twice: {tz!r} here, {programme.timezone.key!r} at {first.place}")
            programme.timezone, programme.timezone_where = zone, doc.problem(("timezone",), "")
    defaults = top.section("defaults")
    programme.fades = read_fades(defaults, programme.fades)
    defaults.finish()
    for key in ("playlists", "blocks", "events"):
        raw = top.raw(key) or {}
        if not isinstance(raw, dict):
            top.error((key,), f"{key} must be a mapping of names to {key}")
            continue
        for name, body in raw.items():
            first = _defined(programme, key, str(name))
            if first is not None:  # a copied file would otherwise play every block and event twice
                twice = f"{KINDS[key]} {str(name)!r} is defined twice, here and at {first.place}: remove one, or rename it"
                top.error((key, name), twice, key=True)
            else:
                _add(doc, key, str(name), body, file, programme, problems)
    fallback = top.get("fallback", str, None)
    if fallback is not None:
        if programme.fallback is not None:
            top.error(("fallback",), f"fallback is set twice (already {programme.fallback!r})")
        programme.fallback = fallback
        programme.fallback_where = doc.problem(("fallback",), "")
    top.finish()
    programme.notes += [n for n in dict.fromkeys(doc.notes) if n not in programme.notes]
    return True


def _defined(programme: Programme, key: str, name: str) -> Problem | None:
    """Where a playlist, block or event of this name was read already, if it was."""
    if key == "playlists":
        found = programme.playlists.get(name)
        return found.where if found else None
    items = programme.blocks if key == "blocks" else programme.events
    return next((item.where for item in items if item.name == name), None)


def _add(doc: Doc, key: str, name: str, body: Any, file: Path, programme: Programme, problems: list[Problem]) -> None:
    if key == "playlists":
        if p := read_playlist(doc, name, body, file.parent, problems):
            programme.playlists[p.name] = p
    elif key == "blocks":
        if b := read_block(doc, name, body, programme, problems):
            programme.blocks.append(b)
    elif e := read_event(doc, name, body, problems):
        programme.events.append(e)


def _tip(name: str, playlists: dict[str, PlaylistDef]) -> str:
    """The playlist a misspelt name probably meant, else the ones there are."""
    hint = difflib.get_close_matches(name, list(playlists), n=1)
    return f"did you mean {hint[0]!r}?" if hint else f"playlists: {', '.join(playlists) or 'none'}"


def _check_references(programme: Programme, problems: list[Problem]) -> None:
    names = programme.playlists

    def missing(name: str, where: Problem, what: str) -> None:
        problems.append(replace(where, message=f"{what} plays {name!r}, which is not a playlist ({_tip(name, names)})"))

    # at the play: line that names it (QA: at the block's name, lines above it)
    for b in programme.blocks:
        for name in b.play:
            if name not in names:
                missing(name, b.play_where.get(name, b.where), f"block {b.name!r}")
        if b.jingles and b.jingles.playlist not in names:
            missing(b.jingles.playlist, b.jingles.where or b.where, f"block {b.name!r} jingles")
    for e in programme.events:
        if e.play and e.play not in names:
            missing(e.play, e.play_where or e.where, f"event {e.name!r}")


def programme_listing(folder: Path) -> tuple[list[Path], list[Path]]:
    """The programme's files: *.yaml and *.yml in any case (`Week.YAML`), but for hidden ones (an
    editor's lock `.#week.yaml`, macOS's `._week.yaml`: not the DJ's, and they blocked every reload);
    and the files meant as programme files that are not read: `week.yaml.txt`, as Notepad saves
    (QA: its events vanished from the programme with no word). One listing of the folder."""
    shown = [f for f in _entries(folder) if not f.name.startswith(".")]
    return sorted(f for f in shown if f.suffix.lower() in (".yaml", ".yml")), [
        f for f in shown if f.name.lower().endswith((".yaml.txt", ".yml.txt"))
    ]


def yaml_files(folder: Path) -> list[Path]:
    return programme_listing(folder)[0]


def unread_files(folder: Path) -> list[Problem]:
    return [
        Problem(str(f), 1, 1, f"{f.name} is not read: only .yaml and .yml files are (rename it {f.name[: -len(f.suffix)]})")
        for f in programme_listing(folder)[1]
    ]


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


DEFAULTS = re.compile(r"^defaults\s*:", re.M)


def _defaults_first(texts: list[tuple[Path, str]]) -> Fades:
    """The `defaults:` of every file, read before any block: they hold for every block whatever
    the files' order (QA: zz-defaults.yaml did nothing, aa-defaults.yaml did). Their mistakes
    are said when the file is read in turn."""
    fades = Fades()
    for file, text in texts:
        if DEFAULTS.search(text):
            try:
                doc = Doc(str(file), text)
            except ConfigError:
                continue
            if isinstance(doc.data, dict) and isinstance(doc.data.get("defaults"), dict):
                fades = read_fades(Reader(doc, ("defaults",), [], doc.data["defaults"]), fades)
    return fades


def load_programme(folder: Path, kept: list[tuple[Path, str]] | None = None) -> Programme:
    """Read every *.yaml/*.yml in `folder` (or parse `kept`, the files as a good load read them:
    last_good.py); raises ConfigError listing all problems."""
    programme = Programme()
    problems: list[Problem] = []
    if kept is None and not folder.is_dir():
        raise ConfigError([Problem(str(folder), 1, 1, PLAYLISTS_NOT_FOUND)])
    unread = False  # a file that could not be read at all: what it defines is unknown
    empty: list[str] = []  # files with nothing in them (a save half done): named when something is missing
    texts: list[tuple[Path, str]] = [] if kept is None else list(kept)
    for file in yaml_files(folder) if kept is None else []:
        try:
            texts.append((file, read_yaml_file(file)))
        except ConfigError as exc:
            problems.extend(exc.problems)
            unread = True
    programme.files, programme.texts = [file for file, _ in texts], texts
    programme.fades = _defaults_first(texts)
    for file, text in texts:
        if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
            empty.append(file.name)
        if not parse_programme_file(text, file, programme, problems):
            unread = True
    if not unread:  # said with the other problems, not only once they are fixed (QA)
        refs = len(problems)  # a whole programme's problem goes before what follows from it (QA: said last of 11)
        _check_references(programme, problems)
        # the folder's, not the first file's (QA: events.yaml was blamed for main.yaml's lost line)
        tip = f" ({', '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty)" if empty else ""
        if not programme.playlists:
            problems.insert(refs, Problem(str(folder), 1, 1, f"no playlists defined (add a YAML file with 'playlists:'){tip}"))
        elif programme.fallback is None:
            at, where = (programme.files[0], "") if len(programme.files) == 1 else (folder, " to one of its files")
            fallback = f"no fallback: add 'fallback: PLAYLIST'{where} so the station never goes silent{tip}"
            problems.insert(refs, Problem(str(at), 1, 1, fallback))
        elif programme.fallback not in programme.playlists:
            at = programme.fallback_where or Problem(str(folder), 1, 1, "")
            tip = _tip(programme.fallback, programme.playlists)
            problems.insert(refs, replace(at, message=f"fallback {programme.fallback!r} is not a playlist ({tip})"))
    if problems:
        raise ConfigError(problems)
    programme.notes += unread_files(folder)
    return programme


def load_with_files(folder: Path, kept: list[tuple[Path, str]] | None = None) -> LoadedProgramme:
    """Blocking and CPU-heavy (YAML, folder walks): the station runs it in its offload worker."""
    programme = load_programme(folder, kept)
    files: dict[str, list[Path]] = {}
    warnings: list[str] = []
    missing: list[Path] = []
    watched: set[Path] = set()
    for spec in programme.playlists.values():
        watched.update(watched_folders(spec))
    watched_stamp = stamp(watched)  # before the folders are read: a change while reading reloads again
    one: dict[Path, Path] = {}  # each path once: what goes back from the worker is unpickled in
    for name, spec in programme.playlists.items():  # the station, holding its interpreter lock
        found, w = expand_sources(spec, missing)
        files[name] = [one.setdefault(f, f) for f in found]
        warnings += w
    # what `streamer check` fails on, said by the running station too (it plays the first-defined)
    warnings += [o.located() for o in overlaps(programme) if o.ambiguous]
    warnings += map(str, programme.notes)
    return LoadedProgramme(programme, files, warnings, sorted(watched), watched_stamp, missing)


def unknown_live_djs(programme: Programme, djs: set[str], config_file: object) -> list[str]:
    """A block's live_djs naming someone with no account: that slot would lock out its own DJ
    (a typo such as [Tino]); `streamer check` fails on it and the running station says it."""
    return [
        f"{b.where.file}:{b.where.line}: block {b.name!r}: live_djs names {dj!r}, who is not in djs: in {config_file}"
        for b in programme.blocks
        for dj in b.live_djs
        if dj not in djs
    ]
