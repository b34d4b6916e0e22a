"""What the app asks to have installed: the inputs of dependency resolution.

Each endpoint's ``dependencies`` (endpoint- and function-level) are the roots
of that endpoint's dependency tree. A ``requirements.txt`` at the project root
holds requirements shared by every endpoint. Both are checked here, before uv
runs, so a bad string is reported at its source.
"""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import SourceCodeError, SourceLocation
from ..records import BuildPlan
from .records import DependencyInputs, RequirementSource

PROJECT_REQUIREMENTS = "requirements.txt"


def collect_inputs(plan: BuildPlan, project_dir: Path) -> DependencyInputs:
    """Gather and check every requirement the app declares."""
    sources = [
        RequirementSource(
            key=f"endpoint:{endpoint.name}",
            endpoint=endpoint.name,
            image=endpoint.image_kind,
            requirements=endpoint.dependencies,
            location=endpoint.declared_at,
        )
        for endpoint in plan.endpoints
        if endpoint.dependencies
    ]
    project_file = project_dir / PROJECT_REQUIREMENTS
    if project_file.is_file():
        requirements = read_requirements_file(project_file)
        if requirements:
            sources.append(
                RequirementSource(
                    key=PROJECT_REQUIREMENTS,
                    endpoint=None,
                    image=None,
                    requirements=requirements,
                    location=SourceLocation(path=PROJECT_REQUIREMENTS),
                )
            )
    return DependencyInputs(
        sources=tuple(sources),
        endpoints=tuple((e.name, e.image_kind) for e in plan.endpoints),
    )


def read_requirements_file(path: Path) -> tuple[str, ...]:
    """Plain requirement lines of a requirements file; options are refused, not ignored."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM is allowed, as pip allows it
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceCodeError(
            f"cannot read {path.name}: {exc}",
            location=SourceLocation(path=path.name),
            hint="Make it a readable UTF-8 text file, or remove it.",
        ) from None
    requirements: set[str] = set()
    for line_number, line in _logical_lines(text):
        location = SourceLocation(path=path.name, line=line_number, column=1)
        if line.startswith("-"):
            raise SourceCodeError(
                f"option {line.split()[0]!r} in {path.name} is not supported.",
                location=location,
                hint="List plain requirements only; give index options with --index-url, "
                "--extra-index-url, --find-links or in [tool.flash].",
            )
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise SourceCodeError(
                f"{line!r} is not a valid requirement: {exc}",
                location=location,
                hint='Use PEP 508 syntax, e.g. "pandas>=2.2" or "torch==2.5.1".',
            ) from None
        requirements.add(str(requirement))
    return tuple(sorted(requirements))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with comments stripped and ``\\`` continuations joined."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = (pending + raw).split(" #", 1)[0].strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append((start, line))
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines
