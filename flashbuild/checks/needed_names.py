"""Which module-level names of a file the code of its endpoints needs.

A name is needed when an endpoint's body reads it as a global, or its
signature (annotations, defaults) or decorators mention it, and then every
name the module-level definition or assignment it is bound to mentions, and so
on. Over-approximating is the safe side: a name mentioned anywhere in a
needed class or function counts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

import libcst as cst

from .name_scopes import look_up
from .parsed import ParsedModule

# Stands for whatever ``from x import *`` binds: needed whenever any unknown name is.
STAR = "*"


def needed_names(parsed: ParsedModule,
                 endpoints: Collection[cst.FunctionDef | cst.ClassDef]) -> set[str]:
    """The module-level names ``endpoints`` (definitions in ``parsed``) need."""
    pending: list[str] = []
    for definition in endpoints:
        scope = parsed.walker.definition_scopes.get(definition)
        pending += [reference.name for reference in parsed.walker.references
                    if scope is not None and reference.scope.is_within(scope)
                    and look_up(reference).status == "global"]
        if isinstance(definition, cst.FunctionDef):
            pending += _names_in(definition.params)
            pending += _names_in(definition.returns)
        else:
            pending += [name for base in (*definition.bases, *definition.keywords)
                        for name in _names_in(base)]
        pending += [name for decorator in definition.decorators for name in _names_in(decorator)]
    needed: set[str] = set()
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        sites = parsed.scope.bindings.get(name)
        if sites is None:
            needed.add(STAR)  # perhaps bound by a star import
            continue
        for site in sites:
            if site.kind in ("function", "class"):
                pending += _names_in(site.node)
            elif site.value is not None:
                pending += _names_in(site.value)
    return needed


def _names_in(node: cst.CSTNode | None) -> Iterator[str]:
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            yield current.value
        stack.extend(current.children)
