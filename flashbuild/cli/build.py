"""``flash build`` and ``flash lock``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .. import pipeline
from ..config.build_config import BuildConfig
from ..config.remote_cache import MODES
from ..errors import UsageError
from .github import ANNOTATION_MODES, annotate_warnings
from .job_summary import summarize_build
from .options import artifact_options, dependency_options
from .progress import Progress, command_echo
from .report import (
    build_document,
    build_text,
    display_path,
    dry_run_document,
    dry_run_text,
    report_warnings,
)


@click.command()
@dependency_options
@artifact_options
@click.option("--locked", is_flag=True,
              help="Fail unless flash.lock exists and matches the declared dependencies.")
@click.option("--keep-build", is_flag=True,
              help="Keep .flash/.build (the unpacked artifact) after a successful build.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the artifact.  [default: PROJECT_DIR/.flash/artifact.tar.gz]")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the dependency cache (nor the remote cache).")
@click.option("--remote-cache", metavar="s3://BUCKET/PREFIX", default=None,
              help="A remote cache shared by runners (credentials from AWS_* variables; "
              "needs flashbuild[remote]).  [default: FLASHBUILD_REMOTE_CACHE, [tool.flash] "
              "remote-cache, else none]")
@click.option("--remote-cache-mode", type=click.Choice(MODES), default=None,
              help="read-write: fetch and upload; read: fetch only (untrusted jobs); off.  "
              "[default: FLASHBUILD_REMOTE_CACHE_MODE, [tool.flash] remote-cache-mode, "
              "else read-write]")
@click.option("--strict", is_flag=True,
              help="Fail (exit 7) when the static checks find anything to fix.")
@click.option("--preview", "then_preview", is_flag=True,
              help="After building, serve the app locally (see flash preview).")
@click.option("--dry-run", is_flag=True,
              help="Resolve and report sizes and exclusions; install and write nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document on stdout (human output stays on stderr).")
@click.option("--annotations", type=click.Choice(ANNOTATION_MODES), default=None,
              help="Also print errors and warnings that have a place in a file as GitHub "
              "Actions annotations, on stderr (github), or not (none).  [default: github "
              "when GITHUB_ACTIONS=true, else none]")
@click.pass_context
def build(ctx: click.Context, project_dir: Path, verbose: int, quiet: bool, dry_run: bool,
          as_json: bool, then_preview: bool, annotations: str | None, **options: Any) -> int:
    """Build PROJECT_DIR (default: the current directory) into .flash/artifact.tar.gz."""
    ctx.obj.update(verbose=verbose, json=as_json, annotations=annotations,
                   project_dir=project_dir, job_summary=not dry_run)
    if dry_run and then_preview:
        raise UsageError("--dry-run and --preview cannot be combined: a dry run builds nothing "
                         "to preview.", hint="Drop one of them.")
    config = BuildConfig.create(project_dir=project_dir, **options)
    show_command = command_echo(verbose, quiet)
    if dry_run:
        report = pipeline.dry_run(config, on_command=show_command)
        annotate_warnings(report.warnings, project_dir=project_dir, mode=annotations)
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
    report_warnings(result.warnings, quiet=quiet)
    annotate_warnings(result.warnings, project_dir=project_dir, mode=annotations)
    if not quiet:
        click.echo(build_text(result, verbose=bool(verbose)), err=True)
    if as_json:
        click.echo(json.dumps(build_document(result), indent=2, sort_keys=True))
    summarize_build(result, max_size=config.max_size, project_dir=project_dir)
    if then_preview:
        from .preview import run_preview  # the server's modules load only to serve

        return run_preview(
            project_dir, as_json=as_json, verbose=verbose, quiet=quiet, annotations=annotations,
            no_deps=options["no_deps"], index_url=options["index_url"],
            extra_index_urls=options["extra_index_urls"], find_links=options["find_links"],
            no_index=options["no_index"],
        )
    return 0


@click.command()
@dependency_options
@click.pass_context
def lock(ctx: click.Context, project_dir: Path, verbose: int, quiet: bool,
         **options: Any) -> int:
    """Resolve PROJECT_DIR's dependencies and write flash.lock at its root."""
    ctx.obj.update(verbose=verbose, project_dir=project_dir)
    config = BuildConfig.create(project_dir=project_dir, **options)
    path, written = pipeline.lock(config, on_command=command_echo(verbose, quiet))
    if not quiet:
        click.echo(
            f"Wrote {display_path(path)}: {len(written.resolution.packages)} packages for "
            f"Python {written.header.python_version} on {written.header.platform}",
            err=True,
        )
    return 0
