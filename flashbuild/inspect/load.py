"""Read a manifest from a ``flash_manifest.json``, an artifact or a project directory.

Problems raise :class:`~flashbuild.errors.UsageError`; nothing prints or exits.
"""

from __future__ import annotations

import json
import tarfile
import zlib
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..render.manifest import MANIFEST_FILE, MANIFEST_VERSION

DEFAULT_MANIFEST = Path(".flash") / MANIFEST_FILE
GZIP_MAGIC = b"\x1f\x8b"
ARTIFACT_SUFFIXES = (".tar.gz", ".tgz", ".tar")
WHERE_FROM = "Pass a flash_manifest.json or an artifact (.tar.gz) written by `flash build`."


# A manifest of thousands of endpoints is a few megabytes; reading is bounded well above.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def load_manifest(path: Path | None = None) -> dict[str, Any]:
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
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise UsageError(f"{path} is larger than a manifest ever needs "
                             f"({MAX_MANIFEST_BYTES} bytes); it is not read.", hint=WHERE_FROM)
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
    """Only the root ``flash_manifest.json``; it follows the app part, before the
    dependencies, so stop there."""
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if member.name.removeprefix("./") != MANIFEST_FILE:
                    continue
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is None:
                    break
                if member.size > MAX_MANIFEST_BYTES:
                    raise UsageError(
                        f"{MANIFEST_FILE} in {path} is {member.size} bytes, more than a "
                        f"manifest ever needs ({MAX_MANIFEST_BYTES}); it is not read.",
                        hint=f"Is it an artifact flashbuild wrote? {WHERE_FROM}")
                return handle.read(MAX_MANIFEST_BYTES)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UsageError(f"cannot read artifact {path}: {exc}",
                         hint=f"Is it a complete .tar.gz? {WHERE_FROM}") from None
    raise UsageError(f"artifact {path} has no {MANIFEST_FILE} at its root",
                     hint=f"Rebuild it with `flash build`. {WHERE_FROM}")


def _parse(data: bytes, name: str) -> dict[str, Any]:
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


def dependencies_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``dependencies`` object, or ``{}``."""
    dependencies = manifest.get("dependencies")
    return dependencies if isinstance(dependencies, dict) else {}


def packages_of(manifest: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    """``dependencies.lock`` or ``dependencies.excluded`` as name -> entry."""
    entries = dependencies_of(manifest).get(key)
    if not isinstance(entries, list):
        return {}
    return {entry["name"]: entry for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("name"), str)}
