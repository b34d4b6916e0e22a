"""``flash.lock`` and the artifact's ``requirements.txt``, both in pip-tools format.

The lock holds the whole resolution, left-out packages included: which
packages are left out is decided at build time from the graph, so changing
``--exclude`` needs no new lock. Its header records what it was resolved
from, so a build can tell whether it still matches the app and, if not,
name what changed::

    # flash.lock: dependencies of this Flash app, resolved by `flash lock`.
    # Do not edit; run `flash lock` again after changing dependencies.
    # python-version: 3.12
    # platform: x86_64-manylinux_2_28
    # inputs-sha256: 5d41...
    # requires: {"endpoint:gpu-worker": ["torch==2.5.1", "transformers"]}
    # image-constraints: []
    # allow-build: []
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

import json
from pathlib import Path

from ..errors import SourceLocation, UsageError
from .records import (
    LOCK_FILE,
    DeclaredInputs,
    Lock,
    LockHeader,
    ResolvedPackage,
    Selection,
)
from .resolve import parse_compiled

_FIRST_LINE = "# flash.lock: dependencies of this Flash app, resolved by `flash lock`."
_REQUIRED_FIELDS = ("python-version", "platform", "inputs-sha256")
_DECLARED_FIELDS = ("requires", "image-constraints", "allow-build")


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


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def format_lock(lock: Lock) -> str:
    """The text of ``flash.lock``."""
    header = lock.header
    lines = [
        _FIRST_LINE,
        "# Do not edit; run `flash lock` again after changing dependencies.",
        f"# python-version: {header.python_version}",
        f"# platform: {header.platform}",
        f"# inputs-sha256: {header.inputs_sha256}",
    ]
    declared = header.declared
    if declared is not None:
        lines += [
            f"# requires: {_json({key: list(reqs) for key, reqs in declared.requirements})}",
            f"# image-constraints: {_json(list(declared.image_constraints))}",
            f"# allow-build: {_json(list(declared.allow_build))}",
        ]
    lines += _pins(lock.resolution.packages)
    return "\n".join(lines) + "\n"


def parse_lock(text: str, *, path: str = LOCK_FILE) -> Lock:
    """Read a lock written by :func:`format_lock`; anything else is a usage error."""
    fields: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("# ") and ": " in line and not line.startswith("#   "):
            key, _, value = line[2:].partition(": ")
            if key in (*_REQUIRED_FIELDS, *_DECLARED_FIELDS):
                fields[key] = value.strip()
                continue
        body.append(line)
    damaged = UsageError(
        f"{path} was not written by `flash lock` or is damaged.",
        location=SourceLocation(path=path),
        hint="Delete it and run `flash lock` to write a new one.",
    )
    if not text.startswith(_FIRST_LINE) or any(key not in fields for key in _REQUIRED_FIELDS):
        raise damaged
    try:
        declared = _declared_inputs(fields)
    except (KeyError, ValueError, TypeError, AttributeError):  # half or wrongly recorded
        raise damaged from None
    return Lock(
        header=LockHeader(
            python_version=fields["python-version"],
            platform=fields["platform"],
            inputs_sha256=fields["inputs-sha256"],
            declared=declared,
        ),
        resolution=parse_compiled("\n".join(body), {}),
    )


def _declared_inputs(fields: dict[str, str]) -> DeclaredInputs | None:
    """The recorded inputs; None for a lock written before they were recorded."""
    if not any(key in fields for key in _DECLARED_FIELDS):
        return None
    requires = json.loads(fields["requires"])
    return DeclaredInputs(
        requirements=tuple((str(key), tuple(map(str, values)))
                           for key, values in sorted(requires.items())),
        image_constraints=tuple(map(str, json.loads(fields["image-constraints"]))),
        allow_build=tuple(map(str, json.loads(fields["allow-build"]))),
    )


def read_lock(project_dir: Path) -> Lock | None:
    """The project's ``flash.lock``, or ``None`` when there is none."""
    path = project_dir / LOCK_FILE
    if not path.is_file():
        return None
    return parse_lock(path.read_text(encoding="utf-8"))


def stale_reason(lock: Lock, header: LockHeader) -> str | None:
    """Why ``lock`` does not fit a build whose lock header would be ``header``; None if it does."""
    old = lock.header
    if old.python_version != header.python_version:
        return f"it is for Python {old.python_version}, the build targets {header.python_version}"
    if old.platform != header.platform:
        return f"it is for {old.platform}, the build targets {header.platform}"
    if old.inputs_sha256 == header.inputs_sha256:
        return None
    if old.declared is None or header.declared is None:
        return "the declared dependencies (or the image versions or --allow-build) changed since"
    changes = _changes(old.declared, header.declared)
    return "what it was resolved from changed: " + "; ".join(changes or ["its inputs digest"])


def _changes(old: DeclaredInputs, new: DeclaredInputs) -> list[str]:
    """What differs between two sets of declared inputs, one phrase per source."""
    before, after = dict(old.requirements), dict(new.requirements)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        label = key.replace("endpoint:", "endpoint ", 1)
        added = sorted(set(after.get(key, ())) - set(before.get(key, ())))
        removed = sorted(set(before.get(key, ())) - set(after.get(key, ())))
        parts = [f"added {', '.join(added)}"] * bool(added)
        parts += [f"removed {', '.join(removed)}"] * bool(removed)
        if parts:
            changes.append(f"{label} {' and '.join(parts)}")
    if old.image_constraints != new.image_constraints:
        changes.append(f"the image versions changed from {list(old.image_constraints)} to "
                       f"{list(new.image_constraints)}")
    if old.allow_build != new.allow_build:
        changes.append(f"--allow-build changed from {list(old.allow_build)} to "
                       f"{list(new.allow_build)}")
    return changes


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
