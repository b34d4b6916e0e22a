"""The tar stream of the artifact, written in parts.

An artifact is a series of gzip members: the app part (project files,
handlers, SBOM), the manifest in a stored member of its own (``stored.py``)
and, when dependencies are installed, the dependency part, which is cached
and reused as compressed bytes. Concatenated gzip members
decompress to the concatenated tar streams, so only the last part carries the
end-of-archive blocks and every reader (``tar xzf``, Python's ``tarfile``)
sees a single archive. Headers are PAX, entries sorted within each part,
owners root with empty names, modes normalised, one fixed mtime.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Protocol

from .._util.files import COPY_CHUNK, FileIdentity, open_collected
from ..errors import DamagedCacheError, PackagingError

BLOCK_SIZE = tarfile.BLOCKSIZE  # 512
END_OF_ARCHIVE = bytes(2 * BLOCK_SIZE)
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
DIRECTORY_MODE = 0o755
SYMLINK_MODE = 0o777


class Writer(Protocol):
    def write(self, data: bytes) -> int: ...


class ArchiveEntry(Protocol):
    """What :func:`write_tar_part` needs of a member (see ``members.ArchiveMember``)."""

    @property
    def source(self) -> Path | None: ...
    @property
    def data(self) -> bytes | None: ...
    @property
    def link_target(self) -> str | None: ...
    @property
    def executable(self) -> bool: ...
    @property
    def identity(self) -> FileIdentity | None: ...


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    return bytes(-size % BLOCK_SIZE)


def write_tar_part(
    entries: Iterable[tuple[str, ArchiveEntry | None]],
    out: Writer,
    *,
    mtime: int,
    final: bool,
) -> int:
    """Write ``(name, member or None for a directory)`` entries; return the count.

    ``final`` adds the end-of-archive blocks: only the last part has them.
    """
    count = 0
    for name, member in entries:
        _write_entry(out, name, member, mtime)
        count += 1
    if final:
        out.write(END_OF_ARCHIVE)
    return count


def _write_entry(out: Writer, name: str, member: ArchiveEntry | None, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
    if member is None:
        info.type, info.mode = tarfile.DIRTYPE, DIRECTORY_MODE
        out.write(_header(info))
        return
    info.mode = EXECUTABLE_MODE if member.executable else FILE_MODE
    if member.link_target is not None:
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, SYMLINK_MODE, member.link_target
        out.write(_header(info))
    elif member.data is not None:
        info.size = len(member.data)
        out.write(_header(info))
        out.write(member.data)
        out.write(_padding(info.size))
    else:
        assert member.source is not None
        _write_source_file(out, info, member.source, member.identity)


def _write_source_file(
    out: Writer, info: tarfile.TarInfo, source: Path, identity: FileIdentity | None
) -> None:
    """Stream ``source`` into the archive; it must still be the regular file that was
    collected (no link followed), and its size must not change while it is read."""
    try:
        with open_collected(source, identity) as stream:
            info.size = os.fstat(stream.fileno()).st_size
            out.write(_header(info))
            remaining = info.size
            while remaining:
                chunk = stream.read(min(COPY_CHUNK, remaining))
                if not chunk:
                    raise PackagingError(
                        f"{source} (archive member {info.name!r}) shrank while it was packaged.",
                        hint="Do not modify the project while it is being built.",
                    )
                out.write(chunk)
                remaining -= len(chunk)
            out.write(_padding(info.size))
    except OSError as exc:
        raise PackagingError(
            f"cannot read {source} (archive member {info.name!r}): {exc.strerror or exc}.",
            hint="Make sure the file exists, is readable and does not change during the build.",
        ) from None


def copy_part(path: Path, out: Writer, sha256: str) -> None:
    """Append an already compressed part (a cached gzip member, a regular file: no link
    is followed) to the output, checking its bytes against ``sha256`` as they are
    copied: :class:`DamagedCacheError` if they differ or cannot be read, so that the
    caller discards what it wrote."""
    digest = hashlib.sha256()
    checked: Future[None] | None = None
    try:
        with open_collected(path, None) as stream:
            for chunk in iter(lambda: stream.read(COPY_CHUNK), b""):
                if checked is not None:
                    checked.result()  # in order, and one chunk in flight at most
                # hashlib lets go of the GIL: this check runs beside the output's own sha256
                checked = _checker().submit(digest.update, chunk)
                out.write(chunk)
    except OSError:
        raise DamagedCacheError(path) from None
    finally:
        if checked is not None:
            checked.result()
    if digest.hexdigest() != sha256:
        raise DamagedCacheError(path)


@cache
def _checker() -> ThreadPoolExecutor:
    """The thread that hashes cached parts as they are copied (one for the process)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="flashbuild-check")
