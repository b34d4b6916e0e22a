"""Installed distributions reused across builds, keyed by the wheel they came from.

What ``uv pip install --target`` puts on disk for a wheel depends on the
wheel, the target and uv; what the audit leaves and how it compresses, on
flashbuild and the engine. So once a distribution has been installed,
audited and compressed, its record in the cache's ``units/`` folder (RECORD
paths, archive members, import names, sizes, the audit's notes, and the
content key and sha256 of its compressed segment) lets a later build skip
all three: the same pin offered as the same wheels (by sha256), for the same
target, uv, flashbuild, engine and level, makes the same bytes. Only
wheels whose sha256 the index or find-links location gives are reused;
packages built from source never are. A record is used only when it reads
back whole and its segment has the recorded size; anything else is a miss.
The segment's bytes are checked against its sha256 as they are copied into
the artifact (a damaged one is removed and the build starts over).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .. import __version__
from .._util.files import atomic_write_bytes, remove_path
from ..artifact.members import ArchiveMember
from ..artifact.write import has_recorded_size
from ..records import Target
from .records import DistributionFile, InstalledDist, License, ResolvedPackage
from .segments import StoredSegment, segment_path

UNITS = "units"
_FORMAT = 2  # 2: the segment's size as a fact, the licence and the installed wheel's sha256


@dataclass(frozen=True, kw_only=True)
class DistFacts:
    """What a build reports of one installed distribution."""

    unpacked: int  # bytes installed
    wheel: int | None  # bytes of the wheel, when the index said
    import_names: tuple[str, ...]
    removed: tuple[str, ...]  # what the audit removed of it
    notes: tuple[str, ...]  # what the audit said of it
    compressed: int  # bytes of its segment
    wheel_sha256: str | None  # of the wheel that was installed, when known
    license: License


@dataclass(frozen=True, kw_only=True)
class Unit:
    """One installed, audited and compressed distribution, as the cache records it."""

    key: str
    dist: InstalledDist  # its RECORD paths are what remains after the audit
    members: tuple[ArchiveMember, ...]  # names, modes and link targets; contents in the segment
    segment: StoredSegment
    facts: DistFacts


@cache
def _uv_version() -> str:
    from importlib.metadata import version

    return version("uv")


def unit_key(package: ResolvedPackage, file: DistributionFile | None, target: Target,
             compression: str) -> str | None:
    """What decides the unit of ``package`` installed from ``file``; None when the
    wheels uv chooses from are not known by sha256 (it cannot be reused)."""
    if file is None or not file.is_wheel or not file.sha256 or not file.candidates:
        return None
    document = {"format": _FORMAT, "flashbuild": __version__, "uv": _uv_version(),
                "pin": package.pin, "wheels": list(file.candidates),
                "python": target.python_version, "platform": target.uv_platform,
                "compression": compression}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def find_units(cache_dir: Path, keys: Mapping[str, str]) -> dict[str, Unit]:
    """Package -> its unit, for the keys whose record and segment are intact."""
    found = {}
    for name, key in keys.items():
        unit = _read_unit(cache_dir, key)
        if unit is not None and unit.dist.name == name:
            found[name] = unit
    return found


def store_units(cache_dir: Path, units: Iterable[Unit]) -> None:
    """Record ``units`` (their segments are in the cache already)."""
    for unit in units:
        path = _record_path(cache_dir, unit.key)
        if path.is_dir() or path.is_symlink():  # a damaged record: it was a miss, it goes
            remove_path(path)
        atomic_write_bytes(path, json.dumps(_to_json(unit), sort_keys=True).encode(),
                           durable=False)


def _placeholder_members(members: Iterable[tuple[str, bool, str | None]]
                        ) -> tuple[ArchiveMember, ...]:
    """Archive members that stand for a unit's files when planning the part's entries."""
    return tuple(ArchiveMember(name=name, link_target=link)
                 if link is not None else ArchiveMember(name=name, data=b"", executable=executable)
                 for name, executable, link in members)


def _record_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / UNITS / key[:2] / f"{key}.json"


def _read_unit(cache_dir: Path, key: str) -> Unit | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        data = json.loads(_record_path(cache_dir, key).read_bytes())
        if data["format"] != _FORMAT:
            return None
        segment = data["segment"]
        key_of_segment = str(segment["key"])
        stored = StoredSegment(key=key_of_segment, path=segment_path(cache_dir, key_of_segment),
                               sha256=str(segment["sha256"]), size=int(segment["size"]))
        if not has_recorded_size(stored):  # its bytes are checked as they are copied
            return None
        return Unit(
            key=key, dist=_dist_from_json(data["dist"]),
            members=_placeholder_members((str(n), bool(e), None if link is None else str(link))
                                        for n, e, link in data["members"]),
            segment=stored, facts=DistFacts(
                unpacked=int(data["unpacked"]),
                wheel=None if data["wheel"] is None else int(data["wheel"]),
                import_names=tuple(map(str, data["import_names"])),
                removed=tuple(map(str, data["removed"])), notes=tuple(map(str, data["notes"])),
                compressed=stored.size,
                wheel_sha256=None if data["wheel_sha256"] is None else str(data["wheel_sha256"]),
                license=License.from_data(data["license"])))
    return None


def _to_json(unit: Unit) -> dict[str, Any]:
    dist, segment, facts = unit.dist, unit.segment, unit.facts
    return {
        "format": _FORMAT,
        "dist": {"name": dist.name, "version": dist.version, "dist_info": dist.dist_info,
                 "tags": list(dist.tags), "files": list(dist.files),
                 "top_levels": list(dist.top_levels), "has_wheel_file": dist.has_wheel_file,
                 "has_record": dist.has_record},
        "members": [[m.name, m.executable, m.link_target] for m in unit.members],
        "segment": {"key": segment.key, "sha256": segment.sha256, "size": segment.size},
        "unpacked": facts.unpacked, "wheel": facts.wheel,
        "import_names": list(facts.import_names), "removed": list(facts.removed),
        "notes": list(facts.notes), "wheel_sha256": facts.wheel_sha256,
        "license": facts.license.as_data(),
    }


def _dist_from_json(data: dict[str, Any]) -> InstalledDist:
    return InstalledDist(
        name=str(data["name"]), version=str(data["version"]), dist_info=str(data["dist_info"]),
        tags=tuple(map(str, data["tags"])), files=tuple(map(str, data["files"])),
        top_levels=tuple(map(str, data["top_levels"])),
        has_wheel_file=bool(data["has_wheel_file"]), has_record=bool(data["has_record"]))


def unit_record_path(cache_dir: Path, key: str) -> Path:
    """Where the record of the unit ``key`` is kept (the remote cache copies it as it is)."""
    return _record_path(cache_dir, key)
