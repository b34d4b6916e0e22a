"""The apps the benchmark builds, where their packages come from, and its workspace.

The fixture apps resolve from PyPI. The near-cap app (see ``near_cap_app``) is
generated with its wheels, which it installs from an index served on
127.0.0.1, so that its 1.2 GB never depend on the network.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench_process import one_line, progress, run_measured, run_timed
from near_cap_app import EXTRA, serve_index, write_index, write_near_cap_app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NEAR_CAP = "near-cap-app"
APPS = ("example-app", "embeddings-app", NEAR_CAP)
INDEX_URL = "https://pypi.org/simple"
BUILD_TIMEOUT = 15 * 60
# Small, pure Python, and in no worker image: a dependency the artifact must ship.
ADDED_DEPENDENCY = {"example-app": "tomli-w", "embeddings-app": "tomli-w", NEAR_CAP: EXTRA.name}


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
    unpacked_bytes: int | None = None  # what the artifact holds, uncompressed
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


class Workspace:
    """The temporary directory: app copies, the flashbuild cache and the shared uv cache.

    Builds run as an installed flashbuild does: with its bytecode cached (an
    inherited PYTHONDONTWRITEBYTECODE would make every run compile it again).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.flash_cache = root / "cache"
        self.near_cap_index: str | None = None  # its URL, once it is written and served
        environ = {name: value for name, value in os.environ.items()
                   if name != "PYTHONDONTWRITEBYTECODE"}
        self.uv_env = {**environ, "UV_CACHE_DIR": str(root / "uv-cache"),
                       "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}

    def index_args(self, app: str) -> list[str]:
        """Where the app's packages come from, as options of flashbuild and uv alike."""
        if app == NEAR_CAP:
            if self.near_cap_index is None:
                write_index(self.root / "near-cap-index")
                self.near_cap_index = serve_index(self.root / "near-cap-index")[0]
            return ["--index-url", self.near_cap_index]
        return ["--index-url", INDEX_URL]

    def prepare(self, app: str, destination: Path) -> None:
        """A fresh copy of the app, without the build output of earlier runs."""
        shutil.rmtree(destination, ignore_errors=True)
        if app == NEAR_CAP:
            write_near_cap_app(destination)
            return
        shutil.copytree(FIXTURES / app, destination, symlinks=True,
                        ignore=shutil.ignore_patterns(".flash", "__pycache__"))

    def flash_build(self, project: Path, app: str, flash_cache: Path | None = None) -> float:
        """Seconds of one build (memory not sampled)."""
        return run_timed(self._build_command(project, app), cwd=project,
                         env=self._build_env(flash_cache), timeout=BUILD_TIMEOUT)

    def _build_command(self, project: Path, app: str) -> list[str]:
        return [sys.executable, "-m", "flashbuild", "build", "--quiet",
                *self.index_args(app), str(project)]

    def _build_env(self, flash_cache: Path | None) -> dict[str, str]:
        return {**self.uv_env, "FLASHBUILD_CACHE_DIR": str(flash_cache or self.flash_cache)}

    def flash_build_measured(self, project: Path, app: str, flash_cache: Path | None = None
                             ) -> tuple[float, int]:
        """Seconds and peak resident bytes (flashbuild and uv together) of one build."""
        return run_measured(self._build_command(project, app), cwd=project,
                            env=self._build_env(flash_cache), timeout=BUILD_TIMEOUT)
