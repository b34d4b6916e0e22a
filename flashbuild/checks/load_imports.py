"""The imports a worker runs to load an endpoint's handler, and which of them cannot work.

A deployed worker's handler imports the module of each of the endpoint's
functions, so that module's module-level imports run on the worker, and so do
those of every project module they import in turn (packages' ``__init__.py``
included). Imports inside a ``try`` that catches ``ImportError`` may fail and
are skipped, as are those under ``if TYPE_CHECKING:``. Each third-party import
of that closure must be provided by the endpoint's shipped dependencies, its
image, the standard library or the project, or the handler cannot be imported
(``unavailable-import``, an error, decided by
:func:`~flashbuild.checks.undeclared.unavailable_imports` once the dependencies
are known).
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from ..records import BuildPlan, PlannedEndpoint
from ..source.import_names import RUNTIME_MODULES
from ..source.modules import is_stdlib
from ..source.syntax import dotted_name, module_level_imports
from .findings import LoadImport
from .parsed import ParsedModule, SourceFiles


def load_imports(files: SourceFiles, plan: BuildPlan, project_modules: Mapping[str, str],
                 local: frozenset[str]) -> list[LoadImport]:
    """The third-party imports each endpoint's handler runs when it is loaded.

    ``project_modules`` maps the module name of every shipped project file to
    its path; ``local`` holds the project's top-level module names.
    """
    found: list[LoadImport] = []
    for endpoint in plan.endpoints:
        found += _endpoint_imports(files, endpoint, project_modules, local)
    return found


def _entry_files(endpoint: PlannedEndpoint, project_modules: Mapping[str, str]) -> list[str]:
    """The files importing the endpoint's modules runs: packages' ``__init__.py`` first."""
    paths: list[str] = []
    for function in endpoint.functions:
        parts = function.decl.module.split(".")
        for n in range(1, len(parts)):
            package = project_modules.get(".".join(parts[:n]))
            if package is not None and package not in paths:
                paths.append(package)
        if function.decl.file not in paths:
            paths.append(function.decl.file)
    return paths


def _endpoint_imports(files: SourceFiles, endpoint: PlannedEndpoint,
                      project_modules: Mapping[str, str], local: frozenset[str]
                      ) -> list[LoadImport]:
    found: list[LoadImport] = []
    queue: list[tuple[str, tuple[str, ...]]] = [
        (path, (path,)) for path in _entry_files(endpoint, project_modules)]
    for parsed, chain in files.breadth_first(queue):
        for statement in module_level_imports(parsed.tree, skip_import_guards=True):
            named, submodules = _named_modules(parsed, statement)
            loaded = [m for name, _ in (*named, *submodules) for m in _prefixes(name)]
            queue += [(project_modules[m], (*chain, project_modules[m]))
                      for m in loaded if m in project_modules]
            for module, node in named:
                top = module.split(".")[0]
                if top in local or is_stdlib(top) or top in RUNTIME_MODULES:
                    continue
                found.append(LoadImport(endpoint=endpoint.name, module=module,
                                        location=parsed.location(node), chain=chain))
    return found


def _prefixes(module: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: the modules importing it loads."""
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def _named_modules(parsed: ParsedModule, statement: cst.Import | cst.ImportFrom
                   ) -> tuple[list[tuple[str, cst.CSTNode]], list[tuple[str, cst.CSTNode]]]:
    """The modules a statement imports, each with the node to point at, and the
    submodules it may import too (``from pkg import sub`` may load ``pkg/sub.py``)."""
    if isinstance(statement, cst.Import):
        several = len(statement.names) > 1  # point at the offending name of `import a, b`
        return [(dotted_name(alias.name), alias if several else statement)
                for alias in statement.names], []
    base = parsed.absolute(statement)
    if not base:
        return [], []
    if isinstance(statement.names, cst.ImportStar):
        return [(base, statement)], []
    return [(base, statement)], [(f"{base}.{dotted_name(alias.name)}", alias)
                                 for alias in statement.names]
