"""The manifest's sizes: per shipped distribution and of the whole artifact, exact and the
same whether the dependencies come from nothing, the cache's entry or its units."""

from __future__ import annotations

import json
import shutil
import tarfile
import zlib
from pathlib import Path

import jsonschema
import pytest

from flashbuild.render.manifest import manifest_schema

from ..support.helpers import app, build_project, endpoint

pytestmark = pytest.mark.usefixtures("private_uv_cache")


def built_manifest(project: Path, wheelhouse: Path, **options) -> bytes:
    """A build from an empty .flash (no stamp to reuse); the manifest's bytes."""
    shutil.rmtree(project / ".flash", ignore_errors=True)
    options = {"no_deps": False, "no_index": True, "find_links": [str(wheelhouse)], **options}
    result = build_project(project, **options)
    data = result.manifest_path.read_bytes()
    assert json.loads(data) == result.manifest
    return data


def test_sizes_are_the_same_from_nothing_the_entry_and_the_units(
        write_project, wheelhouse, cache_dir, installs):
    project = write_project(app(endpoint("cpu", ["appdep", "fastmath", "tinyutil"], cpu=True)))
    smaller = write_project(app(endpoint("cpu", ["appdep", "fastmath"], cpu=True)), "smaller")
    built_manifest(smaller, wheelhouse)  # leaves units of appdep, fastmath, shared-helper
    from_units = built_manifest(project, wheelhouse)  # installs only tinyutil
    from_entry = built_manifest(project, wheelhouse)  # an entry hit: nothing installed
    shutil.rmtree(cache_dir)
    cold = built_manifest(project, wheelhouse)
    uncached = built_manifest(project, wheelhouse, no_cache=True)
    every = ["appdep", "fastmath", "shared-helper", "tinyutil"]
    # units, then the entry, were used; then nothing was cached, then there was no cache
    assert installs == [every[:3], ["tinyutil"], every, every]
    assert from_units == from_entry == cold == uncached
    manifest = json.loads(uncached)
    jsonschema.validate(manifest, manifest_schema())
    lock = {entry["name"]: entry for entry in manifest["dependencies"]["lock"]}
    assert sorted(lock) == ["appdep", "fastmath", "shared-helper", "tinyutil"]
    for entry in lock.values():
        assert entry["installed_bytes"] > 0 and entry["compressed_bytes"] > 0, entry
    # fastmath holds a shared object: the largest, installed and compressed
    assert max(lock.values(), key=lambda e: e["installed_bytes"])["name"] == "fastmath"
    assert lock["tinyutil"]["version"] == "2.0"


def test_each_distribution_is_its_segment(write_project, wheelhouse, cache_dir):
    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True)))
    manifest = json.loads(built_manifest(project, wheelhouse))
    units = [json.loads(path.read_bytes()) for path in (cache_dir / "units").rglob("*.json")]
    segments = {unit["dist"]["name"]: unit["segment"]["size"] for unit in units}
    assert segments == {entry["name"]: entry["compressed_bytes"]
                        for entry in manifest["dependencies"]["lock"]}
    sizes = manifest["artifact"]
    assert sum(segments.values()) < sizes["dependency_part_bytes"]  # + directories, the end


@pytest.mark.parametrize("dependencies", [True, False])
def test_the_total_is_the_artifact_file_exactly(write_project, wheelhouse, dependencies):
    project = write_project(app(endpoint("cpu", ["appdep"] if dependencies else [], cpu=True)))
    built_manifest(project, wheelhouse)
    artifact = project / ".flash" / "artifact.tar.gz"
    data = (project / ".flash" / "flash_manifest.json").read_bytes()
    sizes = json.loads(data)["artifact"]
    raw = artifact.read_bytes()
    assert sizes["compressed_bytes"] == len(raw)
    assert (sizes["app_part_bytes"] + sizes["manifest_bytes"] + sizes["dependency_part_bytes"]
            == len(raw))
    assert (sizes["dependency_part_bytes"] > 0) == dependencies
    # The manifest's member starts where the app part ends and holds exactly the manifest.
    start, end = sizes["app_part_bytes"], sizes["app_part_bytes"] + sizes["manifest_bytes"]
    inflater = zlib.decompressobj(wbits=31)
    entry = inflater.decompress(raw[start:end])
    assert inflater.eof and not inflater.unused_data
    assert entry[512:512 + len(data)] == data
    with tarfile.open(artifact, "r:gz") as archive:  # and the archive reads as one
        member = archive.extractfile("flash_manifest.json")
        assert member is not None and member.read() == data
