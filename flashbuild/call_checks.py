"""Cross-endpoint calls: the plan must know them, and each call must be awaited."""

from __future__ import annotations

import libcst as cst

from .findings import Finding, finding
from .models import BuildPlan
from .name_scopes import BindingSite, Scope, resolve
from .parsed_module import ParsedModule, body_imports
from .static_eval import dotted_name

AWAITING_CALLS = frozenset({
    "as_completed", "create_task", "ensure_future", "gather", "run", "run_coroutine_threadsafe",
    "shield", "start_soon", "wait", "wait_for",
})
_COLLECTING_METHODS = frozenset({"append", "add", "extend", "insert"})
_CONTAINERS = (cst.Element, cst.StarredElement, cst.List, cst.Tuple, cst.Set, cst.Arg,
               cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.IfExp)


def _called_endpoint(parsed: ParsedModule, site: BindingSite, registry, project_modules):
    """The endpoint function a body import binds, following the plan's rule, or None."""
    if site.kind != "import" or not isinstance(site.statement, cst.ImportFrom):
        return None
    module = parsed.absolute(site.statement)
    target = registry.get(site.imported)
    if target is None or target.is_class:
        return None
    is_project_module = module in project_modules or any(
        name.startswith(module + ".") for name in project_modules)
    return target if module and (target.module == module or is_project_module) else None


def call_findings(parsed, endpoint, decl, definition, scope, registry, project_modules):
    findings = []
    planned = next(f for f in endpoint.functions if f.decl is decl)
    for statement in body_imports(definition):
        if not isinstance(statement, cst.ImportFrom) or isinstance(statement.names, cst.ImportStar):
            continue
        module = parsed.absolute(statement)
        for alias in statement.names:
            target = registry.get(dotted_name(alias.name))
            if target is None or target.module != module:
                continue
            called = target.endpoint.config.name
            if called != endpoint.name and called not in planned.calls:
                findings.append(finding(
                    "plan-calls",
                    f"the build plan misses the call from `{decl.name}` to endpoint {called!r} "
                    f"that this import makes, so the manifest would be wrong; this is a bug in "
                    f"flashbuild.",
                    parsed.location(statement)))
    parents = _parent_map(definition)
    awaited_names = _awaited_names(definition)
    for reference in parsed.walker.references:
        if not reference.scope.is_within(scope):
            continue
        resolution = resolve(reference)
        if resolution.status != "local":
            continue
        target = next((t for site in resolution.scope.bindings.get(reference.name, ())
                       if (t := _called_endpoint(parsed, site, registry, project_modules))), None)
        call = parents.get(reference.node)
        if target is None or not isinstance(call, cst.Call) or call.func is not reference.node:
            continue
        if _is_awaited(call, parents, awaited_names):
            continue
        findings.append(finding("not-awaited", _not_awaited_message(
            reference, decl, target, _is_async(reference.scope)), parsed.location(call)))
    return findings


def _not_awaited_message(reference, decl, target, is_async) -> str:
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


def _is_awaited(call: cst.Call, parents, awaited_names) -> bool:
    """Whether the coroutine ``call`` makes is awaited, scheduled or run (sync code cannot
    contain ``await``, so the same rule serves sync callers)."""
    node, parent = call, parents.get(call)
    while isinstance(parent, _CONTAINERS):
        node, parent = parent, parents.get(parent)
    if _awaiting_call(parent) and node is not parent.func:
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


def calls_consistency(plan: BuildPlan) -> list[Finding]:
    findings = []
    for endpoint in plan.endpoints:
        union = tuple(sorted({c for f in endpoint.functions for c in f.calls}))
        if union != endpoint.calls:
            findings.append(finding(
                "plan-calls",
                f"endpoint {endpoint.name!r} records calls {list(endpoint.calls)} but its "
                f"functions call {list(union)}; this is a bug in flashbuild.",
                endpoint.declared_at))
    return findings
