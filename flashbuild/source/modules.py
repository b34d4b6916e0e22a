"""Module names of project files, and which top-level names are the project's or the
standard library's. Plain string work: the parser is not needed (nor loaded) for it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable
from pathlib import PurePosixPath


@functools.lru_cache(maxsize=8192)  # asked for every file by several stages
def module_name(path: str) -> str:
    """Dotted module name of a project file: ``pkg/sub/__init__.py`` -> ``pkg.sub``."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def absolute_module(module: str, *, is_package: bool, level: int, name: str) -> str:
    """The module ``from <level dots><name> import ...`` names inside ``module``.

    ``""`` when the import climbs beyond the top-level package, as Python refuses it.
    """
    if level == 0:
        return name
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level > len(package):
        return ""
    return ".".join(part for part in (*package[: len(package) - level + 1], name) if part)


def local_module_names(project_paths: Iterable[str]) -> frozenset[str]:
    """Top-level import names the project's own ``.py`` files define."""
    names = set()
    for path in project_paths:
        parts = PurePosixPath(path).parts
        if not path.endswith(".py") or not parts:
            continue
        first = parts[0] if len(parts) > 1 else parts[0][: -len(".py")]
        if first.isidentifier():
            names.add(first)
    return frozenset(names)


def is_stdlib(import_name: str) -> bool:
    """Whether a top-level import name is the standard library's (of this Python)."""
    return import_name in sys.stdlib_module_names or import_name == "__future__"
