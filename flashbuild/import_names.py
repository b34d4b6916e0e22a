"""Which import names a distribution provides, and which modules are local or stdlib.

``pip install pyyaml`` makes ``import yaml`` work: distribution names and
import names differ. For installed distributions the truth is in their
``RECORD`` (and ``top_level.txt``); packages a base image provides are never
installed by the build, so their names come from a small table of known
mismatches, falling back to the usual ``my-package`` -> ``my_package``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from .audit import InstalledDist, read_installed_dists
from .images import ImageTable

# Distributions whose import names are not their names with `-` -> `_`.
KNOWN_IMPORT_NAMES: dict[str, tuple[str, ...]] = {
    "attrs": ("attr", "attrs"),
    "beautifulsoup4": ("bs4",),
    "opencv-contrib-python": ("cv2",),
    "opencv-python": ("cv2",),
    "opencv-python-headless": ("cv2",),
    "pillow": ("PIL",),
    "protobuf": ("google",),
    "python-dateutil": ("dateutil",),
    "python-dotenv": ("dotenv",),
    "pyyaml": ("yaml",),
    "runpod-flash": ("runpod_flash",),
    "scikit-image": ("skimage",),
    "scikit-learn": ("sklearn",),
    "setuptools": ("setuptools", "pkg_resources", "_distutils_hack"),
}

# Modules of the worker runtime, which every image has.
RUNTIME_MODULES = frozenset({"runpod", "runpod_flash"})


def guess_import_names(distribution: str) -> frozenset[str]:
    """Import names of a distribution that is not installed here."""
    name = canonicalize_name(distribution)
    if name in KNOWN_IMPORT_NAMES:
        return frozenset(KNOWN_IMPORT_NAMES[name])
    return frozenset({name.replace("-", "_")})


def suggest_distribution(import_name: str) -> str:
    """The distribution to declare for ``import import_name``: ``yaml`` -> ``pyyaml``."""
    if import_name == "cv2":  # workers have no display: the headless build fits them
        return "opencv-python-headless"
    for distribution, names in sorted(KNOWN_IMPORT_NAMES.items()):
        if import_name in names:
            return distribution
    return canonicalize_name(import_name)


def import_names_of(
    install_dir: Path, dists: Iterable[InstalledDist] | None = None
) -> dict[str, frozenset[str]]:
    """Distribution (PEP 503 name) -> top-level import names, for every installed one.

    Names come from the ``RECORD`` (what was actually installed) and
    ``top_level.txt`` when present; entries that cannot be imported
    (``numpy.libs``, data files) are dropped. ``dists``, when the caller has
    already read them (the audit has), saves reading the metadata again.
    """
    names: dict[str, frozenset[str]] = {}
    for dist in read_installed_dists(install_dir) if dists is None else dists:
        found = set(dist.top_levels)
        top_level = install_dir / dist.dist_info / "top_level.txt"
        if top_level.is_file():
            lines = top_level.read_text(encoding="utf-8", errors="replace").splitlines()
            found.update(line.strip().split("/")[0] for line in lines)
        importable = frozenset(name for name in found if name.isidentifier())
        names[dist.name] = names.get(dist.name, frozenset()) | importable
    return names


def image_import_names(images: ImageTable, compute: str) -> frozenset[str]:
    """Import names the base image of ``compute`` ("gpu"/"cpu") provides."""
    provided = set(RUNTIME_MODULES)
    for package in images.for_compute(compute).provides:
        provided |= guess_import_names(package.name)
    return frozenset(provided)


def endpoint_import_names(
    packages_of_endpoint: Mapping[str, Iterable[str]],
    installed: Mapping[str, frozenset[str]],
) -> dict[str, frozenset[str]]:
    """Endpoint -> import names of every package in its dependency tree.

    ``packages_of_endpoint`` lists each endpoint's resolved packages (the
    closure of its declared dependencies); a package that was not installed
    (left out for the image or by ``--exclude``) falls back to its guessed names.
    """
    result = {}
    for endpoint, packages in packages_of_endpoint.items():
        names: set[str] = set()
        for package in packages:
            name = canonicalize_name(package)
            names |= installed.get(name) or guess_import_names(name)
        result[endpoint] = frozenset(names)
    return result


def local_module_names(project_paths: Iterable[str]) -> frozenset[str]:
    """Top-level import names the project's own ``.py`` files define."""
    names = set()
    for path in project_paths:
        parts = PurePosixPath(path).parts
        if not path.endswith(".py") or not parts:
            continue
        first = parts[0] if len(parts) > 1 else parts[0][: -len(".py")]
        if first.isidentifier():
            names.add(first)
    return frozenset(names)


def is_stdlib(import_name: str) -> bool:
    """Whether a top-level import name is the standard library's (of this Python)."""
    return import_name in sys.stdlib_module_names or import_name == "__future__"
