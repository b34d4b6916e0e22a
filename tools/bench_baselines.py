"""What the benchmark compares flashbuild with: the primitives' floor and the old tool."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from bench_apps import BUILD_TIMEOUT, INDEX_URL, NEAR_CAP, AppResult, Workspace
from bench_process import BenchmarkError, find_uv, progress, run_timed

INSTALL_TIMEOUT = 10 * 60
PACK_TIMEOUT = 5 * 60
ARTIFACT = Path(".flash") / "artifact.tar.gz"
# As flashbuild runs uv: for the workers' platform, naming an interpreter (no discovery).
FLOOR_TARGET = ["--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.12",
                "--python", sys.executable]
REFERENCE_VERSION = "1.21.0"
REFERENCE_VENV = Path.home() / ".cache" / "flashbuild-bench" / "reference-venv"


def install_alone(workspace: Workspace, app: str, requirement: str) -> float:
    """Seconds of ``uv pip install --target`` of one requirement, as a build installs it."""
    scratch = workspace.root / "install-alone"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        return run_timed([find_uv(), "pip", "install", "--target", str(scratch), "--no-deps",
                          *FLOOR_TARGET, "--no-config", *workspace.index_args(app), "--quiet",
                          requirement], env=workspace.uv_env, timeout=INSTALL_TIMEOUT)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def read_pins(requirements: Path) -> list[str]:
    """The pins of a pip-tools style requirements file, without comments."""
    lines = (line.split(" #", 1)[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def tar_gzip(tree: Path, output: Path) -> float:
    """Seconds of ``tar -cf - -C tree .`` compressed with flashbuild's default engine and
    level on every core (its block compressor fed the stream as is: no archive planning,
    hashing or checks), the primitive a build cannot beat."""
    from flashbuild.artifact.parallel_gzip import ParallelGzipWriter
    from flashbuild.config.compression import DEFAULT_ENGINE, ENGINES

    os.sync()  # the unpacked tree's writeback is not the floor's work
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
                       "--no-deps", *FLOOR_TARGET, "--no-config",
                       *workspace.index_args(result.app), "--quiet", "-r", str(pins_file)]
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
    if result.app == NEAR_CAP:
        result.fail(step, BenchmarkError("not run: it installs from PyPI only"))
        return
    try:
        workspace.prepare(result.app, project)
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
