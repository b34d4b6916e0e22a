"""What each module-level name of a file is bound to, statement by statement.

A module's top-level statements are read in order into a :class:`Namespace`
that records, for every name, what it was bound to and where: a name imported
from ``runpod_flash``, the SDK module itself, a constant expression, or
something dynamic. The static evaluator reads values through it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from . import symbols
from .syntax import dotted_name, imported_module

BindingKind = Literal["symbol", "sdk-module", "module", "imported", "expr", "dynamic"]


@dataclass(frozen=True)
class Binding:
    """What a module-level name refers to from statement ``index`` on.

    ``module``: another module (``import os``; ``symbol`` is its absolute name);
    ``imported``: a name of another module (``from config import DEPS``; ``symbol``
    is ``config.DEPS`` and ``source`` the module, relative imports made absolute).
    """

    kind: BindingKind  # a runpod_flash name, the SDK module, a module, a name imported
    index: int         # from another module, an expression, or dynamic
    node: cst.CSTNode
    symbol: str = ""
    reason: str = ""
    source: str = ""


class Namespace:
    """Module-level bindings in statement order (later bindings shadow earlier ones)."""

    def __init__(self) -> None:
        self._bindings: dict[str, list[Binding]] = {}

    def bind(self, name: str, binding: Binding) -> None:
        self._bindings.setdefault(name, []).append(binding)

    def rebound_after(self, name: str, index: int) -> Binding | None:
        """The first binding of ``name`` by a statement after number ``index``."""
        later = [b for b in self._bindings.get(name, ()) if b.index > index]
        return later[0] if later else None

    def lookup(self, name: str, before: int) -> Binding | None:
        """The binding of ``name`` visible to statement number ``before``."""
        visible = [b for b in self._bindings.get(name, ()) if b.index < before]
        return visible[-1] if visible else None


def read_namespace(statements: Iterable[cst.CSTNode], *, module: str = "",
                   is_package: bool = False) -> Namespace:
    """The bindings of module-level statements, numbered in the order given;
    ``module`` (and whether it is a package) makes relative imports absolute."""
    namespace = Namespace()
    for index, statement in enumerate(statements):
        _bind(namespace, index, statement, module, is_package)
    return namespace


def is_sdk_module(name: str) -> bool:
    """``runpod_flash`` or one of its submodules."""
    return name == symbols.SDK_PACKAGE or name.startswith(symbols.SDK_PACKAGE + ".")


def _bind(namespace: Namespace, index: int, node: cst.CSTNode, module: str,
          is_package: bool) -> None:
    """Record the names a module-level statement binds."""
    if isinstance(node, cst.Import):
        _bind_import(namespace, index, node)
    elif isinstance(node, cst.ImportFrom):
        source = imported_module(node, module, is_package=is_package) if module else (
            "" if node.relative else dotted_name(node.module))
        _bind_import_from(namespace, index, node, source)
    elif isinstance(node, cst.Assign):
        for target in node.targets:
            _bind_target(namespace, index, target.target, node.value)
    elif isinstance(node, cst.AnnAssign) and node.value is not None:
        _bind_target(namespace, index, node.target, node.value)
    elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
        if isinstance(node.operator, cst.AddAssign):
            combined = cst.BinaryOperation(left=node.target, operator=cst.Add(), right=node.value)
            namespace.bind(node.target.value, Binding("expr", index, combined))
        else:
            namespace.bind(node.target.value, Binding(
                "dynamic", index, node, reason="changed by an augmented assignment"))
    elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        kind = "a class" if isinstance(node, cst.ClassDef) else "a function"
        namespace.bind(node.name.value, Binding("dynamic", index, node, reason=kind))


def _bind_import(namespace: Namespace, index: int, node: cst.Import) -> None:
    for alias in node.names:
        full = dotted_name(alias.name)
        if alias.asname is not None:
            bound, target = dotted_name(alias.asname.name), full
        else:
            bound = target = full.split(".")[0]
        kind: BindingKind = "sdk-module" if is_sdk_module(target) else "module"
        namespace.bind(bound, Binding(kind, index, node, symbol=target,
                                      reason=f"the module `{full}`"))


def _bind_import_from(namespace: Namespace, index: int, node: cst.ImportFrom,
                      source: str) -> None:
    written = dotted_name(node.module) if node.module is not None else ""
    ours = not node.relative and is_sdk_module(written)
    if isinstance(node.names, cst.ImportStar):
        if ours:
            for name in symbols.KNOWN_SYMBOLS:
                namespace.bind(name, Binding("symbol", index, node, symbol=name))
        return
    for alias in node.names:
        imported = dotted_name(alias.name)
        bound = dotted_name(alias.asname.name) if alias.asname else imported
        if ours and imported in symbols.KNOWN_SYMBOLS:
            namespace.bind(bound, Binding("symbol", index, node, symbol=imported))
        else:
            reason = f"imported from `{'.' * len(node.relative)}{written}`"
            kind: BindingKind = "imported" if source else "dynamic"
            namespace.bind(bound, Binding(kind, index, node, reason=reason, source=source,
                                          symbol=f"{source}.{imported}" if source else ""))


def _bind_target(
    namespace: Namespace, index: int, target: cst.BaseExpression, value: cst.BaseExpression
) -> None:
    if isinstance(target, cst.Name):
        namespace.bind(target.value, Binding("expr", index, value))
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            if isinstance(element.value, cst.Name):
                namespace.bind(element.value.value, Binding(
                    "dynamic", index, element.value, reason="assigned by unpacking"))


def unknown_sdk_imports(tree: ast.Module) -> Iterator[tuple[ast.alias, str]]:
    """``from runpod_flash import X`` anywhere in a module (CPython's tree of it, which
    is quick to walk) with an X the SDK lacks."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level \
                and node.module == symbols.SDK_PACKAGE:
            for alias in node.names:
                if alias.name != "*" and alias.name not in symbols.EXPORTS:
                    yield alias, alias.name
