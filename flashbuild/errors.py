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
    """Base class: something the user can fix. Subclasses set ``exit_code``.

    An error that stands for several problems (each at its own place) lists them in
    ``parts``, so that each can be reported where it is written.
    """

    exit_code = 1
    kind = "error"
    parts: tuple[FlashBuildError, ...] = ()

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
    """The project's code cannot be built as declared (scan and plan errors).

    :meth:`combine` reports several at once: ``parts`` holds them.
    """

    exit_code = 3
    kind = "source error"
    parts: tuple[SourceCodeError, ...] = ()  # only source errors

    @classmethod
    def combine(cls, errors: list[SourceCodeError], *, limit: int = 20) -> SourceCodeError:
        """One error for ``errors`` (each possibly combined itself), in order: the first's
        message and place, then each other's, at most ``limit`` in all."""
        unique: dict[tuple[str, str], SourceCodeError] = {}
        for part in (part for error in errors for part in (error.parts or (error,))):
            # One constant used by several declarations fails once, seen from each of them.
            seen = unique.setdefault((str(part.location), part.message), part)
            if seen is not part:
                seen.related = (*seen.related,
                                *(place for place in part.related if place not in seen.related))
        parts = list(unique.values())
        if len(parts) == 1:
            return parts[0]
        shown = parts[:limit]
        first = shown[0]
        lines = [f"{len(parts)} problems; the first: {first.message}",
                 *(f"  {part}" for part in shown[1:])]
        if len(parts) > limit:
            lines.append(f"  ... and {len(parts) - limit} more")
        combined = cls("\n".join(lines), location=first.location,
                       hint=" ".join(dict.fromkeys(p.hint for p in shown if p.hint)),
                       related=(*first.related,
                                *(p.location for p in shown[1:] if p.location)))
        combined.parts = tuple(parts)
        return combined


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


class DamagedCacheError(PackagingError):
    """A cached file is not what its record says; found while it was being copied."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"the cached file {path} is damaged (not what its record says).",
                         hint="It was removed; build again, or clear the cache with "
                              "`flash cache clear`.")
        self.path = path


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

