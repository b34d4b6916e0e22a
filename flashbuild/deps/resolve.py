"""Resolve the app's dependencies for the workers' platform with uv.

One ``uv pip compile`` call resolves every endpoint's requirements together
(the artifact holds one set of packages) for Linux x86_64 and the target
CPython, from any host: only metadata is fetched, so nothing is downloaded
that is later left out. Each endpoint's list is its own input file, so uv's
``# via`` annotations tell which endpoint pulled each package in; the result
is the full dependency graph that exclusion works on.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ..config.images import ImageTable
from ..errors import DependencyError
from .records import DependencyInputs, RequirementSource, Resolution, ResolvedPackage
from .tags import marker_environment
from .uv import ResolverSettings, run_uv, uv_pip_command
from .uv_errors import explain_failure


def image_constraints(inputs: DependencyInputs, images: ImageTable) -> list[str]:
    """Known versions of the images the endpoints run on, as ``name==version`` lines."""
    lines: set[str] = set()
    for kind in sorted(set(inputs.endpoint_images.values())):
        for package in images.for_kind(kind).provides:
            if package.version is not None:
                lines.add(str(package))
    return sorted(lines)


def check_image_fit(inputs: DependencyInputs, images: ImageTable) -> None:
    """Raise if a declared requirement excludes the version an endpoint's image has.

    A second copy at another version would sit first on ``sys.path`` and shadow
    the image's, which the worker runtime may have imported already.
    """
    everyone = sorted(set(inputs.endpoint_images.items()))
    environment = marker_environment(images.python)
    for source in inputs.sources:
        endpoints = [(source.endpoint, source.image)] if source.endpoint else everyone
        for text in source.requirements:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            for endpoint, kind in endpoints:
                _check_fit(requirement, text, source, endpoint, kind or "", images)


def _check_fit(requirement: Requirement, text: str, source: RequirementSource,
               endpoint: str | None, kind: str, images: ImageTable) -> None:
    provided = images.for_kind(kind).version_of(canonicalize_name(requirement.name))
    if provided is None or provided.version is None or requirement.url:
        return
    if requirement.specifier.contains(provided.version, prereleases=True):
        return
    label = images.label([kind])
    who = (f"endpoint {endpoint!r}" if source.endpoint else
           f"requirements.txt (installed for endpoint {endpoint!r})")
    raise DependencyError(
        f"{who} asks for {text!r}, but the endpoint's image ({label}) has "
        f"{provided.name} {provided.version}; a second copy in the artifact would shadow the "
        "image's, which the worker's runtime may already have imported.",
        location=source.location,
        hint=f"Ask for a version the image has (e.g. {provided.name}=={provided.version}), "
        "build for a release of the worker images whose version fits (--image-release; "
        "`flash images show`), or, if your image differs, describe it in "
        f"[tool.flash.images.{kind}].",
    )


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
