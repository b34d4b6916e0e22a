"""``flash manifest show``: a manifest as tables a release manager reads.

Text only; nothing prints. Control characters from the manifest are escaped,
so a manifest can never send escape sequences to the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import UsageError
from .load import dependencies_of, packages_of

# Control characters (C0 but newline, DEL, C1) are escaped in text output.
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x0A}


def format_show(manifest: dict[str, Any]) -> str:
    """The human report of ``flash manifest show``: endpoints, functions, dependencies."""
    resources = manifest["resources"]
    names = sorted(resources)
    endpoint_rows = [
        [name, "load-balanced" if resource.get("is_load_balanced") else "queue",
         _compute(resource), f"{resource.get('workersMin', '?')}-{resource.get('workersMax', '?')}",
         f"{resource.get('idleTimeout', '?')}s", str(len(resource.get("dependencies", []))),
         _joined(resource.get("calls")) or "-"]
        for name, resource in ((name, resources[name]) for name in names)
    ]
    function_rows = [
        [name, route_label(function), _function_label(function), str(function.get("location", "?"))]
        for name in names
        for function in _functions(resources[name])
    ]
    routes = sum(row[1] != "-" for row in function_rows)
    installed, excluded = packages_of(manifest, "lock"), packages_of(manifest, "excluded")
    lines = [
        f"{manifest.get('project_name', '?')}: {_count(len(names), 'endpoint')} for Python "
        f"{manifest.get('python_version', '?')} ({manifest.get('generator', '?')})",
        "",
        *_table(["ENDPOINT", "TYPE", "COMPUTE", "WORKERS", "IDLE", "DEPS", "CALLS"], endpoint_rows),
        "",
        *_table(["ENDPOINT", "ROUTE", "FUNCTION", "DECLARED AT"], function_rows),
        "",
        f"totals: {_count(len(names), 'endpoint')}, {_count(len(function_rows), 'function')}, "
        f"{_count(routes, 'route')}, {_count(len(installed), 'installed package')}",
        _dependency_summary(dependencies_of(manifest), len(installed), len(excluded)),
        *_images_line(dependencies_of(manifest).get("images")),
    ]
    if excluded:
        lines += ["", f"left out of the artifact ({len(excluded)}):", *_table(
            ["PACKAGE", "VERSION", "REASON"],
            [[name, str(entry.get("version", "?")), str(entry.get("reason", "?"))]
             for name, entry in excluded.items()],
        )]
    return terminal_safe("\n".join(lines) + "\n")


def _functions(resource: dict[str, Any]) -> list[dict[str, Any]]:
    functions = resource.get("functions")
    return [f for f in functions if isinstance(f, dict)] if isinstance(functions, list) else []


def _compute(resource: dict[str, Any]) -> str:
    """``GPU AMPERE_80, ADA_24``: the GPUs as declared (``gpus``; ``gpuIds`` was a list in
    manifests before it became the SDK's pool string) or the CPU instances."""
    declared = resource.get("gpus") or resource.get("gpuIds") or resource.get("instanceIds")
    ids = declared if isinstance(declared, str) else _joined(declared)
    return f"{str(resource.get('compute', '?')).upper()} {ids}".rstrip()


def route_label(function: dict[str, Any]) -> str:
    """``GET /path`` of a load-balanced function's entry, ``-`` for a queue one."""
    if "http_method" in function:
        return f"{function['http_method']} {function.get('http_path', '?')}"
    return "-"


def _function_label(function: dict[str, Any]) -> str:
    label = str(function.get("name", "?"))
    if function.get("is_class"):
        label = f"class {label} ({_joined(function.get('class_methods'))})"
    return f"async {label}" if function.get("is_async") else label


def _dependency_summary(dependencies: dict[str, Any], installed: int, excluded: int) -> str:
    if not dependencies.get("installed"):
        return "dependencies: not installed (built with --no-deps, or none declared)"
    where = ", ".join(str(dependencies[key]) for key in ("source", "platform")
                      if key in dependencies)
    text = f"dependencies: {installed} installed ({where}), {excluded} left out"
    if dependencies.get("exclude"):
        text += f"; asked to exclude {_joined(dependencies['exclude'])}"
    return text


def _images_line(images: object) -> list[str]:
    """``worker images: release 1.6.0`` (manifests before image profiles have no release)."""
    if not isinstance(images, dict) or "release" not in images:
        return []
    overrides = images.get("overrides") or {}
    own = f"; described in pyproject.toml: {_joined(sorted(overrides))}" if overrides else ""
    return [f"worker images: release {images['release']}{own}"]


def _joined(values: object) -> str:
    return ", ".join(map(str, values)) if isinstance(values, list) else ""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, no trailing blanks."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in (header, *rows)]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def terminal_safe(text: str) -> str:
    """``text`` with control characters escaped."""
    return text.translate(_CONTROL)


UNKNOWN_LICENSE = "(unknown)"


def license_text(entry: dict[str, Any]) -> str | None:
    """A ``dependencies.lock`` entry's licence as a line: its SPDX expression, else its
    licence names joined by ``; ``; None when it declares none."""
    license_data = entry.get("license")
    if not isinstance(license_data, dict):
        return None
    if isinstance(license_data.get("expression"), str):
        return str(license_data["expression"])
    names = license_data.get("names")
    return "; ".join(map(str, names)) if isinstance(names, list) and names else None


def format_licenses(manifest: dict[str, Any]) -> str:
    """``flash manifest show --licenses``: the licence of each shipped package, the ones
    that declare none called out. A manifest written before licences were recorded is a
    :class:`UsageError`."""
    lock = packages_of(manifest, "lock")
    if lock and not any("license" in entry for entry in lock.values()):
        raise UsageError(
            "the manifest records no licences: it was written before manifests did.",
            hint="Rebuild it with this flashbuild (`flash build`).")
    project = manifest.get("project_name", "?")
    if not lock:
        return terminal_safe(f"{project}: no dependencies ship, so no licences to list\n")
    rows = [[name, str(entry.get("version", "?")), license_text(entry) or UNKNOWN_LICENSE]
            for name, entry in sorted(lock.items())]
    unknown = [row[0] for row in rows if row[2] == UNKNOWN_LICENSE]
    lines = [f"{project}: licences of {_count(len(rows), 'shipped package')}", "",
             *_table(["PACKAGE", "VERSION", "LICENCE"], rows), ""]
    if unknown:
        verb = "declares" if len(unknown) == 1 else "declare"
        lines.append(f"unknown: {_count(len(unknown), 'package')} {verb} no licence: "
                     f"{', '.join(unknown)}")
    else:
        lines.append("unknown: none, every shipped package declares a licence")
    return terminal_safe("\n".join(lines) + "\n")
