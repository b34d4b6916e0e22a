"""GitHub Actions annotations: errors and warnings as workflow commands.

On GitHub Actions (``GITHUB_ACTIONS=true``), or with ``flash build --annotations
github``, every error and warning that has a place in a file is also printed as a
workflow command, which GitHub shows on that line of the file in the run and the
pull request::

    ::error file=apps/shop/app.py,line=3,col=5,title=flash: source error::message
    ::warning file=apps/shop/app.py,line=19,col=14,title=flash: warning::message

They go to stderr with the rest of the human output: the runner reads workflow
commands from both streams, and stdout stays the command's result (one ``--json``
document, or a report redirected into a file). Paths are relative to the
repository root, the directory the annotations are anchored at on GitHub.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from ..errors import FlashBuildError, SourceLocation
from ..records import BuildWarning
from .program import current_program

ANNOTATION_MODES = ("github", "none")


def annotations_enabled(mode: str | None, environ: Mapping[str, str] = os.environ) -> bool:
    """``--annotations github|none`` when given, else whether this runs on GitHub Actions."""
    if mode is not None:
        return mode == "github"
    return environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """The message of a workflow command: ``%``, CR and LF percent-encoded."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value of a workflow command: as data, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str,
                     properties: Iterable[tuple[str, str | int | None]] = ()) -> str:
    """``::command key=value,key=value::message``, each part escaped; None values left out."""
    shown = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties
                     if value is not None)
    return f"::{command}{' ' + shown if shown else ''}::{escape_data(message)}"


def repository_root(project_dir: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """The git work tree holding the project (the nearest directory with ``.git``, a
    directory or a worktree's file), else ``GITHUB_WORKSPACE``, else the project."""
    project = project_dir.resolve()
    for directory in (project, *project.parents):
        if os.path.lexists(directory / ".git"):
            return directory
    workspace = environ.get("GITHUB_WORKSPACE")
    return Path(workspace).resolve() if workspace else project


@dataclass(frozen=True, kw_only=True)
class Places:
    """Turns project-relative places into repository-relative POSIX paths."""

    project_dir: Path  # absolute
    root: Path  # absolute

    @classmethod
    def of(cls, project_dir: Path | None, environ: Mapping[str, str] = os.environ) -> Places:
        """The places of ``project_dir`` (the current directory when None)."""
        project = (project_dir or Path()).resolve()
        return cls(project_dir=project, root=repository_root(project, environ))

    def path(self, path: Path) -> str:
        """An absolute path relative to the repository root when inside it."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def location_path(self, location: SourceLocation) -> str:
        """The file of ``location`` (project-relative) relative to the repository root;
        project-relative when the project is outside the repository."""
        try:
            prefix = self.project_dir.relative_to(self.root).as_posix()
        except ValueError:
            prefix = "."
        return location.path if prefix == "." else f"{prefix}/{location.path}"

    def location(self, location: SourceLocation) -> str:
        """``path:line:col`` relative to the repository root."""
        text = self.location_path(location)
        if location.line is not None:
            text += f":{location.line}"
            if location.column is not None:
                text += f":{location.column}"
        return text


def annotation(command: str, message: str, location: SourceLocation, places: Places,
               title: str) -> str:
    """The workflow command for one problem at ``location``."""
    return workflow_command(command, message, [
        ("file", places.location_path(location)), ("line", location.line),
        ("col", location.column), ("title", title),
    ])


def error_annotations(error: FlashBuildError, places: Places, program: str) -> list[str]:
    """One ``::error`` per problem of ``error`` that has a place."""
    title = f"{program}: {error.kind}"
    lines = []
    for part in error.parts or (error,):
        if part.location is not None:
            message = part.message + (f"\nhint: {part.hint}" if part.hint else "")
            lines.append(annotation("error", message, part.location, places, title))
    return lines


def warning_annotations(warnings: Iterable[BuildWarning], places: Places,
                        program: str) -> list[str]:
    """One ``::warning`` per warning that has a place."""
    return [annotation("warning", warning.message, warning.location, places,
                       f"{program}: warning")
            for warning in warnings if warning.location is not None]


def annotate_error(error: FlashBuildError, *, project_dir: Path | None, mode: str | None,
                   program: str | None = None) -> None:
    """Print the error's annotations on stderr when annotations are on."""
    if annotations_enabled(mode):
        for line in error_annotations(error, Places.of(project_dir),
                                      program or current_program()):
            click.echo(line, err=True)


def annotate_warnings(warnings: Iterable[BuildWarning], *, project_dir: Path,
                      mode: str | None) -> None:
    """Print the warnings' annotations on stderr when annotations are on."""
    if annotations_enabled(mode):
        for line in warning_annotations(warnings, Places.of(project_dir), current_program()):
            click.echo(line, err=True)
