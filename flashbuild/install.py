"""The dependency stage: inputs -> lock or resolution -> selection -> install -> audit.

``flash build`` uses ``flash.lock`` when it matches the app (same declared
dependencies, target and image versions) and resolves otherwise; with
``--locked`` a missing or stale lock is an error instead. ``flash lock``
always resolves and writes the lock.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

from .audit import audit_install, top_level_names
from .config import BuildConfig
from .dependencies import DependencyInputs, collect_inputs
from .errors import SourceLocation, UsageError
from .exclusion import Selection, select_packages
from .cache import PART_FILE, CacheEntry, DependencyCache, cache_key
from .lock import (
    LOCK_FILE,
    Lock,
    LockHeader,
    artifact_requirements,
    format_lock,
    parse_lock,
    read_lock,
)
from .models import BuildPlan, BuildWarning, ProjectFiles, RenderedFile
from .import_names import import_names_of
from .package import Part, atomic_write_bytes, members_from_directory, write_part
from .resolve import Resolution, ResolverSettings, image_constraints, install, resolve
from .runner import CommandListener
from .sizes import PackageSize, human, size_error, unpacked_sizes, wheel_sizes


@dataclass(frozen=True, kw_only=True)
class InstalledDependencies:
    """The dependency part of an artifact and everything known about it."""

    selection: Selection
    resolution: Resolution
    inputs: DependencyInputs
    header: LockHeader
    from_lock: bool  # True: flash.lock was used, nothing was resolved
    from_cache: bool  # True: the part came from the cache, nothing was installed
    part: Part  # the compressed dependency part (the artifact's tail)
    requirements: RenderedFile  # the artifact's requirements.txt
    sizes: tuple[PackageSize, ...]  # per shipped package
    removed: tuple[str, ...]  # files the audit removed (bin/ scripts, bytecode)
    warnings: tuple[BuildWarning, ...]
    import_names: dict[str, frozenset[str]]  # installed distribution -> its top-level modules

    @property
    def source(self) -> str:
        """Where the pinned set came from: ``flash.lock`` or ``resolved``."""
        return LOCK_FILE if self.from_lock else "resolved"


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


def _selection_warnings(selection: Selection, resolution: Resolution) -> list[BuildWarning]:
    warnings = [
        BuildWarning(
            message=f"--exclude {name}: no such package among the resolved dependencies "
            f"({len(resolution.packages)} packages); nothing was excluded for it."
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
    return warnings


def _cache_key(config: BuildConfig, header: LockHeader, lock: Lock | None) -> str:
    index = config.index
    return cache_key(
        {
            "inputs": header.inputs_sha256,
            "lock": format_lock(lock) if lock is not None else None,
            "python-version": header.python_version,
            "platform": header.platform,
            "exclude": list(config.exclude),
            "images": config.images.as_data(),
            "index": [index.index_url, list(index.extra_index_urls), list(index.find_links),
                      index.no_index],
            "allow-build": list(config.allow_build),
            "mtime": config.source_date_epoch,
            "compression-level": config.compression_level,
        }
    )


def install_dependencies(
    config: BuildConfig,
    plan: BuildPlan,
    files: ProjectFiles,
    build_dir: Path,
    listener: CommandListener | None = None,
) -> InstalledDependencies | None:
    """The compressed dependency part for the app, from the cache or built; ``None`` if none.

    Installed files go to ``build_dir/deps`` (kept with ``--keep-build``).
    """
    inputs = collect_inputs(plan, config.project_dir)
    if inputs.empty:
        return None
    header = lock_header(config, inputs)
    lock = _usable_lock(config, header)
    if config.cache_dir is None:
        return _build_part(config, inputs, header, lock, files, build_dir, build_dir, listener)
    cache = DependencyCache(config.cache_dir)
    key = _cache_key(config, header, lock)
    entry = cache.lookup(key)
    if entry is None:
        with cache.locked(key):
            entry = cache.lookup(key)  # another build may have made it meanwhile
            if entry is None:
                staging = cache.staging_dir()
                built = _build_part(config, inputs, header, lock, files, build_dir, staging, listener)
                entry = cache.store(key, staging, _entry_data(built))
                warnings = built.warnings + tuple(
                    BuildWarning(message=f"the cache entry {corrupt[:12]} in {cache.root} was "
                                 "damaged; it was removed and built again.")
                    for corrupt in cache.rebuilt_corrupt
                )
                return replace(built, part=replace(built.part, path=entry.part_path),
                               warnings=warnings)
    installed = _from_entry(entry, inputs, config, header)
    if installed.part.size > config.max_size:  # known exactly: no need to write the artifact
        raise size_error(
            what=f"the compressed dependencies alone ({human(installed.part.size)}) exceed",
            limit=config.max_size, packages=installed.sizes, resolution=installed.resolution,
            inputs=inputs, images=config.images, exclusions=config.exclude,
        )
    if config.keep_build:
        _extract(installed.part.path, build_dir / "deps")
    return installed


@dataclass(frozen=True, kw_only=True)
class ResolvedDependencies:
    """What a dry run knows: the resolution and selection, nothing installed."""

    inputs: DependencyInputs
    resolution: Resolution
    selection: Selection
    from_lock: bool
    cached_sizes: dict[str, PackageSize]  # from a matching cache entry, if any
    warnings: tuple[BuildWarning, ...]

    @property
    def source(self) -> str:
        """Where the pinned set came from: ``flash.lock`` or ``resolved``."""
        return LOCK_FILE if self.from_lock else "resolved"


def resolve_dependencies(
    config: BuildConfig, plan: BuildPlan, listener: CommandListener | None = None
) -> ResolvedDependencies | None:
    """Resolve and select without installing (``--dry-run``); ``None`` if nothing is declared."""
    inputs = collect_inputs(plan, config.project_dir)
    if inputs.empty:
        return None
    header = lock_header(config, inputs)
    lock = _usable_lock(config, header)
    resolution = _resolution(config, inputs, lock, resolver_settings(config, listener))
    selection = select_packages(resolution, inputs, config.images, config.exclude)
    cached: dict[str, PackageSize] = {}
    if config.cache_dir is not None:
        entry = DependencyCache(config.cache_dir).lookup(_cache_key(config, header, lock))
        if entry is not None:
            cached = {size.name: size for size in _entry_sizes(entry.data)}
    return ResolvedDependencies(
        inputs=inputs,
        resolution=resolution,
        selection=selection,
        from_lock=lock is not None,
        cached_sizes=cached,
        warnings=tuple(_selection_warnings(selection, resolution)),
    )


def _resolution(
    config: BuildConfig, inputs: DependencyInputs, lock: Lock | None, settings: ResolverSettings
) -> Resolution:
    """The lock's resolution when it is usable, else a fresh one."""
    return lock.resolution if lock is not None else resolve(inputs, config.images, settings)


def _entry_sizes(data: dict) -> tuple[PackageSize, ...]:
    return tuple(PackageSize(name=n, version=v, wheel=w, unpacked=u) for n, v, w, u in data["sizes"])


def _usable_lock(config: BuildConfig, header: LockHeader) -> Lock | None:
    """``flash.lock`` if it matches the app; enforces ``--locked``."""
    lock = read_lock(config.project_dir)
    stale = _stale_reason(lock, header) if lock is not None else None
    if lock is not None and stale is None:
        return lock
    if config.locked:
        problem = "is missing" if lock is None else f"is out of date: {stale}"
        raise UsageError(
            f"--locked was given and {LOCK_FILE} {problem}.",
            location=SourceLocation(path=LOCK_FILE),
            hint="Run `flash lock` and commit flash.lock, or build without --locked.",
        )
    return None


def _build_part(
    config: BuildConfig,
    inputs: DependencyInputs,
    header: LockHeader,
    lock: Lock | None,
    files: ProjectFiles,
    build_dir: Path,
    part_dir: Path,
    listener: CommandListener | None,
) -> InstalledDependencies:
    """Resolve (unless locked), check sizes, install, audit and compress."""
    settings = resolver_settings(config, listener)
    resolution = _resolution(config, inputs, lock, settings)
    selection = select_packages(resolution, inputs, config.images, config.exclude)
    wheels = wheel_sizes(selection.shipped, settings)
    if sum(wheels.values()) > config.max_size:  # stop before downloading anything
        raise size_error(
            what=f"the wheels to install ({human(sum(wheels.values()))}) already exceed",
            limit=config.max_size,
            packages=[PackageSize(name=p.name, version=p.version, wheel=wheels.get(p.name))
                      for p in selection.shipped],
            resolution=resolution, inputs=inputs, images=config.images,
            exclusions=config.exclude,
        )
    install_dir = build_dir / "deps"
    install_dir.mkdir(parents=True, exist_ok=True)
    if selection.shipped:
        install(selection.shipped, settings, install_dir)
    report = audit_install(install_dir, config.target, top_level_names(f.path for f in files.files))
    unpacked = unpacked_sizes(install_dir, report.dists)
    modules = import_names_of(install_dir, report.dists)
    part = write_part(
        members_from_directory(install_dir),
        part_dir / PART_FILE,
        mtime=config.source_date_epoch,
        compresslevel=config.compression_level,
        threads=config.threads,
    )
    return InstalledDependencies(
        selection=selection,
        resolution=resolution,
        inputs=inputs,
        header=header,
        from_lock=lock is not None,
        from_cache=False,
        part=part,
        requirements=_requirements(selection, header),
        sizes=tuple(
            PackageSize(name=p.name, version=p.version, wheel=wheels.get(p.name),
                        unpacked=unpacked.get(p.name))
            for p in selection.shipped
        ),
        removed=tuple(report.removed),
        warnings=tuple(_selection_warnings(selection, resolution)),
        import_names=modules,
    )


def _requirements(selection: Selection, header: LockHeader) -> RenderedFile:
    return RenderedFile(path="requirements.txt", content=artifact_requirements(selection, header))


def _entry_data(built: InstalledDependencies) -> dict:
    part = built.part
    return {
        "lock": format_lock(Lock(header=built.header, resolution=built.resolution)),
        "from_lock": built.from_lock,
        "part": {"size": part.size, "sha256": part.sha256, "entries": part.entries,
                 "top_levels": list(part.top_levels)},
        "sizes": [[s.name, s.version, s.wheel, s.unpacked] for s in built.sizes],
        "removed": list(built.removed),
        "import_names": {name: sorted(names) for name, names in built.import_names.items()},
    }


def _from_entry(
    entry: CacheEntry, inputs: DependencyInputs, config: BuildConfig, header: LockHeader
) -> InstalledDependencies:
    data = entry.data
    resolution = parse_lock(data["lock"]).resolution
    selection = select_packages(resolution, inputs, config.images, config.exclude)
    part = data["part"]
    return InstalledDependencies(
        selection=selection,
        resolution=resolution,
        inputs=inputs,
        header=header,
        from_lock=data["from_lock"],
        from_cache=True,
        part=Part(path=entry.part_path, size=part["size"], sha256=part["sha256"],
                  entries=part["entries"], top_levels=tuple(part["top_levels"])),
        requirements=_requirements(selection, header),
        sizes=_entry_sizes(data),
        removed=tuple(data["removed"]),
        warnings=tuple(_selection_warnings(selection, resolution)),
        import_names={name: frozenset(names) for name, names in data["import_names"].items()},
    )


def _extract(part: Path, destination: Path) -> None:
    """Unpack a cached part for ``--keep-build``; names were validated when it was written."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(part, "r:gz") as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+ / 3.11.4+
            archive.extractall(destination, filter="data")
        else:  # pragma: no cover
            archive.extractall(destination)
