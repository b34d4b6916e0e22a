"""The build configuration: command-line options checked and frozen."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import InvalidName, canonicalize_name

from .errors import SourceLocation, UsageError
from .cache import default_cache_dir
from .images import ImageTable, image_table
from .sizes import DEFAULT_MAX_SIZE, parse_size
from .models import DEFAULT_GLIBC, DEFAULT_PYTHON_VERSION, PYTHON_VERSIONS, IndexOptions, Target

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
    project_name: str  # [project].name of pyproject.toml, else the directory's name
    glibc: tuple[int, int] = DEFAULT_GLIBC
    index: IndexOptions = IndexOptions()
    allow_build: tuple[str, ...] = ()  # normalised names that may be built from sdists
    locked: bool = False
    images: ImageTable = field(default_factory=image_table)
    max_size: int = DEFAULT_MAX_SIZE  # bytes of the compressed artifact
    compression_level: int = 6
    threads: int | None = None  # compression threads; None: one per CPU
    cache_dir: Path | None = None  # None: no cache (--no-cache)
    ignore: tuple[str, ...] = ()  # [tool.flash] ignore: gitignore patterns
    strict: bool = False  # static check warnings fail the build
    manifest_output: Path | None = None  # None: .flash/flash_manifest.json

    @property
    def target(self) -> Target:
        return Target(python_version=self.python_version, glibc=self.glibc)

    @property
    def flash_dir(self) -> Path:
        return self.project_dir / FLASH_DIR

    @property
    def build_dir(self) -> Path:
        return self.flash_dir / ".build"

    @property
    def manifest_path(self) -> Path:
        return self.manifest_output or self.flash_dir / "flash_manifest.json"

    @classmethod
    def create(
        cls,
        *,
        project_dir: Path,
        output: Path | None = None,
        python_version: str | None = None,
        no_deps: bool = False,
        keep_build: bool = False,
        exclude: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
        glibc: str | None = None,
        index_url: str | None = None,
        extra_index_urls: Iterable[str] = (),
        find_links: Iterable[str] = (),
        no_index: bool = False,
        allow_build: Iterable[str] = (),
        locked: bool = False,
        max_size: str | None = None,
        compression_level: int | None = None,
        threads: int | None = None,
        no_cache: bool = False,
        strict: bool = False,
        manifest_output: Path | None = None,
    ) -> "BuildConfig":
        """Validate options; relative paths are taken from the current directory.

        Precedence: command-line options, then ``FLASH_*`` environment
        variables, then ``[tool.flash]`` in pyproject.toml, then defaults.
        Exclusions and allowed builds from all places are combined.
        """
        from .package import source_date_epoch  # the archive owns the epoch rule

        environ = environ if environ is not None else {}

        project = project_dir.expanduser().resolve()
        if not project.is_dir():
            raise UsageError(
                f"project directory {str(project_dir)!r} does not exist or is not a directory.",
                hint="Pass the directory that holds your Flash app: flash build path/to/app.",
            )
        pyproject = _read_pyproject(project)
        settings = tool_settings(pyproject)
        python_version = python_version or settings.get("python-version") or DEFAULT_PYTHON_VERSION
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
            exclude=parse_exclusions([*exclude, *settings.get("exclude", [])]),
            source_date_epoch=source_date_epoch(environ),
            project_name=project_name(pyproject, project),
            glibc=parse_glibc(glibc) if glibc else parse_glibc(
                settings.get("glibc", ""), location=SourceLocation(path="pyproject.toml")
            ),
            index=_index_options(
                project,
                settings,
                environ,
                index_url=index_url,
                extra_index_urls=tuple(extra_index_urls),
                find_links=tuple(find_links),
                no_index=no_index,
            ),
            allow_build=parse_exclusions(
                [*allow_build, *settings.get("allow-build", [])], option="--allow-build"
            ),
            locked=locked,
            images=image_table(settings.get("images")),
            max_size=parse_size(max_size) if max_size else parse_size(
                settings.get("max-size", DEFAULT_MAX_SIZE), option="[tool.flash] max-size"
            ),
            compression_level=_compression_level(compression_level, settings),
            threads=_threads(threads),
            cache_dir=None if no_cache else default_cache_dir(environ or os.environ),
            ignore=tuple(settings.get("ignore", ())),
            strict=strict,
            manifest_output=manifest_output,
        )


def parse_exclusions(values: Iterable[str], *, option: str = "--exclude") -> tuple[str, ...]:
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
                    f"{option} {raw!r} is not a valid package name.",
                    hint=f"Give distribution names separated by commas: {option} torch,pyyaml.",
                ) from None
    return tuple(sorted(names))


def project_name(pyproject: dict, project_dir: Path) -> str:
    """``[project].name`` from the parsed pyproject.toml, else the directory's name."""
    name = pyproject.get("project", {}).get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    return project_dir.name


# [tool.flash] keys and the types their values must have.
_TOOL_KEYS: dict[str, type] = {
    "python-version": str,
    "exclude": list,
    "allow-build": list,
    "glibc": str,
    "index-url": str,
    "extra-index-url": list,
    "find-links": list,
    "images": dict,
    "max-size": (str, int),
    "compression-level": int,
    "ignore": list,
}


def _read_pyproject(project_dir: Path) -> dict:
    pyproject = project_dir / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    try:
        return tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"pyproject.toml is not valid TOML: {exc}",
            location=SourceLocation(path="pyproject.toml"),
            hint="Fix the file, or remove it if the app does not need it.",
        ) from None


def tool_settings(pyproject: dict) -> dict:
    """``[tool.flash]`` of the parsed pyproject.toml, checked key by key."""
    settings = pyproject.get("tool", {}).get("flash", {})
    for key, value in settings.items():
        expected = _TOOL_KEYS.get(key)
        if expected is None:
            raise UsageError(
                f"[tool.flash] has an unknown key {key!r}.",
                location=SourceLocation(path="pyproject.toml"),
                hint=f"Known keys: {', '.join(sorted(_TOOL_KEYS))}.",
            )
        if not isinstance(value, expected) or isinstance(value, bool) or (
            expected is list and not all(isinstance(item, str) for item in value)
        ):
            shown = ("a list of strings" if expected is list else "a size" if key == "max-size"
                     else f"a {expected.__name__}")
            raise UsageError(
                f"[tool.flash] {key} must be {shown}, not {value!r}.",
                location=SourceLocation(path="pyproject.toml"),
                hint=f'e.g. {key} = {_EXAMPLES.get(key, "...")}',
            )
    return settings


_EXAMPLES = {
    "python-version": '"3.12"',
    "exclude": '["torch", "pyyaml"]',
    "allow-build": '["docopt"]',
    "glibc": '"2.28"',
    "index-url": '"https://pypi.org/simple"',
    "extra-index-url": '["https://download.pytorch.org/whl/cpu"]',
    "find-links": '["wheels"]',
    "max-size": '"1.5GB"',
    "compression-level": "6",
    "ignore": '["notebooks/", "*.ipynb"]',
}


def _compression_level(value: int | None, settings: dict) -> int:
    level = value if value is not None else settings.get("compression-level", 6)
    if not 0 <= level <= 9:
        raise UsageError(
            f"compression level {level} is out of range.",
            location=None if value is not None else SourceLocation(path="pyproject.toml"),
            hint="Use 0 (store) to 9 (smallest); 6 is the default.",
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
    if not (dot and major.isdigit() and minor.isdigit()) or int(major) != 2 or int(minor) < 17:
        raise UsageError(
            f"glibc level {value!r} is not valid.",
            location=location,
            hint="Give the workers' glibc as 2.N with N >= 17, e.g. --glibc 2.28 (the default).",
        )
    return (2, int(minor))


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(value.split()) if value else ()


def _index_options(
    project: Path,
    settings: dict,
    environ: Mapping[str, str],
    *,
    index_url: str | None,
    extra_index_urls: tuple[str, ...],
    find_links: tuple[str, ...],
    no_index: bool,
) -> IndexOptions:
    """Command line first, then FLASH_INDEX_URL/FLASH_EXTRA_INDEX_URL/FLASH_FIND_LINKS."""

    def local(location: str) -> str:
        # Relative find-links in pyproject.toml are relative to the project.
        if "://" in location or Path(location).is_absolute():
            return location
        return str(project / location)

    return IndexOptions(
        index_url=index_url or environ.get("FLASH_INDEX_URL") or settings.get("index-url"),
        extra_index_urls=extra_index_urls
        or _split(environ.get("FLASH_EXTRA_INDEX_URL"))
        or tuple(settings.get("extra-index-url", ())),
        find_links=tuple(str(Path(f).resolve()) if "://" not in f else f for f in find_links)
        or _split(environ.get("FLASH_FIND_LINKS"))
        or tuple(local(f) for f in settings.get("find-links", ())),
        no_index=no_index,
    )
