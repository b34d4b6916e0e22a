"""Write the artifact: a deterministic ``.tar.gz``, replaced atomically.

Same member contents, same bytes: entries sorted by path components, a fixed
mtime, root ownership and normalised modes, and a gzip header without name or
time. Members are validated before the disk is touched, and the output only
changes by ``os.replace`` of a complete, fsynced temp file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import secrets
import stat
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from . import models
from .errors import PackagingError, UsageError

DEFAULT_SOURCE_DATE_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the zip/wheel epoch
FILE_MODE = 0o644
EXECUTABLE_MODE = 0o755
DIRECTORY_MODE = 0o755
SYMLINK_MODE = 0o777
_MAX_SYMLINK_HOPS = 40  # what Linux allows before ELOOP


@dataclass(frozen=True, kw_only=True)
class ArchiveMember:
    """One file or symlink of the artifact; exactly one of source, data, link_target."""

    name: str  # POSIX path inside the archive, relative
    source: Path | None = None  # regular file on disk to copy
    data: bytes | None = field(default=None, repr=False)  # or in-memory content
    link_target: str | None = None  # or a symlink with this relative target
    executable: bool = False


def members_from_project_files(files: Iterable[models.ProjectFile]) -> list[ArchiveMember]:
    """Project files (and in-project symlinks) as archive members at their project path."""
    return [
        ArchiveMember(name=file.path, link_target=file.link_target)
        if file.is_symlink
        else ArchiveMember(name=file.path, source=file.source, executable=file.executable)
        for file in files
    ]


def members_from_rendered(files: Iterable[models.RenderedFile]) -> list[ArchiveMember]:
    """Generated files as in-memory archive members."""
    return [
        ArchiveMember(name=file.path, data=file.content, executable=file.executable)
        for file in files
    ]


def members_from_directory(root: Path, prefix: str = "") -> list[ArchiveMember]:
    """Every file and symlink under ``root``, named ``prefix/relative/path``, sorted.

    Empty directories are left out (parents are implied by their files).
    Symlinks stay links, so each must resolve inside ``root``; one pointing
    elsewhere, and anything that is not a file, directory or symlink, is a
    :class:`PackagingError`.
    """
    found: list[ArchiveMember] = []
    try:
        _collect_directory(root, "", found)
    except OSError as exc:
        raise PackagingError(
            f"cannot read {exc.filename or root}: {exc.strerror or exc}.",
            hint="Check that the directory exists and is readable.",
        ) from None
    links = {member.name: member.link_target for member in found if member.link_target is not None}
    for name in sorted(links):
        _check_link(name, links, shown=str(root / name))
    base = prefix.strip("/")
    if base:
        found = [replace(member, name=f"{base}/{member.name}") for member in found]
    return sorted(found, key=lambda member: _sort_key(member.name))


def write_artifact(
    members: Iterable[ArchiveMember], output: Path, *, mtime: int, compresslevel: int = 6
) -> models.Artifact:
    """Write ``members`` to ``output`` as a reproducible ``.tar.gz`` and describe it.

    Parent directories are added automatically. All members are validated
    first; on any failure the previous ``output`` is left as it was and no
    temp file remains.
    """
    # A float mtime would make tarfile add a fractional "mtime" pax record.
    if type(mtime) is not int or mtime < 0:
        raise ValueError(f"mtime must be a non-negative int, got {mtime!r}")
    entries = _plan_entries(members)
    with _atomic_file(output) as file:
        sink = _HashingSink(file, output)
        # No file name and mtime 0 in the gzip header (tarfile's "w:gz" records both).
        gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=sink, mtime=0, compresslevel=compresslevel
        )
        try:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, member in entries:
                    _add_entry(tar, name, member, mtime)
            gz.close()
        except BaseException:
            with suppress(Exception):  # the temp file is discarded; keep the first error
                gz.close()
            raise
    return models.Artifact(
        path=output, size=sink.size, sha256=sink.hexdigest(), entries=len(entries)
    )


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never a mix."""
    with _atomic_file(path) as file:
        file.write(data)


def source_date_epoch(environ: Mapping[str, str]) -> int:
    """The archive timestamp: ``SOURCE_DATE_EPOCH`` if set, else 1980-01-01."""
    raw = environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return DEFAULT_SOURCE_DATE_EPOCH
    # isdigit() alone would accept non-ASCII digits such as "١".
    if raw.isascii() and raw.isdigit():
        with suppress(ValueError):  # int() refuses absurdly long digit strings
            return int(raw)
    raise UsageError(
        f"SOURCE_DATE_EPOCH must be a non-negative integer (seconds since 1970-01-01 UTC), "
        f"got {raw!r}.",
        hint="Set it to a Unix timestamp, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), "
        "or unset it to use 1980-01-01.",
    )


# --- validation ------------------------------------------------------------------


def _sort_key(name: str) -> tuple[str, ...]:
    # Comparing parts keeps "a/b" right after "a"; raw strings would put "a-b" in between.
    return tuple(name.split("/"))


def _plan_entries(members: Iterable[ArchiveMember]) -> list[tuple[str, ArchiveMember | None]]:
    """Validate the members; return all entries, implied directories as ``None``, sorted."""
    by_name: dict[str, ArchiveMember] = {}
    for member in members:
        _check_name(member.name)
        _check_kind(member)
        if member.name in by_name:
            raise PackagingError(
                f"two archive members are named {member.name!r}: "
                f"{_describe(by_name[member.name])} and {_describe(member)}.",
                hint="Rename or exclude one of them.",
            )
        by_name[member.name] = member
    directories = {
        "/".join(parts[:i]) for parts in map(_sort_key, by_name) for i in range(1, len(parts))
    }
    for clash in sorted(directories & by_name.keys(), key=_sort_key):
        child = min((name for name in by_name if name.startswith(clash + "/")), key=_sort_key)
        raise PackagingError(
            f"archive member {clash!r} is a file or symlink, "
            f"but {child!r} needs it to be a directory.",
            hint="Rename or exclude one of them.",
        )
    links = {name: m.link_target for name, m in by_name.items() if m.link_target is not None}
    for name in sorted(links, key=_sort_key):
        _check_link(name, links, shown=f"archive member {name!r}")
    entries: list[tuple[str, ArchiveMember | None]] = [(name, None) for name in directories]
    entries.extend(by_name.items())
    return sorted(entries, key=lambda entry: _sort_key(entry[0]))


def _check_name(name: str) -> None:
    parts = name.split("/")
    problems = (
        (not name, "has an empty name"),
        ("\\" in name or "\0" in name, "contains a backslash or NUL character"),
        (name.startswith("/"), "is an absolute path"),
        (".." in parts, "has a '..' component"),
        ("" in parts or "." in parts, "is not normalised (empty or '.' component)"),
        # Lone surrogates come from undecodable file names and cannot be written as UTF-8.
        (any("\ud800" <= char <= "\udfff" for char in name), "is not valid UTF-8"),
    )
    for failed, problem in problems:
        if failed:
            raise PackagingError(
                f"archive member {name!r} {problem}.",
                hint="Archive names are relative POSIX paths, like 'src/app.py'.",
            )


def _check_kind(member: ArchiveMember) -> None:
    kinds = ("source", "data", "link_target")
    given = [kind for kind in kinds if getattr(member, kind) is not None]
    if len(given) != 1:
        raise PackagingError(
            f"archive member {member.name!r} must have exactly one of source, data or "
            f"link_target, but has {' and '.join(given) or 'none'}.",
            hint="This is a bug in the stage that produced the member; please report it.",
        )


def _check_link(name: str, links: Mapping[str, str], *, shown: str) -> None:
    """Reject a link whose target leaves the archive root, following links inside it.

    Checking the target alone is not enough: with ``x -> .`` the link
    ``y -> x/..`` looks harmless but resolves to the root's parent.
    """
    target = links[name]

    def refuse(problem: str) -> PackagingError:
        return PackagingError(
            f"symlink {shown} -> {target!r} {problem}.",
            hint="Only relative symlinks that resolve inside the artifact can be packaged; "
            "copy the file instead.",
        )

    if not target or target.startswith("/") or "\\" in target or "\0" in target:
        raise refuse("does not have a relative POSIX target")
    resolved = name.split("/")[:-1]  # real directory reached so far, from the root
    pending = target.split("/")[::-1]  # components still to walk, next one last
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise refuse("points outside the artifact")
            resolved.pop()
            continue
        nested = links.get("/".join([*resolved, part]))
        if nested is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > _MAX_SYMLINK_HOPS or nested.startswith("/"):
            raise refuse("cannot be resolved (a symlink loop or an absolute link on the way)")
        pending.extend(nested.split("/")[::-1])  # relative to its directory, i.e. `resolved`


def _describe(member: ArchiveMember) -> str:
    if member.link_target is not None:
        return f"a symlink to {member.link_target!r}"
    if member.source is not None:
        return f"file {member.source}"
    return "generated content"


def _collect_directory(directory: Path, relative: str, found: list[ArchiveMember]) -> None:
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        name = relative + entry.name
        if entry.is_symlink():
            found.append(ArchiveMember(name=name, link_target=os.readlink(entry.path)))
        elif entry.is_dir(follow_symlinks=False):
            _collect_directory(Path(entry.path), name + "/", found)
        elif entry.is_file(follow_symlinks=False):
            executable = bool(entry.stat(follow_symlinks=False).st_mode & stat.S_IXUSR)
            found.append(ArchiveMember(name=name, source=Path(entry.path), executable=executable))
        else:
            raise PackagingError(
                f"{entry.path} is not a regular file, directory or symlink.",
                hint="Remove it (sockets, pipes and devices cannot be packaged).",
            )


# --- writing ---------------------------------------------------------------------


def _add_entry(tar: tarfile.TarFile, name: str, member: ArchiveMember | None, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
    if member is None:
        info.type, info.mode = tarfile.DIRTYPE, DIRECTORY_MODE
        tar.addfile(info)
        return
    info.mode = EXECUTABLE_MODE if member.executable else FILE_MODE
    if member.link_target is not None:
        info.type, info.mode, info.linkname = tarfile.SYMTYPE, SYMLINK_MODE, member.link_target
        tar.addfile(info)
    elif member.data is not None:
        info.size = len(member.data)
        tar.addfile(info, io.BytesIO(member.data))
    else:
        _add_source_file(tar, info, member.source)


def _add_source_file(tar: tarfile.TarFile, info: tarfile.TarInfo, source: Path) -> None:
    """Stream ``source`` into the archive; tarfile copies it in chunks."""
    try:
        # O_NONBLOCK so a FIFO in place of the file is refused below instead of hanging.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(source, flags), "rb") as stream:
            status = os.fstat(stream.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise PackagingError(
                    f"cannot package {source} (archive member {info.name!r}): not a regular file.",
                    hint="Replace it with a regular file or exclude it.",
                )
            info.size = status.st_size
            tar.addfile(info, stream)
    except OSError as exc:
        raise PackagingError(
            f"cannot read {source} (archive member {info.name!r}): {exc.strerror or exc}.",
            hint="Make sure the file exists, is readable and does not change during the build.",
        ) from None


class _HashingSink:
    """Forwards writes to the temp file, hashing and counting them on the way."""

    def __init__(self, file: BinaryIO, path: Path) -> None:
        self._file, self._path, self._sha256, self.size = file, path, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        try:
            self._file.write(data)
        except OSError as exc:
            # Not an OSError any more, so it cannot pass for a read error of a source file.
            raise _write_error(self._path, exc) from None
        self._sha256.update(data)
        written = memoryview(data).nbytes
        self.size += written
        return written

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


def _write_error(path: Path, exc: OSError) -> PackagingError:
    return PackagingError(
        f"cannot write {path}: {exc.strerror or exc}.",
        hint="Check free space and permissions of the output directory.",
    )


@contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Yield a temp file beside ``path`` that replaces it only if the block succeeds."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / f".{path.name}.tmp-{secrets.token_hex(8)}"
        # os.open with 0o666 lets the umask decide the mode, as for any new file
        # (mkstemp would leave the artifact readable by its owner only).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        file = os.fdopen(os.open(temp, flags, 0o666), "wb")
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        try:
            yield file
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(temp, path)
        except OSError as exc:
            raise _write_error(path, exc) from None
    except BaseException:
        with suppress(OSError):
            file.close()
        with suppress(OSError):
            temp.unlink()
        raise
    with suppress(OSError):  # persist the rename too; best effort, not every OS can
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
