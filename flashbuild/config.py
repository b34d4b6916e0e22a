"""The build configuration: command-line options checked and frozen."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidName, canonicalize_name

from .errors import SourceLocation, UsageError
from .models import DEFAULT_PYTHON_VERSION, PYTHON_VERSIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

FLASH_DIR = ".flash"
DEFAULT_OUTPUT = Path(FLASH_DIR) / "artifact.tar.gz"


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """Everything one ``flash build`` needs to know, validated."""

    project_dir: Path  # absolute
    output: Path  # absolute
    python_version: str = DEFAULT_PYTHON_VERSION
    no_deps: bool = False
    keep_build: bool = False
    exclude: tuple[str, ...] = ()  # PEP 503-normalised package names, sorted
    source_date_epoch: int

    @property
    def flash_dir(self) -> Path:
        return self.project_dir / FLASH_DIR

    @property
    def build_dir(self) -> Path:
        return self.flash_dir / ".build"

    @property
    def manifest_path(self) -> Path:
        return self.flash_dir / "flash_manifest.json"

    @classmethod
    def create(
        cls,
        *,
        project_dir: Path,
        output: Path | None = None,
        python_version: str = DEFAULT_PYTHON_VERSION,
        no_deps: bool = False,
        keep_build: bool = False,
        exclude: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> "BuildConfig":
        """Validate options; relative paths are taken from the current directory."""
        from .package import source_date_epoch  # the archive owns the epoch rule

        project = project_dir.expanduser().resolve()
        if not project.is_dir():
            raise UsageError(
                f"project directory {str(project_dir)!r} does not exist or is not a directory.",
                hint="Pass the directory that holds your Flash app: flash build path/to/app.",
            )
        if python_version not in PYTHON_VERSIONS:
            raise UsageError(
                f"Python version {python_version!r} is not supported.",
                hint=f"Use one of {', '.join(PYTHON_VERSIONS)}.",
            )
        target = (output.expanduser().resolve() if output is not None
                  else project / DEFAULT_OUTPUT)
        if target.is_dir():
            raise UsageError(f"--output {str(output)!r} is a directory.",
                             hint="Give a file name, e.g. --output dist/app.tar.gz.")
        return cls(
            project_dir=project,
            output=target,
            python_version=python_version,
            no_deps=no_deps,
            keep_build=keep_build,
            exclude=parse_exclusions(exclude),
            source_date_epoch=source_date_epoch(environ if environ is not None else {}),
        )


def parse_exclusions(values: Iterable[str]) -> tuple[str, ...]:
    """``["torch,torchvision", "PyYAML"]`` -> ``("pyyaml", "torch", "torchvision")``."""
    names = set()
    for value in values:
        for raw in value.split(","):
            raw = raw.strip()
            if not raw:
                continue
            try:
                names.add(canonicalize_name(raw, validate=True))
            except InvalidName:
                raise UsageError(
                    f"--exclude {raw!r} is not a valid package name.",
                    hint="Give distribution names separated by commas: --exclude torch,pyyaml.",
                ) from None
    return tuple(sorted(names))


def project_name(project_dir: Path) -> str:
    """``[project].name`` from pyproject.toml, else the directory's name."""
    pyproject = project_dir / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"pyproject.toml is not valid TOML: {exc}",
                location=SourceLocation(path="pyproject.toml"),
                hint="Fix the file, or remove it if the app does not need it.",
            ) from None
        name = data.get("project", {}).get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    return project_dir.name
