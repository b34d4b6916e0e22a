"""Resolve the app's dependencies for the workers' platform with uv.

One ``uv pip compile`` call resolves every endpoint's requirements together
(the artifact holds one set of packages) for Linux x86_64 and the target
CPython, from any host: only metadata is fetched, so nothing is downloaded
that is later left out. Each endpoint's list is its own input file, so uv's
``# via`` annotations tell which endpoint pulled each package in; the result
is the full dependency graph that exclusion works on.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from .dependencies import DependencyInputs, RequirementSource
from .errors import DependencyError
from .images import ImageTable
from .models import IndexOptions, Target
from .runner import CommandListener, CommandResult, run_command
from .uv_errors import explain_failure

RESOLVE_TIMEOUT = 900.0  # seconds; uv's own HTTP timeout and retries bound each request


@dataclass(frozen=True, kw_only=True)
class ResolverSettings:
    target: Target
    index: IndexOptions = IndexOptions()
    allow_build: tuple[str, ...] = ()  # normalised names that may be built from sdists
    listener: CommandListener | None = field(default=None, compare=False)

    def build_arguments(self) -> list[str]:
        """Wheels only, except for the packages the user allowed to be built."""
        if not self.allow_build:
            return ["--no-build"]
        arguments = ["--only-binary", ":all:"]
        for name in self.allow_build:
            arguments += ["--no-binary", name]
        return arguments


@dataclass(frozen=True, kw_only=True, order=True)
class ResolvedPackage:
    name: str  # normalised
    version: str
    pin: str  # the requirement line that installs exactly this: "name==1.0"
    required_by: tuple[str, ...] = ()  # names of resolved packages that depend on it
    requested_by: tuple[str, ...] = ()  # keys of the input sources that ask for it


@dataclass(frozen=True, kw_only=True)
class Resolution:
    packages: tuple[ResolvedPackage, ...]  # sorted by name

    def by_name(self) -> dict[str, ResolvedPackage]:
        return {package.name: package for package in self.packages}

    def children(self) -> dict[str, set[str]]:
        """name -> the resolved packages it depends on."""
        graph: dict[str, set[str]] = {package.name: set() for package in self.packages}
        for package in self.packages:
            for parent in package.required_by:
                graph.setdefault(parent, set()).add(package.name)
        return graph


def uv_binary() -> str:
    """The uv executable that ships with the ``uv`` package flashbuild depends on."""
    from uv import find_uv_bin

    return find_uv_bin()


def uv_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment for uv: never fetch an interpreter, no progress bars."""
    environment = dict(os.environ if base is None else base)
    environment.update(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1", NO_COLOR="1")
    return environment


def uv_pip_command(subcommand: str, settings: ResolverSettings) -> list[str]:
    """``uv pip <subcommand>`` for the target platform, ignoring user uv config."""
    target = settings.target
    return [
        uv_binary(),
        "pip",
        subcommand,
        "--no-config",
        "--python-platform",
        target.uv_platform,
        "--python-version",
        target.python_version,
        *settings.build_arguments(),
        *settings.index.uv_arguments(),
    ]


def run_uv(
    command: list[str],
    settings: ResolverSettings,
    *,
    cwd: Path | None = None,
    timeout: float = RESOLVE_TIMEOUT,
) -> CommandResult:
    """Run a uv command in uv's environment, telling the settings' listener."""
    return run_command(
        command, cwd=cwd, env=uv_environment(), timeout=timeout, listener=settings.listener
    )


@contextmanager
def pins_file(packages: Iterable[ResolvedPackage]) -> Iterator[Path]:
    """A temporary requirements file holding exactly these pins."""
    with tempfile.TemporaryDirectory(prefix="flashbuild-pins-") as scratch:
        path = Path(scratch) / "requirements.txt"
        path.write_text("\n".join(p.pin for p in packages) + "\n", encoding="utf-8")
        yield path


def image_constraints(inputs: DependencyInputs, images: ImageTable) -> list[str]:
    """Known versions of the images the endpoints run on, as ``name==version`` lines."""
    lines: set[str] = set()
    for compute in sorted(set(inputs.endpoint_computes.values())):
        for package in images.for_compute(compute).provides:
            if package.version is not None:
                lines.add(str(package))
    return sorted(lines)


def resolve(
    inputs: DependencyInputs, images: ImageTable, settings: ResolverSettings
) -> Resolution:
    """Pin every package the app needs, for the target, with the images' versions as limits."""
    with tempfile.TemporaryDirectory(prefix="flashbuild-resolve-") as scratch:
        work = Path(scratch)
        files: dict[str, RequirementSource] = {}
        for index, source in enumerate(inputs.sources):
            relative = f"inputs/{index}.in"
            (work / "inputs").mkdir(exist_ok=True)
            (work / relative).write_text("\n".join(source.requirements) + "\n", encoding="utf-8")
            files[relative] = source
        command = uv_pip_command("compile", settings)
        command += ["--annotation-style", "split", "--no-header", "--quiet"]
        constraints = image_constraints(inputs, images)
        if constraints:
            (work / "image-constraints.txt").write_text("\n".join(constraints) + "\n")
            command += ["--constraint", "image-constraints.txt"]
        command += list(files)
        result = run_uv(command, settings, cwd=work)
    if not result.ok:
        raise explain_failure(result, inputs=inputs, images=images, settings=settings)
    return parse_compiled(result.stdout, {path: s.key for path, s in files.items()})


_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(==|@)\s*(?P<rest>\S.*)$")


def parse_compiled(text: str, source_keys: Mapping[str, str]) -> Resolution:
    """Read ``uv pip compile --annotation-style split`` output (pins + ``# via``)."""
    pins: dict[str, dict] = {}
    current: dict | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            match = _PIN.match(line.split(";", 1)[0].strip())
            if match is None:
                if line.startswith("-"):  # an option line such as --index-url
                    current = None
                    continue
                raise DependencyError(
                    f"cannot read the resolver's output line {line!r}.",
                    hint="Report this, with the uv version, as a bug in flashbuild.",
                )
            name = canonicalize_name(match["name"])
            version = match["rest"].strip() if "==" in line.split(";")[0] else ""
            current = {"name": name, "version": version, "pin": f"{name}=={version}"
                       if version else f"{name} @ {match['rest'].strip()}",
                       "parents": set(), "sources": set()}
            pins[name] = current
            continue
        if current is None:
            continue
        entry = line.lstrip("#").strip()
        if entry.startswith("via"):
            entry = entry[3:].strip()
        if not entry:
            continue
        if entry.startswith("-r "):
            path = entry[3:].strip()
            current["sources"].add(source_keys.get(path, path))
        elif entry.startswith("-"):
            continue  # -c constraints and overrides say nothing about who needs it
        else:
            current["parents"].add(canonicalize_name(entry.split("[", 1)[0].strip()))
    return Resolution(
        packages=tuple(
            ResolvedPackage(
                name=name,
                version=data["version"],
                pin=data["pin"],
                required_by=tuple(sorted(data["parents"] & pins.keys())),
                requested_by=tuple(sorted(data["sources"])),
            )
            for name, data in sorted(pins.items())
        )
    )


def install(
    packages: tuple[ResolvedPackage, ...], settings: ResolverSettings, target_dir: Path
) -> CommandResult:
    """Install exactly these pins (no further resolution) into ``target_dir``."""
    target_dir.mkdir(parents=True, exist_ok=True)
    with pins_file(packages) as requirements:
        command = uv_pip_command("install", settings)
        command += ["--target", str(target_dir), "--no-deps", "--quiet", "-r", str(requirements)]
        result = run_uv(command, settings)
        if not result.ok and _STALE_INDEX in result.stderr:
            # A release published moments ago can be known to the resolution but not yet
            # to uv's cached copy of the index page: read the index afresh, once.
            result = run_uv([*command, "--refresh"], settings)
    if not result.ok:
        raise explain_failure(result, inputs=None, images=None, settings=settings, stage="install")
    return result


_STALE_INDEX = "there is no version of"
