"""The members of an artifact, and the checks every member passes before writing.

Members come from project files, generated files or a directory of installed
packages. Before anything is written, names must be relative POSIX paths,
no name may be both a file and a directory, and symlinks must resolve inside
the archive.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import PackagingError
from ..records import ProjectFile, RenderedFile

_MAX_SYMLINK_HOPS = 40  # what Linux allows before ELOOP

# (name, member), with None for a directory implied by its members' names.
Entry = tuple[str, "ArchiveMember | None"]


@dataclass(frozen=True, kw_only=True)
class ArchiveMember:
    """One file or symlink of the artifact; exactly one of source, data, link_target."""

    name: str  # POSIX path inside the archive, relative
    source: Path | None = None  # regular file on disk to copy
    data: bytes | None = field(default=None, repr=False)  # or in-memory content
    link_target: str | None = None  # or a symlink with this relative target
    executable: bool = False
    identity: tuple[int, int] | None = None  # of a project file, checked when it is read


def members_from_project_files(files: Iterable[ProjectFile]) -> list[ArchiveMember]:
    """Project files (and in-project symlinks) as archive members at their project path."""
    return [
        ArchiveMember(name=file.path, link_target=file.link_target)
        if file.is_symlink
        else ArchiveMember(name=file.path, source=file.source, executable=file.executable,
                           identity=file.identity)
        for file in files
    ]


def members_from_rendered(files: Iterable[RenderedFile]) -> list[ArchiveMember]:
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
    return sorted(found, key=lambda member: sort_key(member.name))


def sort_key(name: str) -> tuple[str, ...]:
    # Comparing parts keeps "a/b" right after "a"; raw strings would put "a-b" in between.
    return tuple(name.split("/"))


def plan_entries(members: Iterable[ArchiveMember]) -> list[Entry]:
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
        "/".join(parts[:i]) for parts in map(sort_key, by_name) for i in range(1, len(parts))
    }
    for clash in sorted(directories & by_name.keys(), key=sort_key):
        child = min((name for name in by_name if name.startswith(clash + "/")), key=sort_key)
        raise PackagingError(
            f"archive member {clash!r} is a file or symlink, "
            f"but {child!r} needs it to be a directory.",
            hint="Rename or exclude one of them.",
        )
    links = {name: m.link_target for name, m in by_name.items() if m.link_target is not None}
    for name in sorted(links, key=sort_key):
        _check_link(name, links, shown=f"archive member {name!r}")
    entries: list[Entry] = [(name, None) for name in directories]
    entries.extend(by_name.items())
    return sorted(entries, key=lambda entry: sort_key(entry[0]))


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
