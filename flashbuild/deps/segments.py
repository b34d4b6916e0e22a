"""The dependency part as one compressed segment per installed distribution, cached by content.

gzip members concatenate into one valid stream, and so do tar entries: the
part is a segment of every directory entry, then one segment per
distribution (the files its ``RECORD`` lists that remain after the audit),
then one of the files no distribution claims, then the end-of-archive
blocks. Each segment is keyed by what decides its bytes (entry names, modes,
link targets and contents; mtime; the engine, its version and level; the
flashbuild version) and kept in the cache's ``segments/`` folder, so adding
one dependency compresses that one distribution and copies the rest. A stored
segment is used only when it is a regular file of the size its record gives
(anything else is a miss, compressed again), and its bytes are checked against
the record's sha256 as they are copied into the artifact: a damaged one stops
that write, is removed, and the build starts over (see the pipeline).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .. import __version__
from .._util.files import (
    atomic_file,
    atomic_write_bytes,
    file_sha256,
    is_sha256_hex,
    remove_path,
)
from ..artifact.deflate import engine_label
from ..artifact.members import ArchiveMember, Entry, plan_entries
from ..artifact.parallel_gzip import ParallelGzipWriter
from ..artifact.tar import write_tar_part
from ..artifact.write import HashingSink, Part, Piece, has_recorded_size
from .records import InstalledDist

SEGMENTS = "segments"
_FORMAT = 3  # 3: records hold the size


class Compression:
    """How segments are compressed: what their bytes depend on besides the entries."""

    def __init__(self, *, mtime: int, level: int, threads: int | None, engine: str,
                 executor: Executor | None = None) -> None:
        self.mtime, self.level, self.threads, self.engine = mtime, level, threads, engine
        self.executor = executor  # compresses the blocks of several segments at once
        self.label = f"{engine_label(engine)} level {level} mtime {mtime}"


@dataclass(frozen=True, kw_only=True)
class StoredSegment(Piece):
    """A compressed segment in the cache: a piece of parts, found by its key."""

    key: str


def segment_path(cache_dir: Path, key: str) -> Path:
    """Where the segment stored under ``key`` lives (its record beside it, ``.json``)."""
    if not is_sha256_hex(key):
        raise ValueError(f"not a segment key: {key!r}")
    return cache_dir / SEGMENTS / key[:2] / f"{key}.gz"


@dataclass(frozen=True, kw_only=True)
class ReusedDist:
    """A distribution not installed by this build: its members and its stored segment."""

    dist: InstalledDist
    members: tuple[ArchiveMember, ...]  # placeholders: names, modes and link targets
    segment: StoredSegment


@dataclass(frozen=True, kw_only=True)
class SegmentedPart:
    part: Part
    # distribution -> the segment compressed (or found) for it now and its members
    segments: dict[str, tuple[StoredSegment, tuple[ArchiveMember, ...]]]
    unclaimed: bool  # some installed file is listed in no RECORD
    # distribution -> the compressed bytes of its segment (its share of the part)
    compressed: dict[str, int]


def write_segmented_part(install_dir: Path, dists: Iterable[InstalledDist], output: Path, *,
                         compression: Compression, cache_dir: Path | None,
                         reused: Sequence[ReusedDist] = (),
                         known_keys: Mapping[str, str] | None = None) -> SegmentedPart:
    """The dependency part of ``install_dir`` and ``reused``.

    With a cache (``cache_dir``) the part is the cached segments themselves, found
    or compressed now, and nothing is written to ``output``; without one,
    everything is compressed straight into ``output``. The caller makes sure no
    reused distribution claims a file another one claims. ``known_keys`` names
    distributions whose segment is decided by another key (the wheel they came
    from), so their files need not be hashed to find it.
    """
    from ..artifact.members import members_from_directory

    members = [*members_from_directory(install_dir), *(m for r in reused for m in r.members)]
    entries = plan_entries(members)  # checks every member first
    groups = _groups(entries, [*dists, *(r.dist for r in reused)])
    top_levels = tuple(sorted({name.split("/")[0] for name, _ in entries}))
    if cache_dir is None:
        compressed: dict[str, int] = {}
        with atomic_file(output) as file:
            out = HashingSink(file, output)
            for owner, group in groups:
                before = out.size
                _compress(group, compression, out, final=False)
                compressed[owner] = out.size - before  # the same bytes as its segment
            _compress([], compression, out, final=True)  # the two zero blocks that end a tar
        piece = Piece(path=output, sha256=out.hexdigest(), size=out.size)
        return SegmentedPart(part=Part(pieces=(piece,), entries=len(entries),
                                       top_levels=top_levels), segments={}, unclaimed=False,
                             compressed=_of_distributions(compressed))
    kept = {r.dist.name: r.segment for r in reused}
    fresh = [group for group in groups if group[0] not in kept]
    stored = _cached_segments([*fresh, (_END, [])], compression, cache_dir, known_keys or {})
    pieces = tuple(kept.get(owner) or stored[owner] for owner, _ in [*groups, (_END, [])])
    by_owner = dict(fresh)
    return SegmentedPart(
        part=Part(pieces=pieces, entries=len(entries), top_levels=top_levels),
        segments={owner: (segment, tuple(m for _, m in by_owner[owner] if m is not None))
                  for owner, segment in stored.items() if owner not in _NOT_DISTRIBUTIONS},
        unclaimed=UNCLAIMED in by_owner,
        compressed=_of_distributions({owner: piece.size for (owner, _), piece
                                      in zip(groups, pieces, strict=False)}))


def _of_distributions(sizes: Mapping[str, int]) -> dict[str, int]:
    return {owner: size for owner, size in sizes.items() if owner not in _NOT_DISTRIBUTIONS}


# Owners of the groups that are not a distribution's; the last one ends the tar.
_DIRECTORIES, UNCLAIMED, _END = "/", "", "//"
_NOT_DISTRIBUTIONS = (_DIRECTORIES, UNCLAIMED, _END)
Group = tuple[str, list[Entry]]  # (owner, entries)


def check_pieces(part: Part) -> None:
    """Raise ValueError unless every piece of ``part`` is a regular file (no link followed)
    of its recorded size. Their bytes are checked as they are copied (``copy_part``)."""
    for piece in part.pieces:
        if not has_recorded_size(piece):
            raise ValueError(f"{piece.path} is not what its record says")


def _groups(entries: list[Entry], dists: Iterable[InstalledDist]) -> list[Group]:
    """Directories; then each distribution's entries, by name; then the unclaimed ones."""
    owner: dict[str, str] = {}
    for dist in sorted(dists, key=lambda d: d.name):
        for relative in dist.files:
            owner.setdefault(str(PurePosixPath(relative)), dist.name)
    directories = [entry for entry in entries if entry[1] is None]
    by_owner: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry[1] is not None:
            by_owner.setdefault(owner.get(entry[0], UNCLAIMED), []).append(entry)
    named = [(name, by_owner[name]) for name in sorted(by_owner) if name != UNCLAIMED]
    groups = [(_DIRECTORIES, directories), *named, (UNCLAIMED, by_owner.get(UNCLAIMED, []))]
    return [(name, group) for name, group in groups if group]


def _cached_segments(groups: list[Group], compression: Compression, cache_dir: Path,
                     known_keys: Mapping[str, str]) -> dict[str, StoredSegment]:
    """The cached segment of every group, by owner. Segments are hashed and compressed
    side by side, largest first, their blocks on one shared pool of threads, so that
    every core stays busy to the end. The bytes do not depend on the threads."""
    threads = compression.threads or os.cpu_count() or 1
    by_size = sorted(groups, key=lambda group: -_size(group[1]))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gzip-block") as blocks, \
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="segment") as feeders:
        shared = Compression(mtime=compression.mtime, level=compression.level, threads=threads,
                             engine=compression.engine, executor=blocks)
        stored = feeders.map(lambda group: _cached_segment(
            group, shared, cache_dir, _segment_key(group, known_keys, compression)), by_size)
        return dict(zip((owner for owner, _ in by_size), stored, strict=True))


def _segment_key(group: Group, known_keys: Mapping[str, str], compression: Compression) -> str:
    owner, entries = group
    if owner in known_keys:
        return hashlib.sha256(f"segment of {known_keys[owner]}".encode()).hexdigest()
    return _key(entries, compression, final=owner == _END)


def _size(group: list[Entry]) -> int:
    total = 0
    for _, member in group:
        if member is not None and member.source is not None:
            with contextlib.suppress(OSError):
                total += member.source.stat().st_size
    return total


def _cached_segment(owned: Group, compression: Compression, cache_dir: Path, key: str
                    ) -> StoredSegment:
    """The cached segment of a group under ``key``, compressed first if missing or damaged."""
    owner, group = owned
    stored = segment_path(cache_dir, key)
    record = stored.with_suffix(".json")
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        recorded = json.loads(record.read_bytes())
        found = StoredSegment(key=key, path=stored, sha256=recorded["sha256"],
                              size=recorded["size"])
        if is_sha256_hex(found.sha256) and isinstance(found.size, int) and has_recorded_size(found):
            return found  # its bytes are checked as they are copied
    for damaged in (stored, record):  # whatever is there instead (a folder, a link) goes
        remove_path(damaged)
    with atomic_file(stored, durable=False) as file:
        written = HashingSink(file, stored)
        _compress(group, compression, written, final=owner == _END)
    atomic_write_bytes(record, json.dumps({"sha256": written.hexdigest(), "size": written.size,
                                           "entries": len(group)}).encode(), durable=False)
    return StoredSegment(key=key, path=stored, sha256=written.hexdigest(), size=written.size)


def _key(group: list[Entry], compression: Compression, *, final: bool) -> str:
    described = [[name, member.executable, member.link_target,
                  file_sha256(member.source) if member.source is not None else None]
                 if member is not None else [name] for name, member in group]
    document = {"format": _FORMAT, "flashbuild": __version__,
                "compression": compression.label, "entries": described, "final": final}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _compress(group: list[Entry], compression: Compression, out: HashingSink, *,
              final: bool) -> None:
    """One gzip member of ``group``'s tar entries (``final``: then the end-of-archive blocks)."""
    with ParallelGzipWriter(out, level=compression.level, threads=compression.threads,
                            engine=compression.engine, executor=compression.executor) as gz:
        write_tar_part(group, gz, mtime=compression.mtime, final=final)
