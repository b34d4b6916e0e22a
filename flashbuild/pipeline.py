"""``build(config)``: scan -> plan -> check -> render -> resolve -> package, nothing printed.

The pipeline owns the build directory (``.flash/.build``): generated files
(and, with ``keep_build``, the project files) at its root, installed
dependencies under ``deps/``. It is made when the resolve stage starts and
removed after a successful build unless ``keep_build`` is set; after a
failure in the resolve or package stage it is kept and named on the error so
the user can look inside. The previous artifact and manifest are replaced
only once the new ones are completely written.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._util.files import (
    file_lock,
    remove_path,
    remove_stale_temps,
)
from ._util.gc_pause import collection_paused
from ._util.processes import CommandListener
from ._util.stage_timer import StageListener, StageTimer
from .artifact.members import ArchiveMember, members_from_project_files, members_from_rendered
from .artifact.up_to_date import (
    STAMPS,
    existing_artifact,
    inputs_digest,
    stamp_extras,
    stamp_path,
    write_stamp,
)
from .artifact.write import LastMember, damaged_pieces, write_artifact
from .cache import cache_in_use
from .checks.findings import SourceReport
from .checks.run import enforce, import_findings, source_findings
from .checks.secrets import secret_findings
from .config.build_config import BuildConfig
from .config.images import check_app_modules, check_images
from .deps.manifest_entry import dependencies_entry, sbom_components
from .errors import (
    DamagedCacheError,
    FlashBuildError,
    InternalError,
    PackagingError,
    SizeLimitError,
)
from .records import (
    Artifact,
    BuildPlan,
    BuildWarning,
    ProjectFile,
    ProjectFiles,
    RenderedFile,
    ScanResult,
)
from .render.handlers import check_generated_names, render_handlers
from .render.manifest import (
    MANIFEST_FILE,
    build_manifest,
    manifest_bytes,
    render_manifest,
    source_fingerprint,
)
from .render.outputs import ManifestOutput, SbomOutput
from .render.sbom import SBOM_FILE
from .source.files import (
    collect_project_files,
    project_python_paths,
    python_sources,
    read_project_file,
)
from .source.plan import build_plan
from .source.scan import scan_project

if TYPE_CHECKING:
    from .deps.records import DryRunReport, InstalledDependencies, Lock
    from .inspect.verify import Verification

@dataclass(frozen=True, kw_only=True)
class BuildResult:
    artifact: Artifact
    manifest_path: Path
    manifest: dict[str, Any]
    plan: BuildPlan
    project_files: int
    warnings: tuple[BuildWarning, ...]
    build_dir: Path | None  # set when kept
    stage_seconds: tuple[tuple[str, float], ...]
    dependencies: InstalledDependencies | None  # None: --no-deps, or none declared


@dataclass(frozen=True, kw_only=True)
class _Packaged:
    artifact: Artifact
    manifest: dict[str, Any]
    project_files: int


def build(
    config: BuildConfig,
    *,
    on_stage: StageListener | None = None,
    on_command: CommandListener | None = None,
) -> BuildResult:
    """Build the artifact and manifest described by ``config``.

    Builds of one project run one at a time (they lock its ``.flash`` folder),
    since they share the build directory; a second one waits for the first.
    The cache is marked in use meanwhile, so ``flash cache clear`` leaves it be.
    """
    with file_lock(config.flash_dir, directory=True), cache_in_use(config.cache_dir):
        for output in (config.output, config.manifest_path):
            remove_stale_temps(output)  # left by a build that was killed
        return _build(config, on_stage, on_command)


def _build(config: BuildConfig, on_stage: StageListener | None,
           on_command: CommandListener | None) -> BuildResult:
    stages = StageTimer(on_stage)
    with stages.stage("scan"), collection_paused():
        files, sources, scan = _scan(config)
    with stages.stage("plan"):
        plan = _plan(config, scan)
    with stages.stage("check"), collection_paused():
        project_paths = project_python_paths(files.root)
        report = source_findings(files, plan, project_paths=project_paths,
                                 cache_dir=config.cache_dir, sources=sources)
        enforce(secret_findings(files.files, config.allow_secrets, sources), strict=False)
        warnings = (*files.warnings, *scan.warnings,
                    *enforce(report.findings, strict=config.strict))
    with stages.stage("render"):
        handlers = render_handlers(plan)
        check_generated_names(files, (*(h.path for h in handlers), MANIFEST_FILE, SBOM_FILE))
    build_dir = config.build_dir
    try:
        dependencies, packaged, said = _install_and_package(
            config, _Sources(files=files, sources=sources, project_paths=project_paths),
            plan, handlers, report, stages, on_command)
        warnings += said
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
        artifact=packaged.artifact,
        manifest_path=config.manifest_path,
        manifest=packaged.manifest,
        plan=plan,
        project_files=packaged.project_files,
        warnings=(*warnings, *(dependencies.warnings if dependencies is not None else ())),
        build_dir=build_dir if config.keep_build else None,
        stage_seconds=tuple(stages.seconds),
        dependencies=dependencies,
    )


@dataclass(frozen=True, kw_only=True)
class _Sources:
    files: ProjectFiles  # what ships
    sources: Mapping[str, bytes]  # the Python code among them
    project_paths: frozenset[str]  # every .py file of the project, shipped or not


def _install_and_package(
    config: BuildConfig, project: _Sources, plan: BuildPlan, handlers: tuple[RenderedFile, ...],
    report: SourceReport, stages: StageTimer, on_command: CommandListener | None,
) -> tuple[InstalledDependencies | None, _Packaged, tuple[BuildWarning, ...]]:
    """Install (or take from the cache) and package; once more when a cached file proves
    damaged as it is copied into the artifact. Also the warnings of both."""
    said: tuple[BuildWarning, ...] = ()
    for attempt in (1, 2):
        shutil.rmtree(config.build_dir, ignore_errors=True)
        config.build_dir.mkdir(parents=True)
        dependencies: InstalledDependencies | None = None
        try:
            dependencies, found = _install(config, project, plan, report, stages, on_command)
            with stages.stage("package"):
                packaged = _package(config, project.files, project.sources, plan, handlers,
                                    dependencies)
            return dependencies, packaged, (*said, *found)
        except DamagedCacheError as damaged:
            part = dependencies.part if dependencies is not None else None
            for path in damaged_pieces(part) if part else [damaged.path]:
                remove_path(path)  # then a miss: what it held is built again
            if attempt == 2:
                raise
            said += (BuildWarning(message=f"{damaged} It was removed and built again."),)
    raise InternalError("unreachable: the second attempt returns or raises")


def _install(config: BuildConfig, project: _Sources, plan: BuildPlan, report: SourceReport,
             stages: StageTimer, on_command: CommandListener | None
             ) -> tuple[InstalledDependencies | None, tuple[BuildWarning, ...]]:
    """The dependency part (None with --no-deps or none declared) and the import checks'
    warnings, which need to know what it installs."""
    if config.no_deps:
        return None, ()
    # The dependency stage (resolver, installer, audit) loads only when used.
    from .deps.stage import image_labels, install_dependencies, provided_import_names

    with stages.stage("resolve"):
        dependencies = install_dependencies(config, plan, project.files, config.build_dir,
                                            on_command)
    found = import_findings(
        plan, provided_import_names(config, plan, dependencies),
        project_paths=project.project_paths, load_imports=report.load_imports,
        images=image_labels(config, plan))
    return dependencies, tuple(enforce(found, strict=config.strict))


def lock(config: BuildConfig, *, on_command: CommandListener | None = None) -> tuple[Path, Lock]:
    """Scan and plan the app, then resolve its dependencies into ``flash.lock``."""
    from .deps.stage import write_lock

    _, _, scan = _scan(config)
    return write_lock(config, _plan(config, scan), listener=on_command)


def dry_run(config: BuildConfig, *, on_command: CommandListener | None = None) -> DryRunReport:
    """Scan, plan and resolve; report sizes and exclusions without installing or packing."""
    from .deps.dry_run import dry_run_report
    from .deps.stage import resolve_dependencies

    files, _, scan = _scan(config)
    plan = _plan(config, scan)
    resolved = None if config.no_deps else resolve_dependencies(config, plan, on_command)
    return dry_run_report(config, files, resolved, on_command)


def verify(project_dir: Path, artifact: Path | None, *, on_stage: StageListener | None = None,
           on_command: CommandListener | None = None, **options: Any) -> Verification:
    """Rebuild in private and compare with ``artifact`` (:mod:`flashbuild.inspect.verify`):
    no cache, locked to flash.lock if there is one, the project's ``.flash`` left alone."""
    from .inspect.verify import private_build, verification

    with private_build(project_dir, artifact, options) as (config, artifact):
        result = build(config, on_stage=on_stage, on_command=on_command)
        with StageTimer(on_stage).stage("compare"):
            return verification(artifact, result.artifact, result.warnings, result.dependencies)


def _scan(config: BuildConfig) -> tuple[ProjectFiles, dict[str, bytes], ScanResult]:
    """The files that ship, the code among them, and the endpoint functions it declares."""
    # flashbuild's own files never ship, wherever they are: the artifact, the manifest and
    # the cache (a CI recipe may well put the cache inside the checkout).
    own = (config.output, config.manifest_path, config.manifest_path.parent / SBOM_FILE,
           config.flash_dir / STAMPS,
           *((config.cache_dir,) if config.cache_dir is not None else ()))
    files = collect_project_files(config.project_dir, skip=own, ignore=config.ignore,
                                  allow_secrets=config.allow_secrets)
    sources = python_sources(files)
    return files, sources, scan_project(files, cache_dir=config.cache_dir,
                                        environ=config.environment, sources=sources)


def _plan(config: BuildConfig, scan: ScanResult) -> BuildPlan:
    """The build plan, for endpoints whose worker images exist in the chosen release."""
    plan = build_plan(scan, project_name=config.project_name,
                      python_version=config.python_version)
    check_images(config.images, plan)
    check_app_modules(config.images, (module.path for module in scan.modules))
    return plan


def _package(config: BuildConfig, files: ProjectFiles, sources: Mapping[str, bytes],
             plan: BuildPlan, handlers: tuple[RenderedFile, ...],
             dependencies: InstalledDependencies | None) -> _Packaged:
    """Write the artifact, then the manifest and the SBOM beside it."""
    shipped = _shipped_files(files, dependencies)
    manifest = build_manifest(plan, fingerprint=source_fingerprint(files.files, sources),
                              dependencies=dependencies_entry(config, dependencies))
    generated: tuple[RenderedFile, ...] = handlers
    if dependencies is not None:
        generated += (dependencies.requirements,)
    _write_build_dir(config.build_dir, generated, shipped if config.keep_build else ())
    members = [*members_from_project_files(shipped), *members_from_rendered(generated)]
    tail = dependencies.part if dependencies is not None else None
    sbom = SbomOutput(config.manifest_path, plan.project_name, sbom_components(dependencies))
    # The manifest's sizes follow from these inputs and the app part's compressed size,
    # which the stamp records: the manifest without them stands for it here, and the
    # SBOM is named by its content, so an up-to-date build renders neither.
    inputs = inputs_digest(members, tail=tail, mtime=config.source_date_epoch,
                           level=config.compression_level, engine=config.compression_engine,
                           manifest=manifest_bytes(manifest), named={SBOM_FILE: sbom.key})
    stamp = stamp_path(config.flash_dir, config.output)
    artifact = existing_artifact(stamp, config.output, inputs, config.max_size)
    beside = ManifestOutput(config.manifest_path, manifest, tail)
    if artifact is not None:
        beside.sized(artifact.app_part)
        if not beside.on_disk():
            beside.stage()
            beside.commit()
        sbom.restore(stamp_extras(stamp).get(SBOM_FILE))
    else:
        members.append(ArchiveMember(name=SBOM_FILE,
                                     data=sbom.reuse_or_render(stamp_extras(stamp))))
        sbom.stage()
        try:
            artifact = _write(config, members, dependencies,
                              LastMember(name=MANIFEST_FILE, content=beside.staged))
        except BaseException:
            beside.discard()
            sbom.discard()
            raise
        beside.commit()
        sbom.commit()
        write_stamp(stamp, inputs, artifact, sbom.recorded())
        _write_build_dir(config.build_dir, (RenderedFile(path=SBOM_FILE, content=sbom.data),), ())
    _write_build_dir(config.build_dir, (render_manifest(beside.manifest),), ())
    return _Packaged(artifact=artifact, manifest=beside.manifest, project_files=len(shipped))


def _write(config: BuildConfig, members: list[ArchiveMember],
           dependencies: InstalledDependencies | None, last: LastMember) -> Artifact:
    """Write the artifact: app part, manifest, then the dependency part; explain a cap
    overrun."""
    try:
        return write_artifact(
            members,
            config.output,
            mtime=config.source_date_epoch,
            compresslevel=config.compression_level,
            engine=config.compression_engine,
            threads=config.threads,
            tail=dependencies.part if dependencies is not None else None,
            max_size=config.max_size,
            last=last,
        )
    except SizeLimitError:
        if dependencies is None:
            raise
        from .deps.sizes import size_error

        raise size_error(
            what="the artifact exceeds",
            limit=config.max_size,
            packages=dependencies.sizes,
            resolution=dependencies.resolution,
            inputs=dependencies.inputs,
            images=config.images,
            exclusions=config.exclude,
        ) from None


def _shipped_files(
    files: ProjectFiles, dependencies: InstalledDependencies | None
) -> tuple[ProjectFile, ...]:
    """requirements.txt and flash.lock are inputs; the artifact gets the installed set."""
    if dependencies is None:
        return files.files
    from .deps.stage import DEPENDENCY_INPUT_FILES

    return tuple(file for file in files.files if file.path not in DEPENDENCY_INPUT_FILES)


def _write_build_dir(
    build_dir: Path, generated: tuple[RenderedFile, ...], files: tuple[ProjectFile, ...]
) -> None:
    """Write the generated files (and, when kept for inspection, the project files)."""
    for file in files:
        destination = build_dir / file.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        if file.link_target is not None:
            destination.symlink_to(file.link_target)
        else:
            destination.write_bytes(read_project_file(file))
    for rendered in generated:
        destination = build_dir / rendered.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(rendered.content)
