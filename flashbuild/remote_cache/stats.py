"""What the last build did with the remote cache, kept beside the local cache for
``flash cache info``: hits, misses, damaged objects and bytes moved."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .._util.files import atomic_write_bytes

STATS_FILE = "remote-stats.json"
# How the remote fared in a build.
STATES = ("ok", "unreachable", "client-missing")
_TYPES: dict[str, type | tuple[type, ...]] = {"str": str, "bool": bool, "int": int,
                                              "float": (int, float)}


@dataclass(kw_only=True)
class RemoteStats:
    """Counters of one build's use of the remote cache."""

    url: str
    mode: str
    state: str = "ok"
    local_hit: bool = False  # the local cache had the entry: the remote was not asked
    entry_hits: int = 0
    entry_misses: int = 0
    unit_hits: int = 0
    unit_misses: int = 0
    damaged: int = 0  # objects that did not match their record (or did not read back)
    objects_down: int = 0
    bytes_down: int = 0
    objects_up: int = 0
    bytes_up: int = 0
    seconds: float = 0.0  # spent talking to the remote
    finished: str = ""  # UTC time the build finished with it

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    @property
    def hits(self) -> int:
        """Records fetched from the remote: entries and units."""
        return self.entry_hits + self.unit_hits

    @property
    def misses(self) -> int:
        """Records the remote did not have (or had damaged): entries and units."""
        return self.entry_misses + self.unit_misses

    def add(self, **counts: float) -> None:
        """Add ``counts`` to the named counters (from any thread)."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def to_json(self) -> dict[str, Any]:
        """The counters as JSON data."""
        return {**asdict(self), "seconds": round(self.seconds, 3)}


def write_stats(cache_dir: Path, stats: RemoteStats) -> None:
    """Keep ``stats`` as the last build's (best effort: they are only a report)."""
    stats.finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with contextlib.suppress(OSError):
        atomic_write_bytes(cache_dir / STATS_FILE,
                           json.dumps(stats.to_json(), sort_keys=True).encode(), durable=False)


def read_stats(cache_dir: Path) -> RemoteStats | None:
    """The last build's stats, or None when no build used a remote (or they do not read
    back: they are data, checked field by field)."""
    try:
        data = json.loads((cache_dir / STATS_FILE).read_bytes())
        values = {f.name: data[f.name] for f in fields(RemoteStats)}
    except (OSError, ValueError, TypeError, KeyError):
        return None
    for f in fields(RemoteStats):
        expected = _TYPES[str(f.type)]
        value = values[f.name]
        if not isinstance(value, expected) or (f.type == "int" and isinstance(value, bool)):
            return None
    if values["state"] not in STATES:
        return None
    return RemoteStats(**values)
