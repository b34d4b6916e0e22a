"""Build the compressed dependency part: select, install what is new, audit, compress.

With a cache, a shipped package whose release was installed, audited and
compressed by an earlier build for the same target is not installed again:
its unit (:mod:`flashbuild.deps.units`) brings its segment and what the
build must know of it. Only the other packages are sized, installed, audited
and compressed, and the part is the same bytes a build from nothing makes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from .._util.processes import CommandListener
from .._util.units import human
from ..config.build_config import BuildConfig
from ..records import BuildWarning, ProjectFiles, RenderedFile
from .audit import InstallAuditError, audit_install, find_top_level_clashes
from .exclusion import select_packages
from .inputs import PROJECT_REQUIREMENTS
from .install import install_pins
from .installed import import_names_of, license_of, top_level_names, unpacked_sizes
from .lock import artifact_requirements
from .records import (
    AuditReport,
    DependencyInputs,
    DistributionFile,
    InstalledDependencies,
    InstalledDist,
    Lock,
    LockHeader,
    PackageOrigin,
    PackageSize,
    Resolution,
    ResolvedPackage,
    Selection,
)
from .remote import SharedCache
from .resolve import resolve
from .segments import Compression, ReusedDist, SegmentedPart, write_segmented_part
from .sizes import distribution_files, installed_wheel_sha256, known_sizes, size_error
from .units import DistFacts, Unit, store_units, unit_key
from .uv import ResolverSettings, resolver_settings


class PartBuilder:
    """Resolves (unless locked), checks sizes, installs, audits and compresses one part."""

    def __init__(self, config: BuildConfig, inputs: DependencyInputs, header: LockHeader,
                 lock: Lock | None, files: ProjectFiles, build_dir: Path,
                 listener: CommandListener | None, remote: SharedCache | None = None) -> None:
        self.config, self.inputs, self.header, self.lock = config, inputs, header, lock
        self.remote = remote or SharedCache(config)
        self.files, self.install_dir = files, build_dir / "deps"
        self.settings = resolver_settings(config, listener)
        self.compression = Compression(
            mtime=config.source_date_epoch, level=config.compression_level,
            threads=config.threads, engine=config.compression_engine)

    def build(self, part_dir: Path) -> InstalledDependencies:
        """Install into the build directory; the part is cached segments, or without a
        cache a file in ``part_dir``."""
        config = self.config
        resolution = pinned_resolution(config, self.inputs, self.lock, self.settings)
        selection = select_packages(resolution, self.inputs, config.images, config.exclude)
        files = self._check_wheel_sizes(selection, resolution)
        shipped = tuple(_verified(p, files.get(p.name)) for p in selection.shipped)
        keys = self._unit_keys(shipped, files)
        reused = {} if config.cache_dir is None else self.remote.find_units(config.cache_dir, keys)
        report, sharing = self._install_and_audit(shipped, reused, files)
        if sharing & reused.keys():  # a reused wheel shares a file: install them together
            shutil.rmtree(self.install_dir)
            reused = {}
            report, sharing = self._install_and_audit(shipped, reused, files)
        keys = {name: key for name, key in keys.items() if name not in sharing}
        written = write_segmented_part(
            self.install_dir, report.dists, part_dir / "deps.tar.gz", cache_dir=config.cache_dir,
            compression=self.compression, known_keys=keys,
            reused=[ReusedDist(dist=u.dist, members=u.members, segment=u.segment)
                    for u in reused.values()])
        facts = self._facts(report, files, written.compressed)
        if config.cache_dir is not None and not written.unclaimed:
            new_units = _new_units(report, written, keys, facts)
            store_units(config.cache_dir, new_units)
            self.remote.publish_units(config.cache_dir, new_units)
        facts.update((name, unit.facts) for name, unit in reused.items())
        notes = tuple(note for name in sorted(facts) for note in facts[name].notes)
        return InstalledDependencies(
            selection=selection, resolution=resolution, inputs=self.inputs, header=self.header,
            from_lock=self.lock is not None, from_cache=False, part=written.part,
            requirements=artifact_requirements_file(selection, self.header),
            sizes=tuple(_size(p, facts.get(p.name)) for p in selection.shipped),
            origins=tuple(PackageOrigin(name=p.name, version=p.version,
                                        wheel_sha256=facts[p.name].wheel_sha256,
                                        license=facts[p.name].license)
                          for p in selection.shipped if p.name in facts),
            removed=tuple(sorted({*report.removed, *(r for u in reused.values()
                                                     for r in u.facts.removed)})),
            audit_notes=notes,
            warnings=stage_warnings(selection, resolution, notes),
            import_names=tuple((name, facts[name].import_names) for name in sorted(facts)),
        )

    def _unit_keys(self, packages: tuple[ResolvedPackage, ...],
                   files: Mapping[str, DistributionFile]) -> dict[str, str]:
        """Package -> its unit key, for those that may be reused (not built from source)."""
        config = self.config
        if config.cache_dir is None or config.keep_build:  # a kept build shows every package
            return {}
        label = self.compression.label
        keys = {p.name: unit_key(p, files.get(p.name), config.target, label) for p in packages
                if p.name not in config.allow_build}
        return {name: key for name, key in keys.items() if key is not None}

    def _install_and_audit(self, shipped: tuple[ResolvedPackage, ...], reused: Mapping[str, Unit],
                           files: Mapping[str, DistributionFile]) -> tuple[AuditReport, set[str]]:
        """Install and audit what is not reused; also the names of the distributions
        (reused ones included) that install a file another one installs."""
        config = self.config
        project_top_levels = top_level_names(f.path for f in self.files.files)
        clashes = find_top_level_clashes((u.dist for u in reused.values()), project_top_levels)
        if clashes:
            raise InstallAuditError(clashes, config.target)
        self.install_dir.mkdir(parents=True, exist_ok=True)
        missing = tuple(p for p in shipped if p.name not in reused)
        wheel_files = {name: file.name for name, file in files.items() if file.is_wheel}
        if missing:
            install_pins(missing, self.settings, self.install_dir)
        report = audit_install(self.install_dir, config.target, project_top_levels, wheel_files)
        shared = shared_files([*report.dists, *(u.dist for u in reused.values())]).values()
        sharing = {name for names in shared for name in names}
        later = sorted({name for names in shared for name in names[1:]})
        if not later or sharing & reused.keys():  # nothing to settle, or the caller starts over
            return report, sharing
        # uv writes wheels side by side, so a file two of them install holds either's
        # bytes; installing the later ones again, in name order, makes the last one's win.
        for name in later:
            install_pins(tuple(p for p in missing if p.name == name), self.settings,
                         self.install_dir, reinstall=True)
        return (audit_install(self.install_dir, config.target, project_top_levels, wheel_files),
                sharing)

    def _facts(self, report: AuditReport, files: Mapping[str, DistributionFile],
               compressed: Mapping[str, int]) -> dict[str, DistFacts]:
        """What the build reports of each distribution it installed (``compressed``: the
        bytes of each one's segment)."""
        unpacked = unpacked_sizes(self.install_dir, report.dists)
        import_names = dict(import_names_of(self.install_dir, report.dists))
        removed = dict(report.removed_by)
        wheels = known_sizes(files)
        return {dist.name: DistFacts(
                    unpacked=unpacked.get(dist.name, 0), wheel=wheels.get(dist.name),
                    import_names=import_names.get(dist.name, ()),
                    removed=removed.get(dist.name, ()),
                    notes=tuple(n for n in report.notes if n.startswith(f"{dist}: ")),
                    compressed=compressed.get(dist.name, 0),
                    wheel_sha256=installed_wheel_sha256(dist, files.get(dist.name)),
                    license=license_of(self.install_dir, dist))
                for dist in report.dists}

    def _check_wheel_sizes(self, selection: Selection, resolution: Resolution
                           ) -> dict[str, DistributionFile]:
        """The shipped packages' files; stops before downloading when they exceed the cap."""
        config = self.config
        files = distribution_files(selection.shipped, self.settings)
        wheels = known_sizes(files)
        if sum(wheels.values()) > config.max_size:
            raise size_error(
                what=f"the wheels to install ({human(sum(wheels.values()))}) already exceed",
                limit=config.max_size,
                packages=[PackageSize(name=p.name, version=p.version, wheel=wheels.get(p.name))
                          for p in selection.shipped],
                resolution=resolution, inputs=self.inputs, images=config.images,
                exclusions=config.exclude,
            )
        return files


def _size(package: ResolvedPackage, facts: DistFacts | None) -> PackageSize:
    """What the build knows of the size of a shipped package."""
    if facts is None:
        return PackageSize(name=package.name, version=package.version, wheel=None)
    return PackageSize(name=package.name, version=package.version, wheel=facts.wheel,
                       unpacked=facts.unpacked, compressed=facts.compressed)


def _verified(package: ResolvedPackage, file: DistributionFile | None) -> ResolvedPackage:
    """``package`` with the sha256s uv must find in the file it installs, when known."""
    if file is None or not file.candidates:
        return package
    return replace(package, hashes=tuple(f"sha256:{digest}" for digest in file.candidates))


def _new_units(report: AuditReport, written: SegmentedPart, keys: Mapping[str, str],
               facts: Mapping[str, DistFacts]) -> list[Unit]:
    """Units of the keyed distributions this build installed and compressed."""
    units = []
    for dist in report.dists:
        if dist.name in keys and dist.name in written.segments:
            segment, members = written.segments[dist.name]
            units.append(Unit(key=keys[dist.name], dist=dist, members=members,
                              segment=segment, facts=facts[dist.name]))
    return units


def shared_files(dists: Iterable[InstalledDist]) -> dict[str, list[str]]:
    """Path -> the distributions whose RECORD lists it, by name, for paths listed twice."""
    claims: dict[str, list[str]] = {}
    for dist in sorted(dists, key=lambda d: d.name):
        for path in dist.files:
            claims.setdefault(path, []).append(dist.name)
    return {path: names for path, names in claims.items() if len(names) > 1}


def pinned_resolution(config: BuildConfig, inputs: DependencyInputs, lock: Lock | None,
                      settings: ResolverSettings) -> Resolution:
    """The lock's resolution when it is usable, else a fresh one."""
    return lock.resolution if lock is not None else resolve(inputs, config.images, settings)


def artifact_requirements_file(selection: Selection, header: LockHeader) -> RenderedFile:
    """The artifact's ``requirements.txt``: what was installed and what was left out."""
    return RenderedFile(path=PROJECT_REQUIREMENTS,
                        content=artifact_requirements(selection, header))


def selection_warnings(selection: Selection, resolution: Resolution) -> list[BuildWarning]:
    """Exclusions that matched nothing, and image packages left out unchecked."""
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
                message=f"left out for the image without a version check: "
                f"{', '.join(unchecked)} ([tool.flash.images] gives no versions for them; "
                "pin them there to check compatibility)."
            )
        )
    return warnings


def stage_warnings(selection: Selection, resolution: Resolution, audit_notes: tuple[str, ...]
                   ) -> tuple[BuildWarning, ...]:
    """The selection's warnings, then the audit's notes."""
    return (*selection_warnings(selection, resolution),
            *(BuildWarning(message=note) for note in audit_notes))

