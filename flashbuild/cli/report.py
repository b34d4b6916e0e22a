"""What the build commands report: the build summary, the dry-run table, errors, and
the ``--json`` documents of each.

stdout carries a command's result (a ``--json`` document, the ``--dry-run``
table); stderr carries the build summary, warnings and errors.
"""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from .._util.units import human
from ..errors import FlashBuildError
from ..pipeline import BuildResult
from .cache import remote_stats_data
from .json_documents import versioned
from .program import current_program

INTERRUPTED = 130  # the shell's code for SIGINT

if TYPE_CHECKING:
    from ..deps.records import DryRunReport, Exclusion


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when possible, as users typed it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def format_error(error: FlashBuildError, program: str = "flash") -> str:
    """One paragraph: what and where, other places involved, then what to do."""
    lines = [f"{program}: {error.kind}: {error}"]
    lines.extend(f"  see also: {place}" for place in error.related)
    if error.hint:
        lines.append(f"  hint: {error.hint}")
    if error.build_dir is not None:
        lines.append(f"  build directory kept for inspection: {display_path(error.build_dir)}")
    return "\n".join(lines)


def report_error(
    error: FlashBuildError, *, as_json: bool, verbose: int, indent: int | None = 2,
    program: str | None = None,
) -> None:
    """Print an error: the paragraph on stderr, the ``--json`` document on stdout.

    ``indent=None`` keeps the document on one line (for commands that print
    JSON lines). With ``verbose``, the traceback of the exception being handled.
    ``program``: the name the paragraph starts with (the running command's by default).
    """
    click.echo(format_error(error, program or current_program()), err=True)
    if as_json:
        click.echo(json.dumps(error_document(error), indent=indent, sort_keys=True))
    if verbose:
        traceback.print_exc()


def report_warnings(warnings: Iterable[object], *, quiet: bool = False) -> None:
    """Print each warning on stderr as ``<program>: warning: ...`` (none with ``quiet``);
    empty ones (``None``, ``""``) are skipped."""
    if quiet:
        return
    for warning in warnings:
        if warning:
            click.echo(f"{current_program()}: warning: {warning}", err=True)


def error_document(error: FlashBuildError) -> dict[str, Any]:
    """The ``--json`` document of a failed command."""
    return versioned({
        "ok": False,
        "flashbuild": __version__,
        "error": {
            "kind": error.kind,
            "exit_code": error.exit_code,
            "message": error.message,
            "location": str(error.location) if error.location else None,
            "related": [str(place) for place in error.related],
            "hint": error.hint,
            "build_dir": str(error.build_dir) if error.build_dir else None,
        },
    })


def build_text(result: BuildResult, *, verbose: bool) -> str:
    """The summary of a successful build."""
    artifact, endpoints = result.artifact, result.plan.endpoints
    lines = [
        f"Built {display_path(artifact.path)} ({human(artifact.size)}, "
        f"{artifact.entries} entries, {result.project_files} project files) with "
        f"{len(endpoints)} endpoint{'s' * (len(endpoints) != 1)} for Python "
        f"{result.plan.python_version}"
    ]
    installed = result.dependencies
    if installed is not None:
        selection = installed.selection
        source = installed.source
        source += ", from cache" if installed.from_cache else ""
        lines.append(f"  dependencies ({source}): {len(selection.shipped)} installed, "
                     f"{len(selection.excluded)} left out")
        lines.extend(_left_out(selection.excluded, verbose=verbose))
    for endpoint in endpoints:
        if endpoint.load_balanced:
            kind = f"load-balanced, {len(endpoint.functions)} route(s)"
        else:
            kind = "queue, class" if endpoint.functions[0].decl.is_class else "queue"
        lines.append(f"  {endpoint.name}: {kind}, {endpoint.config.compute.upper()}, "
                     f"{endpoint.handler_file}")
    lines.append(f"  sha256 {artifact.sha256}")
    lines.append(f"  manifest {display_path(result.manifest_path)}")
    if result.build_dir is not None:
        lines.append(f"  build directory {display_path(result.build_dir)}")
    return "\n".join(lines)


_NAMES_SHOWN = 6  # per reason, without -v


def _left_out(excluded: Sequence[Exclusion], *, verbose: bool) -> list[str]:
    """What was left out: every package with -v, else a line per reason."""
    if verbose:
        return [f"    - {e.name} {e.version} ({e.reason})" for e in excluded]
    by_reason: dict[str, list[Exclusion]] = {}
    for exclusion in excluded:
        reason = exclusion.reason
        by_reason.setdefault("only-needed-by" if reason.startswith("only-needed-by:")
                             else reason, []).append(exclusion)
    lines = []
    order = {"user": 1, "only-needed-by": 2}  # images first
    for reason, members in sorted(by_reason.items(), key=lambda item: order.get(item[0], 0)):
        if reason == "only-needed-by":
            lines.append(f"    - {len(members)} only the packages above need")
            continue
        names = ", ".join(f"{e.name} {e.version}" for e in members[:_NAMES_SHOWN])
        more = f" and {len(members) - _NAMES_SHOWN} more" if len(members) > _NAMES_SHOWN else ""
        lines.append(f"    - {reason} ({len(members)}): {names}{more}")
    if excluded:
        lines.append("    (-v lists every package; the manifest has all)")
    return lines


def build_document(result: BuildResult) -> dict[str, Any]:
    """The ``--json`` document of a successful build."""
    installed = result.dependencies
    return versioned({
        "ok": True,
        "flashbuild": __version__,
        "artifact": {
            "path": str(result.artifact.path),
            "bytes": result.artifact.size,
            "sha256": result.artifact.sha256,
            "entries": result.artifact.entries,
        },
        "manifest": str(result.manifest_path),
        "python_version": result.plan.python_version,
        "build_environment": list(result.plan.environment_reads),  # names, never values
        "endpoints": [
            {
                "name": e.name,
                "kind": "load-balanced" if e.load_balanced else "queue",
                "compute": e.config.compute,
                "handler": e.handler_file,
                "config_hash": e.config_hash,
            }
            for e in result.plan.endpoints
        ],
        "dependencies": None if installed is None else {
            "source": installed.source,
            "from_cache": installed.from_cache,
            "installed": [{"name": p.name, "version": p.version}
                          for p in installed.selection.shipped],
            "excluded": [{"name": e.name, "version": e.version, "reason": e.reason}
                         for e in installed.selection.excluded],
            "remote_cache": None if installed.remote_cache is None
            else remote_stats_data(installed.remote_cache),
        },
        "warnings": [str(w) for w in result.warnings],
        "stages": {name: round(seconds, 3) for name, seconds in result.stage_seconds},
        "build_dir": str(result.build_dir) if result.build_dir else None,
    })


def dry_run_text(report: DryRunReport) -> str:
    """The per-package table of ``--dry-run``."""
    lines: list[str] = []
    if report.rows:
        width = max(len(f"{r.name} {r.version}") for r in report.rows)
        lines.append(f"{'package':<{width}}  {'wheel':>10}  {'unpacked':>10}  "
                     f"{'ships':<28}  pulled in by")
        for row in report.rows:
            ships = "yes" if row.shipped else f"no: {row.reason}"
            lines.append(
                f"{row.name + ' ' + row.version:<{width}}  {human(row.wheel):>10}  "
                f"{human(row.unpacked):>10}  {ships:<28}  {row.pulled_in_by}"
            )
        lines.append("")
    else:
        lines.append("no dependencies to install")
    verdict = "fits" if report.fits else "EXCEEDS"
    lines.append(
        f"projected artifact: {human(report.projected)} (wheels to install + "
        f"{human(report.project_bytes)} of project files), {verdict} the cap of "
        f"{human(report.limit)} ({report.limit:,} bytes)"
    )
    from ..deps.sizes import savings_lines  # the dependency stage loads only when used

    lines += savings_lines(report.savings)
    return "\n".join(lines)


def dry_run_document(report: DryRunReport) -> dict[str, Any]:
    """The ``--dry-run --json`` document."""
    return versioned({
        "ok": True,
        "flashbuild": __version__,
        "source": report.source,
        "packages": [
            {"name": r.name, "version": r.version, "wheel_bytes": r.wheel,
             "unpacked_bytes": r.unpacked, "pulled_in_by": r.pulled_in_by,
             "endpoints": list(r.endpoints), "shipped": r.shipped, "reason": r.reason}
            for r in report.rows
        ],
        "project_bytes": report.project_bytes,
        "projected_bytes": report.projected,
        "max_size": report.limit,
        "fits": report.fits,
        "exclude_savings": [
            {"exclude": name, "saves_bytes": saved, "removes": list(gone)}
            for name, saved, gone in report.savings
        ],
        "warnings": [str(w) for w in report.warnings],
    })
