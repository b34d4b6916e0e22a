"""File operations that must be done one careful way: atomic replacement,
hashing, private staging directories and safe extraction.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO, TypeGuard

from ..errors import PackagingError

try:  # POSIX; elsewhere concurrent writers are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

COPY_CHUNK = 1 << 20
STALE_SECONDS = 24 * 3600  # a staging directory this old belongs to a build that died


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def is_sha256_hex(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a sha256 digest as ``hexdigest()`` writes it."""
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def file_sha256(path: Path) -> str:
    """sha256 of a file's contents, read in 1 MiB blocks."""
    with path.open("rb") as stream:
        return stream_sha256(stream)


def stream_sha256(stream: IO[bytes]) -> str:
    """sha256 of what is left to read from ``stream``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(COPY_CHUNK), b""):
        digest.update(block)
    return digest.hexdigest()


FileIdentity = tuple[int, int]  # (st_dev, st_ino) of a file as it was collected


def file_identity(status: os.stat_result) -> FileIdentity:
    """What tells one file from another: its device and inode."""
    return status.st_dev, status.st_ino


def open_collected(path: Path, identity: FileIdentity | None) -> BinaryIO:
    """Open a project file judged earlier, only if it is still that regular file.

    The last component is never followed (``O_NOFOLLOW``), and the opened file
    must have the ``identity`` recorded when it was collected, so a file (or a
    folder above it) swapped for a symlink during the build is refused rather
    than read from wherever the link points. A FIFO does not block the open.
    Raises ``OSError`` whose ``strerror`` says what happened.
    """
    flags = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
             | getattr(os, "O_BINARY", 0))
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "it was replaced by a symlink during the build") from None
        raise
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file")
        if identity is not None and file_identity(status) != identity:
            raise OSError(errno.ESTALE, "it was replaced by another file during the build")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_collected(path: Path, identity: FileIdentity | None, limit: int = -1) -> bytes:
    """The contents (at most ``limit`` bytes) of a file, read as :func:`open_collected` opens it."""
    with open_collected(path, identity) as stream:
        return stream.read(limit)


def collected_sha256(path: Path, identity: FileIdentity | None) -> str:
    """sha256 of a file, read as :func:`open_collected` opens it."""
    with open_collected(path, identity) as stream:
        return stream_sha256(stream)


def temp_name(path: Path) -> str:
    """The name of the temp file that becomes ``path``: ``.artifact.tar.gz.tmp-<random>``."""
    return f".{path.name}.tmp-{secrets.token_hex(8)}"


def is_temp_of(candidate: Path, path: Path) -> bool:
    """Whether ``candidate`` is a temp file of ``path`` (one a killed writer left)."""
    return candidate.parent == path.parent and candidate.name.startswith(f".{path.name}.tmp-")


def write_error(path: Path, exc: OSError) -> PackagingError:
    """The error for an output that cannot be written."""
    return PackagingError(
        f"cannot write {path}: {exc.strerror or exc}.",
        hint="Check free space and permissions of the output directory.",
    )


@contextlib.contextmanager
def atomic_file(path: Path, *, durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a temp file beside ``path`` that replaces it only if the block succeeds.

    Readers see the old file or the new one, never a mix; a failure (or a
    kill) leaves the old file and at most a temp file that :func:`is_temp_of`
    recognises. ``durable`` also fsyncs the file and the rename, for outputs a
    user keeps; a cache entry that can be recomputed skips that cost.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / temp_name(path)
        # os.open with 0o666 lets the umask decide the mode, as for any new file
        # (mkstemp would leave the artifact readable by its owner only).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        file = os.fdopen(os.open(temp, flags, 0o666), "wb")
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        try:
            yield file
            file.flush()
            if durable:
                os.fsync(file.fileno())
            file.close()
            os.replace(temp, path)
        except OSError as exc:
            raise write_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            file.close()
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if durable:
        _fsync_directory(path.parent)


@contextlib.contextmanager
def file_lock(
    path: Path, *, directory: bool = False, shared: bool = False, wait: bool = True
) -> Iterator[None]:
    """Hold a lock on ``path`` (a file, or with ``directory`` a folder, created if
    missing, so that no lock file is left behind): exclusive, or ``shared`` with
    other shared holders. A conflicting request waits, or with ``wait=False``
    raises ``BlockingIOError``.

    The OS releases it if the process dies. Without ``fcntl`` (not POSIX) it
    does not lock.
    """
    try:
        if directory:
            path.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        if fcntl is not None:
            operation = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            fcntl.flock(descriptor, operation if wait else operation | fcntl.LOCK_NB)
        yield
    finally:
        os.close(descriptor)


def is_file_of_size(path: Path, size: int) -> bool:
    """Whether ``path`` is a regular file (no link followed) of ``size`` bytes: a cheap
    check that a cached file is whole, before its bytes are checked."""
    try:
        status = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and status.st_size == size


def remove_path(path: Path) -> None:
    """Remove whatever is at ``path`` (a folder with its contents, a file, a link); quietly."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def remove_stale_temps(path: Path) -> None:
    """Delete the temp files of ``path`` that killed builds left (see :func:`is_temp_of`)."""
    with contextlib.suppress(OSError):
        for candidate in path.parent.iterdir():
            if is_temp_of(candidate, path):
                with contextlib.suppress(OSError):
                    candidate.unlink()


def stage_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temp file beside ``path`` (durably); :func:`commit_staged` moves it.

    For outputs that must change together: stage each, then commit them, so
    that a failure while writing leaves every one of them as it was.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / temp_name(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(temp, flags, 0o666), "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError, UnboundLocalError):
            temp.unlink()
        raise write_error(path, exc) from None
    return temp


def commit_staged(temp: Path, path: Path) -> None:
    """Move a file from :func:`stage_bytes` into place."""
    try:
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise write_error(path, exc) from None
    _fsync_directory(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (see :func:`atomic_file`)."""
    with atomic_file(path, durable=durable) as file:
        file.write(data)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # persist the rename too; best effort, not every OS can
        handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def staging_directory(parent: Path, prefix: str = "") -> Path:
    """A new private directory ``parent/<prefix><pid>-<random>`` to build something in.

    Whatever is built there is moved into place whole with ``os.replace``, so a
    killed build leaves only its staging directory; those older than a day are
    swept here. Raises ``OSError``.
    """
    parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for leftover in parent.glob(f"{prefix}*"):
        with contextlib.suppress(OSError):
            if now - leftover.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
    directory = parent / f"{prefix}{os.getpid()}-{secrets.token_hex(6)}"
    directory.mkdir()
    return directory


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a tar archive (any compression) without links or paths out of ``destination``.

    Raises ``OSError``, ``tarfile.TarError`` or ``ValueError``.
    """
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as opened:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+ / 3.11.4+
            opened.extractall(destination, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            opened.extractall(destination)
