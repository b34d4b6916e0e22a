"""Cross-endpoint calls must be awaited: an unawaited call only makes a coroutine."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import libcst as cst

from ..records import FunctionDecl
from ..source.plan import called_endpoint
from ..source.syntax import dotted_name
from .findings import Finding, finding
from .name_scopes import BindingSite, Reference, Scope, look_up
from .parsed import ParsedModule

AWAITING_CALLS = frozenset({
    "as_completed", "create_task", "ensure_future", "gather", "run", "run_coroutine_threadsafe",
    "shield", "start_soon", "wait", "wait_for",
})
_COLLECTING_METHODS = frozenset({"append", "add", "extend", "insert"})
_CONTAINERS = (cst.Element, cst.StarredElement, cst.List, cst.Tuple, cst.Set, cst.Arg,
               cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.IfExp)


def _called_endpoint(parsed: ParsedModule, site: BindingSite,
                     registry: Mapping[str, FunctionDecl], project_modules: Collection[str]
                     ) -> FunctionDecl | None:
    """The endpoint function a body import binds (the plan's rule), unless it is a class."""
    if site.kind != "import" or not isinstance(site.statement, cst.ImportFrom):
        return None
    target = called_endpoint(parsed.absolute(site.statement), site.imported, registry,
                             project_modules)
    return None if target is None or target.is_class else target


def not_awaited_calls(parsed: ParsedModule, decl: FunctionDecl,
                      definition: cst.FunctionDef | cst.ClassDef, scope: Scope,
                      registry: Mapping[str, FunctionDecl], project_modules: Collection[str]
                      ) -> list[Finding]:
    """Calls of other endpoints' functions in ``decl``'s body whose coroutine is dropped."""
    findings = []
    parents = _parent_map(definition)
    awaited_names = _awaited_names(definition)
    for reference in parsed.walker.references:
        if not reference.scope.is_within(scope):
            continue
        found = look_up(reference)
        if found.status != "local" or found.scope is None:
            continue
        target = next((t for site in found.scope.bindings.get(reference.name, ())
                       if (t := _called_endpoint(parsed, site, registry, project_modules))), None)
        call = parents.get(reference.node)
        if target is None or not isinstance(call, cst.Call) or call.func is not reference.node:
            continue
        if _is_awaited(call, parents, awaited_names):
            continue
        findings.append(finding("not-awaited", _not_awaited_message(
            reference, decl, target, _is_async(reference.scope)), parsed.location(call)))
    return findings


def _not_awaited_message(reference: Reference, decl: FunctionDecl, target: FunctionDecl,
                         is_async: bool) -> str:
    called = f"`{reference.name}` (endpoint {target.endpoint.config.name!r})"
    if is_async:
        return (f"the call of {called} in `{decl.name}` is not awaited, so it only creates a "
                f"coroutine and the endpoint never runs; write `await {reference.name}(...)`.")
    return (f"{called} is called from a sync function in `{decl.name}`, which cannot await the "
            f"coroutine it returns; make the function `async def` and write "
            f"`await {reference.name}(...)`.")


def _is_async(scope: Scope) -> bool:
    current: Scope | None = scope
    while current is not None and (current.kind == "comprehension" or
                                   isinstance(current.node, cst.Lambda)):
        current = current.parent
    return current is not None and current.is_async


def _parent_map(root: cst.CSTNode) -> dict[cst.CSTNode, cst.CSTNode]:
    parents, stack = {}, [root]
    while stack:
        node = stack.pop()
        for child in node.children:
            parents[child] = node
            stack.append(child)
    return parents


def _awaiting_call(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and dotted_name(node.func).split(".")[-1] in AWAITING_CALLS


def _awaited_names(root: cst.CSTNode) -> frozenset[str]:
    """Names read under ``await`` or passed to an awaiting call anywhere in ``root``."""
    names, stack = set(), [(root, False)]
    while stack:
        node, awaited = stack.pop()
        if awaited and isinstance(node, cst.Name):
            names.add(node.value)
        awaited = awaited or isinstance(node, cst.Await) or _awaiting_call(node)
        stack.extend((child, awaited) for child in node.children)
    return frozenset(names)


def _is_awaited(call: cst.Call, parents: Mapping[cst.CSTNode, cst.CSTNode],
                awaited_names: frozenset[str]) -> bool:
    """Whether the coroutine ``call`` makes is awaited, scheduled or run (sync code cannot
    contain ``await``, so the same rule serves sync callers)."""
    node: cst.CSTNode = call
    parent = parents.get(call)
    while isinstance(parent, _CONTAINERS):
        node, parent = parent, parents.get(parent)
    if isinstance(parent, cst.Call) and _awaiting_call(parent) and node is not parent.func:
        return True  # asyncio.gather(*[f(x) for x in xs]), asyncio.run(f(x)), ...
    if isinstance(parent, cst.Await):
        return True
    if isinstance(parent, (cst.Assign, cst.AnnAssign)):  # coro = f(x); ...; await coro
        targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [
            parent.target]
        return any(isinstance(t, cst.Name) and t.value in awaited_names for t in targets)
    if isinstance(parent, cst.Call) and isinstance(parent.func, cst.Attribute):
        method, owner = parent.func.attr.value, parent.func.value  # tasks.append(f(x))
        return (method in _COLLECTING_METHODS and isinstance(owner, cst.Name)
                and owner.value in awaited_names)
    return False
