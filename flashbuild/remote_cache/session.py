"""One build's use of the remote cache: fetch verified records and segments into the local
cache, publish what the build made, count it all, and never fail the build.

Layout under ``s3://bucket/prefix/flashbuild-v1/``: ``entries/<key>.json`` and
``units/<key>.json`` (the local records' bytes) and ``segments/<kk>/<key>.gz``.
A record is published only after every segment it names, so a reader never
finds a record whose segments are missing. A fetched segment is streamed to
a temporary file beside its local place, hashed on the way, and renamed into
place only when its size and sha256 are the ones its record gives; a record
is stored locally only when all its segments are. Anything else is a miss
(reported once per object, and replaced by this build when it may write);
the remote being unreachable is one warning, after which the build goes on
with the local cache alone.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._util.files import (
    atomic_file,
    atomic_write_bytes,
    file_sha256,
    is_file_of_size,
    is_sha256_hex,
)
from ..cache import ENTRY_FORMAT, CacheEntry, DependencyCache
from ..config.remote_cache import REMOTE_CACHE_MODE_ENV, RemoteCacheSettings
from .object_store import INSTALL_HINT, ClientMissingError, ObjectStore, RemoteError
from .stats import RemoteStats, write_stats

LAYOUT = "flashbuild-v1"
_RECORD_LIMIT = 64 << 20  # bytes: a record is small; anything larger is not one
_THREADS = 8


@dataclass(frozen=True, kw_only=True)
class SegmentRef:
    """A segment a record names: its key, its place in the local cache, sha256 and size."""

    key: str
    path: Path
    sha256: str
    size: int


# Reads a record (parsed JSON) and returns the segments it names; raises
# ValueError, KeyError, TypeError or AttributeError if it does not read back.
ReadSegments = Callable[[dict[str, Any]], Sequence[SegmentRef]]


class _DamagedError(Exception):
    """The remote object ``name`` is not what its record (or the record format) says."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name


class RemoteCache:
    """The remote cache of one build; the client is opened on first use."""

    def __init__(self, settings: RemoteCacheSettings, cache_root: Path) -> None:
        self.settings, self.root = settings, cache_root
        self.stats = RemoteStats(url=settings.url, mode=settings.mode)
        self.warnings: list[str] = []
        self._store: ObjectStore | None = None
        self._opened = self._down = False
        self._may_write = settings.writable
        self._damaged: set[str] = set()  # names of damaged objects: replaced, not skipped
        self._uploaded: set[str] = set()
        self._lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------

    def fetch_entry(self, cache: DependencyCache, key: str, read: ReadSegments
                    ) -> CacheEntry | None:
        """The entry ``key`` from the remote, stored into ``cache`` once verified; None: a miss."""
        name = f"{LAYOUT}/entries/{key}.json"
        started = time.perf_counter()
        found = self._fetch_record(name, read, expect={"key": key, "format": ENTRY_FORMAT})
        self.stats.add(entry_hits=found is not None, entry_misses=found is None,
                       seconds=time.perf_counter() - started)
        if found is None:
            return None
        # The same discipline as a local entry: built in staging, renamed into place whole.
        return cache.store(key, cache.staging_dir(), found[0])

    def fetch_units(self, records: Mapping[str, Path], read: ReadSegments) -> set[str]:
        """Fetch the unit records ``key -> local path`` that the remote has; the keys fetched."""
        if not records or self._client() is None:
            return set()

        def fetch(key: str) -> bool:
            found = self._fetch_record(f"{LAYOUT}/units/{key}.json", read, expect={})
            if found is not None:
                atomic_write_bytes(records[key], found[1], durable=False)
            self.stats.add(unit_hits=found is not None, unit_misses=found is None)
            return found is not None

        started = time.perf_counter()
        with ThreadPoolExecutor(_THREADS, thread_name_prefix="remote-unit") as pool:
            fetched = {key for key, hit in zip(records, pool.map(fetch, records), strict=True)
                       if hit}
        self.stats.add(seconds=time.perf_counter() - started)
        return fetched

    def _fetch_record(self, name: str, read: ReadSegments, expect: Mapping[str, object]
                      ) -> tuple[dict[str, Any], bytes] | None:
        """The record ``name`` (parsed, and its bytes) once all its segments are local."""
        store = self._client()
        if store is None:
            return None
        try:
            raw = self._download_record(store, name)
            if raw is None:
                return None
            try:
                data = json.loads(raw)
                if not isinstance(data, dict) or any(data.get(k) != v for k, v in expect.items()):
                    raise ValueError("not a record of this key and format")
                segments = list(read(data))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise _DamagedError(name, f"it does not read back as a record ({exc})") from None
            if not all(self._parallel(lambda ref: self._fetch_segment(store, ref), segments)):
                return None
            return data, raw
        except _DamagedError as damaged:
            self._report_damage(damaged)
            return None
        except RemoteError as exc:
            self._fail(exc, upload=False)
            return None

    def _download_record(self, store: ObjectStore, name: str) -> bytes | None:
        chunks: list[bytes] = []

        def keep(chunk: memoryview) -> None:
            chunks.append(bytes(chunk))
            if sum(map(len, chunks)) > _RECORD_LIMIT:
                raise _DamagedError(name, "larger than any record could be")

        size = store.download(name, keep)
        if size is None:
            return None
        raw = b"".join(chunks)
        self.stats.add(objects_down=1, bytes_down=len(raw))
        return raw

    def _fetch_segment(self, store: ObjectStore, ref: SegmentRef) -> bool:
        """Whether ``ref`` is in the local cache now: there already (of its size; its bytes
        are checked as they are copied), or downloaded and verified."""
        if is_file_of_size(ref.path, ref.size):
            return True
        name = _segment_name(ref.key)
        digest, received = hashlib.sha256(), 0

        def write(chunk: memoryview) -> None:
            nonlocal received
            received += len(chunk)
            if received > ref.size:
                raise _DamagedError(name, f"longer than the {ref.size:,} bytes its record gives")
            digest.update(chunk)
            file.write(chunk)

        with atomic_file(ref.path, durable=False) as file:
            if store.download(name, write) is None:
                raise _MissingError
            if received != ref.size:
                raise _DamagedError(name, f"{received:,} bytes, not the {ref.size:,} its record "
                               "gives (truncated)")
            if digest.hexdigest() != ref.sha256:
                raise _DamagedError(name, "its sha256 is not the one its record gives")
        self.stats.add(objects_down=1, bytes_down=received)
        return True

    # --- writing ---------------------------------------------------------------------

    def publish(self, records: Iterable[tuple[str, Path]], read: ReadSegments) -> None:
        """Upload the local records ``(object name, path)``: every segment they name first,
        then the records. Nothing in read mode, or once an upload was refused."""
        records = list(records)
        if not records or not self._may_write or self._client() is None:
            return
        started = time.perf_counter()
        try:
            segments = {ref.key: ref for _, path in records
                        for ref in read(json.loads(path.read_bytes()))}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return  # a local record that does not read back is not shared
        try:
            if all(self._parallel(self._upload_segment, list(segments.values()))):
                for name, path in records:
                    self._upload(name, path)
        except RemoteError as exc:
            self._fail(exc, upload=True)
        finally:
            self.stats.add(seconds=time.perf_counter() - started)

    def _upload_segment(self, ref: SegmentRef) -> bool:
        """Upload the local segment ``ref`` unless the remote has it (of its size and not
        found damaged); False when the local file is not what its record says."""
        name = _segment_name(ref.key)
        store = self._client()
        if store is None or name in self._uploaded:
            return store is not None
        if name not in self._damaged and store.size(name) == ref.size:
            return True
        if not is_file_of_size(ref.path, ref.size) or file_sha256(ref.path) != ref.sha256:
            return False  # never publish damaged bytes; the next local build replaces them
        self._upload(name, ref.path)
        return True

    def _upload(self, name: str, path: Path) -> None:
        store = self._client()
        if store is None:
            return
        size = path.stat().st_size
        store.put(name, path)
        with self._lock:
            self._uploaded.add(name)
        self.stats.add(objects_up=1, bytes_up=size)

    # --- the client, failures and the report -----------------------------------------

    def _client(self) -> ObjectStore | None:
        """The store, opened on first use; None once it proved unusable."""
        with self._lock:
            if not self._opened:
                self._opened = True
                try:
                    self._store = ObjectStore(self.settings)
                except ClientMissingError:
                    self._down = True
                    self.stats.state = "client-missing"
                    self.warnings.append(
                        f"the remote cache {self.settings.url} is configured but its client "
                        f"library is not installed; install it with `{INSTALL_HINT}`. This "
                        "build used the local cache only.")
                except RemoteError as exc:
                    self._unreachable(exc)
            return None if self._down else self._store

    def _fail(self, exc: RemoteError, *, upload: bool) -> None:
        with self._lock:
            if upload and exc.denied:
                if self._may_write:
                    self._may_write = False
                    self.warnings.append(
                        f"the remote cache {self.settings.url} refused an upload ({exc}); "
                        "nothing more was uploaded. Give this job write access, or set "
                        f"{REMOTE_CACHE_MODE_ENV}=read for jobs that should only read.")
            elif not self._down:
                self._unreachable(exc)

    def _unreachable(self, exc: RemoteError) -> None:
        self._down = True
        self.stats.state = "unreachable"
        self.warnings.append(
            f"the remote cache {self.settings.url} could not be used ({exc}); this build "
            "went on with the local cache only.")

    def _report_damage(self, damaged: _DamagedError) -> None:
        with self._lock:
            if damaged.name in self._damaged:
                return
            self._damaged.add(damaged.name)
        self.stats.add(damaged=1)
        then = ("this build replaces it" if self._may_write
                else "a build with write access replaces it")
        self.warnings.append(f"the remote cache object {self.settings.url}/{damaged}; it was "
                             f"not used (a miss) and {then}.")

    def _parallel(self, action: Callable[[SegmentRef], bool], refs: list[SegmentRef]
                  ) -> list[bool]:
        """``action`` on every segment, several at a time; a miss or damage fails the lot."""
        if len(refs) <= 1:
            return [self._missing_is_false(action, ref) for ref in refs]
        with ThreadPoolExecutor(min(_THREADS, len(refs)),
                                thread_name_prefix="remote-segment") as pool:
            return list(pool.map(lambda ref: self._missing_is_false(action, ref), refs))

    @staticmethod
    def _missing_is_false(action: Callable[[SegmentRef], bool], ref: SegmentRef) -> bool:
        try:
            return action(ref)
        except _MissingError:
            return False

    def finish(self, *, local_hit: bool) -> tuple[tuple[str, ...], RemoteStats]:
        """Record the stats for ``flash cache info``; the warnings for the build and the
        stats."""
        self.stats.local_hit = local_hit
        write_stats(self.root, self.stats)
        return tuple(self.warnings), self.stats


class _MissingError(Exception):
    """A segment a record names is not in the remote: a miss, not damage."""


def segment_ref(key: object, sha256: object, size: object, *,
                locate: Callable[[str], Path]) -> SegmentRef:
    """A record's segment, its fields checked; raises ValueError or TypeError if malformed."""
    if not is_sha256_hex(key) or not is_sha256_hex(sha256):
        raise ValueError("a segment's key or sha256 is not a sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise TypeError("a segment's size is not a byte count")
    return SegmentRef(key=key, path=locate(key), sha256=sha256, size=size)


def _segment_name(key: str) -> str:
    return f"{LAYOUT}/segments/{key[:2]}/{key}.gz"
