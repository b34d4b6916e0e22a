"""The one error family of flashbuild.

Every failure a user can act on is a :class:`FlashBuildError` subclass. Each
class carries the process exit code the CLI uses for it, each instance an
optional source location, the places related to it (the other half of a
conflict) and a hint that says what to do. Only the command line turns them into
messages and exit codes (the ``cli`` package); the core never prints and never exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True, order=True)
class SourceLocation:
    """A place in a project file: a POSIX path relative to the project root."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class FlashBuildError(Exception):
    """Base class: something the user can fix. Subclasses set ``exit_code``."""

    exit_code = 1
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        hint: str | None = None,
        related: tuple[SourceLocation, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.related = related
        self.build_dir: Path | None = None  # set by the pipeline when it keeps one

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        return prefix + self.message


class UsageError(FlashBuildError):
    """Bad command-line options or configuration."""

    exit_code = 2
    kind = "configuration error"


class SourceCodeError(FlashBuildError):
    """The project's code cannot be built as declared (scan and plan errors)."""

    exit_code = 3
    kind = "source error"


class DependencyError(FlashBuildError):
    """Dependencies cannot be resolved or installed for the target."""

    exit_code = 4
    kind = "dependency error"


class SizeLimitError(FlashBuildError):
    """The artifact would exceed the size cap."""

    exit_code = 5
    kind = "size limit exceeded"


class PackagingError(FlashBuildError):
    """The artifact cannot be written (file system trouble, name clashes)."""

    exit_code = 6
    kind = "packaging error"


class StaticCheckError(FlashBuildError):
    """``--strict``: the static checks found something to fix."""

    exit_code = 7
    kind = "static check failed"


class PreviewError(FlashBuildError):
    """An endpoint of ``flash preview`` failed to start, or stopped while serving."""

    exit_code = 8
    kind = "preview error"


class InternalError(FlashBuildError):
    """A bug in flashbuild rather than in the project."""

    exit_code = 70
    kind = "internal error"

