"""The package's layout follows the data path, and stays readable (ARCHITECTURE.md).

One folder per stage, in data-path order. A module may import from its own stage and the
stages before it, never from a later one: a later stage is reached through an interface (a
callback or a Protocol) the earlier stage defines. The root's base modules (settings, small
asyncio and process helpers) are open to every stage; the station and the CLI to none.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "streamer"
STAGES = ["wire", "schedule", "library", "news", "audio", "stream", "sources", "history", "web"]
BASE = {
    "config",
    "config_outputs",
    "config_history",
    "settings",
    "limits",
    "state",
    "disk",
    "instance",
    "stamp",
    "yamldoc",
    "yaml_syntax",
    "upstream_url",
    "net_words",
    "aio",
    "child",
    "offload",
    "supervise",
    "ticks",
    "__init__",
}
TOP = {"station", "cli", "checking", "library_cli", "schedule_cli", "documents", "outputs", "__main__"}
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
LONG_MODULE_REASON = "Longer than 300 lines:"  # said in the module docstring where a module must be


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def rank(module: str) -> int:
    """-1 base, 0.. stages in order, len(STAGES) the top."""
    parts = module.split(".")
    if len(parts) == 1:
        return -1 if parts[0] in BASE else len(STAGES)
    return STAGES.index(parts[0])


def name_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module within the package) for every import, TYPE_CHECKING ones included."""
    here = name_of(path).split(".")
    package = here[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            target = [*base, *(node.module.split(".") if node.module else [])]
            if not node.module or (PACKAGE.joinpath(*target)).is_dir():  # from . import x / from ..wire import icecast
                out += [(node.lineno, ".".join([*target, alias.name])) for alias in node.names]
            else:
                out.append((node.lineno, ".".join(target)))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamer."):
            out.append((node.lineno, node.module.removeprefix("streamer.")))
    return out


def test_modules_import_only_from_their_stage_and_before():
    wrong = []
    for path in modules():
        mine = name_of(path)
        for line, target in imported(path):
            top = target.split(".")[0]
            if top == "__version__" or target == "__init__":
                continue
            target_module = target if (PACKAGE / (target.replace(".", "/") + ".py")).exists() else target.rsplit(".", 1)[0]
            if target_module.split(".")[0] in TOP and mine.split(".")[0] not in TOP:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: imports {target} (the top)")
            elif rank(target_module or top) > rank(mine):
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: imports {target} from a later stage")
    assert wrong == []


def test_wire_imports_nothing_else_of_the_package():
    wrong = [
        f"{path.relative_to(PACKAGE)}:{line}: {target}"
        for path in (PACKAGE / "wire").glob("*.py")
        for line, target in imported(path)
        if not target.startswith("wire")
    ]
    assert wrong == []


def test_modules_and_functions_are_short():
    long_modules, long_functions = [], []
    for path in modules():
        text = path.read_text()
        tree = ast.parse(text)
        doc = ast.get_docstring(tree) or ""
        if len(text.splitlines()) > MAX_MODULE_LINES and LONG_MODULE_REASON not in doc:
            long_modules.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.name} is {length} lines")
    assert long_modules == [] and long_functions == []
