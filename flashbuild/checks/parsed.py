"""Project sources parsed once for all static checks: trees, scopes and positions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

import libcst as cst

from ..errors import SourceLocation
from ..records import FunctionDecl
from ..source.modules import module_name
from ..source.syntax import identifier, imported_module, parse_with_positions
from .name_scopes import ScopeWalker

Context = TypeVar("Context")


class ParsedModule:
    """One parsed source file with its scopes and positions."""

    def __init__(self, path: str, source: bytes) -> None:
        self.path = path
        self.name = module_name(path)
        self.is_package = path.endswith("__init__.py")
        self.tree, self.positions = parse_with_positions(source, path)
        self.walker = ScopeWalker()
        self.scope = self.walker.walk_module(self.tree)

    def location(self, node: cst.CSTNode) -> SourceLocation:
        """Where ``node`` starts, as ``file:line:col``."""
        start = self.positions[node].start
        return SourceLocation(path=self.path, line=start.line, column=start.column + 1)

    def definition(self, decl: FunctionDecl) -> cst.FunctionDef | cst.ClassDef | None:
        """The def/class node whose decorator is at ``decl.location``."""
        for node in self.walker.definition_scopes:
            if not isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                continue
            if identifier(node.name.value) == decl.name and any(
                self.location(d) == decl.location for d in node.decorators
            ):
                return node
        return None

    def absolute(self, node: cst.ImportFrom) -> str:
        """The module an ``ImportFrom`` names, relative imports resolved ("" if impossible)."""
        return imported_module(node, self.name, is_package=self.is_package)


class SourceFiles:
    """Parses files on first use; every check shares the result."""

    def __init__(self, sources: Mapping[str, bytes]) -> None:
        self.sources = sources
        self.parsed: dict[str, ParsedModule] = {}

    def get(self, path: str) -> ParsedModule | None:
        """The parsed file at ``path``, or None if it is not a shipped source."""
        if path not in self.parsed and path in self.sources:
            self.parsed[path] = ParsedModule(path, self.sources[path])
        return self.parsed.get(path)

    def breadth_first(self, queue: list[tuple[str, Context]]
                      ) -> Iterator[tuple[ParsedModule, Context]]:
        """Each shipped file of ``queue`` once, in order, with what came with it.

        The caller appends the files each one imports to ``queue`` as it goes.
        """
        seen: set[str] = set()
        while queue:
            path, context = queue.pop(0)
            parsed = self.get(path)
            if path in seen or parsed is None:
                continue
            seen.add(path)
            yield parsed, context
