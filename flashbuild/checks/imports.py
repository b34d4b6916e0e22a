"""Imports the workers run: of unshipped project files, and of dependencies at module level."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

import libcst as cst

from ..records import BuildPlan
from ..source.import_names import RUNTIME_MODULES
from ..source.modules import is_stdlib
from ..source.syntax import ImportStatement, dotted_name, imports_in, module_level_imports
from .findings import Finding, finding, planned_functions
from .needed_names import needed_names
from .parsed import ParsedModule, SourceFiles

# (path of a shipped file the worker loads, how it comes to load it: "" for an endpoint's file)
_Pending = list[tuple[str, str]]


def _imported_modules(parsed: ParsedModule, statement: ImportStatement
                      ) -> Iterator[tuple[str, cst.CSTNode]]:
    """Every module an import statement may load: ``import a.b`` loads ``a`` and ``a.b``."""
    if isinstance(statement, cst.Import):
        for alias in statement.names:
            parts = dotted_name(alias.name).split(".")
            yield from ((".".join(parts[:n]), alias) for n in range(1, len(parts) + 1))
        return
    base = parsed.absolute(statement)
    if not base:
        return
    parts = base.split(".")
    yield from ((".".join(parts[:n]), statement) for n in range(1, len(parts) + 1))
    if not isinstance(statement.names, cst.ImportStar):
        for alias in statement.names:  # `from pkg import sub` may load pkg/sub.py
            yield f"{base}.{dotted_name(alias.name)}", alias


def unshipped_imports(files: SourceFiles, plan: BuildPlan, project_modules: Mapping[str, str],
                      shipped_paths: frozenset[str]) -> list[Finding]:
    """Imports the workers run that load project files left out of the artifact.

    ``project_modules`` maps the module name of every project ``.py`` file,
    shipped or not, to its path.
    """
    findings: list[Finding] = []
    queue: _Pending = []
    for _, decl in planned_functions(plan):
        parsed = files.get(decl.file)
        definition = parsed.definition(decl) if parsed is not None else None
        if parsed is not None and definition is not None:
            for statement in imports_in(definition):
                findings += _follow(parsed, statement, f"`{decl.name}`", project_modules,
                                    shipped_paths, queue)
            queue.append((decl.file, ""))
    for parsed, reason in files.breadth_first(queue):
        importer = f"{parsed.path} (loaded through {reason})" if reason else parsed.path
        for statement in module_level_imports(parsed.tree):
            findings += _follow(parsed, statement, importer, project_modules, shipped_paths, queue)
    return findings


def _follow(parsed: ParsedModule, statement: ImportStatement, importer: str,
            project_modules: Mapping[str, str], shipped_paths: frozenset[str],
            queue: _Pending) -> list[Finding]:
    findings = []
    for module, node in _imported_modules(parsed, statement):
        path = project_modules.get(module)
        if path is None:
            continue
        if path in shipped_paths:
            queue.append((path, importer))
            continue
        findings.append(finding(
            "unshipped-import",
            f"`{module}` imported by {importer} is the project file {path}, which the ignore "
            f"rules (.gitignore, .flashignore, [tool.flash] ignore) leave out of the artifact, "
            f"so the import fails on the worker; ship {path} or move what the endpoint needs "
            f"into a shipped module.",
            parsed.location(node)))
    return findings


def module_level_dependency_imports(
    parsed: ParsedModule, local: frozenset[str],
    endpoints: Collection[cst.FunctionDef | cst.ClassDef],
) -> list[Finding]:
    """Imports of dependencies at the top of a file that defines ``endpoints``, whose
    names the endpoint code needs (:func:`~flashbuild.checks.needed_names.needed_names`):
    an import that only serves other module-level code (a FastAPI router, say) is fine."""
    needed = needed_names(parsed, endpoints)
    findings = []
    for statement in module_level_imports(parsed.tree):
        if isinstance(statement, cst.ImportFrom):
            if statement.relative:
                continue
            named: list[tuple[str, cst.CSTNode]] = [(dotted_name(statement.module), statement)]
        else:
            several = len(statement.names) > 1  # point at the offending name of `import a, b`
            named = [(dotted_name(alias.name), alias if several else statement)
                     for alias in statement.names]
        if not needed & _bound_names(statement):
            continue
        for module, node in named:
            top = module.split(".")[0]
            if is_stdlib(top) or top in local or top in RUNTIME_MODULES:
                continue
            findings.append(finding(
                "module-level-import",
                f"`{module}` is imported at module level of {parsed.path}, which defines "
                f"endpoints: the import runs on your machine and the endpoint bodies cannot use "
                f"it in live mode; import it inside the endpoint functions that need it.",
                parsed.location(node)))
    return findings


def _bound_names(statement: ImportStatement) -> set[str]:
    """The names an import binds in the module (``*``: every name, as far as we know)."""
    if isinstance(statement, cst.ImportFrom) and isinstance(statement.names, cst.ImportStar):
        return {"*"}
    names = set()
    for alias in statement.names:  # type: ignore[union-attr]
        if alias.asname is not None:
            names.add(dotted_name(alias.asname.name))
        elif isinstance(statement, cst.Import):
            names.add(dotted_name(alias.name).split(".")[0])
        else:
            names.add(dotted_name(alias.name))
    return names
