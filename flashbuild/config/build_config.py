"""The build configuration: command-line options, environment and ``[tool.flash]``,
checked and frozen into one :class:`BuildConfig`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from packaging.utils import InvalidName, canonicalize_name

from .._util.units import parse_size
from ..errors import SourceLocation, UsageError
from ..records import (
    DEFAULT_GLIBC,
    DEFAULT_PYTHON_VERSION,
    PYTHON_VERSIONS,
    IndexOptions,
    Target,
)
from .compression import DEFAULT_ENGINE, ENGINES
from .environment import (
    default_cache_dir,
    image_profiles_dir,
    index_options,
    source_date_epoch,
)
from .images import ImageTable, image_table
from .pyproject import PYPROJECT, ToolSettings, project_name, read_pyproject, tool_settings
from .remote_cache import RemoteCacheSettings, remote_cache_settings

FLASH_DIR = ".flash"
DEFAULT_OUTPUT = Path(FLASH_DIR) / "artifact.tar.gz"
MANIFEST_NAME = "flash_manifest.json"  # beside the artifact, unless told otherwise
# The glibc levels uv's --python-platform names (x86_64-manylinux_2_N).
GLIBC_MINORS = (17, 28, *range(31, 41))
DEFAULT_MAX_SIZE = 1_500_000_000  # bytes of the compressed artifact: 1.5 GB
DEFAULT_COMPRESSION_LEVEL = 6
_PYPROJECT_LOCATION = SourceLocation(path=PYPROJECT)


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
    project_name: str  # [project].name of pyproject.toml, else the directory's name
    glibc: tuple[int, int] = DEFAULT_GLIBC
    index: IndexOptions = field(default_factory=IndexOptions)
    allow_build: tuple[str, ...] = ()  # normalised names that may be built from sdists
    locked: bool = False
    images: ImageTable = field(default_factory=image_table)
    max_size: int = DEFAULT_MAX_SIZE  # bytes of the compressed artifact
    compression_engine: str = DEFAULT_ENGINE  # see flashbuild/config/compression.py
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    threads: int | None = None  # compression threads; None: one per CPU
    cache_dir: Path | None = None  # None: no cache (--no-cache)
    remote_cache: RemoteCacheSettings | None = None  # None: none (or --no-cache)
    ignore: tuple[str, ...] = ()  # [tool.flash] ignore: gitignore patterns
    allow_secrets: frozenset[str] = frozenset()  # [tool.flash] allow-secrets: paths
    strict: bool = False  # static check warnings fail the build
    manifest_output: Path | None = None  # None: .flash/flash_manifest.json
    # Where the build keeps its state (lock, stamps, build directory) and, unless told
    # otherwise, writes artifact and manifest; None: the project's .flash. A verifying
    # rebuild (flash verify) uses a private temporary directory.
    state_dir: Path | None = None
    # The build's environment, for the lookups declarations may make (never shown).
    environment: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def target(self) -> Target:
        return Target(python_version=self.python_version, glibc=self.glibc)

    @property
    def flash_dir(self) -> Path:
        return self.state_dir or self.project_dir / FLASH_DIR

    @property
    def build_dir(self) -> Path:
        return self.flash_dir / ".build"

    @property
    def manifest_path(self) -> Path:
        return self.manifest_output or self.flash_dir / MANIFEST_NAME

    @classmethod
    def create(  # one keyword per command-line option
        cls, *, project_dir: Path, environ: Mapping[str, str] | None = None,
        output: Path | None = None, manifest_output: Path | None = None,
        python_version: str | None = None, glibc: str | None = None,
        no_deps: bool = False, keep_build: bool = False, locked: bool = False,
        exclude: Iterable[str] = (), allow_build: Iterable[str] = (),
        index_url: str | None = None, extra_index_urls: Iterable[str] = (),
        find_links: Iterable[str] = (), no_index: bool = False,
        max_size: str | None = None, compression_level: int | None = None,
        compression_engine: str | None = None,
        threads: int | None = None, no_cache: bool = False, strict: bool = False,
        image_release: str | None = None, state_dir: Path | None = None,
        remote_cache: str | None = None, remote_cache_mode: str | None = None,
    ) -> BuildConfig:
        """Validate options; relative paths are taken from the current directory.

        Precedence: command-line options, then the environment (``environ``,
        the process environment when None), then ``[tool.flash]`` in
        pyproject.toml, then defaults. Exclusions and allowed builds from all
        places are combined. ``state_dir`` takes the place of the project's ``.flash``.
        """
        environ = os.environ if environ is None else environ
        project = _project_directory(project_dir)
        pyproject = read_pyproject(project)
        settings = tool_settings(pyproject)
        python_version = _python_version(python_version, settings)
        return cls(
            project_dir=project,
            output=_output_path(project, output, manifest_output, state_dir),
            python_version=python_version,
            no_deps=no_deps,
            keep_build=keep_build,
            exclude=parse_exclusions([*exclude, *settings.get("exclude", [])]),
            source_date_epoch=source_date_epoch(environ),
            project_name=project_name(pyproject, project),
            glibc=_glibc(glibc, settings),
            index=index_options(project, settings, environ, index_url=index_url,
                                extra_index_urls=tuple(extra_index_urls),
                                find_links=tuple(find_links), no_index=no_index),
            allow_build=parse_exclusions([*allow_build, *settings.get("allow-build", [])],
                                         option="--allow-build"),
            locked=locked,
            images=image_table(settings.get("images"), python=python_version,
                               release=image_release or settings.get("image-release"),
                               profiles_dir=image_profiles_dir(environ)),
            max_size=_max_size(max_size, settings),
            compression_engine=(engine := _compression_engine(compression_engine, settings)),
            compression_level=_compression_level(compression_level, settings, engine),
            threads=_threads(threads),
            cache_dir=None if no_cache else default_cache_dir(environ),
            remote_cache=None if no_cache else remote_cache_settings(
                settings, environ, url=remote_cache, mode=remote_cache_mode),
            ignore=tuple(settings.get("ignore", ())),
            allow_secrets=frozenset(p.strip("/") for p in settings.get("allow-secrets", ())),
            strict=strict,
            manifest_output=manifest_output,
            state_dir=state_dir,
            environment=MappingProxyType(dict(environ)),
        )


def _project_directory(project_dir: Path) -> Path:
    project = project_dir.expanduser().resolve()
    if not project.is_dir():
        raise UsageError(
            f"project directory {str(project_dir)!r} does not exist or is not a directory.",
            hint="Pass the directory that holds your Flash app: flash build path/to/app.",
        )
    return project


def _output_path(project: Path, output: Path | None, manifest_output: Path | None,
                 state_dir: Path | None) -> Path:
    """Where the artifact goes: a regular file or nothing yet, never the manifest's path.

    The last component is not resolved: a symbolic link there is refused, not
    followed, and so are directories, devices, FIFOs and sockets, which are
    left untouched.
    """
    state = state_dir or project / FLASH_DIR
    given = (output.expanduser() if output is not None else state / DEFAULT_OUTPUT.name)
    absolute = given if given.is_absolute() else Path.cwd() / given
    target = absolute.parent.resolve() / absolute.name
    shown = str(output) if output is not None else str(DEFAULT_OUTPUT)
    what = None
    if target.is_symlink():
        what = "a symbolic link"
    elif target.is_dir():
        what = "a directory"
    elif target.exists() and not target.is_file():
        what = "not a regular file (a device, FIFO or socket)"
    if what is not None:
        raise UsageError(
            f"the artifact's path {shown!r} is {what}; flashbuild only writes regular files and "
            "left it untouched.",
            hint="Give the path of a new or regular file, e.g. --output dist/app.tar.gz.")
    manifest = (manifest_output.expanduser().resolve() if manifest_output is not None
                else state / MANIFEST_NAME)
    if target == manifest:
        raise UsageError(
            f"the artifact's path {shown!r} is where the manifest is written.",
            hint="Give the artifact another file name, e.g. --output dist/app.tar.gz.")
    return target


def _python_version(value: str | None, settings: ToolSettings) -> str:
    version = value or settings.get("python-version") or DEFAULT_PYTHON_VERSION
    if version not in PYTHON_VERSIONS:
        raise UsageError(
            f"Python version {version!r} is not supported.",
            hint=f"Use one of {', '.join(PYTHON_VERSIONS)}.",
        )
    return version


def _glibc(value: str | None, settings: ToolSettings) -> tuple[int, int]:
    if value:
        return parse_glibc(value)
    return parse_glibc(settings.get("glibc", ""), location=_PYPROJECT_LOCATION)


def _max_size(value: str | None, settings: ToolSettings) -> int:
    if value:
        return parse_size(value)
    return parse_size(settings.get("max-size", DEFAULT_MAX_SIZE), option="[tool.flash] max-size")


def parse_exclusions(values: Iterable[str], *, option: str = "--exclude") -> tuple[str, ...]:
    """``["torch,torchvision", "PyYAML"]`` -> ``("pyyaml", "torch", "torchvision")``."""
    names = set()
    for value in values:
        for raw in value.split(","):
            name = raw.strip()
            if not name:
                continue
            try:
                names.add(canonicalize_name(name, validate=True))
            except InvalidName:
                raise UsageError(
                    f"{option} {name!r} is not a valid package name.",
                    hint=f"Give distribution names separated by commas: {option} torch,pyyaml.",
                ) from None
    return tuple(sorted(names))


def _compression_engine(value: str | None, settings: ToolSettings) -> str:
    engine = value if value is not None else settings.get("compression-engine", DEFAULT_ENGINE)
    if engine not in ENGINES:
        raise UsageError(
            f"{engine!r} is not a compression engine.",
            location=None if value is not None else _PYPROJECT_LOCATION,
            hint="Use " + "; ".join(f"{spec.name} ({spec.summary})" for spec in ENGINES.values())
            + ".")
    return engine


def _compression_level(value: int | None, settings: ToolSettings, engine: str) -> int:
    spec = ENGINES[engine]
    level = value if value is not None else settings.get("compression-level",
                                                         spec.default_level)
    if level not in spec.levels:
        raise UsageError(
            f"compression level {level} is out of range for {engine}.",
            location=None if value is not None else _PYPROJECT_LOCATION,
            hint=f"{engine} takes {spec.levels[0]} to {spec.levels[-1]}; "
            f"{spec.default_level} is its default.",
        )
    return level


def _threads(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise UsageError(f"--threads {value} must be at least 1.", hint="e.g. --threads 4")
    return value


def parse_glibc(value: str, *, location: SourceLocation | None = None) -> tuple[int, int]:
    """``"2.28"`` -> ``(2, 28)``; empty -> the default."""
    if not value:
        return DEFAULT_GLIBC
    major, dot, minor = value.strip().partition(".")
    valid = (dot and major.isascii() and major.isdigit() and minor.isascii()
             and minor.isdigit() and len(minor) <= 3)
    if not valid or int(major) != 2 or int(minor) not in GLIBC_MINORS:
        levels = ", ".join(f"2.{n}" for n in GLIBC_MINORS)
        raise UsageError(
            f"glibc level {value!r} is not one the resolver can target.",
            location=location,
            hint=f"Give the workers' glibc as one of {levels}, e.g. --glibc 2.28 (the default).",
        )
    return (2, int(minor))
