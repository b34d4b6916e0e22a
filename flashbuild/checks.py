"""Static checks for the Flash docs' most common mistakes, at build time.

Pure functions over the project's sources and the build plan; user code is
parsed with libcst, never imported or run. Each problem is a :class:`Finding`
at the ``file:line:col`` of the offending use:

``scope``
    An endpoint body reads a module-level import, function, class or
    variable that is not a constant literal. In live mode only the body
    travels to the worker, so the name does not exist there.
``module-level-import``
    A file that defines endpoints imports a third-party package at module
    level: the import runs on the developer's machine, not in the body.
``unshipped-import``
    An endpoint imports a project module that the ignore rules leave out of
    the artifact; the import fails on the worker (always an error).
``not-awaited``
    A call of another endpoint's function (imported inside the body with
    ``from module import function``) whose coroutine is neither awaited nor
    handed to ``asyncio.gather``/``create_task``/``run``/..., directly or
    through a variable or list. A sync caller cannot await, so a call from
    one is reported unless its coroutine goes to ``asyncio.run``.
``undeclared-import``
    A body imports a third-party module that neither the endpoint's
    dependencies, its base image nor the standard library provides.
``plan-calls``
    The build plan misses a cross-endpoint call that the code makes (a bug in
    flashbuild; always an error).

Decisions: ``global`` declarations are trusted; annotations and the
endpoint's own decorators and default values are not checked (they are
evaluated where the function is defined; the defaults are stored on the
function); an endpoint may name itself; everything inside an endpoint
class's body is checked; a module-level ``from runpod_flash import X`` read
in a body is reported like any import (the SDK is on every worker, but the
name is not bound in the body). Names come from an own scope walk
(:mod:`flashbuild.name_scopes`), not libcst's ``ScopeProvider``, which
resolves several local bindings to the module.
"""

from __future__ import annotations

from collections.abc import Mapping

from .findings import SEVERITIES, Finding, declarations, finding, sorted_findings
from .import_names import (
    endpoint_import_names,
    image_import_names,
    import_names_of,
    is_stdlib,
    local_module_names,
    suggest_distribution,
)
from .models import BuildPlan
from .scan import module_name

# What the pipeline needs to run the checks and feed check_imports.
__all__ = [
    "SEVERITIES", "Finding", "check_imports", "check_sources", "endpoint_import_names",
    "image_import_names", "import_names_of", "local_module_names",
]


# --- check_sources: scope, calls, unshipped and module-level imports -------------------


def check_sources(
    sources: Mapping[str, bytes],
    plan: BuildPlan,
    *,
    shipped_paths: frozenset[str],
    project_paths: frozenset[str],
) -> tuple[Finding, ...]:
    """Scope, cross-endpoint call, unshipped-import and module-level-import findings.

    ``sources`` maps the POSIX path of every shipped ``.py`` file to its bytes;
    ``project_paths`` lists every ``.py`` file of the project, shipped or not.
    """
    # The parser loads on first use, as in scan.py.
    from .call_checks import call_findings, calls_consistency
    from .import_checks import module_level_imports, unshipped_imports
    from .parsed_module import SourceFiles
    from .scope_checks import scope_findings

    files = SourceFiles(sources)
    registry = {decl.name: decl for _, decl in declarations(plan)}
    project_modules = {module_name(p): p for p in sorted(project_paths | shipped_paths)
                       if p.endswith(".py")}
    findings: list[Finding] = []
    for endpoint, decl in declarations(plan):
        parsed = files.get(decl.file)
        definition = parsed.definition(decl) if parsed is not None else None
        if parsed is None or definition is None:
            continue
        scope = parsed.walker.definition_scopes[definition]
        findings += scope_findings(parsed, decl, scope, registry)
        findings += call_findings(parsed, endpoint, decl, definition, scope, registry,
                                   project_modules)
    findings += calls_consistency(plan)
    findings += unshipped_imports(files, plan, project_modules, shipped_paths)
    local = local_module_names(project_paths | shipped_paths)
    for path in sorted({decl.file for _, decl in declarations(plan)}):
        parsed = files.get(path)
        if parsed is not None:
            findings += module_level_imports(parsed, local)
    return sorted_findings(findings)


# --- check_imports: undeclared dependencies ---------------------------------------------


def check_imports(
    sources: Mapping[str, bytes],
    plan: BuildPlan,
    *,
    import_names: Mapping[str, frozenset[str]],
    image_modules: Mapping[str, frozenset[str]],
    local_modules: frozenset[str],
) -> tuple[Finding, ...]:
    """Body imports of third-party modules that nothing provides to the endpoint.

    ``import_names`` and ``image_modules`` map endpoint names to the import
    names its dependency tree and its base image provide; ``local_modules``
    holds the project's top-level module names, shipped or not (an
    unshipped one is reported by :func:`check_sources`). The body imports
    come from the scan (``FunctionDecl.body_imports``); ``sources`` is taken
    so that both checks have the same inputs, and is not read.
    """
    findings = []
    for endpoint, decl in declarations(plan):
        provided = import_names.get(endpoint.name, frozenset()) | image_modules.get(
            endpoint.name, frozenset())
        for ref in decl.body_imports:
            top = ref.module.split(".")[0]
            if not top or is_stdlib(top) or top in local_modules or top in provided:
                continue
            image = f"the {endpoint.config.compute.upper()} base image"
            findings.append(finding(
                "undeclared-import",
                f"`{ref.module}` imported in `{decl.name}` is not provided by the dependencies "
                f"of endpoint {endpoint.name!r}, {image} or the standard library; add "
                f"{suggest_distribution(top)!r} to its dependencies=[...].",
                ref.location))
    return sorted_findings(findings)
