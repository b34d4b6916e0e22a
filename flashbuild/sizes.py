"""The size cap: parsing it, measuring packages, and explaining an artifact that is too big.

The cap counts bytes of the compressed artifact (1.5 GB = 1,500,000,000
bytes). It is checked twice: on the resolved wheels' sizes before anything is
downloaded, and on the artifact as it is written. A failure shows the largest
packages with the chain that pulled each in and the ``--exclude`` options
that would save the most.
"""

from __future__ import annotations

import re
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.utils import canonicalize_name

from .audit import InstalledDist
from .dependencies import DependencyInputs
from .errors import SizeLimitError, UsageError
from .exclusion import select_packages
from .images import ImageTable
from .resolve import (
    ResolvedPackage,
    Resolution,
    ResolverSettings,
    pins_file,
    run_uv,
    uv_pip_command,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_MAX_SIZE = 1_500_000_000
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_SHOWN_PACKAGES = 10
_SHOWN_SUGGESTIONS = 5


def parse_size(text: str | int, *, option: str = "--max-size") -> int:
    """``"500MB"`` -> 500000000; ``"1.5GB"``; ``"2GiB"``; a plain number is bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = _SIZE.match(str(text))
        if match is None or match[2].lower() not in _UNITS:
            raise UsageError(
                f"{option} {text!r} is not a size.",
                hint="Give bytes or a number with a unit: 500MB, 1.5GB, 2GiB.",
            )
        value, unit = float(match[1]), match[2].lower()
    size = int(value * _UNITS[unit])
    if size <= 0:
        raise UsageError(f"{option} must be more than 0 bytes.", hint="e.g. --max-size 1.5GB")
    return size


def human(size: int | None) -> str:
    """Decimal units, as the cap is counted: ``1.50 GB``."""
    if size is None:
        return "?"
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:.2f} {unit}"
    return f"{size} B"


@dataclass(frozen=True, kw_only=True)
class PackageSize:
    name: str
    version: str
    wheel: int | None  # bytes of the wheel file; None when not known
    unpacked: int | None = None  # bytes installed; None before installation


def wheel_sizes(packages: Iterable[ResolvedPackage], settings: ResolverSettings) -> dict[str, int]:
    """Sizes of the wheels uv would install for these pins, from index metadata.

    Asks uv for a ``pylock.toml`` of exactly these pins (no dependencies); a
    local wheel's size is read from disk. Packages whose size the index does
    not publish are missing from the result.
    """
    packages = tuple(packages)
    if not packages:
        return {}
    with pins_file(packages) as requirements:
        command = uv_pip_command("compile", settings)
        command += ["--no-deps", "--quiet", "--no-header", "--format", "pylock.toml", str(requirements)]
        result = run_uv(command, settings, timeout=300)
    if not result.ok:
        return {}  # sizes are advisory here; the install reports real failures
    sizes: dict[str, int] = {}
    for package in tomllib.loads(result.stdout).get("packages", []):
        files = package.get("wheels") or ([package["sdist"]] if "sdist" in package else [])
        if len(files) != 1:
            continue
        size = files[0].get("size")
        if size is None:
            size = _local_size(files[0].get("url") or files[0].get("path"))
        if size is not None:
            sizes[canonicalize_name(package["name"])] = int(size)
    return sizes


def _local_size(location: str | None) -> int | None:
    if not location:
        return None
    path = Path(unquote(urlparse(location).path)) if location.startswith("file:") else Path(location)
    try:
        return path.stat().st_size
    except OSError:
        return None


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
) -> list[tuple[str, int, tuple[str, ...]]]:
    """For each shipped package: what ``--exclude`` it would save, and what would go with it."""
    base = select_packages(resolution, inputs, images, exclusions)
    shipped = {p.name for p in base.shipped}
    savings = []
    for name in sorted(shipped):
        after = {p.name for p in select_packages(resolution, inputs, images, [*exclusions, name]).shipped}
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
    exclusions = list(exclusions)
    rows = sorted(packages, key=lambda p: (-(p.wheel or 0), p.name))[:_SHOWN_PACKAGES]
    width = max((len(f"{p.name} {p.version}") for p in rows), default=10)
    lines = [f"{what} the size cap of {limit:,} bytes ({human(limit)}).",
             f"  {'largest packages':<{width}}  {'wheel':>10}  {'unpacked':>10}  pulled in by"]
    for package in rows:
        lines.append(
            f"  {package.name + ' ' + package.version:<{width}}  {human(package.wheel):>10}  "
            f"{human(package.unpacked):>10}  {chain(package.name, resolution)}"
        )
    sizes = {p.name: p.wheel or 0 for p in packages}
    suggestions = exclusion_savings(resolution, inputs, images, exclusions, sizes)
    if suggestions:
        lines.append("  leaving packages out would save (wheel bytes):")
        for name, saved, gone in suggestions:
            also = [n for n in gone if n != name]
            extra = f" (with {', '.join(also[:4])}{', ...' if len(also) > 4 else ''})" if also else ""
            lines.append(f"    --exclude {name:<24} {human(saved):>10}{extra}")
    return SizeLimitError(
        "\n".join(lines),
        hint="Exclude packages the workers already have or do not need, or raise the cap "
        "with --max-size / [tool.flash] max-size.",
    )
