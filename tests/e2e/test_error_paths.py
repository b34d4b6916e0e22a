"""Failures every command must turn into a message and a documented exit code."""

from __future__ import annotations

import json

import pytest

from flashbuild import pipeline
from flashbuild.errors import InternalError, PackagingError, UsageError

from ..support.helpers import app, endpoint, run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")


@pytest.fixture
def project(write_project):
    return write_project(app(endpoint("cpu", [], cpu=True)))


def failing_build(exception: BaseException):
    def build(*_args, **_kwargs):
        raise exception

    return build


def test_a_bug_is_reported_as_an_internal_error(project, monkeypatch, capsys):
    monkeypatch.setattr(pipeline, "build", failing_build(RuntimeError("boom")))
    code, out, err = run_cli(["build", "--json", str(project)], capsys)
    assert code == InternalError.exit_code == 70
    assert "flash: internal error: RuntimeError: boom" in err
    assert "This is a bug in flashbuild" in err and "Traceback" not in err
    assert json.loads(out)["error"]["exit_code"] == 70
    code, _, err = run_cli(["build", "-v", str(project)], capsys)
    assert code == 70 and "Traceback (most recent call last)" in err


def test_an_interrupt_exits_130(project, monkeypatch, capsys):
    monkeypatch.setattr(pipeline, "build", failing_build(KeyboardInterrupt()))
    code, out, err = run_cli(["build", str(project)], capsys)
    assert (code, out, err) == (130, "", "flash: interrupted\n")


def test_a_file_system_error_while_building_is_a_packaging_error(project, capsys):
    (project / ".flash").write_text("a file where the build directory goes")
    code, _, err = run_cli(["build", str(project)], capsys)
    assert code == PackagingError.exit_code == 6
    assert "flash: packaging error: cannot write " in err and ".flash" in err
    assert "hint: Check free space and permissions" in err


def test_an_unusable_cache_directory_names_it_and_the_way_out(
    write_project, wheelhouse, tmp_path, monkeypatch, capsys
):
    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True)))
    not_a_directory = tmp_path / "cache-file"
    not_a_directory.write_text("")
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(not_a_directory))
    options = ["--no-index", "--find-links", str(wheelhouse), str(project)]
    code, _, err = run_cli(["build", *options], capsys)
    assert code == PackagingError.exit_code
    assert f"cannot use the cache at {not_a_directory}" in err
    assert "FLASHBUILD_CACHE_DIR" in err and "--no-cache" in err
    code, _, err = run_cli(["build", "--no-cache", *options], capsys)
    assert code == 0, err


@pytest.mark.parametrize("arguments", [
    ["build", "--json", "--threads", "0"],
    ["build", "--json", "--no-such-option"],
    ["lock", "--json"],  # lock has no --json: the document still says what went wrong
])
def test_usage_errors_print_the_error_document_with_json(arguments, project, capsys):
    code, out, err = run_cli([*arguments, str(project)], capsys)
    assert code == UsageError.exit_code == 2
    assert "Usage: flash" in err
    document = json.loads(out)
    assert document["ok"] is False
    assert document["error"]["exit_code"] == 2
    assert document["error"]["message"] and document["error"]["hint"]


def test_usage_errors_without_json_print_nothing_on_stdout(project, capsys):
    code, out, err = run_cli(["build", "--threads", "0", str(project)], capsys)
    assert (code, out) == (2, "")
    assert "Invalid value for '--threads'" in err
