"""Check the shape of the flashbuild package: the rules ruff, mypy and import-linter cannot.

* ``flashbuild/`` holds the stage subpackages and at most six top-level modules;
* no module is longer than 400 lines and no function longer than 60;
* each shared idea is used from its one home: processes are started only by
  ``_util/processes.py``, TOML is read only through ``_util/toml.py``, archives
  are extracted and files fsynced only by ``_util/files.py``, and sources are
  parsed only by ``source/syntax.py``, and the S3 client is imported only by
  ``remote_cache/object_store.py``;
* nothing outside ``cli/`` writes to ``sys.stdout`` or ``sys.stderr``.

Run from the repository root: ``python tools/check_layout.py``. Prints one line
per violation and exits 1 if there is any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "flashbuild"
SUBPACKAGES = {"config", "source", "checks", "render", "deps", "artifact", "inspect", "preview",
               "cli", "_util", "remote_cache"}
MAX_TOP_LEVEL_MODULES = 6
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Dotted names whose use is reserved to one module (relative to the package).
HOMES = {
    "subprocess.run": "_util/processes.py",
    "subprocess.Popen": "_util/processes.py",
    "subprocess.call": "_util/processes.py",
    "subprocess.check_call": "_util/processes.py",
    "subprocess.check_output": "_util/processes.py",
    "os.system": "_util/processes.py",
    "os.popen": "_util/processes.py",
    "ProcessPoolExecutor": "_util/processes.py",
    "multiprocessing.get_context": "_util/processes.py",
    "tomllib": "_util/toml.py",
    "tomli": "_util/toml.py",
    "os.fsync": "_util/files.py",
    "extractall": "_util/files.py",
    "cst.parse_module": "source/syntax.py",
    "libcst.parse_module": "source/syntax.py",
    "obstore": "remote_cache/object_store.py",
    "obstore.store": "remote_cache/object_store.py",
}
OUTPUT_STREAMS = {"sys.stdout", "sys.stderr"}


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for Name/Attribute chains, else ``""``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def layout_problems() -> Iterator[str]:
    modules = sorted(path.name for path in PACKAGE.glob("*.py"))
    if len(modules) > MAX_TOP_LEVEL_MODULES:
        yield f"flashbuild/ has {len(modules)} top-level modules (at most " \
              f"{MAX_TOP_LEVEL_MODULES}): {', '.join(modules)}"
    folders = {path.name for path in PACKAGE.iterdir()
               if path.is_dir() and path.name != "__pycache__"}
    for extra in sorted(folders - SUBPACKAGES):
        yield f"flashbuild/{extra}/ is not one of the stage subpackages"


def module_problems(path: Path) -> Iterator[str]:
    relative = path.relative_to(PACKAGE).as_posix()
    text = path.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        yield f"flashbuild/{relative}: {lines} lines (at most {MAX_MODULE_LINES})"
    tree = ast.parse(text, filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield (f"flashbuild/{relative}:{node.lineno}: function {node.name} has {length} "
                       f"lines (at most {MAX_FUNCTION_LINES})")
        yield from _home_problems(node, relative)
        name = dotted(node) if isinstance(node, ast.Attribute) else ""
        if name in OUTPUT_STREAMS and not relative.startswith("cli/"):
            yield f"flashbuild/{relative}:{node.lineno}: {name} is used outside cli/"


def _home_problems(node: ast.AST, relative: str) -> Iterator[str]:
    used: list[str] = []
    if isinstance(node, ast.Call):
        name = dotted(node.func)
        used += [name, name.rsplit(".", 1)[-1]]
    elif isinstance(node, ast.Import):
        used += [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        used.append(node.module)
    for name in used:
        home = HOMES.get(name)
        if home is not None and relative != home:
            yield f"flashbuild/{relative}:{node.lineno}: {name} belongs in flashbuild/{home}"


def main() -> int:
    problems = list(layout_problems())
    for path in sorted(PACKAGE.rglob("*.py")):
        problems += module_problems(path)
    for problem in problems:
        print(problem)  # noqa: T201 - this script's output is its report
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
