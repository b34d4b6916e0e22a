"""What an install directory holds: its distributions, their files, import names and sizes.

Everything is read once from each ``*.dist-info`` directory (``METADATA``,
``WHEEL``, ``RECORD``); the audit, the sizes and the import names all use
that one reading.
"""

from __future__ import annotations

import csv
import posixpath
import re
from collections.abc import Iterable, Mapping
from email.message import Message
from email.parser import Parser
from pathlib import Path

from packaging.utils import canonicalize_name

from ..config.images import ImageTable
from ..source.import_names import RUNTIME_MODULES, guess_import_names
from .records import ImportNames, InstalledDist, License

_EXTENSION_MODULE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\..*(so|pyd)$")


def read_installed_dists(install_dir: Path) -> tuple[InstalledDist, ...]:
    """Read every ``*.dist-info`` directory at the top of ``install_dir``."""
    dists = []
    for dist_info in sorted(install_dir.glob("*.dist-info")):
        if not dist_info.is_dir():
            continue
        stem_name, _, stem_version = dist_info.name[: -len(".dist-info")].partition("-")
        metadata = _read_headers(dist_info / "METADATA")
        wheel = _read_headers(dist_info / "WHEEL")
        record = dist_info / "RECORD"
        files = _record_paths(record) if record.is_file() else ()
        name = metadata.get("Name") if metadata is not None else None
        version = metadata.get("Version") if metadata is not None else None
        dists.append(
            InstalledDist(
                name=canonicalize_name(name or stem_name),
                version=version or stem_version,
                dist_info=dist_info.name,
                tags=tuple(wheel.get_all("Tag") or ()) if wheel else (),
                files=files,
                top_levels=tuple(sorted({name for path in files if (name := top_level(path))})),
                has_wheel_file=wheel is not None,
                has_record=record.is_file(),
            )
        )
    return tuple(sorted(dists, key=lambda dist: (dist.name, dist.dist_info)))


def top_level_names(project_paths: Iterable[str]) -> dict[str, str]:
    """Map each top-level name of the project to the path that defines it.

    ``["app/__init__.py", "utils.py", "README.md"]`` gives ``{"app": "app/",
    "utils": "utils.py", "README.md": "README.md"}``.
    """
    names: dict[str, str] = {}
    for path in sorted(project_paths):
        first, slash, _ = path.partition("/")
        name = top_level(path)
        if name:
            names.setdefault(name, first + "/" if slash else path)
    return names


_LICENSE_CLASSIFIER = "License :: "
_NO_LICENSE = ("", "unknown", "none")


def license_of(install_dir: Path, dist: InstalledDist) -> License:
    """The licence ``dist``'s ``METADATA`` declares: its PEP 639 ``License-Expression``,
    else its ``License`` field (when one short line, not a licence's whole text) and the
    names its licence classifiers give (``License :: OSI Approved :: MIT License``)."""
    metadata = _read_headers(install_dir / dist.dist_info / "METADATA")
    if metadata is None:
        return License()
    expression = (metadata.get("License-Expression") or "").strip()
    if expression:
        return License(expression=expression)
    names: list[str] = []
    field = (metadata.get("License") or "").strip()
    if field.lower() not in _NO_LICENSE and "\n" not in field and len(field) <= 100:
        names.append(field)
    for classifier in metadata.get_all("Classifier") or ():
        parts = [part.strip() for part in str(classifier).split("::")]
        if str(classifier).startswith(_LICENSE_CLASSIFIER) and len(parts) > 2:
            names.append(parts[-1])
    return License(names=tuple(dict.fromkeys(names)))


def _read_headers(path: Path) -> Message | None:
    """An email-style metadata file, or None when it is missing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return Parser().parsestr(text, headersonly=True)


def _record_paths(record: Path) -> tuple[str, ...]:
    with open(record, newline="", encoding="utf-8", errors="replace") as handle:
        rows = [row[0] for row in csv.reader(handle) if row and row[0]]
    return tuple(sorted({record_path(path) for path in rows}))


def record_path(text: str) -> str:
    """A ``RECORD`` path as POSIX, normalised: how every other module compares them."""
    return posixpath.normpath(text.replace("\\", "/"))


def top_level(path: str) -> str | None:
    """The importable (or file) name a path adds at the top of the directory."""
    first, slash, _ = path.partition("/")
    if first in ("", ".", "..", "bin", "__pycache__") or first.endswith((".dist-info", ".data")):
        return None
    if slash:
        return first
    if first.endswith(".py"):
        return first[:-3]
    if first.endswith(".pth"):  # path configuration, not a module
        return None
    if match := _EXTENSION_MODULE.match(first):
        return match.group(1)
    return first




def import_names_of(install_dir: Path, dists: Iterable[InstalledDist]) -> ImportNames:
    """Distribution (PEP 503 name) -> top-level import names, for every installed one.

    Names come from the ``RECORD`` (what was actually installed) and
    ``top_level.txt`` when present; entries that cannot be imported
    (``numpy.libs``, data files) are dropped.
    """
    names: dict[str, frozenset[str]] = {}
    for dist in dists:
        found = set(dist.top_levels)
        top_level_file = install_dir / dist.dist_info / "top_level.txt"
        if top_level_file.is_file():
            lines = top_level_file.read_text(encoding="utf-8", errors="replace").splitlines()
            found.update(line.strip().split("/")[0] for line in lines)
        importable = frozenset(name for name in found if name.isidentifier())
        names[dist.name] = names.get(dist.name, frozenset()) | importable
    return tuple((name, tuple(sorted(found))) for name, found in sorted(names.items()))


def unpacked_sizes(install_dir: Path, dists: Iterable[InstalledDist]) -> dict[str, int]:
    """Bytes on disk per installed distribution: the files its ``RECORD`` lists that remain."""
    sizes: dict[str, int] = {}
    for dist in dists:
        total = 0
        for relative in dist.files:
            path = install_dir / relative
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        sizes[dist.name] = sizes.get(dist.name, 0) + total
    return sizes


def image_import_names(images: ImageTable, kind: str) -> frozenset[str]:
    """Import names the image of ``kind`` ("gpu", "cpu-lb", ...) provides."""
    provided = set(RUNTIME_MODULES)
    for package in images.for_kind(kind).provides:
        provided |= set(package.modules) or guess_import_names(package.name)
    return frozenset(provided)


def endpoint_import_names(
    packages_of_endpoint: Mapping[str, Iterable[str]], installed: ImportNames
) -> dict[str, frozenset[str]]:
    """Endpoint -> import names of every package in its dependency tree.

    ``packages_of_endpoint`` lists each endpoint's resolved packages (the
    closure of its declared dependencies); a package that was not installed
    (left out for the image or by ``--exclude``) falls back to its guessed names.
    """
    known = dict(installed)
    result = {}
    for endpoint, packages in packages_of_endpoint.items():
        names: set[str] = set()
        for package in packages:
            name = canonicalize_name(package)
            names |= frozenset(known.get(name, ())) or guess_import_names(name)
        result[endpoint] = frozenset(names)
    return result
