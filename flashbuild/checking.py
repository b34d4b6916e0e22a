"""Run the static checks inside a build and decide what their findings mean.

Warnings go to the build's warnings (``--strict`` makes any of them fail the
build); ``unshipped-import`` is always a source error; ``plan-calls`` means
flashbuild itself is wrong. Source checks depend only on the shipped code and
the set of project files, so their findings are cached like scan results and
an unchanged project does not load the parser.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from . import __version__
from .cache import cached_tuple
from .findings import Finding
from .errors import InternalError, SourceCodeError, StaticCheckError
from .exclusion import endpoint_consumers
from .images import ImageTable
from .import_names import endpoint_import_names, image_import_names, local_module_names
from .install import InstalledDependencies
from .models import BuildPlan, BuildWarning, ProjectFiles

_SKIPPED_DIRECTORIES = {".git", ".hg", ".svn", ".flash", "__pycache__", "node_modules"}


def project_python_paths(root: Path) -> frozenset[str]:
    """Every ``.py`` file of the project, shipped or not (virtualenvs and VCS data aside)."""
    found: set[str] = set()
    for folder, directories, files in os.walk(root):
        directories[:] = [
            d for d in directories
            if d not in _SKIPPED_DIRECTORIES and not (Path(folder, d) / "pyvenv.cfg").exists()
        ]
        relative = Path(folder).relative_to(root).as_posix()
        for name in files:
            if name.endswith(".py"):
                found.add(name if relative == "." else f"{relative}/{name}")
    return frozenset(found)


def source_findings(
    files: ProjectFiles, plan: BuildPlan, *, cache_dir: Path | None
) -> tuple[Finding, ...]:
    """Scope, call and import-placement findings for the shipped code."""
    sources = {
        file.path: file.source.read_bytes()
        for file in files.files
        if file.path.endswith(".py") and file.link_target is None
    }
    shipped = frozenset(file.path for file in files.files)
    project = project_python_paths(files.root)
    digest = hashlib.sha256(f"{__version__}\0".encode())
    for path in sorted(sources):
        digest.update(f"{path}\0".encode() + hashlib.sha256(sources[path]).digest())
    digest.update("\0".join(sorted(shipped)).encode() + b"\1" + "\0".join(sorted(project)).encode())
    entry = cache_dir / "checks" / f"{digest.hexdigest()}.pickle" if cache_dir else None

    def check() -> tuple[Finding, ...]:
        from .checks import check_sources  # loads the parser

        return check_sources(sources, plan, shipped_paths=shipped, project_paths=project)

    return cached_tuple(entry, Finding, check)


def import_findings(
    files: ProjectFiles, plan: BuildPlan, installed: InstalledDependencies, images: ImageTable
) -> tuple[Finding, ...]:
    """Imports in endpoint bodies that nothing provides: dependencies, image, stdlib, project."""
    from .checks import check_imports

    packages: dict[str, set[str]] = {endpoint.name: set() for endpoint in plan.endpoints}
    for package, endpoints in endpoint_consumers(installed.resolution, installed.inputs).items():
        for endpoint in endpoints:
            packages.setdefault(endpoint, set()).add(package)
    return check_imports(
        {},
        plan,
        import_names=endpoint_import_names(packages, installed.import_names),
        image_modules={e.name: image_import_names(images, e.config.compute)
                       for e in plan.endpoints},
        local_modules=local_module_names(project_python_paths(files.root)),
    )


def enforce(findings: Iterable[Finding], *, strict: bool) -> tuple[BuildWarning, ...]:
    """Raise for errors (and, with ``strict``, for warnings); return the warnings."""
    findings = tuple(findings)
    internal = [f for f in findings if f.code == "plan-calls"]
    if internal:
        raise InternalError(
            "the build plan misses cross-endpoint calls the code makes: "
            + "; ".join(str(f) for f in internal),
            hint="This is a bug in flashbuild; please report it with the app.",
        )
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise SourceCodeError(
            "\n".join(f.message + f" [{f.code}]" for f in errors),
            location=errors[0].location,
            related=tuple(f.location for f in errors[1:]),
            hint="Ship the imported module (check .gitignore, .flashignore and [tool.flash] "
            "ignore), or stop importing it.",
        )
    warnings = [f for f in findings if f.severity == "warning"]
    if strict and warnings:
        raise StaticCheckError(
            f"{len(warnings)} static check warning{'s' * (len(warnings) != 1)} with --strict:\n"
            + "\n".join(f"  {f}" for f in warnings),
            location=warnings[0].location,
            hint="Fix the code as each warning says, or build without --strict.",
        )
    return tuple(f.as_build_warning() for f in warnings)
