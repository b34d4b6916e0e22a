"""The target's wheel tags and marker values.

Which wheels the target accepts, and which of several an installer takes;
and what environment markers evaluate to on a worker.

The target is Linux x86_64 with one CPython and one glibc; its tags are
generated with :mod:`packaging.tags` in the installers' order of preference,
``linux_x86_64`` deliberately not among them (such a wheel was built for one
machine, not for manylinux).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from packaging.tags import Tag, compatible_tags, cpython_tags, parse_tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..records import Target

# The first glibc of each legacy manylinux name (PEP 600 aliases).
_LEGACY_MANYLINUX = {(2, 5): "manylinux1", (2, 12): "manylinux2010", (2, 17): "manylinux2014"}

def manylinux_platforms(glibc: tuple[int, int]) -> tuple[str, ...]:
    """x86_64 manylinux platform tags from ``glibc`` down to 2.5, with legacy aliases."""
    major, newest = glibc
    platforms: list[str] = []
    for minor in range(newest, 4, -1):
        platforms.append(f"manylinux_{major}_{minor}_x86_64")
        if legacy := _LEGACY_MANYLINUX.get((major, minor)):
            platforms.append(f"{legacy}_x86_64")
    return tuple(platforms)


def target_tags(target: Target) -> frozenset[Tag]:
    """Every wheel tag the target accepts; ``linux_x86_64`` is deliberately not one."""
    return frozenset(_tag_preference(target))


def wheel_tags_fit(tags: Iterable[str], target: Target) -> bool:
    """Whether any of ``tags`` (each possibly compressed, ``py2.py3-none-any``) fits."""
    accepted = target_tags(target)
    return any(parsed_tags(text) & accepted for text in tags)


def parsed_tags(text: str) -> frozenset[Tag]:
    """The tags a (possibly compressed) tag triple stands for; none if it is not one."""
    try:
        return parse_tag(text.strip())
    except ValueError:
        return frozenset()


@lru_cache(maxsize=16)
def _tag_preference(target: Target) -> dict[Tag, int]:
    """Each accepted tag's rank: 0 is what installers prefer most."""
    version = tuple(int(part) for part in target.python_version.split("."))
    platforms = manylinux_platforms(target.glibc)
    ordered = [*cpython_tags(version, abis=[target.python_tag], platforms=platforms),
               *compatible_tags(version, interpreter=target.python_tag, platforms=platforms)]
    ranks: dict[Tag, int] = {}
    for rank, tag in enumerate(ordered):
        ranks.setdefault(tag, rank)
    return ranks


def preferred_wheel(file_names: Iterable[str], target: Target) -> str | None:
    """The wheel an installer takes for the target among several of one release.

    The best-ranked tag wins, then the highest build number (PEP 427); None
    when no file name is a wheel that fits.
    """
    ranks = _tag_preference(target)
    candidates = []
    for name in file_names:
        try:
            _, _, build, tags = parse_wheel_filename(name)
        except InvalidWheelFilename:
            continue
        fitting = [ranks[tag] for tag in tags if tag in ranks]
        if fitting:
            candidates.append(((min(fitting), _negated(build)), name))
    return min(candidates)[1] if candidates else None


def _negated(build: tuple[int, str] | tuple[()]) -> tuple[int, str]:
    """A sort key that puts higher build numbers first (none counts as 0)."""
    number, suffix = build if build else (0, "")
    return (-number, suffix)


def marker_environment(python_version: str) -> dict[str, str]:
    """PEP 508 marker values of a worker: CPython ``python_version`` on Linux x86_64.

    Every value is the worker's, none the host's, so markers evaluate the same
    on every machine that builds.
    """
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python_version}.0",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{python_version}.0",
        "python_version": python_version,
        "sys_platform": "linux",
    }

