"""The dependency stage's hooks into the shared remote cache (:mod:`flashbuild.remote_cache`).

Lookup order: the local cache, then the remote. A remote entry (or unit) is
fetched into the local cache, every segment checked against its record, and
then used as a local hit; what a build makes is published, segments first.
Without a remote cache configured every hook does nothing, and the client
library is never imported; with one, it is imported only on a local miss.
The hooks read only what identifies files in a record: the segments it names
(key, sha256, size).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifact.write import Part
from ..cache import ENTRY_FILE, CacheEntry, DependencyCache
from ..config.build_config import BuildConfig
from ..records import BuildWarning
from .records import InstalledDependencies
from .segments import segment_path
from .units import Unit, find_units, unit_record_path

if TYPE_CHECKING:
    from ..remote_cache.session import ReadSegments, SegmentRef

ReadPart = Callable[[dict[str, Any]], Part]  # an entry record's part; raises if damaged


class SharedCache:
    """The remote cache of one dependency stage, or nothing."""

    def __init__(self, config: BuildConfig) -> None:
        self._remote = None
        self._asked = False  # whether the remote was asked for the entry
        if config.remote_cache is not None and config.cache_dir is not None:
            from ..remote_cache.session import RemoteCache

            self._remote = RemoteCache(config.remote_cache, config.cache_dir)

    def fetch_entry(self, cache: DependencyCache, key: str, read_part: ReadPart
                    ) -> CacheEntry | None:
        """The entry ``key`` from the remote, now in the local cache; None: a miss."""
        if self._remote is None:
            return None
        self._asked = True
        return self._remote.fetch_entry(cache, key, _entry_segments(cache.root, read_part))

    def publish_entry(self, entry: CacheEntry, read_part: ReadPart) -> None:
        """Upload the entry this build made (its segments first), when it may write."""
        if self._remote is None:
            return
        from ..remote_cache.session import LAYOUT

        self._remote.publish([(f"{LAYOUT}/entries/{entry.key}.json",
                               entry.directory / ENTRY_FILE)],
                             _entry_segments(self._remote.root, read_part))

    def find_units(self, cache_dir: Path, keys: Mapping[str, str]) -> dict[str, Unit]:
        """Package -> its unit, from the local cache or, for the others, the remote."""
        found = find_units(cache_dir, keys)
        missing = {name: key for name, key in keys.items() if name not in found}
        if self._remote is None or not missing:
            return found
        fetched = self._remote.fetch_units(
            {key: unit_record_path(cache_dir, key) for key in missing.values()},
            _unit_segments(cache_dir))
        if fetched:
            found.update(find_units(cache_dir, {name: key for name, key in missing.items()
                                                if key in fetched}))
        return found

    def publish_units(self, cache_dir: Path, units: Iterable[Unit]) -> None:
        """Upload the units this build made (their segments first), when it may write."""
        if self._remote is None:
            return
        from ..remote_cache.session import LAYOUT

        self._remote.publish([(f"{LAYOUT}/units/{unit.key}.json",
                               unit_record_path(cache_dir, unit.key)) for unit in units],
                             _unit_segments(cache_dir))

    def finish(self, installed: InstalledDependencies) -> InstalledDependencies:
        """``installed`` with the remote's warnings and stats; records the stats."""
        if self._remote is None:
            return installed
        said, stats = self._remote.finish(local_hit=not self._asked)
        return replace(installed, remote_cache=stats,
                       warnings=(*installed.warnings, *(BuildWarning(message=m) for m in said)))


def _entry_segments(cache_dir: Path, read_part: ReadPart) -> ReadSegments:
    """The segments an entry record names: its part's pieces."""
    from ..remote_cache.session import segment_ref

    def segments(data: dict[str, Any]) -> list[SegmentRef]:
        return [segment_ref(piece.path.stem, piece.sha256, piece.size,
                            locate=lambda key: segment_path(cache_dir, key))
                for piece in read_part(data).pieces]

    return segments


def _unit_segments(cache_dir: Path) -> ReadSegments:
    """The segment a unit record names (its ``segment``: key, sha256, size)."""
    from ..remote_cache.session import segment_ref

    def segments(data: dict[str, Any]) -> list[SegmentRef]:
        segment = data["segment"]
        return [segment_ref(segment["key"], segment["sha256"], segment["size"],
                            locate=lambda key: segment_path(cache_dir, key))]

    return segments
