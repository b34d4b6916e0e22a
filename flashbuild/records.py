"""Frozen records passed between the pipeline stages.

Data flows ``BuildConfig -> ProjectFiles -> ScanResult -> BuildPlan ->
RenderedFile... -> Artifact``. Records are frozen and keyword-only, and their
collections are tuples (mappings are tuples of pairs), so a stage cannot
change what an earlier stage produced. The one exception is JSON data copied
into the manifest as is: ``EndpointConfig.settings`` values may be lists or dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import SourceLocation

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
RESERVED_PATHS = ("/ping", "/execute")
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13")
DEFAULT_PYTHON_VERSION = "3.12"

Compute = Literal["gpu", "cpu"]  # what an endpoint runs on, and so its worker image


def image_kind(compute: str, load_balanced: bool) -> str:
    """``gpu``, ``gpu-lb``, ``cpu`` or ``cpu-lb``: the worker image an endpoint runs on."""
    return f"{compute}-lb" if load_balanced else compute


# --- static values -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EnumMember:
    """A member of one of runpod_flash's enums, e.g. ``GpuGroup.AMPERE_80``."""

    enum: str
    member: str
    value: str

    def __str__(self) -> str:
        return f"{self.enum}.{self.member}"


@dataclass(frozen=True, kw_only=True)
class StaticCall:
    """A call of a runpod_flash class with static arguments (``PodTemplate(...)``)."""

    callee: str
    arguments: tuple[tuple[str, StaticValue], ...]  # positional ones keyed "#0", "#1"...
    location: SourceLocation = field(compare=False)
    argument_locations: tuple[SourceLocation, ...] = field(default=(), compare=False)

    def location_of(self, key: str) -> SourceLocation:
        """Where argument ``key`` was written (the call itself if unknown)."""
        for (name, _), where in zip(self.arguments, self.argument_locations, strict=False):
            if name == key:
                return where
        return self.location


# Lists become tuples and dicts become sorted tuples of pairs wrapped in
# StaticDict, so every static value is hashable and comparable.
@dataclass(frozen=True)
class StaticDict:
    items: tuple[tuple[StaticValue, StaticValue], ...]


StaticValue = None | bool | int | float | str | tuple | StaticDict | EnumMember | StaticCall


def to_json(value: StaticValue) -> object:
    """Convert a static value to plain JSON data (enum members become their values)."""
    if isinstance(value, EnumMember):
        return value.value
    if isinstance(value, StaticDict):
        return {str(to_json(k)): to_json(v) for k, v in value.items}
    if isinstance(value, StaticCall):
        data: dict[str, object] = {"type": value.callee}
        data.update({k: to_json(v) for k, v in value.arguments})
        return data
    if isinstance(value, tuple):
        return [to_json(v) for v in value]
    return value


# --- project files ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProjectFile:
    """A file or symlink of the project that ships in the artifact."""

    path: str  # POSIX, relative to the project root, no leading "./"
    source: Path  # absolute path on disk
    executable: bool = False
    link_target: str | None = None  # relative POSIX target for in-project symlinks
    # (st_dev, st_ino) when collected: every later read checks it is still this file
    identity: tuple[int, int] | None = field(default=None, compare=False)

    @property
    def is_symlink(self) -> bool:
        return self.link_target is not None


@dataclass(frozen=True, kw_only=True)
class BuildWarning:
    message: str
    location: SourceLocation | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


@dataclass(frozen=True, kw_only=True)
class ProjectFiles:
    root: Path
    files: tuple[ProjectFile, ...]  # sorted by path
    warnings: tuple[BuildWarning, ...] = ()


# --- scan ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ImportRef:
    """An import statement found inside a function body, made absolute."""

    module: str  # "" when a relative import cannot be resolved
    names: tuple[str, ...]  # () for ``import module``
    location: SourceLocation


@dataclass(frozen=True, kw_only=True)
class Route:
    method: str  # as written, upper-cased by validation
    path: str
    location: SourceLocation


@dataclass(frozen=True, kw_only=True)
class EndpointConfig:
    """Everything one declaration says about an endpoint.

    Two declarations of the same name must agree on every field. Function-level
    dependencies of the legacy ``@remote`` form live on :class:`FunctionDecl`.
    """

    name: str
    resource_type: str  # "Endpoint", "LiveServerless", "CpuLiveLoadBalancer", ...
    load_balanced: bool
    compute: Compute
    gpu_ids: tuple[str, ...]
    instance_ids: tuple[str, ...]
    workers_min: int
    workers_max: int
    idle_timeout: int
    dependencies: tuple[str, ...]
    system_dependencies: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    settings: tuple[tuple[str, object], ...]  # other options, as JSON data, sorted


@dataclass(frozen=True, kw_only=True)
class EndpointDecl:
    """Where and how an endpoint configuration was declared."""

    config: EndpointConfig
    location: SourceLocation


@dataclass(frozen=True, kw_only=True)
class FunctionDecl:
    """A decorated function or class, as found by the scanner."""

    name: str
    module: str
    file: str
    location: SourceLocation  # of the decorator
    is_async: bool
    is_class: bool
    class_methods: tuple[str, ...]
    route: Route | None
    endpoint: EndpointDecl
    dependencies: tuple[str, ...] = ()  # @remote(dependencies=...) of this function
    system_dependencies: tuple[str, ...] = ()
    body_imports: tuple[ImportRef, ...] = ()
    environment_reads: tuple[str, ...] = ()  # variables its values were read from, sorted


@dataclass(frozen=True, kw_only=True)
class ScannedFile:
    """What one file declares, and the other project files its values were read from."""

    functions: tuple[FunctionDecl, ...]
    files_read: tuple[tuple[str, str], ...] = ()  # (path, sha256 of the bytes), sorted


@dataclass(frozen=True, kw_only=True)
class ScannedModule:
    path: str  # POSIX relative path of the .py file
    module: str  # dotted module name


@dataclass(frozen=True, kw_only=True)
class ScanClue:
    """Something that looks like a Flash declaration the scanner cannot read."""

    location: SourceLocation
    message: str
    hint: str


@dataclass(frozen=True, kw_only=True)
class ScanResult:
    modules: tuple[ScannedModule, ...]
    functions: tuple[FunctionDecl, ...]  # in file order, then source order
    warnings: tuple[BuildWarning, ...] = ()
    clues: tuple[ScanClue, ...] = ()  # looked for only when no function was found


# --- plan ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlannedFunction:
    decl: FunctionDecl
    calls: tuple[str, ...]  # endpoints whose functions this one imports


@dataclass(frozen=True, kw_only=True)
class PlannedEndpoint:
    name: str
    config: EndpointConfig
    declared_at: SourceLocation
    functions: tuple[PlannedFunction, ...]
    dependencies: tuple[str, ...]  # endpoint + function-level, sorted, unique
    system_dependencies: tuple[str, ...]
    calls: tuple[str, ...]
    handler_file: str
    image_name: str
    config_hash: str

    @property
    def load_balanced(self) -> bool:
        return self.config.load_balanced

    @property
    def image_kind(self) -> str:
        """The kind of worker image it runs on: ``gpu``, ``gpu-lb``, ``cpu`` or ``cpu-lb``."""
        return image_kind(self.config.compute, self.config.load_balanced)


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    project_name: str
    python_version: str
    endpoints: tuple[PlannedEndpoint, ...]  # sorted by name
    function_registry: tuple[tuple[str, str], ...]  # (function, endpoint), sorted
    environment_reads: tuple[str, ...] = ()  # variables the declarations read, sorted


# --- render / package -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RenderedFile:
    path: str  # POSIX, relative to the artifact root
    content: bytes
    executable: bool = False


@dataclass(frozen=True, kw_only=True)
class SbomComponent:
    """A distribution the SBOM lists: shipped, or provided by the worker image."""

    name: str  # normalised (PEP 503)
    version: str
    wheel_sha256: str | None = None  # of the wheel that was installed
    license_expression: str | None = None  # PEP 639 License-Expression (SPDX)
    license_names: tuple[str, ...] = ()  # else the License field and licence classifiers
    provided_by: str | None = None  # the image's label (``gpu@1.6.0``): not shipped


@dataclass(frozen=True, kw_only=True)
class Artifact:
    path: Path
    size: int
    sha256: str
    entries: int
    app_part: int = 0  # compressed bytes of the app part (what precedes the manifest)


# --- dependencies -------------------------------------------------------------

DEFAULT_GLIBC = (2, 28)


@dataclass(frozen=True, kw_only=True)
class Target:
    """The platform dependencies are installed for: Linux x86_64, one CPython, one glibc."""

    python_version: str = DEFAULT_PYTHON_VERSION  # "3.12"
    glibc: tuple[int, int] = DEFAULT_GLIBC

    @property
    def uv_platform(self) -> str:
        """The value of uv's ``--python-platform``: ``x86_64-manylinux_2_28``."""
        return f"x86_64-manylinux_{self.glibc[0]}_{self.glibc[1]}"

    @property
    def platform_tag(self) -> str:
        """The wheel platform tag of the target itself: ``manylinux_2_28_x86_64``."""
        return f"manylinux_{self.glibc[0]}_{self.glibc[1]}_x86_64"

    @property
    def python_tag(self) -> str:
        """``cp312`` for Python 3.12."""
        return "cp" + self.python_version.replace(".", "")


@dataclass(frozen=True, kw_only=True)
class IndexOptions:
    """Where packages come from; passed to uv as given."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def uv_arguments(self) -> list[str]:
        arguments: list[str] = []
        if self.no_index:
            arguments.append("--no-index")
        elif self.index_url:
            arguments += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            arguments += ["--extra-index-url", url]
        for location in self.find_links:
            arguments += ["--find-links", location]
        return arguments
