"""The undeclared-import check: body imports of modules nothing provides to the endpoint.

It runs after the dependencies are installed, on what the scan recorded of
each body's imports, so a build whose sources are unchanged never loads the
parser for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..records import BuildPlan
from ..source.import_names import suggest_distribution
from ..source.modules import is_stdlib
from .findings import Finding, finding, planned_functions


def undeclared_imports(plan: BuildPlan, *, provided: Mapping[str, frozenset[str]],
                       local_modules: frozenset[str]) -> list[Finding]:
    """Body imports of third-party modules that nothing provides to the endpoint.

    ``provided`` maps each endpoint name to the import names its installed
    dependencies and its base image provide; ``local_modules`` holds the
    project's top-level module names, shipped or not (an unshipped one is
    reported by :func:`~flashbuild.checks.imports.unshipped_imports`). The body
    imports come from the scan.
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
                f"of endpoint {endpoint.name!r}, the {endpoint.config.compute.upper()} base "
                f"image or the standard library; add {suggest_distribution(top)!r} to its "
                f"dependencies=[...].",
                ref.location))
    return findings
