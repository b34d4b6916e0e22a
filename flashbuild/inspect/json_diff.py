"""Differences between two JSON values, path by path, never showing ``env`` values.

``diff_values(old, new)`` maps the dotted path of every changed leaf
(``workersMax``, ``settings.template.imageName``) to a CHANGE: ``{"old": v,
"new": v}``, without ``old`` when the field was added and without ``new`` when
it was removed. Lists of objects with unique ``name`` fields are compared by
name (``functions.classify.is_async``), other lists as whole values.

A field called ``env`` holds secrets (API keys, tokens): its CHANGE is
``{"added": [...], "removed": [...], "changed": [...]}``, naming variables,
and an ``env`` inside an old or new value is replaced by the sorted names of
its variables. Values of environment variables never leave this module.
"""

from __future__ import annotations

import json

ENV_FIELD = "env"
HIDDEN = "(hidden)"
_MISSING = object()  # a field present on one side only


def is_env_path(path: str) -> bool:
    return path.rpartition(".")[2] == ENV_FIELD


def diff_values(old: object, new: object, path: str = "") -> dict[str, dict]:
    """Dotted path -> CHANGE for every leaf that differs (see the module docstring)."""
    if old is not _MISSING and new is not _MISSING and _same(old, new):
        return {}
    if is_env_path(path):
        return {path: _env_change(old, new)}
    if old is _MISSING or new is _MISSING:
        return {path: {"new": _redacted(new)} if old is _MISSING else {"old": _redacted(old)}}
    if isinstance(old, list) and isinstance(new, list):
        keyed_old, keyed_new = _by_name(old), _by_name(new)
        if keyed_old is not None and keyed_new is not None:
            old, new = keyed_old, keyed_new
    if isinstance(old, dict) and isinstance(new, dict):
        changes: dict[str, dict] = {}
        for key in sorted(old.keys() | new.keys()):
            changes.update(diff_values(old.get(key, _MISSING), new.get(key, _MISSING),
                                       f"{path}.{key}" if path else key))
        return changes
    return {path: {"old": _redacted(old), "new": _redacted(new)}}


def _same(old: object, new: object) -> bool:
    """Equal as JSON: ``1`` and ``true`` differ (unlike in Python), ``NaN`` equals ``NaN``."""
    return json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True)


def _by_name(items: list) -> dict | None:
    """A list of objects with unique names as a name -> object mapping, else None."""
    if not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
        return None
    keyed = {item["name"]: item for item in items}
    return keyed if len(keyed) == len(items) else None


def _env_change(old: object, new: object) -> dict:
    """Which variables changed, never their values (they are often secrets)."""
    before, after = _env_mapping(old), _env_mapping(new)
    if before is None or after is None:
        return {"old": HIDDEN, "new": HIDDEN}  # an unknown shape: say so, never show it
    return {"added": sorted(after.keys() - before.keys()),
            "removed": sorted(before.keys() - after.keys()),
            "changed": sorted(key for key in before.keys() & after.keys()
                              if before[key] != after[key])}


def _redacted(value: object) -> object:
    """``value`` with every ``env`` inside it reduced to its variable names."""
    if isinstance(value, dict):
        return {key: _env_names(item) if key == ENV_FIELD else _redacted(item)
                for key, item in value.items()}
    return [_redacted(item) for item in value] if isinstance(value, list) else value


def _env_names(value: object) -> object:
    mapping = _env_mapping(value)
    return HIDDEN if mapping is None else sorted(mapping)


def _env_mapping(value: object) -> dict | None:
    if value is _MISSING or value is None:
        return {}
    if isinstance(value, dict):
        return {str(key): item for key, item in value.items()}
    if isinstance(value, list) and all(isinstance(item, dict) and "key" in item for item in value):
        return {str(item["key"]): item.get("value") for item in value}  # [{"key", "value"}]
    return None
