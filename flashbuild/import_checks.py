"""Imports the workers run: of unshipped project files, and of dependencies at module level."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from .findings import Finding, declarations, finding
from .import_names import RUNTIME_MODULES, is_stdlib
from .parsed_module import ParsedModule, SourceFiles, body_imports
from .static_eval import dotted_name


def module_level_import_statements(body) -> Iterator[cst.Import | cst.ImportFrom]:
    """Imports that run when the module is imported (``if TYPE_CHECKING:`` blocks do not)."""
    for statement in body:
        if isinstance(statement, (cst.Import, cst.ImportFrom)):  # `try: import x` on one line
            yield statement
        elif isinstance(statement, cst.SimpleStatementLine):
            yield from (s for s in statement.body if isinstance(s, (cst.Import, cst.ImportFrom)))
        elif isinstance(statement, cst.If):
            if dotted_name(statement.test).split(".")[-1] != "TYPE_CHECKING":
                yield from module_level_import_statements(statement.body.body)
            if statement.orelse is not None:
                yield from module_level_import_statements([statement.orelse] if isinstance(
                    statement.orelse, cst.If) else statement.orelse.body.body)
        elif isinstance(statement, (cst.Try, cst.TryStar, cst.With, cst.For, cst.While)):
            blocks = [statement.body, getattr(statement, "orelse", None),
                      getattr(statement, "finalbody", None),
                      *(h.body for h in getattr(statement, "handlers", ()))]
            for block in blocks:
                if block is not None:
                    inner = block.body if isinstance(block, cst.BaseSuite) else block.body.body
                    yield from module_level_import_statements(inner)


def _imported_modules(parsed: ParsedModule, statement) -> Iterator[tuple[str, cst.CSTNode]]:
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


def unshipped_imports(files: SourceFiles, plan, project_modules, shipped_paths) -> list[Finding]:
    """Imports the workers run that load project files left out of the artifact."""
    findings: list[Finding] = []
    queue: list[tuple[str, str]] = []  # (path, how the worker comes to load it)
    for _, decl in declarations(plan):
        parsed = files.get(decl.file)
        definition = parsed.definition(decl) if parsed is not None else None
        if definition is not None:
            for statement in body_imports(definition):
                findings += _follow(parsed, statement, f"`{decl.name}`", project_modules,
                                    shipped_paths, queue)
            queue.append((decl.file, ""))
    seen: set[str] = set()
    while queue:
        path, reason = queue.pop(0)
        parsed = files.get(path)
        if path in seen or parsed is None:
            continue
        seen.add(path)
        for statement in module_level_import_statements(parsed.tree.body):
            importer = f"{path} (loaded through {reason})" if reason else path
            findings += _follow(parsed, statement, importer,
                                project_modules, shipped_paths, queue)
    return findings


def _follow(parsed, statement, importer, project_modules, shipped_paths, queue) -> list[Finding]:
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


def module_level_imports(parsed: ParsedModule, local: frozenset[str]) -> list[Finding]:
    findings = []
    for statement in module_level_import_statements(parsed.tree.body):
        if isinstance(statement, cst.ImportFrom):
            if statement.relative:
                continue
            named = [(dotted_name(statement.module), statement)]
        else:
            several = len(statement.names) > 1  # point at the offending name of `import a, b`
            named = [(dotted_name(alias.name), alias if several else statement)
                     for alias in statement.names]
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
