"""Find every Flash endpoint function in a project, statically.

Each shipped ``.py`` file is parsed (never imported or run) by
:mod:`flashbuild.scanner`. What a file declares depends only on its path and
bytes, so results are kept in a small cache beside the dependency cache:
an unchanged file is not parsed again, and a build whose files are all
unchanged does not even load the parser.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from . import __version__
from .cache import cached_tuple
from .errors import SourceCodeError, SourceLocation
from .models import FunctionDecl, ProjectFiles, ScannedModule, ScanResult

_CACHE_FORMAT = 1


def module_name(path: str) -> str:
    """Dotted module name of a project file: ``pkg/sub/__init__.py`` -> ``pkg.sub``."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def scan_source(source: bytes, *, path: str, module: str) -> tuple[FunctionDecl, ...]:
    """The endpoint functions declared in one module's source."""
    from .scanner import scan_source as scan_with_libcst  # the parser loads on first use

    return scan_with_libcst(source, path=path, module=module)


def scan_project(project: ProjectFiles, *, cache_dir: Path | None = None) -> ScanResult:
    """Scan every shipped ``.py`` file of a project (symlinked copies excluded)."""
    modules: list[ScannedModule] = []
    functions: list[FunctionDecl] = []
    for file in project.files:
        if file.is_symlink or not file.path.endswith(".py"):
            continue
        try:
            source = file.source.read_bytes()
        except OSError as exc:
            raise SourceCodeError(
                f"cannot read {file.path}: {exc.strerror}.",
                location=SourceLocation(path=file.path),
                hint="Check the file's permissions, or exclude it in .flashignore.",
            ) from None
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
            f"{_CACHE_FORMAT}\0{__version__}\0{path}\0{module}\0".encode() + source
        ).hexdigest()
        entry = cache_dir / "scan" / key[:2] / f"{key}.pickle"
    return cached_tuple(
        entry, FunctionDecl, lambda: scan_source(source, path=path, module=module)
    )
