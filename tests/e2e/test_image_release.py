"""Choosing the release of the worker images a build targets, and what it must offer."""

from __future__ import annotations

import json

from flashbuild.errors import SourceCodeError, UsageError

from ..support.helpers import app, endpoint, run_cli


def manifest_of(project) -> dict:
    return json.loads((project / ".flash" / "flash_manifest.json").read_text())


def test_calls_between_endpoints_need_a_runtime_that_sends_them(copy_fixture, capsys):
    project = copy_fixture("example-app")
    code, _, err = run_cli(["build", "--no-deps", "--image-release", "wheelhouse-0",
                            str(project)], capsys)
    assert code == SourceCodeError.exit_code, err
    assert "gpu_worker.py:" in err and "`classify` of endpoint 'gpu-worker' calls endpoint" in err
    assert "runpod-flash 1.11.3, which runs a called function inside the caller" in err
    assert "--image-release" in err and "Traceback" not in err
    assert not (project / ".flash" / "artifact.tar.gz").exists()


def test_the_release_comes_from_pyproject_and_the_command_line_wins(copy_fixture, capsys):
    project = copy_fixture("example-app")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.flash]\nimage-release = "wheelhouse-0"\n')
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == SourceCodeError.exit_code and "runpod-flash 1.11.3" in err
    code, _, err = run_cli(["build", "--no-deps", "--image-release", "wheelhouse-1",
                            str(project)], capsys)
    assert code == 0, err
    assert manifest_of(project)["dependencies"]["images"]["release"] == "wheelhouse-1"


def test_an_app_without_calls_builds_for_an_old_release(write_project, capsys):
    project = write_project(app(endpoint("solo", [])))
    code, _, err = run_cli(["build", "--no-deps", "--image-release", "wheelhouse-0",
                            str(project)], capsys)
    assert code == 0, err
    assert manifest_of(project)["dependencies"]["images"] == {
        "release": "wheelhouse-0", "overrides": {}}


def test_a_release_without_an_image_for_the_python_is_a_usage_error(
    write_project, capsys, tmp_path, monkeypatch
):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    runtime = {"runpod": {"version": "1.10.1", "source": "runtime", "how": "locked"}}
    (profiles / "2.0.json").write_text(json.dumps({"release": "2.0", "images": {
        "cpu": {"3.12": runtime}, "gpu": {"3.11": runtime, "3.13": runtime}}}))
    monkeypatch.setenv("FLASHBUILD_IMAGE_PROFILES", str(profiles))
    project = write_project(app(endpoint("cpu", [], cpu=True), endpoint("gpu", [])))
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == UsageError.exit_code, err
    assert ("release 2.0 of the worker images has no gpu image for Python 3.12, which endpoint "
            "'gpu' needs (it has one for Python 3.11, 3.13)") in err
    code, _, err = run_cli(["build", "--no-deps", "--python-version", "3.13", str(project)],
                           capsys)
    assert code == UsageError.exit_code and "no cpu image for Python 3.13" in err


def test_a_broken_profile_is_a_usage_error(write_project, capsys, tmp_path, monkeypatch):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "3.0.json").write_text("{not json")
    monkeypatch.setenv("FLASHBUILD_IMAGE_PROFILES", str(profiles))
    project = write_project(app(endpoint("gpu", [])))
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == UsageError.exit_code, err
    assert "3.0.json cannot be read" in err and "Traceback" not in err
