"""The dependency stage: inputs -> lock or resolution -> selection -> install -> audit.

``flash build`` uses ``flash.lock`` when it matches the app (same declared
dependencies, target and image versions) and resolves otherwise; with
``--locked`` a missing or stale lock is an error instead. ``flash lock``
always resolves and writes the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .audit import audit_install, top_level_names
from .config import BuildConfig
from .dependencies import DependencyInputs, collect_inputs
from .errors import SourceLocation, UsageError
from .exclusion import Selection, select_packages
from .lock import LOCK_FILE, Lock, LockHeader, artifact_requirements, format_lock, read_lock
from .models import BuildPlan, BuildWarning, ProjectFiles, RenderedFile
from .package import atomic_write_bytes
from .resolve import ResolverSettings, image_constraints, install, resolve
from .runner import CommandListener


@dataclass(frozen=True, kw_only=True)
class InstalledDependencies:
    selection: Selection
    header: LockHeader
    from_lock: bool  # True: flash.lock was used, nothing was resolved
    install_dir: Path
    requirements: RenderedFile  # the artifact's requirements.txt
    removed: tuple[str, ...]  # files the audit removed (bin/ scripts, bytecode)
    warnings: tuple[BuildWarning, ...]


def resolver_settings(config: BuildConfig, listener: CommandListener | None) -> ResolverSettings:
    return ResolverSettings(
        target=config.target,
        index=config.index,
        allow_build=config.allow_build,
        listener=listener,
    )


def lock_header(config: BuildConfig, inputs: DependencyInputs) -> LockHeader:
    """What a lock must record to be reused: the target and a digest of the inputs."""
    target = config.target
    digest = inputs.digest(
        {
            "python-version": target.python_version,
            "platform": target.uv_platform,
            "image-constraints": image_constraints(inputs, config.images),
            "allow-build": list(config.allow_build),
        }
    )
    return LockHeader(
        python_version=target.python_version, platform=target.uv_platform, inputs_sha256=digest
    )


def _stale_reason(lock: Lock, header: LockHeader) -> str | None:
    if lock.header.python_version != header.python_version:
        return f"it is for Python {lock.header.python_version}, the build targets {header.python_version}"
    if lock.header.platform != header.platform:
        return f"it is for {lock.header.platform}, the build targets {header.platform}"
    if lock.header.inputs_sha256 != header.inputs_sha256:
        return "the declared dependencies (or the image versions or --allow-build) changed since"
    return None


def write_lock(
    config: BuildConfig, plan: BuildPlan, listener: CommandListener | None = None
) -> tuple[Path, Lock]:
    """Resolve and write ``flash.lock`` at the project root (``flash lock``)."""
    inputs = collect_inputs(plan, config.project_dir)
    header = lock_header(config, inputs)
    resolution = resolve(inputs, config.images, resolver_settings(config, listener))
    lock = Lock(header=header, resolution=resolution)
    path = config.project_dir / LOCK_FILE
    atomic_write_bytes(path, format_lock(lock).encode())
    return path, lock


def _locked_resolution(
    config: BuildConfig, inputs: DependencyInputs, header: LockHeader, listener
) -> tuple[Lock, bool]:
    lock = read_lock(config.project_dir)
    stale = _stale_reason(lock, header) if lock is not None else None
    if lock is not None and stale is None:
        return lock, True
    if config.locked:
        problem = "is missing" if lock is None else f"is out of date: {stale}"
        raise UsageError(
            f"--locked was given and {LOCK_FILE} {problem}.",
            location=SourceLocation(path=LOCK_FILE),
            hint="Run `flash lock` and commit flash.lock, or build without --locked.",
        )
    resolution = resolve(inputs, config.images, resolver_settings(config, listener))
    return Lock(header=header, resolution=resolution), False


def install_dependencies(
    config: BuildConfig,
    plan: BuildPlan,
    files: ProjectFiles,
    install_dir: Path,
    listener: CommandListener | None = None,
) -> InstalledDependencies | None:
    """Install what the endpoints need into ``install_dir``; ``None`` if they need nothing."""
    inputs = collect_inputs(plan, config.project_dir)
    if inputs.empty:
        return None
    header = lock_header(config, inputs)
    lock, from_lock = _locked_resolution(config, inputs, header, listener)
    selection = select_packages(lock.resolution, inputs, config.images, config.exclude)
    warnings = [
        BuildWarning(
            message=f"--exclude {name}: no such package among the resolved dependencies "
            f"({len(lock.resolution.packages)} packages); nothing was excluded for it."
        )
        for name in selection.unmatched_exclusions
    ]
    unchecked = selection.unchecked_image_packages
    if unchecked:
        warnings.append(
            BuildWarning(
                message=f"left out for the base image without a version check: "
                f"{', '.join(unchecked)} (the image table has no versions for them; "
                "pin them in [tool.flash.images] to check compatibility)."
            )
        )
    install_dir.mkdir(parents=True, exist_ok=True)
    settings = resolver_settings(config, listener)
    if selection.shipped:
        install(selection.shipped, settings, install_dir)
    report = audit_install(install_dir, config.target, top_level_names(f.path for f in files.files))
    return InstalledDependencies(
        selection=selection,
        header=header,
        from_lock=from_lock,
        install_dir=install_dir,
        requirements=RenderedFile(
            path="requirements.txt", content=artifact_requirements(selection, header)
        ),
        removed=tuple(report.removed),
        warnings=tuple(warnings),
    )
