"""The ``flash`` command line: options -> BuildConfig -> pipeline.build() -> exit code.

This is the only module that prints or chooses an exit code. Human output
goes to stderr so that stdout stays free for machine-readable output.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from . import __version__, pipeline
from .cache import DependencyCache, default_cache_dir
from .cli_options import index_options
from .cli_output import (
    INTERRUPTED,
    Progress,
    binary_size,
    build_document,
    build_text,
    command_echo,
    display_path,
    dry_run_document,
    dry_run_text,
    report_error,
)
from .config import BuildConfig
from .errors import FlashBuildError, InternalError
from .manifest_cli import manifest
from .preview_cli import preview, run_preview
from .models import DEFAULT_PYTHON_VERSION, PYTHON_VERSIONS

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="flash")
def cli() -> None:
    """Build Flash apps into deployable artifacts."""


def _dependency_options(command):
    """Options shared by ``build`` and ``lock``: the target and where packages come from."""
    options = [
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
        click.option("-v", "--verbose", count=True,
                     help="Show stage timings and uv commands; on errors, tracebacks."),
        click.option("-q", "--quiet", is_flag=True, help="Print errors only."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _config(project_dir: Path, **options) -> BuildConfig:
    return BuildConfig.create(project_dir=project_dir, environ=os.environ, **options)


@cli.command()
@_dependency_options
@click.option("--no-deps", is_flag=True,
              help="Package code, handlers and manifest only; install no dependencies.")
@click.option("--locked", is_flag=True,
              help="Fail unless flash.lock exists and matches the declared dependencies.")
@click.option("--keep-build", is_flag=True,
              help="Keep .flash/.build (the unpacked artifact) after a successful build.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the artifact.  [default: PROJECT_DIR/.flash/artifact.tar.gz]")
@click.option("--exclude", multiple=True, metavar="NAMES",
              help="Packages to leave out of the artifact, with what only they need "
              "(comma-separated, repeatable).")
@click.option("--max-size", metavar="SIZE", default=None,
              help="Size cap of the compressed artifact: bytes or 500MB, 1.5GB, 2GiB.  "
              "[default: [tool.flash] max-size, else 1.5GB]")
@click.option("--compression-level", type=click.IntRange(0, 9), default=None,
              help="gzip level, 0 (store) to 9.  [default: [tool.flash] compression-level, else 6]")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Compression threads (the output does not depend on it).  [default: CPUs]")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the dependency cache.")
@click.option("--strict", is_flag=True,
              help="Fail (exit 7) when the static checks find anything to fix.")
@click.option("--preview", "then_preview", is_flag=True,
              help="After building, serve the app locally (see flash preview).")
@click.option("--dry-run", is_flag=True,
              help="Resolve and report sizes and exclusions; install and write nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document on stdout (human output stays on stderr).")
@click.pass_context
def build(ctx: click.Context, project_dir: Path, verbose: int, quiet: bool, dry_run: bool,
          as_json: bool, then_preview: bool, **options) -> int:
    """Build PROJECT_DIR (default: the current directory) into .flash/artifact.tar.gz."""
    ctx.obj.update(verbose=verbose, json=as_json)
    config = _config(project_dir, **options)
    show_command = command_echo(verbose, quiet)
    if dry_run:
        report = pipeline.dry_run(config, on_command=show_command)
        if as_json:
            click.echo(json.dumps(dry_run_document(report), indent=2, sort_keys=True))
        else:
            click.echo(dry_run_text(report))
        return 0
    progress = Progress(sys.stderr, enabled=not quiet)
    try:
        result = pipeline.build(config, on_stage=progress.stage, on_command=show_command)
    finally:
        progress.close()
    if not quiet:
        for warning in result.warnings:
            click.echo(f"flash: warning: {warning}", err=True)
        click.echo(build_text(result, verbose=bool(verbose)), err=True)
    if as_json:
        click.echo(json.dumps(build_document(result), indent=2, sort_keys=True))
    if then_preview:
        return run_preview(
            project_dir, as_json=as_json, verbose=verbose, quiet=quiet,
            no_deps=options["no_deps"], index_url=options["index_url"],
            extra_index_urls=options["extra_index_urls"], find_links=options["find_links"],
            no_index=options["no_index"],
        )
    return 0


@cli.command()
@_dependency_options
@click.pass_context
def lock(ctx: click.Context, project_dir: Path, verbose: int, quiet: bool, **options) -> int:
    """Resolve PROJECT_DIR's dependencies and write flash.lock at its root."""
    ctx.obj["verbose"] = verbose
    config = _config(project_dir, **options)
    path, written = pipeline.lock(config, on_command=command_echo(verbose, quiet))
    if not quiet:
        click.echo(
            f"Wrote {display_path(path)}: {len(written.resolution.packages)} packages for "
            f"Python {written.header.python_version} on {written.header.platform}",
            err=True,
        )
    return 0


@cli.group()
def cache() -> None:
    """Inspect or clear the dependency cache (FLASHBUILD_CACHE_DIR)."""


@cache.command("info")
def cache_info() -> int:
    """Show where the cache is and how much it holds."""
    info = DependencyCache(default_cache_dir(os.environ)).info()
    click.echo(f"cache directory: {info.root}")
    click.echo(f"entries: {info.entries}")
    click.echo(f"size: {info.size:,} bytes ({binary_size(info.size)})")
    return 0


@cache.command("clear")
def cache_clear() -> int:
    """Remove every cache entry."""
    before = DependencyCache(default_cache_dir(os.environ)).clear()
    click.echo(f"Removed {before.entries} entries ({binary_size(before.size)}) from {before.root}",
               err=True)
    return 0


cli.add_command(manifest)
cli.add_command(preview)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    state = {"verbose": 0, "json": False}  # filled in once the command's options are parsed
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
        report_error(error, as_json=state["json"], verbose=state["verbose"])
        return error.exit_code
    except Exception as exc:  # a bug: say so, show the traceback on request
        error = InternalError(
            f"{type(exc).__name__}: {exc}",
            hint="This is a bug in flashbuild; rerun with -v for the traceback and report it.",
        )
        report_error(error, as_json=state["json"], verbose=state["verbose"])
        return error.exit_code
