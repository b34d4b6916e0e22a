"""Project sources parsed once for all static checks: trees, scopes and positions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .errors import SourceLocation
from .models import FunctionDecl
from .name_scopes import ScopeWalker
from .scan import module_name
from .scanner import parse
from .static_eval import dotted_name


class ParsedModule:
    """One parsed source file with its scopes and positions."""

    def __init__(self, path: str, source: bytes) -> None:
        self.path = path
        self.name = module_name(path)
        self.is_package = path.endswith("__init__.py")
        self.tree = parse(source, path)
        self.positions = MetadataWrapper(self.tree, unsafe_skip_copy=True).resolve(PositionProvider)
        self.walker = ScopeWalker()
        self.scope = self.walker.walk_module(self.tree)

    def location(self, node: cst.CSTNode) -> SourceLocation:
        start = self.positions[node].start
        return SourceLocation(path=self.path, line=start.line, column=start.column + 1)

    def definition(self, decl: FunctionDecl) -> cst.FunctionDef | cst.ClassDef | None:
        """The def/class node whose decorator is at ``decl.location``."""
        for node in self.walker.definition_scopes:
            if node.name.value == decl.name and any(
                self.location(d) == decl.location for d in node.decorators
            ):
                return node
        return None

    def absolute(self, node: cst.ImportFrom) -> str:
        """The module an ``ImportFrom`` names, relative imports resolved ("" if impossible)."""
        name = dotted_name(node.module) if node.module is not None else ""
        level = len(node.relative)
        if level == 0:
            return name
        package = self.name.split(".") if self.is_package else self.name.split(".")[:-1]
        if level > len(package):
            return ""
        return ".".join(p for p in (*package[: len(package) - level + 1], name) if p)


class SourceFiles:
    """Parses files on first use; every check shares the result."""

    def __init__(self, sources: Mapping[str, bytes]) -> None:
        self.sources = sources
        self.parsed: dict[str, ParsedModule] = {}

    def get(self, path: str) -> ParsedModule | None:
        if path not in self.parsed and path in self.sources:
            self.parsed[path] = ParsedModule(path, self.sources[path])
        return self.parsed.get(path)


def body_imports(definition: cst.CSTNode) -> Iterator[cst.Import | cst.ImportFrom]:
    """Every import statement inside a definition's body, nested blocks included."""
    stack = [definition.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            yield node
        stack.extend(reversed(node.children))
