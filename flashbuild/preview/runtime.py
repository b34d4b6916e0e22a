"""What a preview runs on: this host's Python and what the workers' base images provide.

The endpoint processes run on this host's interpreter, so the app is built
for its Python version (:func:`preview_build_config`) rather than the
workers' target: compiled wheels then match the interpreter that loads them.

The workers' images have the Flash runtime (``runpod``, ``runpod-flash``)
and the servers that run handlers (``fastapi``, ``uvicorn``); the GPU image
also has torch and friends, which an artifact leaves out. A preview installs
them once with uv into a virtual environment for this host's interpreter,
cached under ``<flashbuild cache>/preview/<key>``, the key being a hash of
the interpreter, the package list and the index options. The environment is
built in a staging directory and renamed into place whole, so a killed
install never leaves a half-built environment that a later preview would use.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._util.files import staging_directory
from .._util.processes import CommandListener, run_command
from ..config.build_config import FLASH_DIR, BuildConfig
from ..config.images import RUNTIME, ImageTable
from ..deps.uv import RESOLVE_TIMEOUT, uv_binary, uv_environment
from ..errors import DependencyError, PackagingError, UsageError
from ..records import PYTHON_VERSIONS, IndexOptions, image_kind

RUNTIME_PACKAGES = ("fastapi", *RUNTIME, "uvicorn")
_DESCRIPTION_FILE = "preview-runtime.json"
_ENVIRONMENT_FORMAT = 1
_ERROR_TAIL_LINES = 20
_DEFAULT_INDEX = IndexOptions()  # PyPI, as uv defaults


@dataclass(frozen=True, kw_only=True)
class RuntimeEnvironment:
    """The cached virtual environment the endpoint processes run on."""

    root: Path
    python: Path
    site_packages: Path
    packages: tuple[str, ...]
    from_cache: bool

def host_python_version() -> str:
    """``3.11``: the Python the preview runs the endpoints on."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def preview_build_config(
    project_dir: Path, *, environ: Mapping[str, str], **options: Any
) -> BuildConfig:
    """The build of a preview: for the host's Python, into ``.flash/preview/``.

    The deployable ``.flash/artifact.tar.gz`` and ``.flash/flash_manifest.json``
    are left alone; ``options`` are those of :meth:`BuildConfig.create`
    (``no_deps``, index options, ...).
    """
    version = host_python_version()
    if version not in PYTHON_VERSIONS:
        raise UsageError(
            f"flash preview runs the app on this Python ({version}), which flashbuild "
            "cannot build for.",
            hint=f"Run flash preview with Python {PYTHON_VERSIONS[0]} to {PYTHON_VERSIONS[-1]}.",
        )
    project = project_dir.expanduser().resolve()
    return BuildConfig.create(
        project_dir=project_dir,
        output=project / FLASH_DIR / "preview" / "artifact.tar.gz",
        manifest_output=project / FLASH_DIR / "preview" / "flash_manifest.json",
        python_version=version,
        environ=environ,
        **options,
    )


def host_platform_warning(manifest: Mapping[str, Any]) -> str | None:
    """Installed dependencies are Linux x86_64 wheels: elsewhere compiled ones do not load."""
    if not manifest.get("dependencies", {}).get("installed"):
        return None
    if sys.platform == "linux" and platform.machine().lower() in ("x86_64", "amd64"):
        return None
    return (f"the app's dependencies were installed for Linux x86_64; on this "
            f"{sys.platform} {platform.machine()} host, compiled ones will not load.")


def runtime_packages(
    manifest: Mapping[str, Any], images: ImageTable, *, with_image_packages: bool = False
) -> tuple[str, ...]:
    """What the base images of the app's endpoints would provide, as requirements.

    Always the Flash runtime and its servers; with ``with_image_packages``
    everything else those images provide too. Versions pinned in the image
    table are kept.
    """
    wanted = {name: name for name in RUNTIME_PACKAGES}
    kinds = {image_kind(resource.get("compute", "gpu"), bool(resource.get("is_load_balanced")))
             for resource in manifest["resources"].values()}
    for kind in sorted(kinds):
        for package in images.for_kind(kind).provides:
            wanted_here = with_image_packages or package.name in wanted
            if wanted_here and (package.version is not None or package.name not in wanted):
                wanted[package.name] = str(package)
    return tuple(wanted[name] for name in sorted(wanted))


def runtime_key(packages: Iterable[str], index: IndexOptions) -> str:
    """The cache key of a runtime environment: interpreter, packages, where they come from."""
    parts = {
        "format": _ENVIRONMENT_FORMAT,
        "python": sys.version,
        "implementation": sys.implementation.name,
        "interpreter": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
        "packages": sorted(packages),
        "index": index.uv_arguments(),
    }
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def ensure_runtime(
    packages: tuple[str, ...],
    *,
    cache_root: Path,
    index: IndexOptions = _DEFAULT_INDEX,
    listener: CommandListener | None = None,
) -> RuntimeEnvironment:
    """The cached environment for ``packages``, installed with uv on first use."""
    root = cache_root / "preview"
    final = root / runtime_key(packages, index)
    cached = _load_runtime(final, from_cache=True)
    if cached is not None:
        return cached
    try:
        staging = staging_directory(root, prefix=".staging-")
    except OSError as exc:
        raise PackagingError(f"cannot create the preview runtime under {root}: {exc}") from None
    try:
        _install_runtime(staging, packages, index, listener)
        try:
            os.replace(staging, final)
        except OSError:  # another preview finished the same environment first
            if _load_runtime(final, from_cache=True) is None:
                shutil.rmtree(final, ignore_errors=True)
                os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    built = _load_runtime(final, from_cache=False)
    if built is None:
        raise PackagingError(f"the preview runtime at {final} is incomplete.",
                             hint="Remove it and run flash preview again.")
    return built


def _install_runtime(staging: Path, packages: tuple[str, ...], index: IndexOptions,
                     listener: CommandListener | None) -> None:
    environment = uv_environment()
    steps: tuple[list[str | Path], ...] = (
        [uv_binary(), "venv", "--no-config", "--quiet", "--python", sys.executable, staging],
        # Bytecode now: every endpoint process imports runpod, and a cached
        # environment should not pay for compiling it on each start.
        [uv_binary(), "pip", "install", "--no-config", "--compile-bytecode",
         "--python", _venv_python(staging), *index.uv_arguments(), *packages],
    )
    for command in steps:
        result = run_command(command, env=environment, timeout=RESOLVE_TIMEOUT, listener=listener)
        if not result.ok:
            output = (result.stderr or result.stdout).strip().splitlines()[-_ERROR_TAIL_LINES:]
            raise DependencyError(
                f"cannot install the preview runtime ({', '.join(packages)}):\n"
                + "\n".join(f"  {line}" for line in output),
                hint="Check the index options (--index-url, --find-links, --no-index).",
            )
    probe = run_command([_venv_python(staging), "-c",
                         "import sysconfig; print(sysconfig.get_path('purelib'))"],
                        timeout=60, listener=listener)
    if not probe.ok:
        raise DependencyError(f"the preview runtime's Python does not run: {probe.stderr.strip()}")
    description = {
        "format": _ENVIRONMENT_FORMAT,
        "python": os.path.relpath(_venv_python(staging), staging),
        "site_packages": os.path.relpath(probe.stdout.strip(), staging),
        "packages": list(packages),
    }
    (staging / _DESCRIPTION_FILE).write_text(json.dumps(description), encoding="utf-8")


def _venv_python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _load_runtime(root: Path, *, from_cache: bool) -> RuntimeEnvironment | None:
    """The environment at ``root`` if complete and its interpreter still exists."""
    try:
        data = json.loads((root / _DESCRIPTION_FILE).read_text(encoding="utf-8"))
        python, site = root / data["python"], root / data["site_packages"]
        if data.get("format") != _ENVIRONMENT_FORMAT or not python.exists() or not site.is_dir():
            return None
        return RuntimeEnvironment(root=root, python=python, site_packages=site,
                                  packages=tuple(data["packages"]), from_cache=from_cache)
    except (OSError, ValueError, KeyError, TypeError):
        return None
