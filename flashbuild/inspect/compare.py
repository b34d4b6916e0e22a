"""Compare an artifact with another, member by member: the evidence of ``flash verify``.

Two artifacts are identical when their bytes are (equal sha256). Otherwise
each archive is streamed once: every member's content is hashed in chunks as
it is read, so memory grows with the number of members, never with their
size. For a member present on both sides the attributes are compared in a
fixed order and the first that differs is reported: type, size, mode, link
target, uid, gid, owner names, mtime, content sha256. When every member is
equal and the bytes still differ, the archive-level reason is reported (the
members' order, or their encoding: tar headers, gzip framing, compression), so
a pair that is not byte-identical is never called identical.

Nothing prints or exits; an artifact that cannot be read raises
:class:`~flashbuild.errors.UsageError`.
"""

from __future__ import annotations

import gzip
import stat
import tarfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .._util.files import COPY_CHUNK, file_sha256, stream_sha256
from ..errors import UsageError
from ..records import Artifact
from .load import GZIP_MAGIC

# The attributes of a member, in the order they are compared.
ATTRIBUTES = ("type", "size", "mode", "link_target", "uid", "gid", "uname", "gname", "mtime",
              "content_sha256")
PRESENCE = "presence"  # the attribute of a member found on one side only
# Why two archives with equal members differ.
MEMBER_ORDER, ENCODING = "member_order", "encoding"

Value = str | int | float | None  # of one attribute

_TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
          tarfile.DIRTYPE: "directory", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
          tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device",
          tarfile.FIFOTYPE: "fifo"}
_HINT = "Pass the .tar.gz that `flash build` wrote, e.g. --artifact .flash/artifact.tar.gz."


@dataclass(frozen=True, kw_only=True)
class MemberDifference:
    """The first attribute in which a member differs, with its value on each side
    (``presence``: the member's type on the side that has it, ``None`` on the other)."""

    name: str  # a second member of the same name is "NAME (copy 2)"
    attribute: str  # one of ATTRIBUTES or PRESENCE
    artifact: Value
    rebuilt: Value


@dataclass(frozen=True, kw_only=True)
class ArtifactComparison:
    """An artifact against its rebuild."""

    artifact: Path
    artifact_sha256: str
    artifact_bytes: int
    rebuilt: Artifact
    members: int | None  # members compared (on either side); None: the bytes are identical
    differences: tuple[MemberDifference, ...]  # sorted by name
    archive_difference: str | None  # MEMBER_ORDER or ENCODING when only the archives differ

    @property
    def identical(self) -> bool:
        return self.artifact_sha256 == self.rebuilt.sha256


def check_artifact(path: Path) -> None:
    """Raise :class:`UsageError` unless ``path`` is a readable regular file that begins as
    a gzip-compressed tar: checked before a rebuild spends time on it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"no artifact at {path}.",
                         hint="Build it first with `flash build`, or give the artifact to "
                         "check with --artifact PATH.") from None
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if not stat.S_ISREG(mode):
        raise UsageError(f"the artifact {path} is not a regular file.", hint=_HINT)
    try:
        with path.open("rb") as raw:
            if raw.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
                raise UsageError(f"{path} is not a gzip-compressed tar (.tar.gz): it does not "
                                 "begin with gzip's magic bytes.", hint=_HINT)
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream, \
                    tarfile.open(fileobj=stream, mode="r|") as archive:
                archive.next()  # the first header reads
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, exc) from None


def compare_artifacts(artifact: Path, rebuilt: Artifact) -> ArtifactComparison:
    """Compare ``artifact`` with the rebuilt one (see the module's text)."""
    try:
        size, sha256 = artifact.stat().st_size, file_sha256(artifact)
    except OSError as exc:
        raise _unreadable(artifact, exc) from None
    comparison = ArtifactComparison(artifact=artifact, artifact_sha256=sha256,
                                    artifact_bytes=size, rebuilt=rebuilt, members=None,
                                    differences=(), archive_difference=None)
    if comparison.identical:
        return comparison
    with ThreadPoolExecutor(max_workers=2) as pool:  # inflating and hashing release the GIL
        given, made = pool.map(_member_attributes, (artifact, rebuilt.path))
    differences = tuple(
        difference for name in sorted(given.keys() | made.keys())
        if (difference := _first_difference(name, given.get(name), made.get(name))) is not None)
    reason = None
    if not differences:
        reason = MEMBER_ORDER if list(given) != list(made) else ENCODING
    return ArtifactComparison(artifact=artifact, artifact_sha256=sha256, artifact_bytes=size,
                              rebuilt=rebuilt, members=len(given.keys() | made.keys()),
                              differences=differences, archive_difference=reason)


def _first_difference(name: str, given: tuple[Value, ...] | None,
                      made: tuple[Value, ...] | None) -> MemberDifference | None:
    if given is None or made is None:
        return MemberDifference(name=name, attribute=PRESENCE,
                                artifact=given[0] if given else None,
                                rebuilt=made[0] if made else None)
    for attribute, old, new in zip(ATTRIBUTES, given, made, strict=True):
        if old != new:
            return MemberDifference(name=name, attribute=attribute, artifact=old, rebuilt=new)
    return None


def _member_attributes(path: Path) -> dict[str, tuple[Value, ...]]:
    """Member name -> its ATTRIBUTES, in archive order, from one streamed read."""
    members: dict[str, tuple[Value, ...]] = {}
    try:
        with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            with tarfile.open(fileobj=stream, mode="r|") as archive:
                for info in archive:
                    members[_unique_name(info.name, members)] = _attributes(archive, info)
            # Read to the end: the gzip checksums are checked there, and bytes after
            # the tar's end-of-archive blocks must still be gzip data.
            while stream.read(COPY_CHUNK):
                pass
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _unreadable(path, exc) from None
    return members


def _unique_name(name: str, seen: dict[str, tuple[Value, ...]]) -> str:
    """``name``, or ``name (copy N)`` for its N-th occurrence in one archive."""
    unique, copy = name, 1
    while unique in seen:
        copy += 1
        unique = f"{name} (copy {copy})"
    return unique


def _attributes(archive: tarfile.TarFile, info: tarfile.TarInfo) -> tuple[Value, ...]:
    content = None
    if info.isreg():
        handle = archive.extractfile(info)
        assert handle is not None  # a regular file always has content to read
        content = stream_sha256(handle)
    mtime = int(info.mtime) if float(info.mtime).is_integer() else info.mtime
    link = info.linkname if info.issym() or info.islnk() else None
    return (_TYPES.get(info.type, f"type {info.type.decode('latin-1')!r}"), info.size,
            f"{info.mode:04o}", link, info.uid, info.gid, info.uname, info.gname, mtime, content)


def _unreadable(path: Path, exc: BaseException) -> UsageError:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return UsageError(f"cannot read the artifact {path} as a gzip-compressed tar: {reason}.",
                      hint=f"Is it complete and readable? {_HINT}")
