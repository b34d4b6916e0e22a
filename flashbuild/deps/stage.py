"""The dependency stage: inputs -> lock or resolution -> selection -> install -> audit.

``flash build`` uses ``flash.lock`` when it matches the app (same declared
dependencies, target and image versions) and resolves otherwise; with
``--locked`` a missing or stale lock is an error instead. ``flash lock``
always resolves and writes the lock. The compressed dependency part is
cached by everything that decides it (:mod:`flashbuild.cache`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._util.files import atomic_write_bytes, safe_extract
from .._util.processes import CommandListener
from .._util.units import human
from ..artifact.deflate import engine_label
from ..artifact.write import Part, Piece, join_part
from ..cache import DependencyCache, cache_key
from ..config.build_config import BuildConfig
from ..errors import SourceLocation, UsageError
from ..records import BuildPlan, BuildWarning, ProjectFiles
from .audit import InstallAuditError, find_part_clashes
from .exclusion import endpoint_consumers, select_packages
from .inputs import PROJECT_REQUIREMENTS, collect_inputs
from .installed import (
    endpoint_import_names,
    image_import_names,
    top_level_names,
)
from .lock import format_lock, parse_lock, read_lock, stale_reason
from .part_builder import (
    PartBuilder,
    artifact_requirements_file,
    pinned_resolution,
    selection_warnings,
    stage_warnings,
)
from .records import (
    LOCK_FILE,
    DeclaredInputs,
    DependencyInputs,
    ImportNames,
    InstalledDependencies,
    Lock,
    LockHeader,
    PackageOrigin,
    PackageSize,
    ResolvedDependencies,
)
from .remote import SharedCache
from .resolve import check_image_fit, image_constraints, resolve
from .segments import check_pieces, segment_path
from .sizes import size_error
from .uv import resolver_settings

# Project files that are inputs of this stage: the artifact gets what was installed instead.
DEPENDENCY_INPUT_FILES = (PROJECT_REQUIREMENTS, LOCK_FILE)


def lock_header(config: BuildConfig, inputs: DependencyInputs) -> LockHeader:
    """What a lock must record to be reused: the target and what it was resolved from."""
    target = config.target
    check_image_fit(inputs, config.images)
    constraints = image_constraints(inputs, config.images)
    digest = inputs.digest(
        {
            "python-version": target.python_version,
            "platform": target.uv_platform,
            "image-constraints": constraints,
            "allow-build": list(config.allow_build),
        }
    )
    declared = DeclaredInputs(
        requirements=tuple((s.key, s.requirements) for s in inputs.sources),
        image_constraints=tuple(constraints),
        allow_build=config.allow_build,
    )
    return LockHeader(python_version=target.python_version, platform=target.uv_platform,
                      inputs_sha256=digest, declared=declared)


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
    remote = SharedCache(config)  # the shared remote cache, if one is configured
    work = PartBuilder(config, inputs, header, lock, files, build_dir, listener, remote)
    if config.cache_dir is None:
        return work.build(build_dir)
    cache = DependencyCache(config.cache_dir)
    key = _cache_key(config, header, lock)
    check = _entry_check(config.cache_dir)
    read_part = _part_reader(config.cache_dir)
    entry = cache.lookup(key, check)
    if entry is None:
        with cache.locked(key):
            # another build may have made it meanwhile; else the remote may have it
            entry = cache.lookup(key, check) or remote.fetch_entry(cache, key, read_part)
            if entry is None:
                return remote.finish(_build_into_cache(work, cache, key, read_part))
    installed = _from_entry(_read_entry(entry.data, config.cache_dir), inputs, config, header)
    clashes = find_part_clashes(installed.part.top_levels, installed.import_names,
                                top_level_names(f.path for f in files.files))
    if clashes:  # the project gained a module the cached dependencies install
        raise InstallAuditError(clashes, config.target)
    if installed.part.size > config.max_size:  # known exactly: no need to write the artifact
        raise size_error(
            what=f"the compressed dependencies alone ({human(installed.part.size)}) exceed",
            limit=config.max_size, packages=installed.sizes, resolution=installed.resolution,
            inputs=inputs, images=config.images, exclusions=config.exclude,
        )
    if config.keep_build:
        joined = build_dir / "deps.tar.gz"
        join_part(installed.part, joined)
        safe_extract(joined, build_dir / "deps")
    return remote.finish(installed)


def _build_into_cache(work: PartBuilder, cache: DependencyCache, key: str,
                      read_part: Callable[[dict[str, Any]], Part]) -> InstalledDependencies:
    """Build the part (its pieces are cached segments) and record it as the entry for ``key``;
    then share it (the remote cache, if any)."""
    staging = cache.staging_dir()
    built = work.build(staging)
    work.remote.publish_entry(cache.store(key, staging, _cached(built).to_json()), read_part)
    warnings = built.warnings + tuple(
        BuildWarning(message=f"the cache entry {corrupt[:12]} in {cache.root} was "
                     "damaged; it was removed and built again.")
        for corrupt in cache.rebuilt_corrupt
    )
    return replace(built, warnings=warnings)


def resolve_dependencies(
    config: BuildConfig, plan: BuildPlan, listener: CommandListener | None = None
) -> ResolvedDependencies | None:
    """Resolve and select without installing (``--dry-run``); ``None`` if nothing is declared."""
    inputs = collect_inputs(plan, config.project_dir)
    if inputs.empty:
        return None
    header = lock_header(config, inputs)
    lock = _usable_lock(config, header)
    resolution = pinned_resolution(config, inputs, lock, resolver_settings(config, listener))
    selection = select_packages(resolution, inputs, config.images, config.exclude)
    cached: tuple[PackageSize, ...] = ()
    if config.cache_dir is not None:
        entry = DependencyCache(config.cache_dir).lookup(_cache_key(config, header, lock),
                                                         _entry_check(config.cache_dir))
        if entry is not None:
            cached = _read_entry(entry.data, config.cache_dir).sizes
    return ResolvedDependencies(
        inputs=inputs,
        resolution=resolution,
        selection=selection,
        from_lock=lock is not None,
        cached_sizes=cached,
        warnings=tuple(selection_warnings(selection, resolution)),
    )


def provided_import_names(config: BuildConfig, plan: BuildPlan,
                          installed: InstalledDependencies | None) -> dict[str, frozenset[str]]:
    """Endpoint -> the import names its dependency tree and its image provide.

    ``installed`` is None when the app declares no dependencies.
    """
    packages: dict[str, set[str]] = {endpoint.name: set() for endpoint in plan.endpoints}
    provided: dict[str, frozenset[str]] = {}
    if installed is not None:
        consumers = endpoint_consumers(installed.resolution, installed.inputs)
        for package, endpoints in consumers.items():
            for endpoint in endpoints:
                packages.setdefault(endpoint, set()).add(package)
        provided = endpoint_import_names(packages, installed.import_names)
    return {
        endpoint.name: provided.get(endpoint.name, frozenset())
        | image_import_names(config.images, endpoint.image_kind)
        for endpoint in plan.endpoints
    }


def image_labels(config: BuildConfig, plan: BuildPlan) -> dict[str, str]:
    """Endpoint -> the label of the image it runs on (``gpu@1.6.0``), for messages."""
    return {endpoint.name: config.images.label([endpoint.image_kind])
            for endpoint in plan.endpoints}


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
            "compression-engine": engine_label(config.compression_engine),
        }
    )


def _usable_lock(config: BuildConfig, header: LockHeader) -> Lock | None:
    """``flash.lock`` if it matches the app; enforces ``--locked``."""
    lock = read_lock(config.project_dir)
    stale = stale_reason(lock, header) if lock is not None else None
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


@dataclass(frozen=True, kw_only=True)
class CachedDependencies:
    """What a dependency cache entry records (``entry.json``); its part's pieces are
    segments in the cache."""

    lock: str  # the resolution, as flash.lock text
    from_lock: bool
    part: Part
    sizes: tuple[PackageSize, ...]
    origins: tuple[PackageOrigin, ...]
    removed: tuple[str, ...]
    import_names: ImportNames
    notes: tuple[str, ...]  # the audit's notes, repeated on every build that uses the entry

    def to_json(self) -> dict[str, Any]:
        """JSON data; each piece of the part by its segment key (its file's stem)."""
        part = self.part
        return {
            "lock": self.lock,
            "from_lock": self.from_lock,
            "part": {"pieces": [[piece.path.stem, piece.sha256, piece.size]
                                for piece in part.pieces],
                     "entries": part.entries, "top_levels": list(part.top_levels)},
            "sizes": [[s.name, s.version, s.wheel, s.unpacked, s.compressed]
                      for s in self.sizes],
            "origins": [origin.as_data() for origin in self.origins],
            "removed": list(self.removed),
            "import_names": {name: list(names) for name, names in self.import_names},
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], locate: Callable[[str], Path]
                  ) -> CachedDependencies:
        """Read :meth:`to_json` data, finding each piece with ``locate(key)``; raises
        KeyError, TypeError or ValueError if damaged."""
        part = data["part"]
        pieces = tuple(Piece(path=locate(str(key)), sha256=str(sha256), size=int(size))
                       for key, sha256, size in part["pieces"])
        return cls(
            lock=str(data["lock"]),
            from_lock=bool(data["from_lock"]),
            part=Part(pieces=pieces, entries=int(part["entries"]),
                      top_levels=tuple(part["top_levels"])),
            sizes=tuple(PackageSize(name=n, version=v, wheel=w, unpacked=u, compressed=c)
                        for n, v, w, u, c in data["sizes"]),
            origins=tuple(map(PackageOrigin.from_data, data["origins"])),
            removed=tuple(data["removed"]),
            import_names=tuple((name, tuple(names))
                               for name, names in sorted(data["import_names"].items())),
            notes=tuple(map(str, data["notes"])),
        )


def _cached(built: InstalledDependencies) -> CachedDependencies:
    return CachedDependencies(
        lock=format_lock(Lock(header=built.header, resolution=built.resolution)),
        from_lock=built.from_lock,
        part=built.part,
        sizes=built.sizes,
        origins=built.origins,
        removed=built.removed,
        import_names=built.import_names,
        notes=built.audit_notes,
    )


def _read_entry(data: dict[str, Any], cache_dir: Path) -> CachedDependencies:
    """A cache entry's record; raises unless it reads back, the lock text it holds too."""
    cached = CachedDependencies.from_json(data, lambda key: segment_path(cache_dir, key))
    parse_lock(cached.lock)
    return cached


def _entry_check(cache_dir: Path) -> Callable[[dict[str, Any]], None]:
    """Raises unless an entry reads back and every piece of its part is intact."""
    read_part = _part_reader(cache_dir)
    return lambda data: check_pieces(read_part(data))


def _part_reader(cache_dir: Path) -> Callable[[dict[str, Any]], Part]:
    """An entry's part (its pieces: the segments it names); raises unless it reads back."""
    return lambda data: _read_entry(data, cache_dir).part


def _from_entry(
    cached: CachedDependencies, inputs: DependencyInputs, config: BuildConfig,
    header: LockHeader
) -> InstalledDependencies:
    resolution = parse_lock(cached.lock).resolution
    selection = select_packages(resolution, inputs, config.images, config.exclude)
    return InstalledDependencies(
        selection=selection,
        resolution=resolution,
        inputs=inputs,
        header=header,
        from_lock=cached.from_lock,
        from_cache=True,
        part=cached.part,
        requirements=artifact_requirements_file(selection, header),
        sizes=cached.sizes,
        origins=cached.origins,
        removed=cached.removed,
        audit_notes=cached.notes,
        warnings=stage_warnings(selection, resolution, cached.notes),
        import_names=cached.import_names,
    )
