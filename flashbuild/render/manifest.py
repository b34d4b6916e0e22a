"""Build ``flash_manifest.json``: the reference tool's fields plus ours.

The manifest is plain JSON data with sorted keys and no volatile fields, so
the same plan always yields the same bytes. Its JSON Schema ships in
``flashbuild/render/schemas/flash_manifest.schema.json``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import __version__
from ..artifact.stored import stored_member_size
from ..records import BuildPlan, PlannedEndpoint, PlannedFunction, ProjectFile, RenderedFile
from ..source.deployment import deployment_fields
from ..source.files import project_file_sha256
from ..source.modules import module_name

MANIFEST_FILE = "flash_manifest.json"
MANIFEST_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "flash_manifest.schema.json"


def source_fingerprint(files: Iterable[ProjectFile],
                       known: Mapping[str, bytes] | None = None) -> str:
    """sha256 over the shipped project files' paths and contents (or link targets);
    ``known`` holds the bytes of files already read in this build, by path."""
    digest = hashlib.sha256()
    known = known or {}
    for file in sorted(files, key=lambda f: f.path):
        if file.link_target is not None:
            content = "link:" + file.link_target
        elif file.path in known:
            content = hashlib.sha256(known[file.path]).hexdigest()
        else:
            content = project_file_sha256(file)
        digest.update(f"{file.path}\0{content}\n".encode())
    return digest.hexdigest()


def _function_entry(planned: PlannedFunction, load_balanced: bool) -> dict[str, Any]:
    decl = planned.decl
    entry: dict[str, Any] = {
        "name": decl.name,
        "module": decl.module,
        "is_async": decl.is_async,
        "is_class": decl.is_class,
        "calls": list(planned.calls),
        "location": str(decl.location),
    }
    if decl.is_class:
        entry["class_methods"] = list(decl.class_methods)
    if load_balanced and decl.route is not None:
        entry["http_method"] = decl.route.method
        entry["http_path"] = decl.route.path
    return entry


def _resource_entry(endpoint: PlannedEndpoint, python_version: str) -> dict[str, Any]:
    config = endpoint.config
    entry: dict[str, Any] = {
        **deployment_fields(config, endpoint.image_name),
        "file_path": endpoint.declared_at.path,
        "module_path": module_name(endpoint.declared_at.path),
        "functions": [_function_entry(f, config.load_balanced) for f in endpoint.functions],
        "is_load_balanced": config.load_balanced,
        "makes_remote_calls": bool(endpoint.calls),
        "handler_file": endpoint.handler_file,
        "compute": config.compute,
        "target_python_version": python_version,
        "dependencies": list(endpoint.dependencies),
        "system_dependencies": list(endpoint.system_dependencies),
        "settings": dict(config.settings),
        "config_hash": endpoint.config_hash,
        "calls": list(endpoint.calls),
    }
    if config.compute == "gpu":
        entry["gpus"] = list(config.gpu_ids)  # as declared; gpuIds is the SDK's pool string
    return entry


def build_manifest(
    plan: BuildPlan, *, fingerprint: str, dependencies: dict[str, Any]
) -> dict[str, Any]:
    """The manifest as JSON data; ``dependencies`` is its ``dependencies`` object."""
    return {
        "version": MANIFEST_VERSION,
        "generator": f"flashbuild {__version__}",
        "project_name": plan.project_name,
        "python_version": plan.python_version,
        "resources": {
            endpoint.name: _resource_entry(endpoint, plan.python_version)
            for endpoint in plan.endpoints
        },
        "function_registry": dict(plan.function_registry),
        "routes": {
            endpoint.name: {
                f"{f.decl.route.method} {f.decl.route.path}": f.decl.name
                for f in endpoint.functions
                if f.decl.route is not None
            }
            for endpoint in plan.endpoints
            if endpoint.load_balanced
        },
        "source_fingerprint": fingerprint,
        "build_environment": list(plan.environment_reads),
        "dependencies": dependencies,
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """Canonical serialisation: sorted keys, two-space indent, trailing newline."""
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def render_manifest(manifest: dict[str, Any]) -> RenderedFile:
    """The manifest as the artifact's ``flash_manifest.json``."""
    return RenderedFile(path=MANIFEST_FILE, content=manifest_bytes(manifest))


def sized_manifest(manifest: dict[str, Any], *, app_part: int, dependency_part: int | None
                   ) -> tuple[dict[str, Any], bytes]:
    """``manifest`` with its ``artifact`` sizes, and its bytes.

    The manifest is written after the app part (``app_part`` compressed bytes) as a
    gzip member of stored blocks, whose size is a known function of the manifest's
    length, then the dependency part (``dependency_part`` bytes; None: there is none
    and the manifest's member ends the archive). The total it records includes its own
    member, so it is a fixed point: starting from a total that leaves the member out,
    each step can only lengthen the text (more digits), so the steps rise to the
    first total that is exactly right.
    """
    fixed = app_part + (dependency_part or 0)
    total = fixed
    while True:
        member = total - fixed
        sized = {**manifest, "artifact": {
            "compressed_bytes": total, "app_part_bytes": app_part,
            "manifest_bytes": member, "dependency_part_bytes": dependency_part or 0}}
        data = manifest_bytes(sized)
        needed = stored_member_size(MANIFEST_FILE, len(data), final=dependency_part is None)
        if needed == member:
            return sized, data
        total = fixed + needed


@lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema every manifest conforms to."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
