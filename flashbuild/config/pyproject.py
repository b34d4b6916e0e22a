"""``pyproject.toml`` of the project: its name and the ``[tool.flash]`` table, checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict, cast

from .._util import toml
from ..errors import SourceLocation, UsageError

PYPROJECT = "pyproject.toml"

# [tool.flash]; keys are spelled as in the file.
ToolSettings = TypedDict(
    "ToolSettings",
    {
        "python-version": str,
        "exclude": list[str],
        "allow-build": list[str],
        "glibc": str,
        "index-url": str,
        "extra-index-url": list[str],
        "find-links": list[str],
        "images": dict[str, Any],
        "image-release": str,
        "max-size": "str | int",
        "compression-level": int,
        "compression-engine": str,
        "ignore": list[str],
        "allow-secrets": list[str],
        "remote-cache": str,
        "remote-cache-mode": str,
    },
    total=False,
)

# The type each [tool.flash] value must have, and an example for the error's hint.
_TOOL_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "python-version": (str, '"3.12"'),
    "exclude": (list, '["torch", "pyyaml"]'),
    "allow-build": (list, '["docopt"]'),
    "glibc": (str, '"2.28"'),
    "index-url": (str, '"https://pypi.org/simple"'),
    "extra-index-url": (list, '["https://download.pytorch.org/whl/cpu"]'),
    "find-links": (list, '["wheels"]'),
    "images": (dict, "..."),
    "image-release": (str, '"1.6.0"'),
    "max-size": ((str, int), '"1.5GB"'),
    "compression-level": (int, "6"),
    "compression-engine": (str, '"zlib-ng"'),
    "ignore": (list, '["notebooks/", "*.ipynb"]'),
    "allow-secrets": (list, '["tests/fixtures/test-key.pem"]'),
    "remote-cache": (str, '"s3://team-flash-cache/builds"'),
    "remote-cache-mode": (str, '"read-write"'),
}


def read_pyproject(project_dir: Path) -> dict[str, Any]:
    """The parsed ``pyproject.toml`` of the project, or ``{}`` when it has none."""
    pyproject = project_dir / PYPROJECT
    if not pyproject.is_file():
        return {}
    try:
        document = toml.loads(pyproject.read_text(encoding="utf-8"))
    except (toml.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"pyproject.toml is not valid TOML: {exc}",
            location=SourceLocation(path=PYPROJECT),
            hint="Fix the file, or remove it if the app does not need it.",
        ) from None
    for path in (("project",), ("tool",), ("tool", "flash")):
        table: Any = document
        for key in path:
            table = table.get(key, {}) if isinstance(table, dict) else {}
        if not isinstance(table, dict):
            dotted = ".".join(path)
            raise UsageError(
                f"pyproject.toml: `{dotted}` must be a table, not {type(table).__name__} "
                f"{table!r}.",
                location=SourceLocation(path=PYPROJECT),
                hint=f"Write it as a [{dotted}] table.",
            )
    return document


def project_name(pyproject: dict[str, Any], project_dir: Path) -> str:
    """``[project].name`` from the parsed pyproject.toml, else the directory's name."""
    name = pyproject.get("project", {}).get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    try:
        project_dir.name.encode("utf-8")
    except UnicodeEncodeError:  # the manifest is JSON in UTF-8
        raise UsageError(
            f"the project's folder name {project_dir.name!r} is not valid UTF-8, and the "
            "project is named after it.",
            location=SourceLocation(path=PYPROJECT),
            hint="Name the project in pyproject.toml ([project] name = \"...\"), or rename "
                 "the folder.",
        ) from None
    return project_dir.name


def tool_settings(pyproject: dict[str, Any]) -> ToolSettings:
    """``[tool.flash]`` of the parsed pyproject.toml, checked key by key."""
    settings = pyproject.get("tool", {}).get("flash", {})
    for key, value in settings.items():
        if key not in _TOOL_KEYS:
            raise UsageError(
                f"[tool.flash] has an unknown key {key!r}.",
                location=SourceLocation(path=PYPROJECT),
                hint=f"Known keys: {', '.join(sorted(_TOOL_KEYS))}.",
            )
        expected, example = _TOOL_KEYS[key]
        if not isinstance(value, expected) or isinstance(value, bool) or (
            isinstance(value, list) and not all(isinstance(item, str) for item in value)
        ):
            shown = ("a list of strings" if expected is list else "a size" if key == "max-size"
                     else f"a {getattr(expected, '__name__', expected)}")
            raise UsageError(
                f"[tool.flash] {key} must be {shown}, not {value!r}.",
                location=SourceLocation(path=PYPROJECT),
                hint=f"e.g. {key} = {example}",
            )
    return cast(ToolSettings, settings)
