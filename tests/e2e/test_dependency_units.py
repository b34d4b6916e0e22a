"""Distributions reused from the cache one by one: only new wheels are installed, and the
artifact is the same bytes as a build from nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flashbuild.deps.audit import InstallAuditError

from ..support.helpers import app, archive_names, archive_text, build_project, endpoint
from ..support.wheelhouse import Dist, build_wheelhouse

pytestmark = pytest.mark.usefixtures("private_uv_cache")


def built(project: Path, wheelhouse: Path, **options) -> tuple[bytes, bytes]:
    options = {"no_deps": False, "no_index": True, "find_links": [str(wheelhouse)], **options}
    result = build_project(project, **options)
    return result.artifact.path.read_bytes(), result.manifest_path.read_bytes()


def with_dependencies(project: Path, old: str, new: str) -> None:
    source = project / "main.py"
    source.write_text(source.read_text().replace(old, new))


def test_a_new_dependency_is_the_only_one_installed(write_project, wheelhouse, cache_dir,
                                                    installs):
    project = write_project(app(endpoint("cpu", ["appdep", "fastmath"], cpu=True)))
    built(project, wheelhouse)
    assert installs == [["appdep", "fastmath", "shared-helper"]]
    assert list((cache_dir / "units").rglob("*.json"))
    with_dependencies(project, "['appdep', 'fastmath']", "['appdep', 'fastmath', 'tinyutil']")
    artifact, manifest = built(project, wheelhouse)
    assert installs[1:] == [["tinyutil"]]
    assert (artifact, manifest) == built(project, wheelhouse, no_cache=True)
    assert "tinyutil/__init__.py" in archive_names_of(artifact, project)


def archive_names_of(artifact: bytes, where: Path) -> list[str]:
    path = where.parent / "copy.tar.gz"
    path.write_bytes(artifact)
    return archive_names(path)


@pytest.mark.usefixtures("cache_dir")
def test_another_target_reuses_nothing(write_project, wheelhouse, installs):
    project = write_project(app(endpoint("cpu", ["tinyutil"], cpu=True)))
    built(project, wheelhouse)
    built(project, wheelhouse, python_version="3.11")
    built(project, wheelhouse, compression_level=1)
    assert installs == [["tinyutil"]] * 3


@pytest.mark.parametrize("damage", ["record", "segment", "record-names-another-segment",
                                    "record-is-a-folder"])
def test_a_damaged_unit_is_installed_again(write_project, wheelhouse, cache_dir, installs,
                                           damage):
    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True)))
    first = built(project, wheelhouse)
    records = sorted((cache_dir / "units").rglob("*.json"))
    assert len(records) == 2  # appdep, shared-helper
    for record in records:
        data = json.loads(record.read_bytes())
        if damage == "record":
            record.write_text('{"format": 1, "dist": ')
        elif damage == "record-is-a-folder":
            record.unlink()
            (record / "inside").mkdir(parents=True)
        elif damage == "segment":
            segment = data["segment"]["key"]
            (cache_dir / "segments" / segment[:2] / f"{segment}.gz").write_bytes(b"\x1f\x8b")
        else:
            data["segment"]["key"] = "../../../outside"
            record.write_text(json.dumps(data))
    with_dependencies(project, "['appdep']", "['appdep', 'tinyutil']")
    again = built(project, wheelhouse)
    assert installs[1] == ["appdep", "shared-helper", "tinyutil"]
    assert again == built(project, wheelhouse, no_cache=True) != first


def test_damaged_bytes_of_the_same_size_are_found_as_they_are_copied(
        write_project, wheelhouse, cache_dir, installs):
    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True)))
    built(project, wheelhouse)
    for record in sorted((cache_dir / "units").rglob("*.json")):
        key = json.loads(record.read_bytes())["segment"]["key"]
        segment = cache_dir / "segments" / key[:2] / f"{key}.gz"
        data = bytearray(segment.read_bytes())
        data[len(data) // 2] ^= 0xFF
        segment.write_bytes(bytes(data))
    with_dependencies(project, "['appdep']", "['appdep', 'tinyutil']")
    result = build_project(project, no_deps=False, no_index=True, find_links=[str(wheelhouse)])
    # Both damaged units are found once the first is: they, not tinyutil, are installed again.
    assert installs[1:] == [["tinyutil"], ["appdep", "shared-helper"]]
    assert any("is damaged" in str(warning) for warning in result.warnings)
    assert result.artifact.path.read_bytes() == built(project, wheelhouse, no_cache=True)[0]


@pytest.mark.usefixtures("cache_dir")
def test_a_reused_dependency_still_clashes_with_the_project(write_project, wheelhouse,
                                                            installs):
    project = write_project(app(endpoint("cpu", ["tinyutil"], cpu=True)))
    built(project, wheelhouse)
    (project / "tinyutil.py").write_text("VALUE = 1\n")
    with pytest.raises(InstallAuditError, match="installs 'tinyutil', which the project"):
        built(project, wheelhouse)  # the whole dependency part comes from the cache
    with_dependencies(project, "['tinyutil']", "['tinyutil', 'appdep']")
    with pytest.raises(InstallAuditError, match="installs 'tinyutil', which the project"):
        built(project, wheelhouse)  # tinyutil is reused, the rest would be installed
    assert installs == [["tinyutil"]]  # both clashes were found without installing again


@pytest.mark.usefixtures("cache_dir")
def test_wheels_that_share_a_file_are_installed_together(write_project, tmp_path, installs):
    shared = {"common/shared.py": "FROM = 'left'\n", "left/__init__.py": ""}
    other = {"common/shared.py": "FROM = 'right'\n", "right/__init__.py": ""}
    house = build_wheelhouse(tmp_path / "house",
                             [Dist("left", "1.0", files=shared), Dist("right", "1.0", files=other)])
    project = write_project(app(endpoint("cpu", ["left"], cpu=True)))
    built(project, house)
    with_dependencies(project, "['left']", "['left', 'right']")
    artifact, manifest = built(project, house)
    # left was reused, right shares a file with it: both again, then right once more, so
    # that the file holds right's bytes (the last by name) however uv orders its writes.
    assert installs == [["left"], ["right"], ["left", "right"], ["right"]]
    assert (artifact, manifest) == built(project, house, no_cache=True)
    names = archive_names_of(artifact, project)
    assert names.count("common/shared.py") == 1
    assert "FROM = 'right'" in archive_text(project.parent / "copy.tar.gz", "common/shared.py")


def test_records_list_only_what_ships(write_project, wheelhouse):
    project = write_project(app(endpoint("cpu", ["withscript"], cpu=True)))
    result = build_project(project, no_deps=False, no_index=True, find_links=[str(wheelhouse)])
    names = archive_names(result.artifact.path)
    assert not any(name.startswith("bin/") for name in names)
    record = archive_text(result.artifact.path, "withscript-1.0.dist-info/RECORD")
    assert "withscript/cli.py," in record
    assert "bin/" not in record  # console scripts name this machine's interpreter
