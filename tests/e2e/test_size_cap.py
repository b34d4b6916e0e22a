"""The size cap in builds: checked on wheel sizes before download and on the artifact itself."""

from __future__ import annotations

import os

import pytest

from flashbuild.errors import SizeLimitError

from ..support.helpers import app, endpoint, run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")


def cap_build(capsys, wheelhouse, project, *options):
    previous = project / ".flash" / "artifact.tar.gz"
    previous.parent.mkdir(parents=True, exist_ok=True)
    previous.write_bytes(b"previous")
    code, _, err = run_cli(
        ["build", "--no-index", "--find-links", str(wheelhouse), *options, str(project)], capsys
    )
    if code != 0:
        assert previous.read_bytes() == b"previous"
    return code, err


def test_early_check_stops_before_downloading(
    write_project, wheelhouse, capsys, tmp_path, monkeypatch
):
    cache = tmp_path / "fresh-uv-cache"
    monkeypatch.setenv("UV_CACHE_DIR", str(cache))
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(tmp_path / "fresh-flashbuild-cache"))
    project = write_project(app(endpoint("cpu-torch", ["torch"], cpu=True)))
    code, err = cap_build(capsys, wheelhouse, project, "--max-size", "2kB")
    assert code == SizeLimitError.exit_code
    assert "the wheels to install" in err and "already exceed the size cap of 2,000 bytes" in err
    assert "nvidia-cublas-cu12 ← torch ← endpoint cpu-torch" in err
    assert "torch 2.5.0" in err
    # Excluding torch takes its CUDA libraries with it: the largest saving comes first.
    suggestions = [
        line.split()[1] for line in err.splitlines() if line.strip().startswith("--exclude")
    ]
    assert suggestions[0] == "torch"
    assert "build directory kept for inspection" in err
    assert not list(cache.glob("archive-v0/*/torch"))  # nothing was installed


def test_final_check_on_the_compressed_artifact(write_project, wheelhouse, capsys):
    noise = os.urandom(300_000).hex()  # incompressible enough: ~300 kB after gzip
    project = write_project(
        app(endpoint("cpu", ["tinyutil"], cpu=True), **{"data/blob.txt": noise})
    )
    code, err = cap_build(capsys, wheelhouse, project, "--max-size", "200kB")
    assert code == SizeLimitError.exit_code
    assert "the artifact exceeds the size cap of 200,000 bytes" in err
    assert "tinyutil 2.0" in err and "endpoint cpu" in err
    code, err = cap_build(capsys, wheelhouse, project, "--max-size", "2MB")
    assert code == 0, err


def test_cached_dependencies_are_checked_before_writing(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("cpu-torch", ["torch"], cpu=True)))
    code, err = cap_build(capsys, wheelhouse, project)
    assert code == 0, err
    code, err = cap_build(capsys, wheelhouse, project, "--max-size", "1kB")
    assert code == SizeLimitError.exit_code
    assert "the compressed dependencies alone" in err
    assert "nvidia-cublas-cu12 ← torch ← endpoint cpu-torch" in err


def test_cap_applies_without_dependencies(write_project, capsys):
    noise = os.urandom(50_000).hex()
    project = write_project(app(endpoint("cpu", [], cpu=True), **{"blob.txt": noise}))
    code, _, err = run_cli(["build", "--no-deps", "--max-size", "10kB", str(project)], capsys)
    assert code == SizeLimitError.exit_code
    assert "exceeds the size cap of 10,000 bytes" in err


def test_cap_from_pyproject(write_project, capsys):
    project = write_project(app(endpoint("cpu", [], cpu=True),
                                **{"pyproject.toml": '[tool.flash]\nmax-size = "1kB"\n',
                                   "blob.txt": os.urandom(5_000).hex()}))
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == SizeLimitError.exit_code and "1,000 bytes" in err
    code, _, err = run_cli(["build", "--no-deps", "--max-size", "1MB", str(project)], capsys)
    assert code == 0, err
