"""Turn a failed uv run into a message a user can act on.

uv explains resolution failures well, but in terms of its own inputs. This
module names the packages involved, says why each has no usable file for the
workers (only an sdist, no Linux wheel, none for this Python), points at the
endpoint that asked for them and suggests the fix. uv's own explanation is
kept below, trimmed of its progress noise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from .._util.processes import CommandResult
from ..config.images import ImageTable
from ..errors import DependencyError, SourceLocation
from ..records import IndexOptions
from .records import DependencyInputs
from .uv import ResolverSettings

_NAME = r"`?(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)`?(?:[=<>!~]=?[^\s`]*)?"

# (pattern, why) — the order matters: the first reason found for a package wins.
_NO_WHEEL_REASONS = (
    (re.compile(_NAME + r" (?:has|have) no usable wheels"),
     "only a source distribution (sdist) is published"),
    (re.compile(_NAME + r" (?:has|have) no wheels with a matching platform tag"),
     "no wheel for Linux x86_64 (manylinux) is published"),
    (re.compile(_NAME + r" (?:has|have) no wheels with a matching Python "
                r"(?:implementation|ABI) tag"),
     "no wheel for this Python version is published"),
    (re.compile(_NAME + r" (?:depends on|requires) Python"),
     "no release supports this Python version"),
)
_UNKNOWN = re.compile(
    _NAME + r" was not found in the (?:package registry|provided package locations)"
)
_NETWORK = re.compile(
    r"Failed to fetch|error sending request|Connection refused|dns error|"
    r"failed to lookup address|operation timed out|Could not connect|tcp connect error",
    re.IGNORECASE,
)
_NOT_SOLVABLE = "No solution found"


@dataclass(frozen=True)
class _Problem:
    name: str
    why: str


def uv_explanation(stderr: str) -> str:
    """uv's message without warnings about the build interpreter or blank runs."""
    kept = [
        line.rstrip()
        for line in stderr.splitlines()
        if line.strip() and not line.startswith("warning: The requested Python version")
    ]
    return "\n".join(kept)


def _problems(stderr: str) -> list[_Problem]:
    found: dict[str, str] = {}
    for pattern, why in _NO_WHEEL_REASONS:
        for match in pattern.finditer(stderr):
            found.setdefault(canonicalize_name(match["name"]), why)
    return [_Problem(name, why) for name, why in sorted(found.items())]


def _declared(name: str, inputs: DependencyInputs | None) -> str:
    if inputs is None:
        return ""
    sources = inputs.declared_by(name)
    if not sources:
        return " (needed by another dependency)"
    places = ", ".join(
        (f"endpoint {s.endpoint} at {s.location}" if s.endpoint else str(s.location))
        for s in sources
    )
    return f" (declared by {places})"


def _first_location(names: Sequence[str], inputs: DependencyInputs | None
                    ) -> SourceLocation | None:
    if inputs is None:
        return None
    for name in names:
        sources = inputs.declared_by(name)
        if sources:
            return sources[0].location
    return None


def explain_failure(
    result: CommandResult,
    *,
    inputs: DependencyInputs | None,
    images: ImageTable | None,
    settings: ResolverSettings,
    stage: str = "resolve",
) -> DependencyError:
    """The error to raise for a failed ``uv pip compile`` (``resolve``) or ``install`` run."""
    target = settings.target
    platform = f"Linux x86_64 ({target.platform_tag}), CPython {target.python_version}"
    stderr = result.stderr
    details = uv_explanation(stderr)
    if result.timed_out:
        return DependencyError(
            f"dependency resolution for {platform} did not finish in time.",
            hint="Check the package index is reachable and responsive, then retry.",
        )
    if _NETWORK.search(stderr) and _NOT_SOLVABLE not in stderr:
        return _unreachable(settings.index, details)
    unknown = sorted({canonicalize_name(m["name"]) for m in _UNKNOWN.finditer(stderr)})
    if unknown:
        listed = "; ".join(f"{name}{_declared(name, inputs)}" for name in unknown)
        return DependencyError(
            f"no such package on the index: {listed}.\n{details}",
            location=_first_location(unknown, inputs),
            hint="Check the spelling of the requirement, or add the index that hosts it "
            "with --extra-index-url.",
        )
    problems = _problems(stderr)
    if problems:
        return _no_compatible_wheel(problems, platform, inputs, details)
    if stage == "install":
        return DependencyError(
            f"installing the resolved packages for {platform} failed.\n{details}",
            hint="The index may have changed since the resolution (or flash.lock) was made: "
            "run again, or run `flash lock` again if the lock pins a version that is gone.",
        )
    if _NOT_SOLVABLE in stderr:
        return _unsatisfiable(stderr, platform, inputs, images, details)
    return DependencyError(
        f"uv failed (exit code {result.returncode}) for {platform}.\n{details}",
        hint="Run again with -v to see the uv command.",
    )


def _unreachable(index: IndexOptions, details: str) -> DependencyError:
    where = index.index_url or "the default index (https://pypi.org/simple)"
    if index.no_index:
        where = "the --find-links locations"
    return DependencyError(
        f"the package index could not be reached: {where}.\n{details}",
        hint="Check the network and the --index-url/--extra-index-url/--find-links "
        "options (also FLASH_INDEX_URL and [tool.flash]); nothing was built.",
    )


def _no_compatible_wheel(problems: list[_Problem], platform: str,
                         inputs: DependencyInputs | None, details: str) -> DependencyError:
    listed = "\n".join(f"  {p.name}: {p.why}{_declared(p.name, inputs)}" for p in problems)
    names = ",".join(p.name for p in problems)
    return DependencyError(
        f"no compatible wheel for {platform}:\n{listed}\n{details}",
        location=_first_location([p.name for p in problems], inputs),
        hint=f"Pick a version that publishes such wheels, or, for pure-Python packages "
        f"only, let flashbuild build them from source with --allow-build {names}.",
    )


def _unsatisfiable(stderr: str, platform: str, inputs: DependencyInputs | None,
                   images: ImageTable | None, details: str) -> DependencyError:
    named = _mentioned_requirements(stderr, inputs)
    conflict_with_image = _image_conflict(stderr, images, inputs)
    hint = "Relax the version constraints so that one version satisfies every endpoint."
    if conflict_with_image:
        hint = (
            f"{conflict_with_image} is what the image has; ask for versions that work with "
            "it, build for another release of the worker images (--image-release), or "
            "describe your image in [tool.flash.images] if it differs."
        )
    return DependencyError(
        f"the dependencies cannot be satisfied together for {platform}"
        f"{': ' + named if named else ''}.\n{details}",
        location=_first_location(_mentioned_names(stderr, inputs), inputs),
        hint=hint,
    )


def _mentioned_names(stderr: str, inputs: DependencyInputs | None) -> list[str]:
    if inputs is None:
        return []
    declared = sorted({name for source in inputs.sources for name in source.names})
    words = {canonicalize_name(w) for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", stderr)}
    return [name for name in declared if name in words]


def _mentioned_requirements(stderr: str, inputs: DependencyInputs | None) -> str:
    names = _mentioned_names(stderr, inputs)
    return "; ".join(f"{name}{_declared(name, inputs)}" for name in names)


def _image_conflict(stderr: str, images: ImageTable | None,
                    inputs: DependencyInputs | None) -> str | None:
    """``torch==2.9.1 (the gpu@1.6.0 image)`` when uv names a version an endpoint's image has."""
    if images is None:
        return None
    kinds = sorted(set(inputs.endpoint_images.values())) if inputs is not None else None
    for image in images.images:
        if kinds is not None and image.kind not in kinds:
            continue
        for package in image.provides:
            if package.version and f"{package.name}=={package.version}" in stderr:
                return f"{package} (the {images.label([image.kind])} image)"
    return None
