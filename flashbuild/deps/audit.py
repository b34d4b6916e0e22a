"""The safety audit of an installed dependency directory, before it is packed.

uv resolves for ``--python-platform x86_64-manylinux_2_28``, but what lands in
the install directory can still not run on the workers: uv accepts
``linux_x86_64`` wheels (built on this machine, possibly for another CPython),
builds sdists with whatever interpreter it finds, and trusts wheel file names,
so a wheel named ``manylinux_2_17_x86_64`` may carry an aarch64 library or one
that needs a newer glibc. This module checks what was actually installed:

* every ``*.dist-info/WHEEL`` has a ``Tag:`` the target accepts
  (:func:`target_tags`, generated with :mod:`packaging.tags`);
* every shared object (``*.so``, ``*.so.N``) is an x86-64 ELF64 file whose
  required ``GLIBC_x.y`` versions the target's glibc provides;
* no dependency installs a top-level name the project ships itself.

All violations are collected and raised together as one
:class:`InstallAuditError`. It is a :class:`~flashbuild.errors.DependencyError`
(exit 4) rather than a ``PackagingError`` (exit 6): every violation comes from
what a dependency installs, and the remedy is to change the dependencies
(pin, exclude, or rename the clashing module), not to fix the file system.

When the audit passes, what must not ship is removed: ``bin/`` (console
scripts whose shebangs name this machine's interpreter), ``__pycache__/`` and
``*.pyc``, and uv's bookkeeping in a ``--target`` directory: its ``.lock`` file
and the ``uv_cache.json`` it writes into the ``.dist-info`` of wheels from local
files, which holds a timestamp and would make artifacts differ between machines.
When the audit fails nothing is removed, so the kept build directory shows what
uv installed.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..errors import DependencyError, InternalError
from ..records import Target
from .elf import EM_X86_64, MACHINE_NAMES, ElfFormatError, ElfInfo, read_elf
from .installed import read_installed_dists, record_path, top_level
from .records import AuditReport, InstalledDist
from .tags import parsed_tags, target_tags, wheel_tags_fit

_SHARED_OBJECT_NAME = re.compile(r"\.so(\.\d+)*$")

ViolationKind = Literal["metadata", "wheel-tag", "not-elf", "architecture", "glibc", "clash"]


@dataclass(frozen=True, kw_only=True, order=True)
class Violation:
    """One installed file (or distribution) that does not fit the target."""

    dist: str  # "py-yaml-lite 1.0"; "" when no RECORD lists the file
    path: str  # POSIX, relative to the install directory
    reason: str
    kind: ViolationKind

    def __str__(self) -> str:
        return f"{self.dist or '(not listed in any RECORD)'}: {self.path}: {self.reason}"


class InstallAuditError(DependencyError):
    """Installed dependencies that would not run on the target; all of them at once."""

    def __init__(self, violations: Iterable[Violation], target: Target) -> None:
        self.violations = tuple(sorted(violations))
        count = len(self.violations)
        lines = [
            f"the installed dependencies do not fit the target (CPython "
            f"{target.python_version}, {target.platform_tag}): {count} "
            f"problem{'' if count == 1 else 's'}"
        ]
        lines += [f"  {violation}" for violation in self.violations]
        super().__init__("\n".join(lines), hint=_hint(self.violations, target))


# --- installed distributions ----------------------------------------------------


def check_wheel_tags(dist: InstalledDist, target: Target, wheel_file: str | None = None
                     ) -> tuple[list[Violation], list[str]]:
    """Violations when ``dist`` was not made for the target, and notes worth a word.

    Like pip and uv, judge by the tags of the wheel's file name when it is
    known (``wheel_file``); its ``WHEEL`` file's ``Tag:`` lines only when not
    (a wheel built here from an sdist). A ``WHEEL`` file that disagrees with
    the file name is a note, not a violation.
    """
    where = f"{dist.dist_info}/WHEEL"
    if wheel_file is not None:
        return _check_file_name_tags(dist, target, wheel_file)
    if not dist.has_wheel_file:
        reason = "has no WHEEL file, so the platform it was built for is unknown"
        return [Violation(dist=str(dist), path=where, reason=reason, kind="metadata")], []
    if wheel_tags_fit(dist.tags, target):
        return [], []
    shown = ", ".join(dist.tags) or "none"
    reason = (
        f"wheel tags {shown} do not fit CPython {target.python_version} "
        f"on {target.platform_tag}"
    )
    if any(tag.endswith("-linux_x86_64") for tag in dist.tags):
        reason += " (a linux_x86_64 wheel was built on this machine, not for manylinux)"
    return [Violation(dist=str(dist), path=where, reason=reason, kind="wheel-tag")], []


def _check_file_name_tags(dist: InstalledDist, target: Target, wheel_file: str
                          ) -> tuple[list[Violation], list[str]]:
    try:
        name_tags = parse_wheel_filename(wheel_file)[3]
    except InvalidWheelFilename:
        reason = f"was installed from {wheel_file}, which is not a valid wheel file name"
        return [Violation(dist=str(dist), path=wheel_file, reason=reason, kind="metadata")], []
    if not name_tags & target_tags(target):
        reason = (f"wheel {wheel_file} does not fit CPython {target.python_version} "
                  f"on {target.platform_tag}")
        if any(tag.platform == "linux_x86_64" for tag in name_tags):
            reason += " (a linux_x86_64 wheel is built for one machine, not for manylinux)"
        return [Violation(dist=str(dist), path=wheel_file, reason=reason, kind="wheel-tag")], []
    declared = frozenset().union(*(parsed_tags(text) for text in dist.tags))
    if dist.has_wheel_file and declared != name_tags:
        shown = ", ".join(dist.tags) or "none"
        return [], [f"{dist}: its WHEEL file lists the tags {shown}, its file name {wheel_file} "
                    "others; judged by the file name, as pip and uv do"]
    return [], []


def find_top_level_clashes(
    dists: Iterable[InstalledDist], project_top_levels: Mapping[str, str]
) -> list[Violation]:
    """Violations for dependencies that install a name the project ships."""
    violations = []
    for dist in dists:
        for name in dist.top_levels:
            if name in project_top_levels:
                installed = next(path for path in dist.files if top_level(path) == name)
                shown = name + "/" if "/" in installed else installed
                violations.append(_clash(str(dist), shown, name, project_top_levels[name]))
    return violations


def find_part_clashes(part_top_levels: Iterable[str],
                      import_names: Iterable[tuple[str, Iterable[str]]],
                      project_top_levels: Mapping[str, str]) -> list[Violation]:
    """Violations for a cached part that installs a name the project ships."""
    owners = {name: dist for dist, names in import_names for name in names}
    violations = []
    for entry in sorted(part_top_levels):
        name = top_level(entry)
        if name is not None and name in project_top_levels:
            violations.append(_clash(owners.get(name, ""), entry, name, project_top_levels[name]))
    return violations


def _clash(dist: str, shown: str, name: str, project_path: str) -> Violation:
    reason = f"installs {name!r}, which the project defines in {project_path}"
    return Violation(dist=dist, path=shown, reason=reason, kind="clash")


# --- shared objects ---------------------------------------------------------------


def is_shared_object_name(name: str) -> bool:
    """``_core.so``, ``_x.cpython-312-x86_64-linux-gnu.so`` and ``libcudnn.so.9``."""
    return bool(_SHARED_OBJECT_NAME.search(name))


def elf_problem(info: ElfInfo, target: Target) -> tuple[str, ViolationKind] | None:
    """Why a shared object described by ``info`` cannot run on the target, or None."""
    if info.bits != 64 or not info.little_endian or info.machine != EM_X86_64:
        built_for = MACHINE_NAMES.get(info.machine, f"machine {info.machine}")
        order = "little" if info.little_endian else "big"
        reason = f"built for {built_for} ({info.bits}-bit, {order}-endian), not x86-64"
        return reason, "architecture"
    if info.glibc and info.glibc > target.glibc:
        needed = "GLIBC_{}.{}".format(*info.glibc)
        available = "{}.{}".format(*target.glibc)
        return f"needs {needed}, newer than the target's glibc {available}", "glibc"
    return None


def check_shared_object(path: Path, target: Target) -> tuple[str, ViolationKind] | None:
    """Why the shared object at ``path`` cannot run on the target, or None."""
    return _inspect_shared_object(path, target)[1]


def _inspect_shared_object(
    path: Path, target: Target
) -> tuple[ElfInfo | None, tuple[str, ViolationKind] | None]:
    try:
        info = read_elf(path)
    except ElfFormatError as exc:
        return None, (f"named like a shared object but {exc}", "not-elf")
    except OSError as exc:
        return None, (f"cannot be read: {exc.strerror or exc}", "not-elf")
    return info, elf_problem(info, target)


# --- the audit ---------------------------------------------------------------------


def audit_install(
    install_dir: Path, target: Target, project_top_levels: Mapping[str, str],
    wheel_files: Mapping[str, str] | None = None,
) -> AuditReport:
    """Check ``install_dir`` against ``target``; on success remove what must not ship.

    ``project_top_levels`` maps the project's top-level names to their project
    paths (see :func:`~flashbuild.deps.installed.top_level_names`);
    ``wheel_files`` the installed distributions (PEP 503 names) to the file
    names of the wheels they came from, where known. Raises
    :class:`InstallAuditError` listing every violation; nothing is removed then.
    """
    if not install_dir.is_dir():
        raise InternalError(f"the install directory {install_dir} does not exist")
    dists = read_installed_dists(install_dir)
    owners = {path: str(dist) for dist in dists for path in dist.files}
    violations: list[Violation] = []
    notes: list[str] = []
    for dist in dists:
        found, said = check_wheel_tags(dist, target, (wheel_files or {}).get(dist.name))
        violations += found
        notes += said
        if not dist.has_record:
            where = f"{dist.dist_info}/RECORD"
            reason = "has no RECORD, so the files it installed are unknown"
            violations.append(Violation(dist=str(dist), path=where, reason=reason, kind="metadata"))
    violations += find_top_level_clashes(dists, project_top_levels)
    checked, glibc = _check_shared_objects(install_dir, target, owners, violations)
    if violations:
        raise InstallAuditError(violations, target)
    removed = remove_install_leftovers(install_dir, listed=owners.keys())
    forgotten = [forget_removed_files(install_dir, dist, removed) for dist in dists]
    return AuditReport(dists=tuple(dist for dist, _ in forgotten), removed=removed,
                       shared_objects=checked, glibc=glibc, notes=tuple(notes),
                       removed_by=tuple((dist.name, its) for dist, its in forgotten))


def forget_removed_files(install_dir: Path, dist: InstalledDist, removed: Iterable[str]
                         ) -> tuple[InstalledDist, tuple[str, ...]]:
    """Drop the removed files from ``dist``'s RECORD; return it as it now stands, and
    what of ``removed`` was its (its files, folders holding them, its dist-info's).

    Console scripts carry this machine's interpreter in their shebang, so their
    RECORD lines (and hashes) would make the same wheel ship different bytes
    from different machines; a RECORD that lists only what ships stays true.
    """
    removed = tuple(removed)
    gone = set(removed)
    prefixes = tuple(path for path in gone if path.endswith("/"))

    def is_gone(path: str) -> bool:
        return path in gone or path.startswith(prefixes)

    dropped = [path for path in dist.files if is_gone(path)]
    its = {path for path in dropped if path in gone}
    its |= {prefix for path in dropped for prefix in prefixes if path.startswith(prefix)}
    its |= {path for path in gone if path.startswith(dist.dist_info + "/")}
    if dropped and dist.has_record:
        record = install_dir / dist.dist_info / "RECORD"
        with open(record, newline="", encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines(keepends=True)
        kept = [line for line in lines if not is_gone(_record_path(line))]
        with open(record, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write("".join(kept))
        dist = replace(dist, files=tuple(path for path in dist.files if not is_gone(path)))
    return dist, tuple(path for path in removed if path in its)


def _record_path(line: str) -> str:
    row = next(csv.reader([line]), [])
    return record_path(row[0]) if row and row[0] else ""


def _check_shared_objects(install_dir: Path, target: Target, owners: Mapping[str, str],
                          violations: list[Violation]) -> tuple[int, tuple[int, int] | None]:
    """Add a violation per shared object that cannot run on the target.

    Returns how many were checked and the highest glibc any of them needs.
    """
    checked, glibc = 0, None
    for relative in _shipped_files(install_dir):
        if not is_shared_object_name(relative):
            continue
        checked += 1
        info, problem = _inspect_shared_object(install_dir / relative, target)
        if info and info.glibc and (glibc is None or info.glibc > glibc):
            glibc = info.glibc
        if problem:
            reason, kind = problem
            owner = owners.get(relative, "")
            violations.append(Violation(dist=owner, path=relative, reason=reason, kind=kind))
    return checked, glibc


def remove_install_leftovers(install_dir: Path, listed: Iterable[str] = ()) -> tuple[str, ...]:
    """Remove ``bin/``, ``__pycache__/``, ``*.pyc`` and uv's bookkeeping; return what went.

    ``listed`` are RECORD paths: a root ``.lock`` a distribution installed stays.
    """
    removed: list[str] = []
    bin_dir = install_dir / "bin"
    if bin_dir.is_dir() and not bin_dir.is_symlink():
        shutil.rmtree(bin_dir)
        removed.append("bin/")
    lock = install_dir / ".lock"
    if lock.is_file() and ".lock" not in set(listed):
        lock.unlink()
        removed.append(".lock")
    for cache_info in sorted(install_dir.glob("*.dist-info/uv_cache.json")):
        cache_info.unlink()
        removed.append(cache_info.relative_to(install_dir).as_posix())
    for root, directories, files in os.walk(install_dir):
        relative_root = Path(root).relative_to(install_dir).as_posix()
        for directory in [d for d in directories if d == "__pycache__"]:
            path = Path(root) / directory
            if path.is_symlink():
                path.unlink()
            else:
                shutil.rmtree(path)
            directories.remove(directory)
            removed.append(_join(relative_root, directory) + "/")
        for name in files:
            if name.endswith(".pyc"):
                (Path(root) / name).unlink()
                removed.append(_join(relative_root, name))
    return tuple(sorted(removed))


# --- helpers ------------------------------------------------------------------------


def _shipped_files(install_dir: Path) -> Iterator[str]:
    """Regular files that would ship, as sorted POSIX paths; symlinks are not followed."""
    for root, directories, files in os.walk(install_dir):
        relative_root = Path(root).relative_to(install_dir).as_posix()
        directories[:] = sorted(
            d for d in directories
            if d != "__pycache__" and not (relative_root == "." and d == "bin")
        )
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield _join(relative_root, name)


def _join(root: str, name: str) -> str:
    return name if root == "." else f"{root}/{name}"


def _hint(violations: tuple[Violation, ...], target: Target) -> str:
    kinds = {violation.kind for violation in violations}
    parts = []
    if kinds & {"wheel-tag", "metadata", "not-elf", "architecture", "glibc"}:
        glibc = "{}.{}".format(*target.glibc)
        parts.append(
            f"Pin versions that publish pure-Python wheels or manylinux x86_64 wheels for "
            f"CPython {target.python_version} and glibc {glibc} or older, or leave a package "
            "out with --exclude if the base image provides it."
        )
    if "clash" in kinds:
        parts.append(
            "Rename the project module, or drop the dependency that installs the same name."
        )
    return " ".join(parts)
