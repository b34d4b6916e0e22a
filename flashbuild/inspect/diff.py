"""``flash manifest diff``: what deploying one manifest over another changes.

Everything here returns data or text; nothing prints or exits. Comparing two
manifests gives every endpoint one status: ``created`` or
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
                     "changed": {"pkg": {"old": ENTRY, "new": ENTRY}}},
      "sizes": SIZES                     # see flashbuild.inspect.size_diff
    }

``flash manifest diff --format json`` prints it with ``schema_version`` (schema:
``flashbuild/cli/schemas/manifest-diff.schema.json``).

PATH and CHANGE are those of :func:`flashbuild.inspect.json_diff.diff_values`: a
dotted path into the resource entry (``workersMax``,
``functions.classify.is_async``) and ``{"old": v, "new": v}`` (one side left
out when the field is absent from it). An ``env`` CHANGE is an ENV_CHANGE,
``{"added": [...], "removed": [...], "changed": [...]}``: variable names,
never values. ENTRY is an exclusion without its name (``version``,
``reason``, ``version_checked``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .._util.files import is_sha256_hex
from .json_diff import ENV_FIELD, diff_values, is_env_path
from .load import dependencies_of, packages_of
from .show import route_label, terminal_safe
from .size_diff import (
    bytes_label,
    format_sizes,
    package_label,
    signed,
    size_changes,
    total_label,
)

ABSENT = "(absent)"
Json = dict[str, Any]  # a JSON object: manifests, changes and the diff document

_STATUSES = {"created": "created", "removed": "removed", "updated": "updated",
             "code_changed": "code changed", "env_only": "env only", "unchanged": "unchanged"}
_LABEL_WIDTH = max(map(len, _STATUSES.values()))


def diff_manifests(old: Json, new: Json) -> Json:
    """What deploying ``new`` over ``old`` changes (the document in the module docstring)."""
    before, after = old["resources"], new["resources"]
    diff: Json = {"created": sorted(after.keys() - before.keys()),
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
        {name: entry.get("version") for name, entry in packages_of(old, "lock").items()},
        {name: entry.get("version") for name, entry in packages_of(new, "lock").items()},
    )
    diff["exclusions"] = _keyed_changes(
        {name: _without(entry, "name") for name, entry in packages_of(old, "excluded").items()},
        {name: _without(entry, "name") for name, entry in packages_of(new, "excluded").items()},
    )
    diff["sizes"] = size_changes(old, new)
    diff["source_changed"] = old.get("source_fingerprint") != new.get("source_fingerprint")
    # Env-only, code-only and package-only changes leave every endpoint's configuration as is.
    diff["changes"] = bool(diff["created"] or diff["removed"] or diff["updated"])
    return diff


def _without(mapping: Json, key: str) -> Json:
    return {k: v for k, v in mapping.items() if k != key}


def _project_fields(manifest: Json) -> Json:
    """Top-level fields; endpoints and package lists are compared on their own."""
    fields = {key: value for key, value in manifest.items()
              if key not in ("resources", "function_registry", "routes", "dependencies",
                             "artifact")}
    fields["dependencies"] = {key: value for key, value in dependencies_of(manifest).items()
                              if key not in ("lock", "excluded")}
    return fields


def _keyed_changes(before: Json, after: Json) -> Json:
    return {"added": {key: after[key] for key in sorted(after.keys() - before.keys())},
            "removed": {key: before[key] for key in sorted(before.keys() - after.keys())},
            "changed": {key: {"old": before[key], "new": after[key]}
                        for key in sorted(before.keys() & after.keys())
                        if before[key] != after[key]}}


def format_diff(diff: Json) -> str:
    """The human report of ``flash manifest diff``."""
    counts = [f"{len(diff[key])} {label}" for key, label in _STATUSES.items() if diff[key]]
    lines = [f"endpoints: {', '.join(counts) or 'none'}"]
    detail_indent = " " * (2 + _LABEL_WIDTH + 4)
    for key, label in _STATUSES.items():
        for name in diff[key]:
            head = f"  {label.ljust(_LABEL_WIDTH)}  {name}"
            fields = diff[key][name] if isinstance(diff[key], dict) else None
            if key == "env_only":
                lines.append(f"{head}: env {_env_text(diff[key][name])}")
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
    lines += format_sizes(diff["sizes"])
    return terminal_safe("\n".join(lines) + "\n")


def _package_section(title: str, changes: Json, describe: Callable[[Any], str]) -> list[str]:
    body = [f"  {kind:<7}  {name} {describe(value)}" for kind in ("added", "removed")
            for name, value in changes[kind].items()]
    body += [f"  changed  {name} {describe(value['old'])} -> {describe(value['new'])}"
             for name, value in changes["changed"].items()]
    counts = [f"{len(changes[kind])} {kind}" for kind in ("added", "removed", "changed")
              if changes[kind]]
    return [f"{title}: {', '.join(counts) or 'unchanged'}", *body]


def _change_text(path: str, change: Json) -> str:
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
        place = place if route_label(function) == "-" else f"{route_label(function)}, {place}"
        return f"function added: {parts[1]} ({place})"
    return f"{path}: {_old_to_new(change)}"


def _env_text(change: Json) -> str:
    if "added" not in change:
        return "changed (values hidden)"
    return "; ".join(f"{kind} {', '.join(change[kind])}"
                     for kind in ("added", "removed", "changed") if change[kind])


def _old_to_new(change: Json) -> str:
    old = _value(change["old"]) if "old" in change else ABSENT
    new = _value(change["new"]) if "new" in change else ABSENT
    return f"{old} -> {new}"


def _value(value: object) -> str:
    """JSON, except that sha256 digests are cut to 12 digits as git does."""
    if is_sha256_hex(value):
        return value[:12]
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def format_markdown(diff: Json) -> str:
    """The diff as GitHub-flavoured Markdown: tables for a pull request comment or a job
    summary."""
    lines = ["#### flash manifest diff", ""]
    rows = []
    for key, label in _STATUSES.items():
        if key == "unchanged":  # counted below the table, not listed
            continue
        for name in diff[key]:
            fields = diff[key][name] if isinstance(diff[key], dict) else None
            if key == "env_only":
                details = [f"env {_env_text(diff[key][name])}"]
            else:
                details = [_change_text(path, change) for path, change in (fields or {}).items()]
            rows.append([name, label, "<br>".join(map(_code, details)) or "-"])
    lines += _table(["endpoint", "status", "changes"], rows) if rows else ["No endpoint changes."]
    if diff["unchanged"]:
        lines += ["", f"Unchanged: {', '.join(diff['unchanged'])}"]
    source = diff["project"].get("source_fingerprint")
    source_text = f"changed ({_old_to_new(source)})" if source else "unchanged"
    lines += ["", f"**Source:** {source_text}"]
    project = [_code(_change_text(path, change)) for path, change in diff["project"].items()
               if path != "source_fingerprint"]
    if project:
        lines += ["", f"**Project:** {', '.join(project)}"]
    sizes = diff["sizes"]
    lines += ["", f"**Artifact size:** {total_label(sizes['total'])}"]
    if sizes["packages"]:
        lines += ["", *_table(
            ["package", "change", "version", "compressed size", "difference"],
            [[entry["name"], entry["status"], package_label(entry).partition(" ")[2],
              bytes_label(entry), signed(entry["change"])] for entry in sizes["packages"]])]
    return terminal_safe("\n".join(lines) + "\n")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ")
                                 for cell in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *map(line, rows)]


def _code(text: str) -> str:
    quoted = text.replace("`", "'")
    return f"`{quoted}`"
