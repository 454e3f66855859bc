"""YAML documents that remember where each value came from, and a reader that validates
them field by field, so every complaint names FILE:LINE:COLUMN and the field at fault.

Pure (text in, data and problems out) apart from `read_yaml_file`, which reads a file no
further than the size a YAML file may have.
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import MISSING, dataclass, fields
from pathlib import Path as FilePath
from typing import Any

import yaml

from .upstream_url import redact
from .yaml_syntax import syntax_problem

Path = tuple[str | int, ...]
MAX_BYTES = 1_000_000  # a programme or config file larger than this is refused, not parsed
MAX_NODES = 100_000  # values after aliases are expanded: a "billion laughs" file stops here
# libyaml's parser when PyYAML was built with it (10x faster); positions are the same.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    message: str

    @property
    def place(self) -> str:
        """FILE:LINE:COL, or the file (or folder) alone for a problem with no line (line 0)."""
        return f"{self.file}:{self.line}:{self.column}" if self.line > 0 else self.file

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def read_yaml_file(file: FilePath) -> str:
    """A YAML file's text; ConfigError (naming the file) for one that is not a regular file (a
    FIFO would block the reader forever), larger than MAX_BYTES (told from its size, never read
    whole: a 50 MB file dropped into playlists/ costs a stat), unreadable or not UTF-8."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)  # O_NONBLOCK: opening a FIFO does not wait for a writer
        with open(fd, "rb") as f:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError([Problem(str(file), 1, 1, "not a regular file (a folder, FIFO or device?)")])
            data = f.read(MAX_BYTES + 1) if info.st_size <= MAX_BYTES else b""
    except OSError as exc:
        raise ConfigError([Problem(str(file), 1, 1, f"cannot read: {exc.strerror or exc}")]) from None
    if info.st_size > MAX_BYTES or len(data) > MAX_BYTES:
        size = max(info.st_size, len(data))
        raise ConfigError([Problem(str(file), 1, 1, f"file too large: {size:,} bytes (at most {MAX_BYTES:,}); is it really YAML?")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        start = data.rfind(b"\n", 0, exc.start) + 1  # the column in characters, as editors count them
        column = len(data[start : exc.start].decode("utf-8", errors="replace")) + 1
        raise ConfigError([Problem(str(file), line, column, f"not UTF-8 text (byte {exc.start + 1:,}); save it as UTF-8")]) from None


class Doc:
    """Plain data parsed from YAML plus the position of every mapping key and value; a key
    written twice in one mapping is a ConfigError (at the second, naming the first's line)."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.positions: dict[Path, tuple[int, int]] = {}  # where each value starts
        self.key_positions: dict[Path, tuple[int, int]] = {}  # where each mapping key starts
        self._constructor = yaml.constructor.SafeConstructor()
        self._nodes = 0
        self._read_problems: list[Problem] = []
        self.notes: list[Problem] = []  # worth knowing, not wrong: said by `check` and in the log
        size = len(text.encode("utf-8", errors="replace"))
        if size > MAX_BYTES:
            message = f"file too large: {size:,} bytes (at most {MAX_BYTES:,}); is it really a YAML programme?"
            raise ConfigError([Problem(file, 1, 1, message)])
        try:
            node = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError as exc:
            raise ConfigError([Problem(file, *syntax_problem(text, exc))]) from None
        self.data: Any = self._plain(node, ()) if node is not None else None
        if self._read_problems:
            raise ConfigError(self._read_problems)

    def _plain(self, node: yaml.Node, path: Path) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:  # aliases let a few hundred bytes stand for billions of values
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            raise ConfigError([Problem(self.file, line, col, f"more than {MAX_NODES:,} values once aliases (*name) are expanded")])
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self._plain(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node)
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:  # YAML's last-wins would silently drop the first (a doubled start:, a copied block)
                first = self.key_positions[(*path, key)][0]
                message = f"{field_name((*path, key))} is defined twice (first at line {first})"
                self._read_problems.append(Problem(self.file, *where, message))
                continue
            self.key_positions[(*path, key)] = where
            out[key] = self._plain(value_node, (*path, key))
        return out

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return str(node.value)
        if ":" in node.value and node.tag.endswith((":int", ":float")):
            return node.value  # YAML 1.1 reads 10:30 as base-60 630; a DJ means a clock time
        try:
            return self._constructor.construct_object(node, deep=True)
        except ValueError as exc:  # a date that does not exist (2026-13-01, 2026-02-30): YAML raises, unplaced
            where = (node.start_mark.line + 1, node.start_mark.column + 1)
            self._read_problems.append(Problem(self.file, *where, f"{node.value} is not a date: {exc}"))
            return node.value

    def at(self, path: Path, key: bool = False) -> tuple[int, int]:
        """Position of the value at `path` (or of its key), else of the nearest enclosing one."""
        if key and path in self.key_positions:
            return self.key_positions[path]
        while path and path not in self.positions:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    def problem(self, path: Path, message: str, key: bool = False) -> Problem:
        line, col = self.at(path, key)
        return Problem(self.file, line, col, message)


_MISSING = object()


def field_name(path: Path) -> str:
    """hls.variants[0].bitrate: list items as the messages written by hand say them (QA found
    hls.variants.0.bitrate beside hls.variants[1].name)."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"


class Reader:
    """Reads one mapping of a Doc; collects problems instead of stopping at the first."""

    def __init__(self, doc: Doc, path: Path, problems: list[Problem], value: Any = _MISSING) -> None:
        self.doc = doc
        self.path = path
        self.problems = problems
        self.seen: set[str] = set()
        data = doc.data if value is _MISSING else value
        for p in path if value is _MISSING else ():
            data = data.get(p) if isinstance(data, dict) else None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.error(path, f"{field_name(path)} must be a mapping of keys to values, not {_kind(data)}")
            data = {}
        self.data: dict[Any, Any] = data

    def error(self, path: Path, message: str, key: bool = False) -> None:
        # a URL's password never reaches the terminal or the log (QA: a relay URL given as a list)
        self.problems.append(self.doc.problem(path, redact(message), key))

    def raw(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return self.data.get(key, default)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any, check=None) -> Any:
        self.seen.add(key)
        if key not in self.data:
            return default
        if self.data[key] is None:  # `priority:` with nothing after it: most likely a value forgotten
            if default is not None:
                path = (*self.path, key)
                shown = f"{default:g}" if isinstance(default, float) else repr(default)
                message = f"{field_name(path)} is empty, so its default ({shown}) is used: give a value or delete the line"
                self.doc.notes.append(self.doc.problem(path, message))
            return default
        value = self.data[key]
        path = (*self.path, key)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = False if isinstance(value, bool) and kind is not bool else isinstance(value, kind)
        if not ok:
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            self.error(path, f"{field_name(path)} must be {_article(names)}, not {_kind(value)} {value!r}")
            return default
        if check is not None:
            message = check(value)
            if message:
                self.error(path, f"{field_name(path)}: {message}")
                return default
        return value

    def section(self, key: str) -> Reader:
        self.seen.add(key)
        return Reader(self.doc, (*self.path, key), self.problems, self.data.get(key) or {})

    def finish(self) -> None:
        """Report keys nobody asked for, with a did-you-mean."""
        for key in self.data:
            if str(key) not in self.seen:
                path = (*self.path, key)
                hint = difflib.get_close_matches(str(key), sorted(self.seen), n=1)
                tip = f" (did you mean {hint[0]!r}?)" if hint else f" (known: {', '.join(sorted(self.seen))})"
                self.error(path, f"unknown key {field_name(path)!r}{tip}", key=True)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _article(names: str) -> str:
    return {
        "str": "text",
        "int": "a whole number",
        "float": "a number",
        "bool": "true or false",
        "list": "a list",
        "dict": "a mapping",
    }.get(names, names)


def number(v: float) -> str:
    """A number as a person writes it: 1000000, not 1e+06 (QA), 0.5 as 0.5."""
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def in_range(lo: float, hi: float):
    def check(v: float) -> str | None:
        return None if lo <= v <= hi else f"must be between {number(lo)} and {number(hi)}, not {number(v)}"

    return check


def one_of(*choices: str):
    def check(v: str) -> str | None:
        if v in choices:
            return None
        hint = [c for c in choices if c.lower() == v.lower()] or difflib.get_close_matches(v, choices, n=1)  # (AAC: aac, QA)
        tip = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"must be one of {', '.join(choices)}, not {v!r}{tip}"

    return check


def one_of_int(choices: tuple[int, ...]):
    def check(v: int) -> str | None:
        return None if v in choices else f"must be one of {', '.join(map(str, choices))}, not {v}"

    return check


def defaults(cls: type) -> dict[str, Any]:
    """A settings dataclass's field defaults, by name."""
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}
