"""Import names of distributions: ``pip install pyyaml`` makes ``import yaml`` work.

For installed distributions the truth is in their ``RECORD`` (see
:mod:`flashbuild.deps.installed`); for the others, such as what a base image
provides, the names come from a small table of known mismatches, falling back
to the usual ``my-package`` -> ``my_package``.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

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
