"""Imports of modules nothing provides to the endpoint, once its dependencies are known.

``undeclared-import``: imports in endpoint bodies (a warning: they run only
when the function is called). ``unavailable-import``: imports that run when the
worker loads the handler (an error: the endpoint cannot start). Both run on
what the source checks recorded, so a build whose sources are unchanged never
loads the parser for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..records import BuildPlan
from ..source.import_names import suggest_distribution
from ..source.modules import is_stdlib
from .findings import Finding, LoadImport, finding, planned_functions


def undeclared_imports(plan: BuildPlan, *, provided: Mapping[str, frozenset[str]],
                       local_modules: frozenset[str], images: Mapping[str, str]
                       ) -> list[Finding]:
    """Body imports of third-party modules that nothing provides to the endpoint.

    ``provided`` maps each endpoint name to the import names its installed
    dependencies and its base image provide; ``local_modules`` holds the
    project's top-level module names, shipped or not (an unshipped one is
    reported by :func:`~flashbuild.checks.imports.unshipped_imports`);
    ``images`` maps each endpoint to its image's label. The body imports come
    from the scan.
    """
    findings = []
    for endpoint, decl in planned_functions(plan):
        names = provided.get(endpoint.name, frozenset())
        for ref in decl.body_imports:
            top = ref.module.split(".")[0]
            if not top or is_stdlib(top) or top in local_modules or top in names:
                continue
            findings.append(finding(
                "undeclared-import",
                f"`{ref.module}` imported in `{decl.name}` is not provided by the dependencies "
                f"of endpoint {endpoint.name!r}, its image ({images.get(endpoint.name, '?')}) "
                f"or the standard library; add {suggest_distribution(top)!r} to its "
                f"dependencies=[...].",
                ref.location))
    return findings


def unavailable_imports(imports: Iterable[LoadImport], provided: Mapping[str, frozenset[str]],
                        images: Mapping[str, str]) -> list[Finding]:
    """Load-time imports that nothing on the endpoint's worker provides.

    ``provided`` maps each endpoint to the import names its shipped
    dependencies and its image provide; ``images`` to its image's label.
    """
    findings = []
    for load in imports:
        top = load.module.split(".")[0]
        if top in provided.get(load.endpoint, frozenset()):
            continue
        findings.append(finding(
            "unavailable-import",
            f"`{load.module}` is imported at module level of {load.importer()}, which the worker "
            f"loads for endpoint {load.endpoint!r}, but neither the endpoint's dependencies, "
            f"its image ({images.get(load.endpoint, '?')}) nor the standard library provide "
            f"it, so the handler cannot be imported; add {suggest_distribution(top)!r} to the "
            "endpoint's dependencies=[...], or move the import into the functions that use it.",
            load.location))
    return findings
