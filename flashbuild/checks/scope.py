"""The scope check: endpoint bodies must not read module-level names."""

from __future__ import annotations

from collections.abc import Mapping

from ..records import FunctionDecl
from .findings import Finding, finding
from .name_scopes import BindingSite, Scope, is_constant_literal, look_up
from .parsed import ParsedModule

LIVE_MODE = "only the function body travels to the worker in live mode"


def scope_findings(parsed: ParsedModule, decl: FunctionDecl, scope: Scope,
                   registry: Mapping[str, FunctionDecl]) -> list[Finding]:
    """Reads of module-level names (other than constant literals) inside ``decl``'s body."""
    findings = []
    for reference in parsed.walker.references:
        if not reference.scope.is_within(scope) or reference.name == decl.name:
            continue
        if look_up(reference).status != "global":
            continue
        sites = parsed.scope.bindings.get(reference.name, ())
        offending = [site for site in sites
                     if not (site.kind == "assignment" and is_constant_literal(site.value))]
        if offending:
            findings.append(finding("scope", _scope_message(parsed, decl, offending[0], registry),
                                     parsed.location(reference.node)))
    return findings


def _scope_message(parsed: ParsedModule, decl: FunctionDecl, site: BindingSite,
                   registry: Mapping[str, FunctionDecl]) -> str:
    name, where = site.name, parsed.location(site.node)
    if site.kind == "import":
        what, fix = f"the module-level import at {where}", f"import it inside `{decl.name}`"
    elif site.kind in ("function", "class") and name in registry and (
        registry[name].module == parsed.name
    ):
        target = registry[name]
        what = f"the {site.kind} of endpoint {target.endpoint.config.name!r} defined at {where}"
        fix = (f"import it inside `{decl.name}` (`from {parsed.name} import {name}`) "
               "so that the call goes to that endpoint")
    elif site.kind in ("function", "class"):
        what = f"the module-level {site.kind} defined at {where}"
        fix = f"define it inside `{decl.name}` or import it there from a module"
    else:
        what = f"a module-level variable assigned at {where} that is not a constant literal"
        fix = f"define it inside `{decl.name}` or make it a constant literal"
    return f"`{name}` used in `{decl.name}` is {what}; {LIVE_MODE}, so {fix}."
