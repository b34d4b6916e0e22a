"""The size cap: measuring packages, and explaining an artifact that is too big.

The cap counts bytes of the compressed artifact (1.5 GB = 1,500,000,000
bytes). It is checked twice: on the resolved wheels' sizes before anything is
downloaded, and on the artifact as it is written. A failure shows the largest
packages with the chain that pulled each in and the ``--exclude`` options
that would save the most; the dry run shows the same savings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from .._util import toml
from .._util.units import human
from ..config.images import ImageTable
from ..errors import SizeLimitError
from .exclusion import select_packages
from .records import (
    DependencyInputs,
    DistributionFile,
    InstalledDist,
    PackageSize,
    Resolution,
    ResolvedPackage,
)
from .tags import parsed_tags, preferred_wheel
from .uv import ResolverSettings, pins_file, run_uv, uv_pip_command

_SHOWN_PACKAGES = 10
_SHOWN_SUGGESTIONS = 5

# (the package to --exclude, wheel bytes it saves, every package that goes with it)
Saving = tuple[str, int, tuple[str, ...]]


def distribution_files(packages: Iterable[ResolvedPackage], settings: ResolverSettings
                       ) -> dict[str, DistributionFile]:
    """The file uv would install for each of these pins, from index metadata.

    Asks uv for a ``pylock.toml`` of exactly these pins (no dependencies); a
    local wheel's size is read from disk. Packages uv lists no single file for
    are missing from the result: what it says is advisory, the install reports
    real failures.
    """
    packages = tuple(packages)
    if not packages:
        return {}
    with pins_file(packages) as requirements:
        command = uv_pip_command("compile", settings)
        command += ["--no-deps", "--quiet", "--no-header", "--format", "pylock.toml",
                    str(requirements)]
        result = run_uv(command, settings, timeout=300)
    if not result.ok:
        return {}
    found: dict[str, DistributionFile] = {}
    for package in toml.loads(result.stdout).get("packages", []):
        offered = package.get("wheels") or []
        wheels = offered
        if len(wheels) > 1:  # several for the platform: an installer takes one of them
            chosen = preferred_wheel(map(_file_name, wheels), settings.target)
            wheels = [wheel for wheel in wheels if _file_name(wheel) == chosen]
        files = wheels or ([package["sdist"]] if "sdist" in package else [])
        if len(files) == 1:
            found[canonicalize_name(package["name"])] = replace(
                _distribution_file(files[0]),
                offered=tuple(sorted((_file_name(w), w["hashes"]["sha256"]) for w in offered
                                     if w.get("hashes", {}).get("sha256"))))
    return found


def installed_wheel_sha256(dist: InstalledDist, file: DistributionFile | None) -> str | None:
    """The sha256 of the wheel ``dist`` was installed from: among the wheels the index
    offers, the one whose file name has the tags of the installed ``WHEEL`` file; the one
    an installer takes (``file``) when that is one of them, or when none or several are."""
    if file is None or not file.is_wheel:
        return None
    installed = frozenset().union(*map(parsed_tags, dist.tags))
    matching = [sha256 for name, sha256 in file.offered if _file_tags(name) == installed]
    if len(matching) == 1 and file.sha256 not in matching:
        return matching[0]
    return file.sha256


def _file_tags(name: str) -> frozenset[Tag]:
    try:
        return parse_wheel_filename(name)[3]
    except InvalidWheelFilename:
        return frozenset()


def _file_name(entry: dict[str, Any]) -> str:
    """The file name of a ``pylock.toml`` wheel or sdist entry."""
    location = entry.get("url") or entry.get("path") or ""
    return entry.get("name") or unquote(urlparse(location).path).rsplit("/", 1)[-1]


def _distribution_file(entry: dict[str, Any]) -> DistributionFile:
    location = entry.get("url") or entry.get("path") or ""
    name = _file_name(entry)
    size = entry.get("size")
    if size is None:
        size = _local_size(location)
    return DistributionFile(name=name, size=None if size is None else int(size),
                            sha256=entry.get("hashes", {}).get("sha256"))


def known_sizes(files: Mapping[str, DistributionFile]) -> dict[str, int]:
    """Package -> bytes of its file, for the files whose size is known."""
    return {name: file.size for name, file in files.items() if file.size is not None}


def _local_size(location: str | None) -> int | None:
    if not location:
        return None
    if location.startswith("file:"):
        location = unquote(urlparse(location).path)
    path = Path(location)
    try:
        return path.stat().st_size
    except OSError:
        return None


def chain(name: str, resolution: Resolution) -> str:
    """``nvidia-cublas-cu12 ← torch ← endpoint cpu-torch``: the shortest way in."""
    packages = resolution.by_name()
    queue: deque[list[str]] = deque([[name]])
    seen = {name}
    while queue:
        path = queue.popleft()
        package = packages.get(path[-1])
        if package is None:
            break
        if package.requested_by:
            source = package.requested_by[0]
            return " ← ".join([*path, source.replace("endpoint:", "endpoint ")])
        for parent in package.required_by:
            if parent not in seen:
                seen.add(parent)
                queue.append([*path, parent])
    return name


def exclusion_savings(
    resolution: Resolution,
    inputs: DependencyInputs,
    images: ImageTable,
    exclusions: Iterable[str],
    sizes: Mapping[str, int],
) -> list[Saving]:
    """For each shipped package: what ``--exclude`` it would save, and what would go with it."""
    base = select_packages(resolution, inputs, images, exclusions)
    shipped = {p.name for p in base.shipped}
    savings = []
    for name in sorted(shipped):
        selection = select_packages(resolution, inputs, images, [*exclusions, name])
        after = {p.name for p in selection.shipped}
        gone = tuple(sorted(shipped - after))
        saved = sum(sizes.get(n, 0) for n in gone)
        if saved:
            savings.append((name, saved, gone))
    savings.sort(key=lambda item: (-item[1], item[0]))
    return savings[:_SHOWN_SUGGESTIONS]


def size_error(
    *,
    what: str,
    limit: int,
    packages: Iterable[PackageSize],
    resolution: Resolution,
    inputs: DependencyInputs,
    images: ImageTable,
    exclusions: Iterable[str],
) -> SizeLimitError:
    """The error for a cap exceeded: largest packages, their chains, and what to exclude.

    ``what`` starts the message: "the artifact exceeds".
    """
    exclusions, packages = list(exclusions), tuple(packages)
    rows = sorted(packages, key=lambda p: (-(p.wheel or 0), p.name))[:_SHOWN_PACKAGES]
    width = max((len(f"{p.name} {p.version}") for p in rows), default=10)
    lines = [f"{what} the size cap of {limit:,} bytes ({human(limit)}).",
             f"  {'largest packages':<{width}}  {'wheel':>10}  {'unpacked':>10}  pulled in by"]
    lines += [
        f"  {package.name + ' ' + package.version:<{width}}  {human(package.wheel):>10}  "
        f"{human(package.unpacked):>10}  {chain(package.name, resolution)}"
        for package in rows
    ]
    sizes = {p.name: p.wheel or 0 for p in packages}
    suggestions = exclusion_savings(resolution, inputs, images, exclusions, sizes)
    lines += savings_lines(suggestions, indent="  ", companions_shown=4)
    return SizeLimitError(
        "\n".join(lines),
        hint="Exclude packages the workers already have or do not need, or raise the cap "
        "with --max-size / [tool.flash] max-size.",
    )


def savings_lines(savings: Iterable[Saving], *, indent: str = "",
                  companions_shown: int | None = None) -> list[str]:
    """What each ``--exclude`` would save, one line each (none when nothing would).

    ``companions_shown`` cuts the list of packages that go with each one.
    """
    savings = list(savings)
    if not savings:
        return []
    lines = [f"{indent}leaving packages out would save (wheel bytes):"]
    for name, saved, gone in savings:
        also = [n for n in gone if n != name]
        shown = also[:companions_shown] if companions_shown is not None else also
        more = ", ..." if len(shown) < len(also) else ""
        extra = f" (with {', '.join(shown)}{more})" if also else ""
        lines.append(f"{indent}  --exclude {name:<24} {human(saved):>10}{extra}")
    return lines
