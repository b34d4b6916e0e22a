"""Time ``flash build`` on the benchmark apps against the floor of what it has to do.

Run from the repository root: ``python tools/benchmark.py [--apps A,B] [--with-reference]
[--json PATH]``. Per app (the fixture apps and a generated near-cap app, see ``bench_apps``),
on a fresh copy: cold build with its peak memory, rebuilds with nothing changed and after a
one-line code change and after one dependency is added (and that dependency's own install),
artifact size, and whether cold and warm artifacts are identical. The floor is ``uv pip
install`` of the artifact's own pins plus ``tar`` of its contents deflated with the same engine
and level on every core, measured in the same run. An untimed build first fills the shared uv
cache, so that network speed does not dominate. ``--with-reference`` also times runpod-flash
1.21.0, the tool flashbuild replaces. Failed steps are reported in the table, not as
tracebacks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tarfile
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench_apps import ADDED_DEPENDENCY, APPS, AppResult, Workspace
from bench_baselines import (
    ARTIFACT,
    REFERENCE_VENV,
    REFERENCE_VERSION,
    install_alone,
    measure_floor,
    measure_reference,
    reference_flash,
)
from bench_process import BenchmarkError, progress

REPEATS = 3
GOALS = {"cold_over_floor": 1.3, "no_change_s": 0.3, "code_change_s": 0.5,
         "embeddings_app_mb": 150.0}


def sha256_of(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def medians(runs: list[float]) -> str:
    return f"median {statistics.median(runs):.2f} s of " + ", ".join(f"{s:.2f}" for s in runs)


def measure_flashbuild(result: AppResult, workspace: Workspace) -> None:
    """Cold build, no-change rebuilds and code-change rebuilds of a fresh copy of the app."""
    project = workspace.root / "apps" / result.app
    artifact = project / ARTIFACT
    step = "warm-up"
    try:
        workspace.prepare(result.app, project)
        # A throwaway flashbuild cache: only the uv cache stays warm for the cold build.
        warm_up_cache = workspace.root / "warm-up-cache"
        workspace.flash_build(project, result.app, flash_cache=warm_up_cache)
        for leftover in (warm_up_cache, project / ".flash", workspace.flash_cache):
            shutil.rmtree(leftover, ignore_errors=True)

        step = "cold"
        result.cold_s, result.cold_peak_rss = workspace.flash_build_measured(project, result.app)
        cold_digest = sha256_of(artifact)
        progress(f"{result.app}: cold build {result.cold_s:.2f} s, "
                 f"peak RSS {result.cold_peak_rss / 1e6:.0f} MB")

        step = "warm"
        warm_digests = set()
        for _ in range(REPEATS):
            result.warm_runs_s.append(workspace.flash_build(project, result.app))
            warm_digests.add(sha256_of(artifact))
        result.cold_equals_warm = warm_digests == {cold_digest}
        progress(f"{result.app}: no-change rebuild {medians(result.warm_runs_s)}")

        step = "code-change"
        modules = sorted(project.glob("*.py"))
        if not modules:
            raise BenchmarkError("the app has no top-level .py file to change")
        for counter in range(1, REPEATS + 1):
            with modules[0].open("a", encoding="utf-8") as module:
                module.write(f"# benchmark edit {counter}\n")
            result.code_change_runs_s.append(workspace.flash_build(project, result.app))
        progress(f"{result.app}: code-change rebuild {medians(result.code_change_runs_s)}")
        step = "artifact"
        result.artifact_bytes = artifact.stat().st_size
        with tarfile.open(artifact, "r:gz") as archive:
            members = archive.getmembers()
        result.artifact_entries = len(members)
        result.unpacked_bytes = sum(member.size for member in members)

        step = "dependency-added"
        added = ADDED_DEPENDENCY[result.app]
        add_dependency(project, added)
        result.dependency_added_s = workspace.flash_build(project, result.app)
        result.dependency_install_s = install_alone(workspace, result.app, added)
        progress(f"{result.app}: one dependency added {result.dependency_added_s:.2f} s "
                 f"(its own install {result.dependency_install_s:.2f} s)")
    except (BenchmarkError, OSError, tarfile.TarError) as error:
        result.fail(step, error)


def add_dependency(project: Path, name: str) -> None:
    """Declare ``name`` in the first endpoint that declares dependencies."""
    for module in sorted(project.glob("*.py")):
        text = module.read_text(encoding="utf-8")
        if "dependencies=[" in text:
            module.write_text(text.replace("dependencies=[", f'dependencies=["{name}", ', 1),
                              encoding="utf-8")
            return
    raise BenchmarkError("no endpoint of the app declares dependencies")


def cell(value: str | None, error: str | None) -> str:
    if error is not None:
        return f"failed: {error}"
    return "—" if value is None else value


def seconds(value: float | None, digits: int = 2) -> str | None:
    return None if value is None else f"{value:.{digits}f}"


def table_row(result: AppResult, with_reference: bool) -> list[str]:
    errors = result.errors
    floor = result.floor_s
    warm_up_error = f"untimed warm-up build: {errors['warm-up']}" if "warm-up" in errors else None
    artifact = None
    if result.artifact_bytes is not None:
        artifact = f"{result.artifact_bytes / 1e6:.1f} ({result.artifact_entries:,} entries)"
    floor_text = None
    if floor is not None:
        floor_text = f"{floor:.2f} ({result.floor_install_s:.2f} + {result.floor_pack_s:.2f})"
    added = seconds(result.dependency_added_s)
    if added is not None and result.dependency_install_s is not None:
        added += f" ({result.dependency_install_s:.2f})"
    if not with_reference:
        reference = "not run"
    elif result.reference_cold_s is None:
        reference = cell(None, errors.get("reference cold"))
    else:
        warm = cell(seconds(result.reference_warm_s, 1), errors.get("reference warm"))
        reference = f"{result.reference_cold_s:.1f} / {warm}"
        if result.cold_s:
            reference += f" ({result.reference_cold_s / result.cold_s:.1f} x flashbuild's cold)"
    return [
        result.app,
        cell(seconds(result.cold_s), errors.get("cold") or warm_up_error),
        cell(seconds(result.warm_s), errors.get("warm")),
        cell(seconds(result.code_change_s), errors.get("code-change")),
        cell(added, errors.get("dependency-added")),
        "—" if result.cold_peak_rss is None else f"{result.cold_peak_rss / 1e6:.0f}",
        cell(artifact, errors.get("artifact")),
        {None: "—", True: "yes", False: "no"}[result.cold_equals_warm],
        cell(floor_text, errors.get("floor")),
        f"{result.cold_s / floor:.2f}" if result.cold_s and floor else "—",
        throughput(result),
        reference,
    ]


def throughput(result: AppResult) -> str:
    """MB of unpacked contents per second: the cold build's, then the floor's."""
    if not result.unpacked_bytes or not result.cold_s or not result.floor_s:
        return "—"
    megabytes = result.unpacked_bytes / 1e6
    return f"{megabytes / result.cold_s:.0f} / {megabytes / result.floor_s:.0f}"


def table(results: list[AppResult], with_reference: bool) -> str:
    """The Markdown summary: one row per app, then the goals."""
    header = ["app", "cold build s", "warm rebuild s", "code-change rebuild s",
              "dependency added s (its install)", "cold peak RSS MB", "artifact MB",
              "cold = warm bytes", "floor s (install + tar/deflate)", "cold ÷ floor",
              "MB/s cold / floor", f"reference {REFERENCE_VERSION} cold s / warm s"]
    goals = ["**goal**", f"≤ {GOALS['cold_over_floor']} x floor", f"≤ {GOALS['no_change_s']}",
             f"≤ {GOALS['code_change_s']}", "≤ its install + 1", "≤ 300",
             f"embeddings-app < {GOALS['embeddings_app_mb']:.0f}",
             "yes", "", f"≤ {GOALS['cold_over_floor']}", "", "≥ 15 x flashbuild's cold"]
    rows = [[text.replace("|", "\\|") for text in table_row(result, with_reference)]
            for result in results]
    lines = [header, ["---"] * len(header), *rows, goals]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python tools/benchmark.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default=",".join(APPS),
                        help=f"comma-separated apps (default: {','.join(APPS)})")
    parser.add_argument("--with-reference", action="store_true",
                        help=f"also time runpod-flash {REFERENCE_VERSION} (venv: {REFERENCE_VENV})")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the raw numbers here")
    args = parser.parse_args(argv)
    args.apps = [app.strip() for app in args.apps.split(",") if app.strip()]
    unknown = [app for app in args.apps if app not in APPS]
    if unknown or not args.apps:
        parser.error(f"no app named {', '.join(unknown)}: choose from {', '.join(APPS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = [AppResult(app=app) for app in args.apps]
    with tempfile.TemporaryDirectory(prefix="flashbuild-bench-") as scratch:
        workspace = Workspace(Path(scratch))
        for result in results:
            measure_flashbuild(result, workspace)
            measure_floor(result, workspace)
        if args.with_reference:
            try:
                flash = reference_flash()
            except BenchmarkError as error:
                for result in results:
                    result.fail("reference cold", BenchmarkError(f"cannot install: {error}"))
            else:
                for result in results:
                    measure_reference(result, workspace, flash)
    sys.stdout.write(table(results, args.with_reference) + "\n")
    sys.stdout.write(f"\n{os.cpu_count()} CPUs, Python {platform.python_version()}; "
                     f"wall-clock seconds, rebuilds the median of {REPEATS}; MB = 10^6 bytes; "
                     "the goal row is flashbuild's.\n")
    if args.json:
        report = {
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "python": platform.python_version()},
            "goals": GOALS,
            "with_reference": args.with_reference,
            "apps": [{**asdict(r), "warm_s": r.warm_s, "code_change_s": r.code_change_s,
                      "floor_s": r.floor_s} for r in results],
        }
        try:
            args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            progress(f"cannot write {args.json}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
