"""``flash.lock`` and the artifact's ``requirements.txt``, both in pip-tools format.

The lock holds the whole resolution, left-out packages included: which
packages are left out is decided at build time from the graph, so changing
``--exclude`` needs no new lock. Its header records what it was resolved
from, so a build can tell whether it still matches the app::

    # flash.lock: dependencies of this Flash app, resolved by `flash lock`.
    # python-version: 3.12
    # platform: x86_64-manylinux_2_28
    # inputs-sha256: 5d41...
    filelock==3.16.1
        # via
        #   torch
        #   transformers
    torch==2.5.1
        # via -r endpoint:gpu-worker

The artifact's ``requirements.txt`` lists what was installed into it, in the
same format, with the left-out packages and their reasons as comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import SourceLocation, UsageError
from .exclusion import Selection
from .resolve import ResolvedPackage, Resolution, parse_compiled

LOCK_FILE = "flash.lock"
_FIRST_LINE = "# flash.lock: dependencies of this Flash app, resolved by `flash lock`."


@dataclass(frozen=True, kw_only=True)
class LockHeader:
    python_version: str
    platform: str
    inputs_sha256: str


@dataclass(frozen=True, kw_only=True)
class Lock:
    header: LockHeader
    resolution: Resolution


def _via_lines(package: ResolvedPackage) -> list[str]:
    entries = [f"-r {key}" for key in package.requested_by] + list(package.required_by)
    if not entries:
        return []
    if len(entries) == 1:
        return [f"    # via {entries[0]}"]
    return ["    # via", *(f"    #   {entry}" for entry in entries)]


def _pins(packages: tuple[ResolvedPackage, ...]) -> list[str]:
    lines: list[str] = []
    for package in packages:
        lines.append(package.pin)
        lines.extend(_via_lines(package))
    return lines


def format_lock(lock: Lock) -> str:
    """The text of ``flash.lock``."""
    header = lock.header
    lines = [
        _FIRST_LINE,
        "# Do not edit; run `flash lock` again after changing dependencies.",
        f"# python-version: {header.python_version}",
        f"# platform: {header.platform}",
        f"# inputs-sha256: {header.inputs_sha256}",
        *_pins(lock.resolution.packages),
    ]
    return "\n".join(lines) + "\n"


def parse_lock(text: str, *, path: str = LOCK_FILE) -> Lock:
    """Read a lock written by :func:`format_lock`; anything else is a usage error."""
    fields: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("# ") and ": " in line and not line.startswith("#   "):
            key, _, value = line[2:].partition(": ")
            if key in ("python-version", "platform", "inputs-sha256"):
                fields[key] = value.strip()
                continue
        body.append(line)
    if not text.startswith(_FIRST_LINE) or len(fields) != 3:
        raise UsageError(
            f"{path} was not written by `flash lock` or is damaged.",
            location=SourceLocation(path=path),
            hint="Delete it and run `flash lock` to write a new one.",
        )
    return Lock(
        header=LockHeader(
            python_version=fields["python-version"],
            platform=fields["platform"],
            inputs_sha256=fields["inputs-sha256"],
        ),
        resolution=parse_compiled("\n".join(body), {}),
    )


def read_lock(project_dir: Path) -> Lock | None:
    """The project's ``flash.lock``, or ``None`` when there is none."""
    path = project_dir / LOCK_FILE
    if not path.is_file():
        return None
    return parse_lock(path.read_text(encoding="utf-8"))


def artifact_requirements(selection: Selection, header: LockHeader) -> bytes:
    """``requirements.txt`` for the artifact: what was installed, and what was left out."""
    lines = [
        "# Dependencies installed in this artifact by flashbuild.",
        f"# python-version: {header.python_version}",
        f"# platform: {header.platform}",
    ]
    if selection.excluded:
        lines.append("# Left out (provided by the base image, excluded, or only needed by those):")
        width = max(len(f"{e.name}=={e.version}") for e in selection.excluded)
        for exclusion in selection.excluded:
            pin = f"{exclusion.name}=={exclusion.version}"
            lines.append(f"#   {pin:<{width}}  {exclusion.reason}")
    lines.extend(_pins(selection.shipped))
    return ("\n".join(lines) + "\n").encode()
