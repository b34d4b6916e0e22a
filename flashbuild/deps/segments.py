"""The dependency part as one compressed segment per installed distribution, cached by content.

gzip members concatenate into one valid stream, and so do tar entries: the
part is a segment of every directory entry, then one segment per
distribution (the files its ``RECORD`` lists that remain after the audit),
then one of the files no distribution claims, then the end-of-archive
blocks. Each segment is keyed by what decides its bytes (entry names, modes,
link targets and contents; mtime; the engine, its version and level; the
flashbuild version) and kept in the cache's ``segments/`` folder, so adding
one dependency compresses that one distribution and copies the rest. A stored
segment is used only when its sha256 matches its record; anything else is a
miss, compressed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from .. import __version__
from .._util.files import atomic_file, atomic_write_bytes, collected_sha256, file_sha256
from ..artifact.deflate import engine_label
from ..artifact.members import Entry, plan_entries
from ..artifact.parallel_gzip import ParallelGzipWriter
from ..artifact.tar import copy_part, write_tar_part
from ..artifact.write import HashingSink, Part
from .installed import InstalledDist

SEGMENTS = "segments"
_SMALL_SEGMENT = 8 * 1024 * 1024  # below this, a segment is compressed on one thread
_FORMAT = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Compression:
    """How segments are compressed: what their bytes depend on besides the entries."""

    def __init__(self, *, mtime: int, level: int, threads: int | None, engine: str) -> None:
        self.mtime, self.level, self.threads, self.engine = mtime, level, threads, engine
        self.label = f"{engine_label(engine)} level {level} mtime {mtime}"


def write_segmented_part(install_dir: Path, dists: Iterable[InstalledDist], output: Path, *,
                         compression: Compression, cache_dir: Path | None) -> Part:
    """Write the dependency part of ``install_dir`` to ``output`` from (cached) segments."""
    from ..artifact.members import members_from_directory

    entries = plan_entries(members_from_directory(install_dir))  # checks every member first
    groups = _groups(entries, dists)
    stored = None if cache_dir is None else _cached_segments(groups, compression, cache_dir)
    with atomic_file(output) as file:
        out = HashingSink(file, output)
        for index, group in enumerate(groups):
            if stored is None:
                _compress(group, compression, out, final=False)
            else:
                copy_part(stored[index], out)
        _compress([], compression, out, final=True)  # the two zero blocks that end a tar
    top_levels = {name.split("/")[0] for name, _ in entries}
    return Part(path=output, size=out.size, sha256=out.hexdigest(), entries=len(entries),
                top_levels=tuple(sorted(top_levels)))


def _groups(entries: list[Entry], dists: Iterable[InstalledDist]) -> list[list[Entry]]:
    """Directories; then each distribution's entries, by name; then the unclaimed ones."""
    owner: dict[str, str] = {}
    for dist in sorted(dists, key=lambda d: d.name):
        for relative in dist.files:
            owner.setdefault(str(PurePosixPath(relative)), dist.name)
    directories = [entry for entry in entries if entry[1] is None]
    by_owner: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry[1] is not None:
            by_owner.setdefault(owner.get(entry[0], ""), []).append(entry)
    named = [by_owner[name] for name in sorted(by_owner) if name]
    return [group for group in (directories, *named, by_owner.get("", [])) if group]


def _cached_segments(groups: list[list[Entry]], compression: Compression,
                     cache_dir: Path) -> list[Path]:
    """The cached segment of every group, in order. Small ones (most distributions) are
    hashed and compressed side by side, one thread each; large ones one at a time, each
    on every thread. The bytes do not depend on how many threads wrote them."""
    threads = compression.threads or os.cpu_count() or 1
    one_thread = Compression(mtime=compression.mtime, level=compression.level, threads=1,
                             engine=compression.engine)
    small = [index for index, group in enumerate(groups) if _size(group) < _SMALL_SEGMENT]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        found = dict(zip(small, pool.map(
            lambda i: _cached_segment(groups[i], one_thread, cache_dir), small), strict=True))
    for index, group in enumerate(groups):
        if index not in found:
            found[index] = _cached_segment(group, compression, cache_dir)
    return [found[index] for index in range(len(groups))]


def _size(group: list[Entry]) -> int:
    total = 0
    for _, member in group:
        if member is not None and member.source is not None:
            with contextlib.suppress(OSError):
                total += member.source.stat().st_size
    return total


def _cached_segment(group: list[Entry], compression: Compression, cache_dir: Path) -> Path:
    """The cached segment of ``group``, compressed first if missing or damaged."""
    key = _key(group, compression)
    stored = cache_dir / SEGMENTS / key[:2] / f"{key}.gz"
    record = stored.with_suffix(".json")
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        expected = json.loads(record.read_bytes())["sha256"]
        if _SHA256.fullmatch(expected) and collected_sha256(stored, None) == expected:
            return stored
    for damaged in (stored, record):  # whatever is there instead (a folder, a link) goes
        if damaged.is_dir() and not damaged.is_symlink():
            shutil.rmtree(damaged, ignore_errors=True)
    with atomic_file(stored, durable=False) as file:
        written = HashingSink(file, stored)
        _compress(group, compression, written, final=False)
    atomic_write_bytes(record, json.dumps({"sha256": written.hexdigest(),
                                           "entries": len(group)}).encode(), durable=False)
    return stored


def _key(group: list[Entry], compression: Compression) -> str:
    described = [[name, member.executable, member.link_target,
                  file_sha256(member.source) if member.source is not None else None]
                 if member is not None else [name] for name, member in group]
    document = {"format": _FORMAT, "flashbuild": __version__,
                "compression": compression.label, "entries": described}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _compress(group: list[Entry], compression: Compression, out: HashingSink, *,
              final: bool) -> None:
    """One gzip member of ``group``'s tar entries (``final``: then the end-of-archive blocks)."""
    with ParallelGzipWriter(out, level=compression.level, threads=compression.threads,
                            engine=compression.engine) as gz:
        write_tar_part(group, gz, mtime=compression.mtime, final=final)
