"""Run the static checks inside a build and decide what their findings mean.

User code is parsed with libcst, never imported or run. Each problem is a
:class:`~flashbuild.checks.findings.Finding` at the ``file:line:col`` of the
offending use:

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
    dependencies, its image nor the standard library provides.
``unavailable-import``
    The same for an import the worker runs when it loads the endpoint's
    handler: at module level of the endpoint's file or of a project module
    it imports there, however deep (always an error: the endpoint cannot
    start). See :mod:`flashbuild.checks.load_imports`.

Decisions: ``global`` declarations are trusted; annotations and the
endpoint's own decorators and default values are not checked (they are
evaluated where the function is defined; the defaults are stored on the
function); an endpoint may name itself; everything inside an endpoint
class's body is checked; a module-level ``from runpod_flash import X`` read
in a body is reported like any import (the SDK is on every worker, but the
name is not bound in the body). Names come from an own scope walk
(:mod:`flashbuild.checks.name_scopes`), not libcst's ``ScopeProvider``, which
resolves several local bindings to the module.

Warnings go to the build's warnings (``--strict`` makes any of them fail the
build); ``unshipped-import`` and ``unavailable-import`` are always source
errors. Source checks depend only on the shipped code and the set of project
files, so their findings are cached like scan results and an unchanged
project does not load the parser.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .. import __version__
from ..cache import cached_tuple
from ..errors import SourceCodeError, StaticCheckError
from ..records import BuildPlan, BuildWarning, ProjectFiles
from ..source.files import python_sources
from ..source.modules import local_module_names, module_name
from .findings import (
    FIXES,
    Finding,
    LoadImport,
    SourceReport,
    planned_functions,
    sorted_findings,
)
from .undeclared import unavailable_imports, undeclared_imports


def source_findings(
    files: ProjectFiles, plan: BuildPlan, *, project_paths: frozenset[str],
    cache_dir: Path | None, sources: Mapping[str, bytes] | None = None,
) -> SourceReport:
    """Scope, call and import-placement findings for the shipped code, cached, with
    the imports the workers run to load each handler (checked once the
    dependencies are known, by :func:`import_findings`).

    ``project_paths`` lists every ``.py`` file of the project, shipped or not
    (:func:`~flashbuild.source.files.project_python_paths`).
    """
    if sources is None:
        sources = python_sources(files)
    shipped = frozenset(file.path for file in files.files)
    digest = hashlib.sha256(f"{__version__}\0".encode())
    for path in sorted(sources):
        digest.update(os.fsencode(f"{path}\0") + hashlib.sha256(sources[path]).digest())
    # Names as the file system has them: a name need not be UTF-8.
    digest.update(os.fsencode("\0".join(sorted(shipped))) + b"\1"
                  + os.fsencode("\0".join(sorted(project_paths))))
    entry = cache_dir / "checks" / f"{digest.hexdigest()}.json" if cache_dir else None
    (report,) = cached_tuple(entry, SourceReport, lambda: (check_sources(
        sources, plan, shipped_paths=shipped, project_paths=project_paths),))
    return report


def check_sources(
    sources: Mapping[str, bytes],
    plan: BuildPlan,
    *,
    shipped_paths: frozenset[str],
    project_paths: frozenset[str],
) -> SourceReport:
    """Scope, cross-endpoint call, unshipped-import and module-level-import findings,
    and the load-time imports of each endpoint.

    ``sources`` maps the POSIX path of every shipped ``.py`` file to its bytes;
    ``project_paths`` lists every ``.py`` file of the project, shipped or not.
    """
    # The parser loads on first use, as in the scan.
    from .calls import not_awaited_calls
    from .imports import module_level_dependency_imports, unshipped_imports
    from .load_imports import load_imports
    from .parsed import SourceFiles
    from .scope import scope_findings

    files = SourceFiles(sources)
    registry = {decl.name: decl for _, decl in planned_functions(plan)}
    project_modules = {module_name(p): p for p in sorted(project_paths | shipped_paths)
                       if p.endswith(".py")}
    shipped_modules = frozenset(module_name(path) for path in sources)  # as the plan saw them
    findings: list[Finding] = []
    for _, decl in planned_functions(plan):
        parsed = files.get(decl.file)
        definition = parsed.definition(decl) if parsed is not None else None
        if parsed is None or definition is None:
            continue
        scope = parsed.walker.definition_scopes[definition]
        findings += scope_findings(parsed, decl, scope, registry)
        findings += not_awaited_calls(parsed, decl, definition, scope, registry, shipped_modules)
    findings += unshipped_imports(files, plan, project_modules, shipped_paths)
    local = local_module_names(project_paths | shipped_paths)
    for path in sorted({decl.file for _, decl in planned_functions(plan)}):
        parsed = files.get(path)
        if parsed is not None:
            endpoints = [definition for _, decl in planned_functions(plan) if decl.file == path
                         and (definition := parsed.definition(decl)) is not None]
            findings += module_level_dependency_imports(parsed, local, endpoints)
    shipped_project = {name: path for name, path in project_modules.items()
                       if path in shipped_paths}
    loads = load_imports(files, plan, shipped_project, local)
    return SourceReport(findings=sorted_findings(findings), load_imports=tuple(loads))


def import_findings(
    plan: BuildPlan, provided: Mapping[str, frozenset[str]], *, project_paths: frozenset[str],
    load_imports: Iterable[LoadImport], images: Mapping[str, str],
) -> tuple[Finding, ...]:
    """Imports, in endpoint bodies or run to load a handler, that nothing provides.

    ``provided`` maps each endpoint to the import names of its installed
    dependencies and of its image (``images``: endpoint -> the image's label);
    the standard library and the project's own modules (``project_paths``,
    shipped or not) count as provided too.
    """
    local = local_module_names(project_paths)
    return sorted_findings([
        *undeclared_imports(plan, provided=provided, local_modules=local, images=images),
        *unavailable_imports(load_imports, provided, images),
    ])


def enforce(findings: Iterable[Finding], *, strict: bool) -> tuple[BuildWarning, ...]:
    """Raise for errors (and, with ``strict``, for warnings); return the warnings.

    The error raised lists each finding in its ``parts``, at the finding's place.
    """
    findings = tuple(findings)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        error = SourceCodeError(
            "\n".join([f"{errors[0].message} [{errors[0].code}]",
                       *(f"{f.location}: {f.message} [{f.code}]" for f in errors[1:])]),
            location=errors[0].location,
            related=tuple(f.location for f in errors[1:]),
            hint=" ".join(dict.fromkeys(FIXES[f.code] for f in errors if f.code in FIXES)),
        )
        error.parts = tuple(SourceCodeError(f"{f.message} [{f.code}]", location=f.location,
                                            hint=FIXES.get(f.code)) for f in errors)
        raise error
    warnings = [f for f in findings if f.severity == "warning"]
    if strict and warnings:
        failed = StaticCheckError(
            f"{len(warnings)} static check warning{'s' * (len(warnings) != 1)} with --strict:\n"
            + "\n".join(f"  {f}" for f in warnings),
            location=warnings[0].location,
            hint="Fix the code as each warning says, or build without --strict.",
        )
        failed.parts = tuple(StaticCheckError(f"{f.message} [{f.code}]", location=f.location)
                             for f in warnings)
        raise failed
    return tuple(f.as_build_warning() for f in warnings)
