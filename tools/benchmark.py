"""Time ``flash build`` on the fixture apps against the floor of what it has to do.

Run from the repository root: ``python tools/benchmark.py [--apps A,B] [--with-reference]
[--json PATH]``. Per app, on a fresh copy: cold build, rebuilds with nothing changed and after
a one-line code change and after one dependency is added, artifact size, and whether cold and
warm artifacts are identical. The floor is ``uv pip install`` of the artifact's own pins plus
``tar`` of its contents deflated with the same engine and level on every core, measured in the
same run. An untimed build first fills the shared uv cache, so that network
speed does not dominate. ``--with-reference`` also times runpod-flash 1.21.0, the tool
flashbuild replaces. Failed steps are reported in the table, not as tracebacks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from peak_memory import run_sampled

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
APPS = ("example-app", "embeddings-app")
INDEX_URL = "https://pypi.org/simple"
REPEATS = 3
BUILD_TIMEOUT = 15 * 60
INSTALL_TIMEOUT = 10 * 60
PACK_TIMEOUT = 5 * 60
ARTIFACT = Path(".flash") / "artifact.tar.gz"
# As flashbuild runs uv: for the workers' platform, naming an interpreter (no discovery).
FLOOR_TARGET = ["--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.12",
                "--python", sys.executable]
# Small, pure Python, and in no worker image: a dependency the artifact must ship.
ADDED_DEPENDENCY = "tomli-w"
REFERENCE_VERSION = "1.21.0"
REFERENCE_VENV = Path.home() / ".cache" / "flashbuild-bench" / "reference-venv"
GOALS = {"cold_over_floor": 1.3, "no_change_s": 0.3, "code_change_s": 0.5,
         "embeddings_app_mb": 150.0}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class BenchmarkError(Exception):
    """A measured step failed; the message is one line for the table."""


@dataclass(kw_only=True)
class AppResult:
    """The raw numbers of one app; ``None`` where a step failed or did not run."""

    app: str
    cold_s: float | None = None
    warm_runs_s: list[float] = field(default_factory=list)
    code_change_runs_s: list[float] = field(default_factory=list)
    dependency_added_s: float | None = None  # ADDED_DEPENDENCY added to a cached app
    dependency_install_s: float | None = None  # uv installing ADDED_DEPENDENCY alone
    cold_peak_rss: int | None = None  # bytes, flashbuild and its children together
    artifact_bytes: int | None = None
    artifact_entries: int | None = None
    cold_equals_warm: bool | None = None
    floor_install_s: float | None = None
    floor_pack_s: float | None = None
    reference_cold_s: float | None = None
    reference_warm_s: float | None = None
    errors: dict[str, str] = field(default_factory=dict)  # step -> reason

    @property
    def warm_s(self) -> float | None:
        return statistics.median(self.warm_runs_s) if self.warm_runs_s else None

    @property
    def code_change_s(self) -> float | None:
        runs = self.code_change_runs_s
        return statistics.median(runs) if runs else None

    @property
    def floor_s(self) -> float | None:
        if self.floor_install_s is None or self.floor_pack_s is None:
            return None
        return self.floor_install_s + self.floor_pack_s

    def fail(self, step: str, error: Exception) -> None:
        self.errors[step] = one_line(str(error))
        progress(f"{self.app}: {step} failed: {error}")


def progress(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


def one_line(text: str, limit: int = 160) -> str:
    text = " ".join(ANSI_ESCAPE.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_reason(output: str, cwd: Path | None) -> str:
    """The most telling line of a failed command's output: its last error line."""
    if cwd is not None:  # temporary paths make the line long and say nothing
        output = output.replace(f"{cwd}/", "").replace(str(cwd), ".")
    lines = [line for line in ANSI_ESCAPE.sub("", output).splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"error|failed|✗", line, re.IGNORECASE)]
    return one_line((errors or lines or ["no output"])[-1])


def run_timed(command: list[str], *, timeout: float, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> float:
    """Run ``command`` quietly and return its wall-clock seconds; raise on failure."""
    return run_measured(command, timeout=timeout, cwd=cwd, env=env)[0]


def run_measured(command: list[str], *, timeout: float, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run ``command`` quietly; return its wall-clock seconds and the peak resident bytes
    of it and its children together. Raise on failure."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT)
        except OSError as error:
            raise BenchmarkError(f"cannot run {command[0]}: {error}") from None
        try:
            code, peak = run_sampled(process, timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BenchmarkError(f"timed out after {timeout:.0f} s") from None
        elapsed = time.perf_counter() - started
        if code != 0:
            output.seek(0)
            reason = failure_reason(output.read().decode(errors="replace"), cwd)
            raise BenchmarkError(f"exit {code} after {elapsed:.1f} s: {reason}")
    return elapsed, peak


def copy_app(app: str, destination: Path) -> None:
    """A fresh copy of a fixture app, without the build output of earlier runs."""
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(FIXTURES / app, destination, symlinks=True,
                    ignore=shutil.ignore_patterns(".flash", "__pycache__"))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def medians(runs: list[float]) -> str:
    return f"median {statistics.median(runs):.2f} s of " + ", ".join(f"{s:.2f}" for s in runs)


class Workspace:
    """The temporary directory: app copies, the flashbuild cache and the shared uv cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.flash_cache = root / "cache"
        self.uv_env = {**os.environ, "UV_CACHE_DIR": str(root / "uv-cache"),
                       "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}

    def flash_build(self, project: Path, flash_cache: Path | None = None) -> float:
        return self.flash_build_measured(project, flash_cache)[0]

    def flash_build_measured(self, project: Path, flash_cache: Path | None = None
                             ) -> tuple[float, int]:
        """Seconds and peak resident bytes (flashbuild and uv together) of one build."""
        env = {**self.uv_env, "FLASHBUILD_CACHE_DIR": str(flash_cache or self.flash_cache)}
        command = [sys.executable, "-m", "flashbuild", "build", "--quiet",
                   "--index-url", INDEX_URL, str(project)]
        return run_measured(command, cwd=project, env=env, timeout=BUILD_TIMEOUT)


def measure_flashbuild(result: AppResult, workspace: Workspace) -> None:
    """Cold build, no-change rebuilds and code-change rebuilds of a fresh copy of the app."""
    project = workspace.root / "apps" / result.app
    artifact = project / ARTIFACT
    step = "warm-up"
    try:
        copy_app(result.app, project)
        # A throwaway flashbuild cache: only the uv cache stays warm for the cold build.
        warm_up_cache = workspace.root / "warm-up-cache"
        workspace.flash_build(project, flash_cache=warm_up_cache)
        for leftover in (warm_up_cache, project / ".flash", workspace.flash_cache):
            shutil.rmtree(leftover, ignore_errors=True)

        step = "cold"
        result.cold_s, result.cold_peak_rss = workspace.flash_build_measured(project)
        cold_digest = sha256_of(artifact)
        progress(f"{result.app}: cold build {result.cold_s:.2f} s, "
                 f"peak RSS {result.cold_peak_rss / 1e6:.0f} MB")

        step = "warm"
        warm_digests = set()
        for _ in range(REPEATS):
            result.warm_runs_s.append(workspace.flash_build(project))
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
            result.code_change_runs_s.append(workspace.flash_build(project))
        progress(f"{result.app}: code-change rebuild {medians(result.code_change_runs_s)}")
        step = "artifact"
        result.artifact_bytes = artifact.stat().st_size
        with tarfile.open(artifact, "r:gz") as archive:
            result.artifact_entries = sum(1 for _ in archive)

        step = "dependency-added"
        add_dependency(project, ADDED_DEPENDENCY)
        result.dependency_added_s = workspace.flash_build(project)
        result.dependency_install_s = install_alone(workspace, ADDED_DEPENDENCY)
        progress(f"{result.app}: one dependency added {result.dependency_added_s:.2f} s "
                 f"(its own install {result.dependency_install_s:.2f} s)")
    except (BenchmarkError, OSError, tarfile.TarError) as error:
        result.fail(step, error)


def install_alone(workspace: Workspace, requirement: str) -> float:
    """Seconds of ``uv pip install --target`` of one requirement, as a build installs it."""
    scratch = workspace.root / "install-alone"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        return run_timed([find_uv(), "pip", "install", "--target", str(scratch), "--no-deps",
                          *FLOOR_TARGET, "--no-config", "--index-url", INDEX_URL, "--quiet",
                          requirement], env=workspace.uv_env, timeout=INSTALL_TIMEOUT)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def add_dependency(project: Path, name: str) -> None:
    """Declare ``name`` in the first endpoint that declares dependencies."""
    for module in sorted(project.glob("*.py")):
        text = module.read_text(encoding="utf-8")
        if "dependencies=[" in text:
            module.write_text(text.replace("dependencies=[", f'dependencies=["{name}", ', 1),
                              encoding="utf-8")
            return
    raise BenchmarkError("no endpoint of the app declares dependencies")


def read_pins(requirements: Path) -> list[str]:
    """The pins of a pip-tools style requirements file, without comments."""
    lines = (line.split(" #", 1)[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def find_uv() -> str:
    """The uv that flashbuild runs, else one on PATH."""
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv") or "uv"  # a missing uv is reported when it is run


def tar_gzip(tree: Path, output: Path) -> float:
    """Seconds of ``tar -cf - -C tree .`` compressed with flashbuild's default engine and
    level on every core (its block compressor fed the stream as is: no archive planning,
    hashing or checks), the primitive a build cannot beat."""
    from flashbuild.artifact.parallel_gzip import ParallelGzipWriter
    from flashbuild.config.compression import DEFAULT_ENGINE, ENGINES

    started = time.perf_counter()
    try:
        with output.open("wb") as sink, ParallelGzipWriter(
                sink, level=ENGINES[DEFAULT_ENGINE].default_level, engine=DEFAULT_ENGINE,
                threads=os.cpu_count() or 1) as deflate:
            tar = subprocess.Popen(["tar", "-cf", "-", "-C", str(tree), "."],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
            for chunk in iter(lambda: tar.stdout.read(1 << 20), b""):
                deflate.write(chunk)
            code = tar.wait(timeout=PACK_TIMEOUT)
    except subprocess.TimeoutExpired:
        tar.kill()
        raise BenchmarkError(f"tar timed out after {PACK_TIMEOUT} s") from None
    except OSError as error:
        raise BenchmarkError(f"cannot run tar: {error}") from None
    if code:
        raise BenchmarkError(f"tar exited {code}")
    return time.perf_counter() - started


def measure_floor(result: AppResult, workspace: Workspace) -> None:
    """uv install of the artifact's pins plus tar/gzip of its contents, same uv cache."""
    artifact = workspace.root / "apps" / result.app / ARTIFACT
    scratch = workspace.root / "floor" / result.app
    tree = scratch / "tree"
    try:
        if not artifact.is_file():
            raise BenchmarkError("no artifact to measure against")
        with tarfile.open(artifact, "r:gz") as archive:
            # The "data" filter where this Python has it; the archive is our own anyway.
            filtered = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            archive.extractall(tree, **filtered)
        requirements = tree / "requirements.txt"
        pins = read_pins(requirements) if requirements.is_file() else []
        result.floor_install_s = 0.0
        if pins:
            pins_file = scratch / "pins.txt"
            pins_file.write_text("\n".join(pins) + "\n", encoding="utf-8")
            command = [find_uv(), "pip", "install", "--target", str(scratch / "install"),
                       "--no-deps", *FLOOR_TARGET, "--no-config", "--index-url", INDEX_URL,
                       "--quiet", "-r", str(pins_file)]
            result.floor_install_s = run_timed(command, env=workspace.uv_env,
                                               timeout=INSTALL_TIMEOUT)
        result.floor_pack_s = tar_gzip(tree, scratch / "out.tar.gz")
        progress(f"{result.app}: floor {result.floor_install_s:.2f} s install of "
                 f"{len(pins)} pins + {result.floor_pack_s:.2f} s tar/deflate")
    except (BenchmarkError, OSError, tarfile.TarError) as error:
        result.floor_pack_s = None  # half a floor is no floor
        result.fail("floor", error)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # unpacked trees can be large


def reference_env() -> dict[str, str]:
    """The reference installs with pip: from PyPI only, like flashbuild here, no colours."""
    ignored = ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX")
    env = {name: value for name, value in os.environ.items() if name not in ignored}
    env.update(PIP_INDEX_URL=INDEX_URL, PIP_CONFIG_FILE=os.devnull,
               NO_COLOR="1", TERM="dumb", COLUMNS="200")
    return env


def reference_flash() -> Path:
    """The ``flash`` of runpod-flash 1.21.0 in a venv of its own, reused across runs."""
    python = REFERENCE_VENV / "bin" / "python"
    if not python.exists():
        progress(f"creating {REFERENCE_VENV} for runpod-flash {REFERENCE_VERSION}")
        run_timed([sys.executable, "-m", "venv", str(REFERENCE_VENV)], timeout=300)
    # Quick when already installed; completes a venv that an interrupted run left behind.
    run_timed([str(python), "-m", "pip", "install", "--quiet", "--index-url", INDEX_URL,
               f"runpod-flash=={REFERENCE_VERSION}"], env=reference_env(), timeout=BUILD_TIMEOUT)
    flash = REFERENCE_VENV / "bin" / "flash"
    if not flash.exists():
        raise BenchmarkError(f"{flash} missing after installing runpod-flash")
    return flash


def measure_reference(result: AppResult, workspace: Workspace, flash: Path) -> None:
    """Cold build then rebuild of a fresh copy with the reference's ``flash build``."""
    project = workspace.root / "reference" / result.app
    step = "reference cold"
    try:
        copy_app(result.app, project)
        build = [str(flash), "build"]
        result.reference_cold_s = run_timed(build, cwd=project, env=reference_env(),
                                            timeout=BUILD_TIMEOUT)
        step = "reference warm"
        result.reference_warm_s = run_timed(build, cwd=project, env=reference_env(),
                                            timeout=BUILD_TIMEOUT)
        progress(f"{result.app}: reference {result.reference_cold_s:.1f} s cold, "
                 f"{result.reference_warm_s:.1f} s warm")
    except (BenchmarkError, OSError) as error:
        result.fail(step, error)
    finally:
        shutil.rmtree(project, ignore_errors=True)


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
        reference,
    ]


def table(results: list[AppResult], with_reference: bool) -> str:
    """The Markdown summary: one row per app, then the goals."""
    header = ["app", "cold build s", "warm rebuild s", "code-change rebuild s",
              f"{ADDED_DEPENDENCY} added s (its install)", "cold peak RSS MB", "artifact MB",
              "cold = warm bytes", "floor s (install + tar/deflate)", "cold ÷ floor",
              f"reference {REFERENCE_VERSION} cold s / warm s"]
    goals = ["**goal**", f"≤ {GOALS['cold_over_floor']} x floor", f"≤ {GOALS['no_change_s']}",
             f"≤ {GOALS['code_change_s']}", "≤ its install + 1", "≤ 300",
             f"embeddings-app < {GOALS['embeddings_app_mb']:.0f}",
             "yes", "", f"≤ {GOALS['cold_over_floor']}", "≥ 15 x flashbuild's cold"]
    rows = [[text.replace("|", "\\|") for text in table_row(result, with_reference)]
            for result in results]
    lines = [header, ["---"] * len(header), *rows, goals]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python tools/benchmark.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default=",".join(APPS),
                        help=f"comma-separated fixture apps (default: {','.join(APPS)})")
    parser.add_argument("--with-reference", action="store_true",
                        help=f"also time runpod-flash {REFERENCE_VERSION} (venv: {REFERENCE_VENV})")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the raw numbers here")
    args = parser.parse_args(argv)
    args.apps = [app.strip() for app in args.apps.split(",") if app.strip()]
    unknown = [app for app in args.apps if not (FIXTURES / app).is_dir()]
    if unknown or not args.apps:
        parser.error(f"no fixture app named {', '.join(unknown)} in {FIXTURES}")
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
