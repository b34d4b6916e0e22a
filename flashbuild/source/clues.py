"""Why a project that looks like a Flash app declares no endpoint the scanner can read.

Looked for only when no endpoint was found, in CPython's tree of each file
(quick, and the files have parsed already): imports of ``tetra_rp``, the SDK's
former name, which the worker images do not have; and decorators called
``Endpoint`` or ``remote`` whose name is not imported from ``runpod_flash``
(bound through ``importlib``, an assignment or another package), which
flashbuild cannot follow without running the code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

from ..errors import SourceLocation
from ..records import ScanClue
from . import symbols

LEGACY_PACKAGE = "tetra_rp"
DECORATOR_NAMES = frozenset({symbols.ENDPOINT, symbols.REMOTE})
MAX_CLUES = 5


def no_endpoint_clues(sources: Mapping[str, bytes]) -> tuple[ScanClue, ...]:
    """What in ``sources`` (path -> bytes) suggests endpoints the scan could not read."""
    from .syntax import python_tree  # loads libcst: only on this (failing) path

    clues: list[ScanClue] = []
    for path, source in sources.items():
        if LEGACY_PACKAGE.encode() not in source and not any(
                name.encode() in source for name in DECORATOR_NAMES):
            continue
        tree = python_tree(source, path)
        clues.extend(_legacy_imports(tree, path))
        clues.extend(_unfollowed_decorators(tree, path))
        if len(clues) >= MAX_CLUES:
            break
    return tuple(clues[:MAX_CLUES])


def _at(path: str, node: ast.AST) -> SourceLocation:
    return SourceLocation(path=path, line=getattr(node, "lineno", None),
                          column=getattr(node, "col_offset", -1) + 1 or None)


def _legacy_imports(tree: ast.Module, path: str) -> Iterator[ScanClue]:
    for node in ast.walk(tree):
        modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                   else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for module in modules:
            if module.split(".")[0] == LEGACY_PACKAGE:
                yield ScanClue(
                    location=_at(path, node),
                    message=f"`{module}` is imported here: `{LEGACY_PACKAGE}` is the former "
                    f"name of `{symbols.SDK_PACKAGE}`, which the worker images do not have, so "
                    "these declarations cannot run there.",
                    hint=f"Install runpod-flash and replace `{LEGACY_PACKAGE}` with "
                    f"`{symbols.SDK_PACKAGE}` in the imports (the decorators keep their names).")


def _unfollowed_decorators(tree: ast.Module, path: str) -> Iterator[ScanClue]:
    bindings = _module_bindings(tree)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            root = target
            while isinstance(root, ast.Attribute):
                root = root.value
            last = target.attr if isinstance(target, ast.Attribute) else getattr(
                target, "id", "")
            if last not in DECORATOR_NAMES or not isinstance(root, ast.Name):
                continue
            bound = bindings.get(root.id)
            # The location of the "@" (CPython's is that of the expression after it).
            used = SourceLocation(path=path, line=decorator.lineno,
                                  column=max(decorator.col_offset, 1))
            if bound is None:
                yield ScanClue(
                    location=used,
                    message=f"`@{ast.unparse(target)}` decorates `{node.name}`, but "
                    f"`{root.id}` is never imported from `{symbols.SDK_PACKAGE}`.",
                    hint=f"Add `from {symbols.SDK_PACKAGE} import {last}`.")
            elif not _imports_from(bound, symbols.SDK_PACKAGE) and not _imports_from(
                    bound, LEGACY_PACKAGE):  # a legacy import has its own clue
                yield ScanClue(
                    location=_at(path, bound),
                    message=f"`{root.id}`, used as the decorator `@{ast.unparse(target)}` of "
                    f"`{node.name}` at {used}, is bound here in a way flashbuild cannot "
                    "follow without running the code.",
                    hint=f"Import it directly: `from {symbols.SDK_PACKAGE} import {last}`.")


def _module_bindings(tree: ast.Module) -> dict[str, ast.stmt]:
    """The last module-level statement binding each name (imports and assignments)."""
    bound: dict[str, ast.stmt] = {}
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            for alias in statement.names:
                bound[(alias.asname or alias.name).split(".")[0]] = statement
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [
                statement.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bound[name.id] = statement
    return bound


def _imports_from(statement: ast.stmt, package: str) -> bool:
    if isinstance(statement, ast.ImportFrom):
        return (statement.module or "").split(".")[0] == package and not statement.level
    if isinstance(statement, ast.Import):
        return any(alias.name.split(".")[0] == package for alias in statement.names)
    return False
