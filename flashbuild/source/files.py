"""Decide which files of a project ship in the artifact.

Rules are gitignore patterns matched by ``pathspec.GitIgnoreSpec``, applied in
layers where the last layer with a matching pattern wins:

1. each ``.gitignore`` of the tree, root first; a nested one only sees the
   paths below its own folder, relative to that folder;
2. :data:`DEFAULT_EXCLUDES`, plus every directory holding a ``pyvenv.cfg``
   (a virtualenv, whatever its name); after ``.gitignore`` so that its ``!``
   lines cannot re-include them;
3. ``.flashignore`` at the project root, whose ``!`` lines can re-include
   anything the layers above excluded;
4. secrets (:func:`is_secret`), which nothing can re-include.

As in git, a pattern decides only the paths it matches themselves (``build/``
matches the directory, not ``build/x.py``), and an excluded directory is never
entered: nothing inside it can be re-included and its ``.gitignore`` is never
read. Symlinks are never followed: one that
points at a shipped file or directory of the project ships as a link, any
other is skipped with a warning.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from pathspec import GitIgnoreSpec

from .._util.files import collected_sha256, file_identity, is_temp_of, read_collected
from ..errors import SourceCodeError, SourceLocation, UsageError
from ..records import BuildWarning, ProjectFile, ProjectFiles
from .ignore_rules import IgnoreFile, ignore_spec, read_ignore_file

#: Gitignore-style patterns that never ship unless ``.flashignore`` re-includes
#: them. Without a "/" inside, a pattern matches at any depth.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    # version control and flashbuild's own state
    *(".git/", ".hg/", ".svn/", ".flash/"),
    # Python caches, bytecode and packaging output
    *("__pycache__/", "*.pyc", "*.pyo", "dist/", "build/", "*.egg-info/", ".eggs/"),
    # IDE and tool directories
    *(".idea/", ".vscode/", ".vs/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/"),
    *(".tox/", ".nox/", ".ipynb_checkpoints/", ".hypothesis/"),
    # OS litter, JavaScript dependencies
    *(".DS_Store", "node_modules/"),
)

#: Well-known credential files and folders: they never ship, whatever the ignore files
#: say, unless ``[tool.flash] allow-secrets`` names the path.
SECRET_PATTERNS: tuple[str, ...] = (
    ".env", ".env.*", ".envrc",  # environment files, direnv
    ".netrc", "_netrc", ".pypirc", ".git-credentials", ".npmrc", ".yarnrc.yml",
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk",
    ".ssh/", ".gnupg/", "**/.aws/credentials", "**/.docker/config.json", "**/.kube/config",
    "credentials.json", "*.p12", "*.pfx", "*.keystore", "*.jks",
)

VENV_MARKER = "pyvenv.cfg"
GITIGNORE = ".gitignore"
FLASHIGNORE = ".flashignore"

_DEFAULT_SPEC = GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES)
_SECRET_SPEC = GitIgnoreSpec.from_lines(SECRET_PATTERNS)


# Every name a secret pattern can match contains one of these (lower-cased): a quick
# test that spares the pattern matching for almost every file.
_SECRET_HINTS = ("env", "netrc", "pypirc", "credentials", "npmrc", "yarnrc", "id_", "ssh",
                 "gnupg", "config", ".p12", ".pfx", ".keystore", ".jks")


def is_secret(path: str) -> bool:
    """True if the relative POSIX ``path`` is, or is inside, a well-known credential file."""
    lowered = path.lower()
    if not any(hint in lowered for hint in _SECRET_HINTS):
        return False
    parts = path.split("/")
    return any(_SECRET_SPEC.check_file("/".join(parts[:n])).include is True
               for n in range(1, len(parts) + 1))


_DEFAULTS = IgnoreFile(base="", spec=_DEFAULT_SPEC)


def collect_project_files(
    root: Path, *, skip: Iterable[Path] = (), ignore: Iterable[str] = (),
    allow_secrets: Iterable[str] = (),
) -> ProjectFiles:
    """List the files of the project at ``root`` that ship, sorted by path.

    ``skip`` holds absolute paths that never ship (the build's own artifact
    and its temp file, which may sit inside the project). ``ignore`` holds
    gitignore-style patterns (``[tool.flash] ignore``), applied just before
    ``.flashignore``. ``allow_secrets`` holds paths of credential-like files that
    may ship all the same. Skipped symlinks and
    special files are reported as warnings. Raises :class:`UsageError` if the
    project or one of its ignore files cannot be read.
    """
    try:
        resolved = Path(os.path.realpath(root, strict=True))
    except OSError as exc:
        raise UsageError(
            f"cannot read the project directory {root}: {exc.strerror or exc}.",
            hint="Pass the path of an existing project directory.",
        ) from None
    if not resolved.is_dir():
        raise UsageError(
            f"the project path {root} is not a directory.",
            hint="Pass the path of the project directory, not of a file in it.",
        )
    return _Collector(resolved, skip, tuple(ignore), frozenset(allow_secrets)).run()


class _Collector:
    """One walk over a project; holds what was found so far."""

    def __init__(self, root: Path, skip: Iterable[Path], ignore: tuple[str, ...] = (),
                 allow_secrets: frozenset[str] = frozenset()) -> None:
        self.root = root
        self.allow_secrets = allow_secrets
        # Compare both spellings: the artifact path may or may not go through symlinks.
        self.skip = {Path(os.path.abspath(p)) for p in skip} | {
            Path(os.path.realpath(p)) for p in skip
        }
        self.flashignore = self._configured_patterns(ignore) + self._read_flashignore()
        self.files: dict[str, ProjectFile] = {}
        self.links: list[str] = []
        self.warnings: list[BuildWarning] = []

    def run(self) -> ProjectFiles:
        # Iterative, so a deep tree cannot hit the recursion limit.
        pending: list[tuple[str, tuple[IgnoreFile, ...]]] = [("", ())]
        while pending:
            folder, gitignores = pending.pop()
            pending.extend(self._visit_folder(folder, gitignores))
        # Links last: whether a target ships is only known once the walk is done.
        shipped = {*self.files, *self._shipped_folders()}
        for rel in sorted(self.links):
            self._add_link(rel, shipped)
        files = tuple(sorted(self.files.values(), key=lambda f: f.path))
        warnings = tuple(sorted(self.warnings, key=lambda w: (str(w.location), w.message)))
        return ProjectFiles(root=self.root, files=files, warnings=warnings)

    def _visit_folder(
        self, folder: str, gitignores: tuple[IgnoreFile, ...]
    ) -> list[tuple[str, tuple[IgnoreFile, ...]]]:
        """Ship the files of ``folder``; return its sub-folders still to walk."""
        try:
            with os.scandir(self.root / folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
            has_gitignore = any(e.name == GITIGNORE and not e.is_dir() for e in entries)
        except OSError as exc:
            raise _walk_error(folder or ".", exc) from None
        # The folder's own .gitignore must be known before its entries are judged.
        if has_gitignore:
            rel = _join(folder, GITIGNORE)
            gitignores = (*gitignores, read_ignore_file(self.root / rel, rel, folder))
        subfolders = []
        for entry in entries:
            rel = _join(folder, entry.name)
            try:
                if self._is_subfolder_to_walk(entry, rel, gitignores):
                    subfolders.append((rel, gitignores))
            except OSError as exc:
                raise _walk_error(rel, exc) from None
        return subfolders

    def _is_subfolder_to_walk(
        self, entry: os.DirEntry, rel: str, gitignores: tuple[IgnoreFile, ...]
    ) -> bool:
        """Record ``entry`` if it ships; True if it is a directory to walk into."""
        if self.root / rel in self.skip or self._is_temp_of_skipped(rel):
            return False
        if _unshippable_name(entry.name) and not self._is_excluded(
                rel, gitignores, is_dir=entry.is_dir(follow_symlinks=False)):
            raise _name_error(rel, _unshippable_name(entry.name))
        if entry.is_symlink():
            # Like git, a link is judged as a file even when it points at a directory.
            if not self._is_excluded(rel, gitignores):
                self.links.append(rel)
            return False
        if entry.is_dir(follow_symlinks=False):
            # A virtualenv counts as a default exclusion, so .flashignore can still undo it.
            is_venv = os.path.lexists(self.root / rel / VENV_MARKER)
            return not self._is_excluded(rel, gitignores, is_dir=True, venv=is_venv)
        if self._is_excluded(rel, gitignores):
            return False
        status = entry.stat(follow_symlinks=False)
        if stat.S_ISREG(status.st_mode):
            self.files[rel] = ProjectFile(
                path=rel, source=self.root / rel, executable=bool(status.st_mode & 0o111),
                identity=file_identity(status),
            )
        else:
            self._warn(rel, f"{rel} is not a regular file, directory or symlink; not shipped.")
        return False

    def _is_excluded(
        self, rel: str, gitignores: tuple[IgnoreFile, ...], *, is_dir: bool = False,
        venv: bool = False
    ) -> bool:
        """Apply the rule layers to ``rel``; the last one with a verdict wins."""
        verdict = None
        for layer in gitignores:
            if (matched := layer.verdict(rel, is_dir=is_dir)) is not None:
                verdict = matched
        # Defaults come after .gitignore: a "!" there undoes an earlier git
        # pattern (git never sees .git/ or a venv), so the common "*", "!*/",
        # "!*.py" idiom must not re-include .venv/ or build/.
        if venv or _DEFAULTS.verdict(rel, is_dir=is_dir):
            verdict = True
        for layer in self.flashignore:
            if (matched := layer.verdict(rel, is_dir=is_dir)) is not None:
                verdict = matched
        return verdict is True or (is_secret(rel) and rel not in self.allow_secrets
                                   and not is_dir)

    def _add_link(self, rel: str, shipped: set[str]) -> None:
        """Ship the link ``rel`` if its target is a shipped path of the project."""
        link = self.root / rel
        try:
            target = Path(os.path.realpath(link, strict=True))
        except OSError:
            self._warn(rel, f"symlink {rel} is broken (-> {_read_link(link)}); not shipped.")
            return
        if not target.is_relative_to(self.root):
            self._warn(
                rel,
                f"symlink {rel} points outside the project (-> {_read_link(link)}); not shipped.",
            )
            return
        target_rel = target.relative_to(self.root).as_posix()
        if target_rel not in shipped:
            self._warn(
                rel, f"symlink {rel} points to {target_rel}, which does not ship; not shipped."
            )
            return
        link_target = Path(os.path.relpath(target, link.parent)).as_posix()
        self.files[rel] = ProjectFile(path=rel, source=link, link_target=link_target)

    def _shipped_folders(self) -> set[str]:
        """Folders holding at least one shipped regular file ("." is the root).

        The artifact drops empty directories, so a link to any other folder
        would dangle once extracted.
        """
        folders = {"."}
        for path, file in self.files.items():
            if not file.is_symlink:
                parts = path.split("/")[:-1]
                folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return folders

    def _is_temp_of_skipped(self, rel: str) -> bool:
        """A temp file of a skipped output (``.artifact.tar.gz.tmp-…``) left by a killed build."""
        return any(is_temp_of(self.root / rel, skipped) for skipped in self.skip)

    def _configured_patterns(self, ignore: tuple[str, ...]) -> tuple[IgnoreFile, ...]:
        if not ignore:
            return ()
        try:
            return (IgnoreFile(base="", spec=ignore_spec(ignore)),)
        except ValueError as exc:
            raise UsageError(
                f"[tool.flash] ignore has an invalid pattern: {exc}",
                location=SourceLocation(path="pyproject.toml"),
                hint="Use gitignore syntax, e.g. ignore = [\"notebooks/\", \"*.ipynb\"].",
            ) from None

    def _read_flashignore(self) -> tuple[IgnoreFile, ...]:
        path = self.root / FLASHIGNORE
        if not os.path.lexists(path):
            return ()
        return (read_ignore_file(path, FLASHIGNORE, ""),)

    def _warn(self, rel: str, message: str) -> None:
        self.warnings.append(BuildWarning(message=message, location=SourceLocation(path=rel)))


def read_project_file(file: ProjectFile, limit: int = -1) -> bytes:
    """The contents of a collected regular file (at most ``limit`` bytes), read only
    if it is still the file that was collected (see :func:`~flashbuild._util.files.open_collected`).
    """
    try:
        return read_collected(file.source, file.identity, limit)
    except OSError as exc:
        raise _read_error(file, exc) from None


def python_sources(files: ProjectFiles) -> dict[str, bytes]:
    """The bytes of every shipped ``.py`` file (links excluded), read once for every stage
    that reads code, in the files' order."""
    return {file.path: read_project_file(file) for file in files.files
            if not file.is_symlink and file.path.endswith(".py")}


def project_file_sha256(file: ProjectFile) -> str:
    """sha256 of a collected regular file, read as :func:`read_project_file` reads it."""
    try:
        return collected_sha256(file.source, file.identity)
    except OSError as exc:
        raise _read_error(file, exc) from None


def _read_error(file: ProjectFile, exc: OSError) -> SourceCodeError:
    return SourceCodeError(
        f"cannot read the file: {exc.strerror or exc}.",
        location=SourceLocation(path=file.path),
        hint="Do not change the project while it is being built; check the file's "
             "permissions, or exclude it in .flashignore.",
    )


def _unshippable_name(name: str) -> str:
    """Why a file name cannot go into the artifact as it is, or ``""``."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by os as surrogates
        return "is not valid UTF-8"
    if "\\" in name:
        return "holds a backslash, which tar readers and Windows take as a separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "holds a control character"
    return ""


def _name_error(rel: str, why: str) -> UsageError:
    shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    printable = "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)
    return UsageError(
        f"the project file name {shown!r} {why}, so it cannot ship.",
        location=SourceLocation(path=printable),
        hint="Rename it, or leave it out with a .flashignore pattern "
        "(or [tool.flash] ignore).",
    )


def _walk_error(rel: str, exc: OSError) -> UsageError:
    return UsageError(
        f"cannot read {rel} while collecting project files: {exc.strerror or exc}.",
        location=SourceLocation(path=rel),
        hint="Fix its permissions, or exclude it in .flashignore.",
    )


def _read_link(link: Path) -> str:
    try:
        return os.readlink(link)
    except OSError:
        return "?"


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


# Never searched for project modules: version control, flashbuild's state, caches.
_NOT_PROJECT_DIRECTORIES = {".git", ".hg", ".svn", ".flash", "__pycache__", "node_modules"}


def project_python_paths(root: Path) -> frozenset[str]:
    """Every ``.py`` file of the project, shipped or not (virtualenvs and VCS data aside).

    The checks need the modules the ignore rules leave out, to tell an import
    of an unshipped project file from an import of a dependency.
    """
    found: set[str] = set()
    for folder, directories, files in os.walk(root):
        directories[:] = [
            d for d in directories
            if d not in _NOT_PROJECT_DIRECTORIES and not (Path(folder, d) / VENV_MARKER).exists()
        ]
        relative = Path(folder).relative_to(root).as_posix()
        for name in files:
            if name.endswith(".py"):
                found.add(name if relative == "." else f"{relative}/{name}")
    return frozenset(found)
