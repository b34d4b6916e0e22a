"""Read, show and compare manifests: the logic of ``flash manifest show|diff``.

Everything here returns data or text; nothing prints or exits. A manifest is
read from a ``flash_manifest.json`` file or from the root of an artifact
(``.tar.gz``); problems raise :class:`~flashbuild.errors.UsageError`.

Comparing two manifests gives every endpoint one status: ``created`` or
``removed`` (in one manifest only); ``updated`` (the ``config_hash`` differs:
it is reconfigured); ``code_changed`` (same hash, but the endpoint's own
entry differs: functions, routes, calls, file); ``env_only`` (same hash, only
``env`` differs); ``unchanged``. Only the first three count as changes
(``--exit-code``). Whether the code changed is judged per endpoint from what
the manifest records about it, not from ``source_fingerprint``: that digest
covers the whole project, and since ``env`` is declared in the source, any
edit (a rotated secret included) changes it. A new fingerprint is reported
once, as ``source_changed``: every endpoint runs the one artifact.

``diff_manifests`` returns this JSON document (``--json`` prints it)::

    {
      "changes": true,            # something is created, removed or updated
      "source_changed": true,     # source_fingerprint differs
      "created": ["name", ...],
      "removed": ["name", ...],
      "updated": {"name": {PATH: CHANGE, ...}},
      "code_changed": {"name": {PATH: CHANGE, ...}},
      "env_only": {"name": ENV_CHANGE},
      "unchanged": ["name", ...],
      "project": {PATH: CHANGE, ...},    # top-level fields: source_fingerprint, python_version...
      "dependencies": {"added": {"pkg": "1.0"}, "removed": {"pkg": "1.0"},
                       "changed": {"pkg": {"old": "1.0", "new": "1.1"}}},
      "exclusions": {"added": {"pkg": ENTRY}, "removed": {"pkg": ENTRY},
                     "changed": {"pkg": {"old": ENTRY, "new": ENTRY}}}
    }

PATH and CHANGE are those of :func:`flashbuild.json_diff.diff_values`: a
dotted path into the resource entry (``workersMax``,
``functions.classify.is_async``) and ``{"old": v, "new": v}`` (one side left
out when the field is absent from it). An ``env`` CHANGE is an ENV_CHANGE,
``{"added": [...], "removed": [...], "changed": [...]}``: variable names,
never values. ENTRY is an exclusion without its name (``version``,
``reason``, ``version_checked``).
"""

from __future__ import annotations

import json
import re
import tarfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import UsageError
from .json_diff import ENV_FIELD, diff_values, is_env_path
from .manifest import MANIFEST_VERSION
from .render import MANIFEST_FILE

DEFAULT_MANIFEST = Path(".flash") / MANIFEST_FILE
GZIP_MAGIC = b"\x1f\x8b"
ARTIFACT_SUFFIXES = (".tar.gz", ".tgz", ".tar")
ABSENT = "(absent)"
WHERE_FROM = "Pass a flash_manifest.json or an artifact (.tar.gz) written by `flash build`."
# Control characters (C0 but newline, DEL, C1) are escaped in text output so
# that a manifest can never send escape sequences to the terminal.
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x0A}


# --- loading -----------------------------------------------------------------


def load_manifest(path: Path | None = None) -> dict:
    """The manifest at ``path``: a JSON file, an artifact or a project directory.

    ``None`` means ``.flash/flash_manifest.json`` of the current directory; a
    directory means the ``flash_manifest.json`` in it or in its ``.flash``.
    """
    if path is None:
        path = DEFAULT_MANIFEST
        if not path.is_file():
            raise UsageError(f"no manifest at {path} in the current directory",
                             hint=f"Run `flash build` here first. {WHERE_FROM}")
    elif path.is_dir():
        found = [c for c in (path / MANIFEST_FILE, path / DEFAULT_MANIFEST) if c.is_file()]
        if not found:
            raise UsageError(f"{path} is a directory without {DEFAULT_MANIFEST.as_posix()}",
                             hint=f"Run `flash build {path}` first. {WHERE_FROM}")
        path = found[0]
    if not path.exists():
        raise UsageError(f"no such manifest or artifact: {path}", hint=WHERE_FROM)
    if _is_artifact(path):
        return _parse(_read_from_artifact(path), f"{MANIFEST_FILE} in {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", hint=WHERE_FROM) from None
    return _parse(data, str(path))


def _is_artifact(path: Path) -> bool:
    if path.name.endswith(ARTIFACT_SUFFIXES):
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError:
        return False  # reading it as JSON reports the problem


def _read_from_artifact(path: Path) -> bytes:
    """Only the root ``flash_manifest.json``; it sits in the first part, so stop there."""
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.name.removeprefix("./") != MANIFEST_FILE:
                    continue
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is None:
                    break
                return handle.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UsageError(f"cannot read artifact {path}: {exc}",
                         hint=f"Is it a complete .tar.gz? {WHERE_FROM}") from None
    raise UsageError(f"artifact {path} has no {MANIFEST_FILE} at its root",
                     hint=f"Rebuild it with `flash build`. {WHERE_FROM}")


def _parse(data: bytes, name: str) -> dict:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not JSON: it is not UTF-8 text", hint=WHERE_FROM) from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name} is not JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}", hint=WHERE_FROM) from None
    if not isinstance(manifest, dict) or "version" not in manifest:
        raise UsageError(f"{name} is not a flashbuild manifest: it has no `version` field",
                         hint=WHERE_FROM)
    if manifest["version"] != MANIFEST_VERSION:
        raise UsageError(f"{name} has manifest version {manifest['version']!r}; this flashbuild "
                         f"reads version {MANIFEST_VERSION}",
                         hint="Rebuild it with this flashbuild (`flash build`).")
    resources = manifest.get("resources")
    if not isinstance(resources, dict) or not all(isinstance(r, dict) for r in resources.values()):
        raise UsageError(f"{name} is not a flashbuild manifest: `resources` must map endpoint "
                         "names to objects", hint=WHERE_FROM)
    return manifest


def _dependencies(manifest: dict) -> dict:
    dependencies = manifest.get("dependencies")
    return dependencies if isinstance(dependencies, dict) else {}


def _packages(manifest: dict, key: str) -> dict[str, dict]:
    """``dependencies.lock`` or ``dependencies.excluded`` as name -> entry."""
    entries = _dependencies(manifest).get(key)
    if not isinstance(entries, list):
        return {}
    return {entry["name"]: entry for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("name"), str)}


# --- show ----------------------------------------------------------------------


def format_show(manifest: dict) -> str:
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
        [name, _route(function), _function_label(function), str(function.get("location", "?"))]
        for name in names
        for function in _functions(resources[name])
    ]
    routes = sum(row[1] != "-" for row in function_rows)
    installed, excluded = _packages(manifest, "lock"), _packages(manifest, "excluded")
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
        _dependency_summary(_dependencies(manifest), len(installed), len(excluded)),
    ]
    if excluded:
        lines += ["", f"left out of the artifact ({len(excluded)}):", *_table(
            ["PACKAGE", "VERSION", "REASON"],
            [[name, str(entry.get("version", "?")), str(entry.get("reason", "?"))]
             for name, entry in excluded.items()],
        )]
    return _safe("\n".join(lines) + "\n")


def _functions(resource: dict) -> list[dict]:
    functions = resource.get("functions")
    return [f for f in functions if isinstance(f, dict)] if isinstance(functions, list) else []


def _compute(resource: dict) -> str:
    ids = _joined(resource.get("gpuIds") or resource.get("instanceIds"))
    return f"{str(resource.get('compute', '?')).upper()} {ids}".rstrip()


def _route(function: dict) -> str:
    if "http_method" in function:
        return f"{function['http_method']} {function.get('http_path', '?')}"
    return "-"


def _function_label(function: dict) -> str:
    label = str(function.get("name", "?"))
    if function.get("is_class"):
        label = f"class {label} ({_joined(function.get('class_methods'))})"
    return f"async {label}" if function.get("is_async") else label


def _dependency_summary(dependencies: dict, installed: int, excluded: int) -> str:
    if not dependencies.get("installed"):
        return "dependencies: not installed (built with --no-deps, or none declared)"
    where = ", ".join(str(dependencies[key]) for key in ("source", "platform")
                      if key in dependencies)
    text = f"dependencies: {installed} installed ({where}), {excluded} left out"
    if dependencies.get("exclude"):
        text += f"; asked to exclude {_joined(dependencies['exclude'])}"
    return text


def _joined(values: object) -> str:
    return ", ".join(map(str, values)) if isinstance(values, list) else ""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart, no trailing blanks."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in (header, *rows)]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def _safe(text: str) -> str:
    return text.translate(_CONTROL)


# --- diff ----------------------------------------------------------------------

_STATUSES = {"created": "created", "removed": "removed", "updated": "updated",
             "code_changed": "code changed", "env_only": "env only", "unchanged": "unchanged"}
_LABEL_WIDTH = max(map(len, _STATUSES.values()))
_SHA256 = re.compile(r"[0-9a-f]{64}")


def diff_manifests(old: dict, new: dict) -> dict:
    """What deploying ``new`` over ``old`` changes (the document in the module docstring)."""
    before, after = old["resources"], new["resources"]
    diff: dict = {"created": sorted(after.keys() - before.keys()),
                  "removed": sorted(before.keys() - after.keys()),
                  "updated": {}, "code_changed": {}, "env_only": {}, "unchanged": []}
    for name in sorted(before.keys() & after.keys()):
        fields = diff_values(_without(before[name], "config_hash"),
                             _without(after[name], "config_hash"))
        if before[name].get("config_hash") != after[name].get("config_hash"):
            diff["updated"][name] = fields
        elif any(path != ENV_FIELD for path in fields):
            diff["code_changed"][name] = fields
        elif fields:
            diff["env_only"][name] = fields[ENV_FIELD]
        else:
            diff["unchanged"].append(name)
    diff["project"] = diff_values(_project_fields(old), _project_fields(new))
    diff["dependencies"] = _keyed_changes(
        {name: entry.get("version") for name, entry in _packages(old, "lock").items()},
        {name: entry.get("version") for name, entry in _packages(new, "lock").items()},
    )
    diff["exclusions"] = _keyed_changes(
        {name: _without(entry, "name") for name, entry in _packages(old, "excluded").items()},
        {name: _without(entry, "name") for name, entry in _packages(new, "excluded").items()},
    )
    diff["source_changed"] = old.get("source_fingerprint") != new.get("source_fingerprint")
    # Env-only, code-only and package-only changes leave every endpoint's configuration as is.
    diff["changes"] = bool(diff["created"] or diff["removed"] or diff["updated"])
    return diff


def diff_json(diff: dict) -> str:
    """The diff document as JSON text: sorted keys, two-space indent, ASCII only."""
    return json.dumps(diff, indent=2, sort_keys=True) + "\n"


def _without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


def _project_fields(manifest: dict) -> dict:
    """Top-level fields; endpoints and package lists are compared on their own."""
    fields = {key: value for key, value in manifest.items()
              if key not in ("resources", "function_registry", "routes", "dependencies")}
    fields["dependencies"] = {key: value for key, value in _dependencies(manifest).items()
                              if key not in ("lock", "excluded")}
    return fields


def _keyed_changes(before: dict, after: dict) -> dict:
    return {"added": {key: after[key] for key in sorted(after.keys() - before.keys())},
            "removed": {key: before[key] for key in sorted(before.keys() - after.keys())},
            "changed": {key: {"old": before[key], "new": after[key]}
                        for key in sorted(before.keys() & after.keys())
                        if before[key] != after[key]}}


def format_diff(diff: dict) -> str:
    """The human report of ``flash manifest diff``."""
    counts = [f"{len(diff[key])} {label}" for key, label in _STATUSES.items() if diff[key]]
    lines = [f"endpoints: {', '.join(counts) or 'none'}"]
    detail_indent = " " * (2 + _LABEL_WIDTH + 4)
    for key, label in _STATUSES.items():
        for name in diff[key]:
            head = f"  {label.ljust(_LABEL_WIDTH)}  {name}"
            fields = diff[key][name] if isinstance(diff[key], dict) else None
            if key == "env_only":
                lines.append(f"{head}: env {_env_text(fields)}")
            elif fields:
                lines += [head, *(detail_indent + _change_text(path, change)
                                  for path, change in fields.items())]
            elif fields is not None:  # only the hash itself differs
                lines.append(f"{head} (config_hash changed)")
            else:
                lines.append(head)
    project = dict(diff["project"])
    source = project.pop("source_fingerprint", None)
    lines.append(f"source: changed ({_old_to_new(source)}), every endpoint runs the new code"
                 if source else "source: unchanged")
    changed = [f"  {_change_text(path, change)}" for path, change in project.items()]
    lines += [f"project:{'' if changed else ' unchanged'}", *changed]
    lines += _package_section("dependencies", diff["dependencies"], str)
    lines += _package_section(
        "exclusions", diff["exclusions"], lambda entry: f"{entry.get('version')} "
        f"({entry.get('reason')})")
    return _safe("\n".join(lines) + "\n")


def _package_section(title: str, changes: dict, describe: Callable[[object], str]) -> list[str]:
    body = [f"  {kind:<7}  {name} {describe(value)}" for kind in ("added", "removed")
            for name, value in changes[kind].items()]
    body += [f"  changed  {name} {describe(value['old'])} -> {describe(value['new'])}"
             for name, value in changes["changed"].items()]
    counts = [f"{len(changes[kind])} {kind}" for kind in ("added", "removed", "changed")
              if changes[kind]]
    return [f"{title}: {', '.join(counts) or 'unchanged'}", *body]


def _change_text(path: str, change: dict) -> str:
    """One change as a line; a function's changes are named after the function."""
    if is_env_path(path):
        return f"{path}: {_env_text(change)}"
    parts = path.split(".", 2)
    if parts[0] == "functions" and len(parts) == 3:
        return f"function {parts[1]}: {parts[2]} {_old_to_new(change)}"
    if parts[0] == "functions" and len(parts) == 2 and "new" not in change:
        return f"function removed: {parts[1]}"
    if parts[0] == "functions" and len(parts) == 2 and isinstance(change.get("new"), dict):
        function = change["new"]
        place = str(function.get("location", "?"))
        place = place if _route(function) == "-" else f"{_route(function)}, {place}"
        return f"function added: {parts[1]} ({place})"
    return f"{path}: {_old_to_new(change)}"


def _env_text(change: dict) -> str:
    if "added" not in change:
        return "changed (values hidden)"
    return "; ".join(f"{kind} {', '.join(change[kind])}"
                     for kind in ("added", "removed", "changed") if change[kind])


def _old_to_new(change: dict) -> str:
    old = _value(change["old"]) if "old" in change else ABSENT
    new = _value(change["new"]) if "new" in change else ABSENT
    return f"{old} -> {new}"


def _value(value: object) -> str:
    """JSON, except that sha256 digests are cut to 12 digits as git does."""
    if isinstance(value, str) and _SHA256.fullmatch(value):
        return value[:12]
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
