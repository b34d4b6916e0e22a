"""Command-line options that several commands share, each defined once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config.compression import ENGINES
from ..records import DEFAULT_PYTHON_VERSION, PYTHON_VERSIONS

Command = TypeVar("Command", bound=Callable[..., Any])


def _apply(options: list[Callable[[Command], Command]], command: Command) -> Command:
    for option in reversed(options):
        command = option(command)
    return command


def index_options(command: Command) -> Command:
    """``--index-url``, ``--extra-index-url``, ``--find-links`` and ``--no-index``."""
    return _apply([
        click.option("--index-url", metavar="URL", default=None,
                     help="Package index to use instead of PyPI (env FLASH_INDEX_URL)."),
        click.option("--extra-index-url", "extra_index_urls", metavar="URL", multiple=True,
                     help="Another index to look in; repeatable (env FLASH_EXTRA_INDEX_URL)."),
        click.option("--find-links", metavar="PATH|URL", multiple=True,
                     help="A directory or page of wheels to look in; repeatable "
                     "(env FLASH_FIND_LINKS)."),
        click.option("--no-index", is_flag=True,
                     help="Use no index, only --find-links locations."),
    ], command)


def output_options(command: Command) -> Command:
    """``-v/--verbose`` and ``-q/--quiet``."""
    return _apply([
        click.option("-v", "--verbose", count=True,
                     help="Echo every uv command and list every left-out package; on errors, "
                     "print the traceback."),
        click.option("-q", "--quiet", is_flag=True, help="Print errors only."),
    ], command)


def dependency_options(command: Command) -> Command:
    """Options shared by ``build`` and ``lock``: the project, the target, where packages
    come from, and how much to say."""
    return _apply([
        click.argument("project_dir", default=".",
                       type=click.Path(file_okay=False, path_type=Path)),
        click.option("--python-version", type=click.Choice(PYTHON_VERSIONS), default=None,
                     help=f"Python version of the workers.  [default: [tool.flash] "
                     f"python-version, else {DEFAULT_PYTHON_VERSION}]"),
        click.option("--glibc", metavar="2.N", default=None,
                     help="glibc of the workers; wheels must be manylinux_2_N or older.  "
                     "[default: 2.28]"),
        index_options,
        click.option("--allow-build", metavar="NAMES", multiple=True,
                     help="Packages that may be built from source; pure-Python only "
                     "(comma-separated, repeatable)."),
        click.option("--image-release", metavar="RELEASE", default=None,
                     help="Release of the worker images the endpoints run on (see flash "
                     "images).  [default: [tool.flash] image-release, else the newest]"),
        output_options,
    ], command)


def artifact_options(command: Command) -> Command:
    """Options shared by ``build`` and ``verify`` that decide what the artifact holds and
    how it is compressed (with :func:`dependency_options`, everything that decides its
    bytes), and the cap and threads it is written with."""
    return _apply([
        click.option("--no-deps", is_flag=True,
                     help="Package code, handlers and manifest only; install no dependencies."),
        click.option("--exclude", multiple=True, metavar="NAMES",
                     help="Packages to leave out of the artifact, with what only they need "
                     "(comma-separated, repeatable)."),
        click.option("--max-size", metavar="SIZE", default=None,
                     help="Size cap of the compressed artifact: bytes or 500MB, 1.5GB, 2GiB.  "
                     "[default: [tool.flash] max-size, else 1.5GB]"),
        click.option("--compression-engine", type=click.Choice(sorted(ENGINES)), default=None,
                     help="Deflate engine: zlib-ng (default), isal (fast, about 14% larger) or "
                     "zlib.  [default: [tool.flash] compression-engine, else zlib-ng]"),
        click.option("--compression-level", type=click.IntRange(0, 9), default=None,
                     help="Level of the engine: 0 (store) to 9 (isal: 0 to 3).  "
                     "[default: [tool.flash] compression-level, else 6 (isal: 2)]"),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Compression threads (the output does not depend on it).  "
                     "[default: CPUs]"),
    ], command)
