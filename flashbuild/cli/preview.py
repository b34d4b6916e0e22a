"""``flash preview``: build the app for this machine and serve every endpoint locally.

Click and output only; the work is done by :mod:`flashbuild.pipeline` (the
build) and the :mod:`flashbuild.preview` package (the runtime and the
processes). Human output (progress, the table of URLs, errors) goes to
stderr; ``--json`` prints one line on stdout once every endpoint answers.
The command serves until Ctrl-C or SIGTERM, then stops every endpoint
process and exits 0. It reports its own errors, so it behaves the same
inside ``flash`` and alone.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .. import __version__, pipeline
from ..cache import cache_in_use
from ..config.environment import default_cache_dir
from ..errors import FlashBuildError
from ..preview.runtime import (
    RuntimeEnvironment,
    ensure_runtime,
    host_platform_warning,
    host_python_version,
    preview_build_config,
    runtime_packages,
)
from ..preview.services import DEFAULT_PORT
from ..preview.session import STARTUP_TIMEOUT, Preview
from .github import annotate_error, annotate_warnings
from .json_documents import versioned
from .options import index_options
from .program import current_program
from .progress import Progress, command_echo
from .report import INTERRUPTED, display_path, report_error, report_warnings
from .signals import signals_interrupt


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("project_dir", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port of the first endpoint; the others get the next free ports upward.")
@click.option("--with-image-packages", is_flag=True,
              help="Also install what the endpoints' base images provide beyond the Flash "
              "runtime (torch, ... for GPU endpoints).")
@click.option("--no-deps", is_flag=True,
              help="Install none of the app's dependencies, only code and handlers.")
@index_options
@click.option("--startup-timeout", type=click.FloatRange(min=1), default=STARTUP_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="How long every endpoint may take to answer after it starts.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON line on stdout (name, kind, URL of each endpoint) once "
              "serving.")
@click.option("-v", "--verbose", count=True,
              help="Show the uv and endpoint commands; on errors, tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.pass_context
def preview(ctx: click.Context, project_dir: Path, port: int, with_image_packages: bool,
            startup_timeout: float, as_json: bool, verbose: int, quiet: bool,
            **options: Any) -> int:
    """Run PROJECT_DIR's endpoints locally, one process each, until Ctrl-C.

    The app is built for this machine's Python into .flash/preview/; queue
    endpoints are served by runpod's local API server (POST /runsync, /run),
    load-balanced ones by uvicorn. Logs: .flash/preview/<endpoint>.log.
    """
    if isinstance(ctx.obj, dict):  # inside `flash`: tell its error handler about the flags
        ctx.obj.update(verbose=verbose, json=as_json)
    code = run_preview(project_dir, port=port, with_image_packages=with_image_packages,
                       startup_timeout=startup_timeout, as_json=as_json, verbose=verbose,
                       quiet=quiet, **options)
    if code:
        ctx.exit(code)
    return 0


def run_preview(project_dir: Path, *, port: int = DEFAULT_PORT, with_image_packages: bool = False,
                startup_timeout: float = STARTUP_TIMEOUT, as_json: bool = False,
                verbose: int = 0, quiet: bool = False, annotations: str | None = None,
                **build_options: Any) -> int:
    """Build, start and serve until a signal; report errors; return the exit code.

    ``build_options`` are :meth:`BuildConfig.create`'s (``no_deps``, index
    options). Shared by ``flash preview`` and ``flash build --preview``.
    """
    serving = False
    show = command_echo(verbose, quiet)
    progress = Progress(sys.stderr, enabled=not quiet)
    try:
        # The runtime lives in the cache: `flash cache clear` must not remove it while serving.
        with signals_interrupt(), cache_in_use(default_cache_dir(os.environ)):
            session, runtime = _prepare(project_dir, progress, show, quiet=quiet,
                                        annotations=annotations,
                                        with_image_packages=with_image_packages, port=port,
                                        startup_timeout=startup_timeout, **build_options)
            try:
                with progress.timed("start"):
                    session.start()
                progress.close()
                if not quiet:
                    click.echo(preview_text(session), err=True)
                if as_json:
                    click.echo(json.dumps(preview_document(session, runtime), sort_keys=True))
                serving = True
                session.serve()
            finally:
                session.stop()
    except KeyboardInterrupt:
        if serving:
            if not quiet:
                click.echo("Stopped every endpoint.", err=True)
            return 0
        click.echo(f"{current_program()}: interrupted", err=True)
        return INTERRUPTED
    except FlashBuildError as error:
        report_error(error, as_json=as_json, verbose=verbose, indent=None)
        annotate_error(error, project_dir=project_dir, mode=annotations)
        return error.exit_code
    return 0  # not reached: serving ends by a signal or an error


def _prepare(project_dir: Path, progress: Progress, show: Callable[[str], None], *,
             quiet: bool, annotations: str | None, with_image_packages: bool, port: int,
             startup_timeout: float, **build_options: Any) -> tuple[Preview, RuntimeEnvironment]:
    """Build the app for this host and install the runtime; the preview, not yet started."""
    config = preview_build_config(project_dir, environ=os.environ, **build_options)
    try:
        result = pipeline.build(config, on_stage=progress.stage, on_command=show)
        report_warnings((*result.warnings, host_platform_warning(result.manifest)),
                        quiet=quiet)
        annotate_warnings(result.warnings, project_dir=project_dir, mode=annotations)
        with progress.timed("runtime"):
            runtime = ensure_runtime(
                runtime_packages(result.manifest, config.images,
                                 with_image_packages=with_image_packages),
                cache_root=default_cache_dir(os.environ), index=config.index, listener=show,
            )
    finally:
        progress.close()
    session = Preview(artifact=result.artifact.path, runtime=runtime,
                      log_dir=config.flash_dir / "preview", first_port=port,
                      startup_timeout=startup_timeout, listener=show,
                      image_modules=config.images.app_modules)
    return session, runtime


def preview_text(session: Preview) -> str:
    """The table of endpoints a person reads: name, kind, URL and what to call."""
    endpoints = session.endpoints
    rows = [("endpoint", "kind", "URL", "call")]
    for endpoint in endpoints:
        service = endpoint.service
        calls = ", ".join(service.routes) if service.load_balanced else "POST /runsync, POST /run"
        rows.append((service.name, service.kind, service.url, calls))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        f"Serving {session.manifest.get('project_name', '')} ({len(endpoints)} endpoint"
        f"{'s' * (len(endpoints) != 1)}, Python {host_python_version()}); Ctrl-C stops."
    ]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        lines.append("  " + "  ".join([*cells, row[3]]))
    if endpoints:
        lines.append(f"  logs: {display_path(endpoints[0].log.parent)}/<endpoint>.log")
    return "\n".join(line.rstrip() for line in lines)


def preview_document(session: Preview, runtime: RuntimeEnvironment) -> dict:
    """The ``--json`` line: what is served where, and the processes serving it."""
    return versioned({
        "ok": True,
        "flashbuild": __version__,
        "project": session.manifest.get("project_name"),
        "python_version": host_python_version(),
        "artifact": str(session.artifact),
        "app_dir": str(session.app_dir),
        "runtime": {"path": str(runtime.root), "packages": list(runtime.packages),
                    "from_cache": runtime.from_cache},
        "endpoints": [
            {"name": e.service.name, "kind": e.service.kind, "url": e.service.url,
             "port": e.service.port, "pid": e.pid, "log": str(e.log),
             "routes": list(e.service.routes)}
            for e in session.endpoints
        ],
    })


