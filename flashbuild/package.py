"""Write the artifact: a deterministic ``.tar.gz``, replaced atomically.

Same member contents, same bytes: entries sorted by path components, a fixed
mtime, root ownership and normalised modes, and a gzip header without name or
time. Members are validated before the disk is touched, and the output only
changes by ``os.replace`` of a complete, fsynced temp file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from . import models
from .archive import copy_part, write_tar_part
from .compress import ParallelGzipWriter
from .errors import PackagingError, SizeLimitError, UsageError

DEFAULT_SOURCE_DATE_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the zip/wheel epoch
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


@dataclass(frozen=True, kw_only=True)
class Part:
    """A compressed archive part on disk: one gzip member of tar entries."""

    path: Path
    size: int
    sha256: str
    entries: int
    top_levels: tuple[str, ...]  # first path components of its entries, sorted


def write_part(
    members: Iterable[ArchiveMember],
    output: Path,
    *,
    mtime: int,
    compresslevel: int = 6,
    threads: int | None = None,
) -> Part:
    """Write ``members`` as a final (end-of-archive) part to ``output``, atomically."""
    _check_mtime(mtime)
    entries = _plan_entries(members)
    sink = _write_gzip(entries, output, mtime=mtime, compresslevel=compresslevel, threads=threads)
    return Part(
        path=output,
        size=sink.size,
        sha256=sink.hexdigest(),
        entries=len(entries),
        top_levels=tuple(sorted(_top_levels(entries))),
    )


def write_artifact(
    members: Iterable[ArchiveMember],
    output: Path,
    *,
    mtime: int,
    compresslevel: int = 6,
    threads: int | None = None,
    tail: Part | None = None,
    max_size: int | None = None,
) -> models.Artifact:
    """Write ``members`` (then the compressed ``tail`` part) to ``output`` as a ``.tar.gz``.

    Parent directories are added automatically. All members are validated
    first; on any failure, including the artifact growing past ``max_size``
    bytes, the previous ``output`` is left as it was and no temp file remains.
    """
    _check_mtime(mtime)
    entries = _plan_entries(members)
    if tail is not None:
        clashes = sorted(_top_levels(entries) & set(tail.top_levels))
        if clashes:
            raise PackagingError(
                f"{', '.join(repr(c) for c in clashes)} would be both a project path and "
                "installed by a dependency.",
                hint="Rename the project's file or package, or exclude the dependency.",
            )
    sink = _write_gzip(entries, output, mtime=mtime, compresslevel=compresslevel,
                       threads=threads, tail=tail, max_size=max_size)
    return models.Artifact(
        path=output,
        size=sink.size,
        sha256=sink.hexdigest(),
        entries=len(entries) + (tail.entries if tail is not None else 0),
    )


def _write_gzip(
    entries: list[tuple[str, ArchiveMember | None]],
    output: Path,
    *,
    mtime: int,
    compresslevel: int,
    threads: int | None,
    tail: Part | None = None,
    max_size: int | None = None,
) -> _HashingSink:
    """Compress ``entries`` (then append ``tail``) into ``output`` atomically; the counted sink.

    Only the last part of an archive carries the end-of-archive blocks.
    """
    with _atomic_file(output) as file:
        sink = _HashingSink(file, output, limit=max_size)
        with ParallelGzipWriter(sink, level=compresslevel, threads=threads) as gz:
            write_tar_part(entries, gz, mtime=mtime, final=tail is None)
        if tail is not None:
            copy_part(tail.path, sink)
    return sink


def _top_levels(entries: list[tuple[str, ArchiveMember | None]]) -> set[str]:
    return {name.split("/")[0] for name, _ in entries}


def _check_mtime(mtime: int) -> None:
    # A float mtime would make tarfile add a fractional "mtime" pax record.
    if type(mtime) is not int or mtime < 0:
        raise ValueError(f"mtime must be a non-negative int, got {mtime!r}")


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


class _HashingSink:
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
            raise _write_error(self._path, exc) from None
        self._sha256.update(data)
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
