"""Find every Flash endpoint function in a project, statically.

Each shipped ``.py`` file is parsed with libcst, never imported or run. Every
file must parse; files that import ``runpod_flash`` are then read statement by
statement (:mod:`~flashbuild.source.namespace`) to learn what each
module-level name is bound to, so that ``@EP(...)`` after ``from runpod_flash
import Endpoint as EP`` is recognised while a user's own class named
``Endpoint`` is not.

What a file declares depends only on its path and bytes, so results are kept
in a small cache beside the dependency cache: an unchanged file is not parsed
again, and a build whose files are all unchanged does not even load the parser.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..cache import cached_tuple
from ..records import FunctionDecl, ProjectFiles, ScannedModule, ScanResult
from . import symbols
from .files import read_project_file
from .modules import module_name

if TYPE_CHECKING:
    from .static_eval import Evaluator

_CACHE_FORMAT = 2


def scan_project(project: ProjectFiles, *, cache_dir: Path | None = None) -> ScanResult:
    """Scan every shipped ``.py`` file of a project (symlinked copies excluded)."""
    modules: list[ScannedModule] = []
    functions: list[FunctionDecl] = []
    for file in project.files:
        if file.is_symlink or not file.path.endswith(".py"):
            continue
        source = read_project_file(file)
        name = module_name(file.path)
        modules.append(ScannedModule(path=file.path, module=name))
        functions.extend(_scan_cached(source, file.path, name, cache_dir))
    return ScanResult(modules=tuple(modules), functions=tuple(functions))


def _scan_cached(
    source: bytes, path: str, module: str, cache_dir: Path | None
) -> tuple[FunctionDecl, ...]:
    entry = None
    if cache_dir is not None:
        key = hashlib.sha256(
            f"{_CACHE_FORMAT}\0{__version__}\0{symbols.TABLE_DIGEST}\0{path}\0{module}\0"
            .encode() + source
        ).hexdigest()
        entry = cache_dir / "scan" / key[:2] / f"{key}.json"
    return cached_tuple(
        entry, FunctionDecl, lambda: scan_source(source, path=path, module=module)
    )


def scan_source(source: bytes, *, path: str, module: str) -> tuple[FunctionDecl, ...]:
    """The endpoint functions declared in one module's source, in source order."""
    import libcst as cst  # the parser loads on first use
    from libcst.metadata import MetadataWrapper, PositionProvider

    from .decorators import DecoratorReader
    from .namespace import read_namespace, unknown_sdk_imports
    from .static_eval import Evaluator
    from .syntax import module_statements, parse

    tree = parse(source, path)
    if symbols.SDK_PACKAGE.encode() not in source:
        return ()  # nothing can be ours without importing runpod_flash
    positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
    statements = list(module_statements(tree.body))
    evaluator = Evaluator(module=tree, positions=positions, path=path,
                          namespace=read_namespace(statements))
    for alias, name in unknown_sdk_imports(tree):
        close = difflib.get_close_matches(name, symbols.EXPORTS, n=1)
        raise evaluator.error(
            alias,
            f"`{name}` is not a name runpod-flash {symbols.SDK_VERSION} exports, so the import "
            f"fails on the worker.{f' Did you mean `{close[0]}`?' if close else ''}",
            hint=f"runpod_flash exports: {', '.join(sorted(symbols.EXPORTS))}.",
        )
    reader = DecoratorReader(evaluator, module=module, is_package=path.endswith("__init__.py"))
    found = []
    for index, statement in enumerate(statements):
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and statement.decorators:
            try:
                decl = reader.read(statement, index)
            except RecursionError:  # e.g. `DEPS += [...]` repeated hundreds of times
                raise evaluator.error(
                    statement.decorators[0],
                    "this declaration's values are built from too long a chain of constants "
                    "to evaluate.",
                    hint="Build the value in one literal (or a few additions) instead.",
                ) from None
            if decl is not None:
                _check_not_rebound(evaluator, decl.name, index)
                found.append(decl)
    return tuple(found)


def _check_not_rebound(evaluator: Evaluator, name: str, index: int) -> None:
    """The handler takes the module's ``name`` as the worker sees it after import."""
    later = evaluator.namespace.rebound_after(name, index)
    if later is not None:
        raise evaluator.error(
            later.node,
            f"`{name}` is bound again here, after its endpoint declaration; the handler "
            f"would get this instead of the endpoint's `{name}`.",
            hint=f"Give one of them another name, so that `{name}` stays the endpoint's.",
        )
