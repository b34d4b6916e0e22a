"""The ``flash`` command line: options -> BuildConfig -> pipeline.build() -> exit code.

This is the only module that prints or chooses an exit code. Human output
goes to stderr so that stdout stays free for machine-readable output.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from . import __version__, pipeline
from .config import BuildConfig
from .errors import FlashBuildError, InternalError
from .models import DEFAULT_PYTHON_VERSION, PYTHON_VERSIONS

INTERRUPTED = 130


def _display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_error(error: FlashBuildError) -> str:
    """One paragraph: what and where, other places involved, then what to do."""
    lines = [f"flash: {error.kind}: {error}"]
    lines.extend(f"  see also: {place}" for place in error.related)
    if error.hint:
        lines.append(f"  hint: {error.hint}")
    if error.build_dir is not None:
        lines.append(f"  build directory kept for inspection: {_display_path(error.build_dir)}")
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="flash")
def cli() -> None:
    """Build Flash apps into deployable artifacts."""


@cli.command()
@click.argument(
    "project_dir", default=".", type=click.Path(file_okay=False, path_type=Path)
)
@click.option("--no-deps", is_flag=True,
              help="Package code, handlers and manifest only; install no dependencies.")
@click.option("--keep-build", is_flag=True,
              help="Keep .flash/.build (the unpacked artifact) after a successful build.")
@click.option("--python-version", type=click.Choice(PYTHON_VERSIONS),
              default=DEFAULT_PYTHON_VERSION, show_default=True,
              help="Python version of the workers.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the artifact.  [default: PROJECT_DIR/.flash/artifact.tar.gz]")
@click.option("--exclude", multiple=True, metavar="NAMES",
              help="Comma-separated packages to leave out of the artifact; repeatable.")
@click.option("-v", "--verbose", count=True, help="Show stage timings and, on errors, tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.pass_context
def build(ctx: click.Context, project_dir: Path, no_deps: bool, keep_build: bool,
          python_version: str, output: Path | None, exclude: tuple[str, ...],
          verbose: int, quiet: bool) -> int:
    """Build PROJECT_DIR (default: the current directory) into .flash/artifact.tar.gz."""
    ctx.obj["verbose"] = verbose
    config = BuildConfig.create(
        project_dir=project_dir,
        output=output,
        python_version=python_version,
        no_deps=no_deps,
        keep_build=keep_build,
        exclude=exclude,
        environ=os.environ,
    )

    def show_stage(name: str, seconds: float) -> None:
        if verbose and not quiet:
            click.echo(f"  {name:<8} {seconds:6.2f} s", err=True)

    result = pipeline.build(config, on_stage=show_stage)
    if not quiet:
        for warning in result.warnings:
            click.echo(f"flash: warning: {warning}", err=True)
        _report(result)
    return 0


def _report(result: pipeline.BuildResult) -> None:
    artifact = result.artifact
    endpoints = result.plan.endpoints
    click.echo(
        f"Built {_display_path(artifact.path)} ({_human_size(artifact.size)}, "
        f"{artifact.entries} entries, {result.project_files} project files) with "
        f"{len(endpoints)} endpoint{'s' * (len(endpoints) != 1)} for Python "
        f"{result.plan.python_version}",
        err=True,
    )
    for endpoint in endpoints:
        if endpoint.load_balanced:
            kind = f"load-balanced, {len(endpoint.functions)} route(s)"
        else:
            kind = "queue, class" if endpoint.functions[0].decl.is_class else "queue"
        click.echo(f"  {endpoint.name}: {kind}, {endpoint.config.compute.upper()}, "
                   f"{endpoint.handler_file}", err=True)
    click.echo(f"  sha256 {artifact.sha256}", err=True)
    click.echo(f"  manifest {_display_path(result.manifest_path)}", err=True)
    if result.build_dir is not None:
        click.echo(f"  build directory {_display_path(result.build_dir)}", err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    state = {"verbose": 0}  # filled in by the command once its options are parsed
    args = list(argv if argv is not None else sys.argv[1:])
    try:
        with cli.make_context("flash", args, obj=state) as ctx:
            result = cli.invoke(ctx)
        return result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("flash: interrupted", err=True)
        return INTERRUPTED
    except FlashBuildError as error:
        click.echo(format_error(error), err=True)
        if state["verbose"]:
            traceback.print_exc()
        return error.exit_code
    except Exception as exc:  # a bug: say so, show the traceback on request
        error = InternalError(
            f"{type(exc).__name__}: {exc}",
            hint="This is a bug in flashbuild; rerun with -v for the traceback and report it.",
        )
        click.echo(format_error(error), err=True)
        if state["verbose"]:
            traceback.print_exc()
        return error.exit_code
