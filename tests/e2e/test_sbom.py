"""``sbom.cdx.json``: a CycloneDX SBOM of what ships (valid against the official schema),
the same from the cache as from nothing; and ``flash manifest show --licenses``."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ..support.helpers import app, build_project, endpoint, run_cli
from ..support.wheelhouse import Dist, build_wheelhouse, default_dists

pytestmark = pytest.mark.usefixtures("private_uv_cache")

LICENSED = (
    Dist("spdxlib", "1.0", metadata=[("License-Expression", "MIT OR Apache-2.0")]),
    Dist("classic", "1.0", metadata=[
        ("License", "BSD"), ("Classifier", "License :: OSI Approved :: BSD License"),
        ("Classifier", "Programming Language :: Python")]),
    Dist("nolicense", "1.0"),
)
SHIPPED = ["classic", "fastmath", "nolicense", "spdxlib"]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("licensed"), [*default_dists(), *LICENSED])


def sbom_of(project: Path, wheels: Path, **options) -> bytes:
    """Build from an empty .flash; the SBOM beside the manifest, checked against the
    artifact's copy."""
    shutil.rmtree(project / ".flash", ignore_errors=True)
    result = build_project(project, no_deps=False, no_index=True, find_links=[str(wheels)],
                           **options)
    beside = project / ".flash" / "sbom.cdx.json"
    with tarfile.open(result.artifact.path, "r:gz") as archive:
        member = archive.extractfile("sbom.cdx.json")
        assert member is not None and member.read() == beside.read_bytes()
    return beside.read_bytes()


def test_the_sbom_is_valid_cyclonedx_and_says_what_ships(write_project, wheels):
    project = write_project(app(endpoint("gpu", [*SHIPPED, "torch"])), "licensed-app")
    text = sbom_of(project, wheels, no_cache=True)
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(text.decode()) is None
    sbom = json.loads(text)
    assert sbom["metadata"]["component"]["name"] == "licensed-app"
    assert "timestamp" not in sbom["metadata"]
    components = {c["name"]: c for c in sbom["components"]}
    shipped = {name for name, c in components.items() if c["scope"] == "required"}
    assert shipped == set(SHIPPED)
    spdx = components["spdxlib"]
    assert spdx["purl"] == "pkg:pypi/spdxlib@1.0"
    assert spdx["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    wheel = hashlib.sha256((wheels / "spdxlib-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    assert spdx["hashes"] == [{"alg": "SHA-256", "content": wheel}]
    assert components["classic"]["licenses"] == [
        {"license": {"name": "BSD"}}, {"license": {"name": "BSD License"}}]
    assert "licenses" not in components["nolicense"]
    # Of fastmath's four wheels (one per CPython), the one for 3.12 was installed.
    cp312 = next(wheels.glob("fastmath-1.0-cp312-*.whl"))
    assert components["fastmath"]["hashes"][0]["content"] == hashlib.sha256(
        cp312.read_bytes()).hexdigest()
    torch = components["torch"]
    assert torch["scope"] == "excluded" and "hashes" not in torch
    assert torch["properties"] == [{"name": "flashbuild:provided-by",
                                    "value": "gpu@wheelhouse-1"}]
    broken = {**sbom, "components": [{**spdx, "scope": "shipped"}]}
    assert validator.validate_str(json.dumps(broken)) is not None


def test_the_sbom_is_the_same_from_the_cache(write_project, wheels, cache_dir, installs):
    project = write_project(app(endpoint("gpu", [*SHIPPED, "torch"])), "licensed-app")
    smaller = write_project(app(endpoint("gpu", ["spdxlib", "classic"])), "smaller")
    sbom_of(smaller, wheels)
    from_units = sbom_of(project, wheels)
    from_entry = sbom_of(project, wheels)
    shutil.rmtree(cache_dir)
    assert installs[1] == ["fastmath", "nolicense"] and len(installs) == 2
    assert from_units == from_entry == sbom_of(project, wheels) == sbom_of(
        project, wheels, no_cache=True)


def test_an_unchanged_build_restores_a_missing_sbom(write_project, wheels):
    project = write_project(app(endpoint("gpu", ["spdxlib"])))
    first = sbom_of(project, wheels)
    beside = project / ".flash" / "sbom.cdx.json"
    beside.unlink()
    build_project(project, no_deps=False, no_index=True, find_links=[str(wheels)])
    assert beside.read_bytes() == first


def test_show_licenses_calls_out_the_unknown(write_project, wheels, capsys):
    project = write_project(app(endpoint("gpu", [*SHIPPED, "torch"])), "licensed-app")
    sbom_of(project, wheels)
    code, out, err = run_cli(["manifest", "show", "--licenses", str(project)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "licensed-app: licences of 4 shipped packages"
    assert lines[2].split() == ["PACKAGE", "VERSION", "LICENCE"]
    rows = {line.split()[0]: line.split(None, 2)[2] for line in lines[3:7]}
    assert rows == {"classic": "BSD; BSD License", "fastmath": "(unknown)",
                    "nolicense": "(unknown)", "spdxlib": "MIT OR Apache-2.0"}
    assert lines[-1] == "unknown: 2 packages declare no licence: fastmath, nolicense"
    code, _, err = run_cli(["manifest", "show", "--licenses", "--json", str(project)], capsys)
    assert code == 2


def test_show_licenses_of_a_manifest_without_licences(write_project, wheels, tmp_path,
                                                      capsys):
    project = write_project(app(endpoint("gpu", ["spdxlib"])))
    sbom_of(project, wheels)
    data = json.loads((project / ".flash" / "flash_manifest.json").read_text())
    for entry in data["dependencies"]["lock"]:
        del entry["license"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    code, _, err = run_cli(["manifest", "show", "--licenses", str(old)], capsys)
    assert code == 2 and "records no licences" in err


def test_a_code_change_reuses_the_sbom_it_checks(write_project, wheels, monkeypatch):
    project = write_project(app(endpoint("gpu", ["spdxlib"])))
    first = sbom_of(project, wheels)
    beside = project / ".flash" / "sbom.cdx.json"

    def code_change_build(marker: str) -> bytes:
        (project / "extra.py").write_text(f"VALUE = {marker!r}\n")
        result = build_project(project, no_deps=False, no_index=True, find_links=[str(wheels)])
        with tarfile.open(result.artifact.path, "r:gz") as archive:
            member = archive.extractfile("sbom.cdx.json")
            assert member is not None
            return member.read()

    def not_rendered(*_args: object) -> bytes:
        raise AssertionError("the SBOM was rendered again")

    with monkeypatch.context() as patched:
        patched.setattr("flashbuild.render.outputs.render_sbom", not_rendered)
        assert code_change_build("one") == first
    beside.write_bytes(first.replace(b"spdxlib", b"spdxlid"))  # same size, other bytes
    assert code_change_build("two") == first == beside.read_bytes()  # rendered, not trusted
