"""The records of the dependency stage, from declared inputs to the installed part.

Data flows ``DependencyInputs -> Resolution -> Selection -> InstalledDependencies``
(or, for a dry run, ``ResolvedDependencies -> DryRunReport``). Every record is
frozen and keyword-only and holds tuples; :class:`CachedDependencies` is what
the dependency cache stores, as JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ..artifact.write import Part
from ..errors import SourceLocation
from ..records import BuildWarning, RenderedFile

if TYPE_CHECKING:  # the remote cache's modules load only when one is configured
    from ..remote_cache.stats import RemoteStats

LOCK_FILE = "flash.lock"
RESOLVED = "resolved"  # where a pinned set came from when flash.lock was not used
IMAGE_REASON = "image:"  # an exclusion's reason when the image provides the package

# --- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RequirementSource:
    """One input file of the resolution: an endpoint's list or the project's file."""

    key: str  # "endpoint:<name>" or "requirements.txt"; appears in `# via` lines
    endpoint: str | None  # None: the project's requirements.txt, needed by every endpoint
    image: str | None  # the endpoint's image kind ("gpu", "cpu-lb", ...); None for the file
    requirements: tuple[str, ...]  # as written, sorted, unique
    location: SourceLocation

    @property
    def names(self) -> frozenset[str]:
        return frozenset(canonicalize_name(Requirement(r).name) for r in self.requirements)


@dataclass(frozen=True, kw_only=True)
class DependencyInputs:
    """Every requirement the app declares, by source."""

    sources: tuple[RequirementSource, ...]  # endpoints sorted by name, then the file
    # Every endpoint with its image kind, including those that declare nothing:
    # the project's requirements.txt is installed for them too.
    endpoints: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not any(source.requirements for source in self.sources)

    @property
    def endpoint_images(self) -> dict[str, str]:
        """Endpoint -> the kind of image it runs on."""
        images = dict(self.endpoints)
        images.update((s.endpoint, s.image) for s in self.sources if s.endpoint and s.image)
        return images

    def declared_by(self, name: str) -> tuple[RequirementSource, ...]:
        """The sources that ask for package ``name`` directly."""
        normalised = canonicalize_name(name)
        return tuple(s for s in self.sources if normalised in s.names)

    def as_data(self) -> dict[str, list[str]]:
        """Source key -> its requirements, as JSON data."""
        return {source.key: list(source.requirements) for source in self.sources}

    def digest(self, *extra: object) -> str:
        """sha256 of the inputs and whatever else decides the resolution."""
        payload = json.dumps([self.as_data(), *extra], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()


# --- resolution and selection -------------------------------------------------------


@dataclass(frozen=True, kw_only=True, order=True)
class ResolvedPackage:
    name: str  # normalised
    version: str
    pin: str  # the requirement line that installs exactly this: "name==1.0"
    required_by: tuple[str, ...] = ()  # names of resolved packages that depend on it
    requested_by: tuple[str, ...] = ()  # keys of the input sources that ask for it
    # "sha256:<hex>" the installed file must have; () when not known
    hashes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """The pinned dependency graph of the whole app."""

    packages: tuple[ResolvedPackage, ...]  # sorted by name

    def by_name(self) -> dict[str, ResolvedPackage]:
        return {package.name: package for package in self.packages}

    def children(self) -> dict[str, set[str]]:
        """name -> the resolved packages it depends on."""
        graph: dict[str, set[str]] = {package.name: set() for package in self.packages}
        for package in self.packages:
            for parent in package.required_by:
                graph.setdefault(parent, set()).add(package.name)
        return graph


@dataclass(frozen=True, kw_only=True, order=True)
class Exclusion:
    name: str
    version: str
    reason: str  # "image:gpu", "user", "only-needed-by:torch,torchvision"
    version_checked: bool = True  # False: the image's version of it is not known

    @property
    def provided_by(self) -> str | None:
        """The image that provides it (``gpu@1.6.0``) when that is why it is left out."""
        if not self.reason.startswith(IMAGE_REASON):
            return None
        return self.reason.removeprefix(IMAGE_REASON)


@dataclass(frozen=True, kw_only=True)
class Selection:
    """What of a resolution ships, and why each other package does not."""

    shipped: tuple[ResolvedPackage, ...]  # sorted by name
    excluded: tuple[Exclusion, ...]  # sorted by name
    unmatched_exclusions: tuple[str, ...]  # user exclusions not in the resolved set

    @property
    def unchecked_image_packages(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.excluded if not e.version_checked)


# --- flash.lock -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DeclaredInputs:
    """What a resolution was made from, kept in ``flash.lock`` to name what changed."""

    requirements: tuple[tuple[str, tuple[str, ...]], ...]  # source key -> requirements
    image_constraints: tuple[str, ...]  # ``name==version`` of the images' known packages
    allow_build: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class LockHeader:
    python_version: str
    platform: str
    inputs_sha256: str
    declared: DeclaredInputs | None = None  # None in locks that did not record it


@dataclass(frozen=True, kw_only=True)
class Lock:
    header: LockHeader
    resolution: Resolution


# --- sizes and installed distributions ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DistributionFile:
    """The file uv installs for a pin, as the index (or a find-links location) lists it."""

    name: str  # "vllm-0.21.0-1-cp38-abi3-manylinux_2_24_x86_64.whl", or an sdist's name
    size: int | None  # bytes; None when not published
    sha256: str | None  # None when not published
    # (file name, sha256) of each wheel the index offers for the target, sorted
    offered: tuple[tuple[str, str], ...] = ()

    @property
    def is_wheel(self) -> bool:
        return self.name.endswith(".whl")

    @property
    def candidates(self) -> tuple[str, ...]:
        """The sha256 of every wheel offered for the target, sorted: uv installs one of them."""
        return tuple(sorted(sha256 for _, sha256 in self.offered))


@dataclass(frozen=True, kw_only=True)
class PackageSize:
    name: str
    version: str
    wheel: int | None  # bytes of the wheel file; None when not known
    unpacked: int | None = None  # bytes installed; None before installation
    compressed: int | None = None  # bytes of its segment of the artifact; None before packing


@dataclass(frozen=True, kw_only=True)
class License:
    """A distribution's licence, as its metadata declares it."""

    expression: str | None = None  # PEP 639 ``License-Expression``: an SPDX expression
    names: tuple[str, ...] = ()  # else the ``License`` field and the licence classifiers

    @property
    def known(self) -> bool:
        return bool(self.expression or self.names)

    def as_data(self) -> dict[str, Any] | None:
        """JSON data: ``{"expression": ...}``, ``{"names": [...]}`` or None when unknown."""
        if self.expression:
            return {"expression": self.expression}
        return {"names": list(self.names)} if self.names else None

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> License:
        """Read :meth:`as_data`; raises KeyError, TypeError or ValueError if damaged."""
        if data is None:
            return cls()
        if "expression" in data:
            return cls(expression=str(data["expression"]))
        return cls(names=tuple(map(str, data["names"])))


@dataclass(frozen=True, kw_only=True)
class PackageOrigin:
    """Where a shipped distribution came from, for the SBOM."""

    name: str
    version: str
    wheel_sha256: str | None  # of the wheel that was installed; None when built or unknown
    license: License

    def as_data(self) -> list[Any]:
        return [self.name, self.version, self.wheel_sha256, self.license.as_data()]

    @classmethod
    def from_data(cls, data: list[Any]) -> PackageOrigin:
        name, version, sha256, license_data = data
        return cls(name=str(name), version=str(version),
                   wheel_sha256=None if sha256 is None else str(sha256),
                   license=License.from_data(license_data))


@dataclass(frozen=True, kw_only=True)
class InstalledDist:
    """One installed distribution, read from its ``.dist-info`` directory."""

    name: str  # normalised (PEP 503): ``py-yaml-lite``
    version: str
    dist_info: str  # directory name, relative to the install directory
    tags: tuple[str, ...]  # the WHEEL file's ``Tag:`` values; () if it has none
    files: tuple[str, ...]  # RECORD paths, POSIX, relative to the install directory
    top_levels: tuple[str, ...]  # top-level import (or file) names the files add, sorted
    has_wheel_file: bool = True
    has_record: bool = True

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True, kw_only=True)
class AuditReport:
    """What a passed audit saw and what it removed."""

    dists: tuple[InstalledDist, ...]  # sorted by name
    removed: tuple[str, ...]  # POSIX paths, directories with a trailing "/"
    shared_objects: int  # how many were checked
    glibc: tuple[int, int] | None  # the highest glibc any shared object needs
    notes: tuple[str, ...] = ()  # what passed but deserves a word (WHEEL tags vs file name)
    removed_by: tuple[tuple[str, tuple[str, ...]], ...] = ()  # distribution -> its removed


# --- the stage's results ------------------------------------------------------------------

ImportNames = tuple[tuple[str, tuple[str, ...]], ...]  # distribution -> its import names


def dependency_source(from_lock: bool) -> str:
    """Where a pinned set came from: ``flash.lock`` or ``resolved``."""
    return LOCK_FILE if from_lock else RESOLVED


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
    origins: tuple[PackageOrigin, ...]  # per shipped package, sorted by name
    removed: tuple[str, ...]  # files the audit removed (bin/ scripts, bytecode)
    audit_notes: tuple[str, ...]  # what the audit let pass with a word
    warnings: tuple[BuildWarning, ...]  # the selection's warnings and the audit's notes
    import_names: ImportNames  # installed distribution -> its top-level modules, sorted
    remote_cache: RemoteStats | None = None  # what this build did with the remote cache

    @property
    def source(self) -> str:
        return dependency_source(self.from_lock)


@dataclass(frozen=True, kw_only=True)
class ResolvedDependencies:
    """What a dry run knows: the resolution and selection, nothing installed."""

    inputs: DependencyInputs
    resolution: Resolution
    selection: Selection
    from_lock: bool
    cached_sizes: tuple[PackageSize, ...]  # from a matching cache entry, if any
    warnings: tuple[BuildWarning, ...]

    @property
    def source(self) -> str:
        return dependency_source(self.from_lock)


@dataclass(frozen=True, kw_only=True)
class PackageRow:
    name: str
    version: str
    wheel: int | None  # bytes of the wheel; None when the index does not say
    unpacked: int | None  # bytes installed, when a cached build knows it
    pulled_in_by: str  # "nvidia-cublas-cu12 ← torch ← endpoint cpu-torch"
    endpoints: tuple[str, ...]  # endpoints whose trees contain it
    shipped: bool
    reason: str | None  # why it is left out


@dataclass(frozen=True, kw_only=True)
class DryRunReport:
    rows: tuple[PackageRow, ...]  # largest wheel first
    project_bytes: int  # uncompressed size of the shipped project files
    projected: int  # shipped wheels + project files: the artifact's expected size
    limit: int
    savings: tuple[tuple[str, int, tuple[str, ...]], ...]  # (--exclude X, bytes, what goes)
    source: str  # "resolved", "flash.lock" or "none"
    warnings: tuple[BuildWarning, ...]

    @property
    def fits(self) -> bool:
        return self.projected <= self.limit
