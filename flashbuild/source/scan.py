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

import contextlib
import difflib
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from .._util.files import atomic_write_bytes, is_sha256_hex
from ..cache import cached_tuple
from ..errors import FlashBuildError, SourceCodeError, SourceLocation
from ..records import FunctionDecl, ProjectFiles, ScannedFile, ScannedModule, ScanResult
from . import symbols
from .clues import no_endpoint_clues
from .files import python_sources
from .modules import module_name
from .project_scope import ProjectScope
from .python_syntax import SyntaxChecks

if TYPE_CHECKING:
    import libcst as cst

    from .decorators import DecoratorReader
    from .static_eval import Evaluator

_CACHE_FORMAT = 4
_PYTHON = "{}.{}".format(*sys.version_info[:2])  # what compiles depends on the parser
_WORD = re.compile(rb"\w+")


def scan_project(project: ProjectFiles, *, cache_dir: Path | None = None,
                 environ: Mapping[str, str] | None = None,
                 sources: Mapping[str, bytes] | None = None) -> ScanResult:
    """Scan every shipped ``.py`` file of a project (symlinked copies excluded).

    Files that mention runpod_flash are read for declarations (their results
    cached one by one); every other file must compile, which worker processes
    check while those are read (files known to compile, by content, are
    skipped). Values may be read from the project's other shipped modules and,
    where declarations allow it, from ``environ`` (the environment of the build).
    ``sources`` are the files' bytes if already read (:func:`python_sources`).
    """
    if sources is None:
        sources = python_sources(project)
    digests = {path: hashlib.sha256(source).hexdigest() for path, source in sources.items()}
    declaring = declaring_files(sources)
    declared = set(declaring)
    compiled_only = [path for path in sources if path not in declared]
    record = _CompiledRecord(cache_dir, project.root)
    plain = [(path, sources[path]) for path in compiled_only if digests[path] not in record.known]
    checks = SyntaxChecks(plain)
    try:
        functions, errors = _scan_declaring(declaring, sources, digests, cache_dir,
                                            ProjectScope(sources, digests, environ or {}))
        problems = checks.problems()
    finally:
        checks.close()
    if problems:
        from .syntax import problem_error  # loads libcst: only when reporting

        errors += [problem_error(path, problem) for path, problem in problems]
    if errors:
        order = {path: index for index, path in enumerate(sources)}
        raise SourceCodeError.combine(sorted(
            errors, key=lambda e: order.get(e.location.path if e.location else "", 0)))
    record.save({digests[path] for path in compiled_only})
    modules = tuple(ScannedModule(path=path, module=module_name(path)) for path in sources)
    clues = () if functions else no_endpoint_clues(sources)
    return ScanResult(modules=modules, functions=tuple(functions), clues=clues)


def declaring_files(sources: Mapping[str, bytes]) -> list[str]:
    """The files that may declare endpoints, in the order given: those that mention
    runpod_flash, and those with a decorator that import a module among them
    (``from service import api`` then ``@api.get(...)``), and so on.

    A quick test on the bytes (a word of an import line names such a module), which
    may take in a few files too many: those are parsed for nothing, never left out.
    """
    chosen = {path for path, source in sources.items() if symbols.SDK_PACKAGE.encode() in source}
    imported = {path: _imported_words(source) for path, source in sources.items()
                if path not in chosen and b"@" in source}
    while chosen:
        names = {module_name(path).rsplit(".", 1)[-1].encode() for path in chosen}
        added = {path for path, words in imported.items()
                 if path not in chosen and words & names}
        if not added:
            break
        chosen |= added
    return [path for path in sources if path in chosen]


def _imported_words(source: bytes) -> set[bytes]:
    """The words of every line that holds ``import`` (of a statement that spans several
    lines, the first: enough to see its module)."""
    words: set[bytes] = set()
    found = source.find(b"import")
    while found != -1:
        start = source.rfind(b"\n", 0, found) + 1
        end = source.find(b"\n", found)
        end = len(source) if end == -1 else end
        words.update(_WORD.findall(source, start, end))
        found = source.find(b"import", end)
    return words


def _scan_declaring(
    paths: list[str], sources: Mapping[str, bytes], digests: Mapping[str, str],
    cache_dir: Path | None, scope: ProjectScope,
) -> tuple[list[FunctionDecl], list[SourceCodeError]]:
    """The declarations of the files that may declare endpoints, and every error."""
    functions: list[FunctionDecl] = []
    errors: list[SourceCodeError] = []  # of every file, reported together
    for path in paths:
        source, name = sources[path], module_name(path)
        entry = None
        if cache_dir is not None:
            key = hashlib.sha256(
                f"{_CACHE_FORMAT}\0{__version__}\0{_PYTHON}\0{symbols.TABLE_DIGEST}\0{path}\0"
                f"{name}\0".encode() + source).hexdigest()
            entry = cache_dir / "scan" / key[:2] / f"{key}.json"
        try:
            (scanned,) = cached_tuple(
                entry, ScannedFile, functools.partial(_scan_file, source, path, name, scope),
                # Valid while the modules its values came from are unchanged; never kept
                # when it read the environment, whose values are not written anywhere.
                still_valid=lambda found: all(digests.get(p) == d for p, d in found[0].files_read),
                keep=lambda found: not any(f.environment_reads for f in found[0].functions))
        except SourceCodeError as error:
            errors.append(error)
            continue
        functions.extend(scanned.functions)
    return functions, errors


class _CompiledRecord:
    """The contents (sha256) of a project's files known to compile, kept as one JSON
    file: a large project's unchanged files are not parsed again."""

    def __init__(self, cache_dir: Path | None, root: Path) -> None:
        self.path = None
        self.known: frozenset[str] = frozenset()
        if cache_dir is None:
            return
        key = hashlib.sha256(os.fsencode(f"{_CACHE_FORMAT}\0{__version__}\0{_PYTHON}\0{root}"))
        self.path = cache_dir / "scan" / f"compiles-{key.hexdigest()}.json"
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.path.read_bytes())
            if isinstance(data, list) and all(is_sha256_hex(d) for d in data):
                self.known = frozenset(data)

    def save(self, digests: set[str]) -> None:
        """Record ``digests`` (the current files: the record never grows beyond them)."""
        if self.path is not None and digests != self.known:
            with contextlib.suppress(FlashBuildError):
                atomic_write_bytes(self.path, json.dumps(sorted(digests)).encode(),
                                   durable=False)


def _scan_file(source: bytes, path: str, module: str,
               scope: ProjectScope) -> tuple[ScannedFile]:
    reads = scope.start_file()
    functions = scan_source(source, path=path, module=module, project=scope, may_declare=True)
    return (ScannedFile(functions=functions, files_read=tuple(sorted(reads.files.items()))),)


def scan_source(source: bytes, *, path: str, module: str, project: ProjectScope | None = None,
                may_declare: bool = False) -> tuple[FunctionDecl, ...]:
    """The endpoint functions declared in one module's source, in source order.

    With ``project``, values may come from the project's other modules and the
    build's environment (each declaration lists the variables it read). A file
    that does not mention runpod_flash is read only if it ``may_declare`` (it
    imports from a module that does: see :func:`declaring_files`).
    """
    from .syntax import check_syntax

    if not may_declare and symbols.SDK_PACKAGE.encode() not in source:
        check_syntax(source, path)  # it must compile, but cannot declare an endpoint
        return ()
    import libcst as cst  # the parser loads on first use

    from .decorators import DecoratorReader
    from .namespace import read_namespace, unknown_sdk_imports
    from .static_eval import Evaluator
    from .syntax import module_statements, parse_with_positions, python_tree

    tree, positions = parse_with_positions(source, path)
    statements = list(module_statements(tree.body))
    is_package = path.endswith("__init__.py")
    evaluator = Evaluator(module=tree, positions=positions, path=path, project=project,
                          namespace=read_namespace(statements, module=module,
                                                   is_package=is_package))
    for alias, name in unknown_sdk_imports(python_tree(source, path)):
        close = difflib.get_close_matches(name, symbols.EXPORTS, n=1)
        raise SourceCodeError(
            f"`{name}` is not a name runpod-flash {symbols.SDK_VERSION} exports, so the import "
            f"fails on the worker.{f' Did you mean `{close[0]}`?' if close else ''}",
            location=SourceLocation(path=path, line=alias.lineno, column=alias.col_offset + 1),
            hint=f"runpod_flash exports: {', '.join(sorted(symbols.EXPORTS))}.",
        )
    reader = DecoratorReader(evaluator, module=module, is_package=is_package)
    found = []
    errors: list[SourceCodeError] = []  # every declaration's, not the first only
    for index, statement in enumerate(statements):
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and statement.decorators:
            try:
                decl = _read_declaration(reader, evaluator, statement, index, project)
            except SourceCodeError as error:
                errors.append(error)
                continue
            if decl is not None:
                found.append(decl)
    if errors:
        raise SourceCodeError.combine(errors)
    return tuple(found)


def _read_declaration(
    reader: DecoratorReader, evaluator: Evaluator, statement: cst.FunctionDef | cst.ClassDef,
    index: int, project: ProjectScope | None,
) -> FunctionDecl | None:
    try:
        decl, read = _read_recording_environment(reader, statement, index, project)
    except RecursionError:  # e.g. `DEPS += [...]` repeated hundreds of times
        raise evaluator.error(
            statement.decorators[0],
            "this declaration's values are built from too long a chain of constants "
            "to evaluate.",
            hint="Build the value in one literal (or a few additions) instead.",
        ) from None
    if decl is None:
        return None
    _check_not_rebound(evaluator, decl.name, index)
    return replace(decl, environment_reads=tuple(sorted(read))) if read else decl


def _read_recording_environment(
    reader: DecoratorReader, statement: cst.FunctionDef | cst.ClassDef, index: int,
    project: ProjectScope | None,
) -> tuple[FunctionDecl | None, set[str]]:
    """The statement's declaration, and the environment variables its values read."""
    if project is None:
        return reader.read(statement, index), set()
    earlier, project.reads.environment = project.reads.environment, set()
    try:
        return reader.read(statement, index), project.reads.environment
    finally:
        project.reads.environment |= earlier


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
