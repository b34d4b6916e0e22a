"""What each worker base image already has installed.

Packages an image provides are left out of the artifact when every endpoint
that needs them runs on that image. The table is data: ``[tool.flash.images]``
in pyproject.toml replaces an image's entry, e.g.::

    [tool.flash.images.gpu]
    provides = ["torch==2.5.1", "torchvision==0.20.1", "numpy==1.26.4", "triton"]

A version given as ``==X`` is used as a constraint when resolving, so that
what ships is compatible with what the image has; a bare name means the
version is not known and compatibility is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import SourceLocation, UsageError

# The Flash runtime (``runpod`` serves the handler, ``runpod-flash`` is the
# SDK user modules import) is in every image.
RUNTIME = ("runpod", "runpod-flash")


@dataclass(frozen=True, kw_only=True)
class ProvidedPackage:
    name: str  # PEP 503-normalised
    version: str | None  # None: not known, not checked

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}=={self.version}"


@dataclass(frozen=True, kw_only=True)
class BaseImage:
    kind: str  # "gpu" or "cpu": the endpoint's compute
    provides: tuple[ProvidedPackage, ...]  # sorted by name

    def version_of(self, name: str) -> ProvidedPackage | None:
        for package in self.provides:
            if package.name == name:
                return package
        return None

    @property
    def names(self) -> frozenset[str]:
        return frozenset(package.name for package in self.provides)


@dataclass(frozen=True, kw_only=True)
class ImageTable:
    images: tuple[BaseImage, ...]  # sorted by kind

    def for_compute(self, compute: str) -> BaseImage:
        for image in self.images:
            if image.kind == compute:
                return image
        return BaseImage(kind=compute, provides=())

    def as_data(self) -> dict[str, list[str]]:
        """``{"gpu": ["numpy", "torch==2.5.1", ...]}``: for the manifest and cache keys."""
        return {image.kind: [str(p) for p in image.provides] for image in self.images}


def _provided(entries: list[str], *, where: str) -> tuple[ProvidedPackage, ...]:
    packages: dict[str, ProvidedPackage] = {}
    for entry in entries:
        try:
            requirement = Requirement(entry)
        except InvalidRequirement as exc:
            raise UsageError(
                f"{where}: {entry!r} is not a valid package entry ({exc}).",
                location=SourceLocation(path="pyproject.toml"),
                hint='Write a name, optionally pinned: "torch==2.5.1".',
            ) from None
        specifiers = list(requirement.specifier)
        if requirement.url or requirement.extras or requirement.marker or len(specifiers) > 1 or (
            specifiers and specifiers[0].operator != "=="
        ):
            raise UsageError(
                f"{where}: {entry!r} must be a name or name==version.",
                location=SourceLocation(path="pyproject.toml"),
                hint="An image has exactly one version of each package installed.",
            )
        name: str = canonicalize_name(requirement.name)
        packages[name] = ProvidedPackage(
            name=name, version=specifiers[0].version if specifiers else None
        )
    for name in RUNTIME:  # every image runs the handlers, so it has the runtime
        packages.setdefault(name, ProvidedPackage(name=name, version=None))
    return tuple(sorted(packages.values(), key=lambda p: p.name))


# Versions are left unknown: the images are rebuilt over time and a wrong
# pin would be worse than none. Pin them in [tool.flash.images] to check.
DEFAULT_IMAGES: dict[str, list[str]] = {
    "gpu": ["numpy", "torch", "torchaudio", "torchvision", "triton", *RUNTIME],
    "cpu": [*RUNTIME],
}


def image_table(overrides: Mapping[str, object] | None = None) -> ImageTable:
    """The default table with ``[tool.flash.images]`` entries applied."""
    table = {kind: list(entries) for kind, entries in DEFAULT_IMAGES.items()}
    for kind, entry in (overrides or {}).items():
        where = f"[tool.flash.images.{kind}]"
        if kind not in DEFAULT_IMAGES:
            raise UsageError(
                f"{where}: unknown image {kind!r}.",
                location=SourceLocation(path="pyproject.toml"),
                hint=f"Images are {', '.join(sorted(DEFAULT_IMAGES))}.",
            )
        provides = entry.get("provides") if isinstance(entry, Mapping) else None
        if not isinstance(provides, list) or not all(isinstance(p, str) for p in provides):
            raise UsageError(
                f"{where} needs provides = [list of package names].",
                location=SourceLocation(path="pyproject.toml"),
                hint='e.g. provides = ["torch==2.5.1", "numpy"]',
            )
        table[kind] = provides
    return ImageTable(
        images=tuple(
            BaseImage(kind=kind, provides=_provided(entries, where=f"[tool.flash.images.{kind}]"))
            for kind, entries in sorted(table.items())
        )
    )
