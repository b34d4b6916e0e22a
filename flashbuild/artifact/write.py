"""Write the artifact: a deterministic ``.tar.gz``, replaced atomically.

Same member contents, same bytes: entries sorted by path components, a fixed
mtime, root ownership and normalised modes, and a gzip header without name or
time. Members are validated before the disk is touched, and the output only
changes by ``os.replace`` of a complete, fsynced temp file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .._util.files import atomic_file, collected_sha256, is_file_of_size, write_error
from ..config.compression import DEFAULT_ENGINE
from ..errors import PackagingError, SizeLimitError
from ..records import Artifact
from .members import ArchiveMember, Entry, plan_entries
from .parallel_gzip import ParallelGzipWriter
from .stored import stored_gzip, tar_entry
from .tar import copy_part, write_tar_part


@dataclass(frozen=True, kw_only=True)
class LastMember:
    """A file written after the app part as its own stored gzip member (see
    :mod:`.stored`): the manifest, whose content depends on the compressed size of what
    precedes it. ``content`` gets the app part's compressed size."""

    name: str
    content: Callable[[int], bytes]


@dataclass(frozen=True, kw_only=True)
class Piece:
    """A file of gzip members, as its writer recorded it."""

    path: Path
    sha256: str
    size: int


@dataclass(frozen=True, kw_only=True)
class Part:
    """A compressed archive part: its pieces, whose bytes joined in order are the part
    (gzip members and tar entries concatenate), and the tar entries they hold."""

    pieces: tuple[Piece, ...]
    entries: int
    top_levels: tuple[str, ...]  # first path components of its entries, sorted

    @property
    def size(self) -> int:
        return sum(piece.size for piece in self.pieces)

    @property
    def digest(self) -> str:
        """sha256 over the pieces' sha256s: names the part's bytes without reading them."""
        return hashlib.sha256(" ".join(p.sha256 for p in self.pieces).encode()).hexdigest()


def has_recorded_size(piece: Piece) -> bool:
    """Whether ``piece`` is a regular file (no link followed) of its recorded size: cheap,
    so a lookup can tell a missing or truncated piece; its bytes are checked as it is
    copied (``copy_part``)."""
    return is_file_of_size(piece.path, piece.size)


def damaged_pieces(part: Part) -> list[Path]:
    """The pieces of ``part`` that are not regular files of their recorded sha256
    (hashed side by side: hashing releases the GIL)."""

    def damaged(piece: Piece) -> bool:
        try:
            return collected_sha256(piece.path, None) != piece.sha256
        except OSError:
            return True

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return [piece.path for piece, bad in zip(part.pieces, pool.map(damaged, part.pieces),
                                                 strict=True) if bad]


def join_part(part: Part, output: Path) -> None:
    """Write ``part``'s pieces, joined, to ``output``: a ``.tar.gz`` if it ends the archive."""
    with atomic_file(output, durable=False) as file:
        for piece in part.pieces:
            copy_part(piece.path, file, piece.sha256)


def write_artifact(
    members: Iterable[ArchiveMember],
    output: Path,
    *,
    mtime: int,
    compresslevel: int = 6,
    threads: int | None = None,
    tail: Part | None = None,
    max_size: int | None = None,
    engine: str = DEFAULT_ENGINE,
    last: LastMember | None = None,
) -> Artifact:
    """Write ``members`` (then ``last``, then the compressed ``tail`` part) to ``output``
    as a ``.tar.gz``.

    Parent directories are added automatically. All members are validated
    first; on any failure, including the artifact growing past ``max_size``
    bytes, the previous ``output`` is left as it was and no temp file remains.
    """
    _check_mtime(mtime)
    entries = plan_entries(members)
    if tail is not None:
        names = _top_levels(entries) | ({last.name.split("/")[0]} if last else set())
        clashes = sorted(names & set(tail.top_levels))
        if clashes:
            raise PackagingError(
                f"{', '.join(repr(c) for c in clashes)} would be both a project path and "
                "installed by a dependency.",
                hint="Rename the project's file or package, or exclude the dependency.",
            )
    sink, app_part = _write_gzip(entries, output, mtime=mtime, compresslevel=compresslevel,
                                 threads=threads, tail=tail, max_size=max_size, engine=engine,
                                 last=last)
    return Artifact(
        path=output,
        size=sink.size,
        sha256=sink.hexdigest(),
        entries=len(entries) + (tail.entries if tail is not None else 0) + (last is not None),
        app_part=app_part,
    )


def _write_gzip(
    entries: list[Entry],
    output: Path,
    *,
    mtime: int,
    compresslevel: int,
    threads: int | None,
    tail: Part | None = None,
    max_size: int | None = None,
    engine: str = DEFAULT_ENGINE,
    last: LastMember | None = None,
) -> tuple[HashingSink, int]:
    """Compress ``entries`` (then ``last``, stored, then append ``tail``) into ``output``
    atomically; the counted sink and the app part's compressed size.

    Only the last part of an archive carries the end-of-archive blocks.
    """
    with atomic_file(output) as file:
        sink = HashingSink(file, output, limit=max_size)
        with ParallelGzipWriter(sink, level=compresslevel, threads=threads, engine=engine) as gz:
            write_tar_part(entries, gz, mtime=mtime, final=tail is None and last is None)
        app_part = sink.size
        if last is not None:
            entry = tar_entry(last.name, last.content(app_part), mtime=mtime, final=tail is None)
            sink.write(stored_gzip(entry))
        if tail is not None:
            for piece in tail.pieces:
                copy_part(piece.path, sink, piece.sha256)
    return sink, app_part


def _top_levels(entries: list[Entry]) -> set[str]:
    return {name.split("/")[0] for name, _ in entries}


def _check_mtime(mtime: int) -> None:
    # A float mtime would make tarfile add a fractional "mtime" pax record.
    if type(mtime) is not int or mtime < 0:
        raise ValueError(f"mtime must be a non-negative int, got {mtime!r}")


class HashingSink:
    """Forwards writes to the temp file, hashing and counting them on the way."""

    def __init__(self, file: BinaryIO, path: Path, limit: int | None = None) -> None:
        self._file, self._path, self._sha256, self.size = file, path, hashlib.sha256(), 0
        self._limit = limit

    def write(self, data: bytes) -> int:
        written = memoryview(data).nbytes
        if self._limit is not None and self.size + written > self._limit:
            # Stop as soon as the cap is passed rather than compressing the rest.
            raise SizeLimitError(
                f"the artifact exceeds the size cap of {self._limit:,} bytes.",
                hint="Leave packages out with --exclude, or raise the cap with --max-size.",
            )
        try:
            self._file.write(data)
        except OSError as exc:
            # Not an OSError any more, so it cannot pass for a read error of a source file.
            raise write_error(self._path, exc) from None
        self._sha256.update(data)
        self.size += written
        return written

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()
