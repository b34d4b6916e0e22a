"""``build(config)``: scan -> plan -> render -> package, and nothing printed.

The pipeline owns the build directory (``.flash/.build``). It is removed after
a successful build unless ``keep_build`` is set; after a failure it is kept
and named on the error so the user can look inside. The previous artifact and
manifest are replaced only once the new ones are completely written.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import config as config_module
from .config import BuildConfig
from .errors import FlashBuildError, PackagingError, SourceCodeError, SourceLocation, UsageError
from .files import collect_project_files
from .manifest import build_manifest, manifest_bytes, render_manifest, source_fingerprint
from .models import Artifact, BuildPlan, BuildWarning, ProjectFiles, RenderedFile
from .package import (
    atomic_write_bytes,
    members_from_project_files,
    members_from_rendered,
    write_artifact,
)
from .plan import build_plan
from .render import render_handlers
from .scan import scan_project

StageListener = Callable[[str, float], None]


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    artifact: Artifact
    manifest_path: Path
    manifest: dict
    plan: BuildPlan
    project_files: int
    warnings: tuple[BuildWarning, ...]
    build_dir: Path | None  # set when kept
    stage_seconds: tuple[tuple[str, float], ...]


class _Stages:
    """Times each stage and reports it to an optional listener."""

    def __init__(self, listener: StageListener | None) -> None:
        self.listener = listener
        self.seconds: list[tuple[str, float]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.seconds.append((name, elapsed))
        if self.listener is not None:
            self.listener(name, elapsed)


def build(config: BuildConfig, *, on_stage: StageListener | None = None) -> BuildResult:
    """Build the artifact and manifest described by ``config``."""
    stages = _Stages(on_stage)
    with stages.stage("scan"):
        files = collect_project_files(config.project_dir, skip=(config.output,))
        scan = scan_project(files)
    with stages.stage("plan"):
        plan = build_plan(
            scan,
            project_name=config_module.project_name(config.project_dir),
            python_version=config.python_version,
        )
        _check_dependencies_supported(config, plan)
    with stages.stage("render"):
        manifest = build_manifest(
            plan,
            fingerprint=source_fingerprint(files.files),
            dependencies_installed=not config.no_deps,
            requested_exclusions=config.exclude,
        )
        generated = (*render_handlers(plan), render_manifest(manifest))
        _check_generated_names(files, generated)
    build_dir = config.build_dir
    try:
        with stages.stage("package"):
            _prepare_build_dir(build_dir, generated, files if config.keep_build else None)
            artifact = write_artifact(
                [*members_from_project_files(files.files), *members_from_rendered(generated)],
                config.output,
                mtime=config.source_date_epoch,
            )
            atomic_write_bytes(config.manifest_path, manifest_bytes(manifest))
    except FlashBuildError as error:
        error.build_dir = build_dir if build_dir.exists() else None
        raise
    except OSError as exc:
        raise PackagingError(
            f"cannot write the build output: {exc}",
            hint="Check free space and permissions of the project's .flash directory.",
        ) from exc
    if not config.keep_build:
        shutil.rmtree(build_dir, ignore_errors=True)
    return BuildResult(
        artifact=artifact,
        manifest_path=config.manifest_path,
        manifest=manifest,
        plan=plan,
        project_files=len(files.files),
        warnings=(*files.warnings, *scan.warnings),
        build_dir=build_dir if config.keep_build else None,
        stage_seconds=tuple(stages.seconds),
    )


def _check_dependencies_supported(config: BuildConfig, plan: BuildPlan) -> None:
    declared = sorted({dep for endpoint in plan.endpoints for dep in endpoint.dependencies})
    if config.no_deps or not declared:
        return
    raise UsageError(
        f"the app declares dependencies ({', '.join(declared)}), and this version of "
        "flashbuild cannot install dependencies.",
        hint="Build with --no-deps to package the code, handlers and manifest only.",
    )


def _check_generated_names(files: ProjectFiles, generated: tuple[RenderedFile, ...]) -> None:
    """A project file must not sit where a generated file goes."""
    taken = {file.path for file in files.files}
    for rendered in generated:
        if rendered.path in taken:
            raise SourceCodeError(
                f"project file {rendered.path} would be overwritten by the generated "
                f"{'manifest' if rendered.path.endswith('.json') else 'handler'} of the same name.",
                location=SourceLocation(path=rendered.path),
                hint="Rename the file, or exclude it in .flashignore.",
            )


def _prepare_build_dir(
    build_dir: Path, generated: tuple[RenderedFile, ...], files: ProjectFiles | None
) -> None:
    """Write the generated files (and, when kept for inspection, the project files)."""
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True)
    if files is not None:
        for file in files.files:
            destination = build_dir / file.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            if file.link_target is not None:
                destination.symlink_to(file.link_target)
            else:
                shutil.copyfile(file.source, destination)
    for rendered in generated:
        destination = build_dir / rendered.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(rendered.content)
