"""GitHub Actions annotations: errors and warnings with a place, as workflow commands."""

from __future__ import annotations

import json
import shutil

import pytest

from flashbuild.errors import SourceCodeError, StaticCheckError

from ..conftest import FIXTURES
from ..support.helpers import INVALID_ENDPOINT_NAME, run_cli

# A directory name that needs escaping in a property value: %, ":" and ",".
ODD_DIR = "100%,a:b"
ODD_DIR_ESCAPED = "100%25%2Ca%3Ab"

@pytest.fixture
def repository(tmp_path):
    """A git work tree (``.git`` marks its root) with the projects under ``apps/``."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


@pytest.fixture
def on_github(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")


def scope_app(repository):
    """fixtures/checks/scope (six scope warnings) at ``apps/100%,a:b`` in the repository."""
    project = repository / "apps" / ODD_DIR
    shutil.copytree(FIXTURES / "checks" / "scope", project)
    return project


def annotations(stream: str) -> list[str]:
    return [line for line in stream.splitlines() if line.startswith("::")]


@pytest.mark.usefixtures("on_github")
def test_error_with_a_place(repository, capsys):
    project = repository / "apps" / ODD_DIR
    project.mkdir(parents=True)
    (project / "app.py").write_text(INVALID_ENDPOINT_NAME)
    code, out, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == SourceCodeError.exit_code
    assert annotations(err) == [
        f"::error file=apps/{ODD_DIR_ESCAPED}/app.py,line=4,col=16,title=flash%3A source error"
        "::endpoint name '100%25 sure' is not valid.%0Ahint: Use 1-64 letters, digits, '-', "
        "'_' or '.', starting with a letter or digit."
    ]
    assert out == ""


def test_warnings_with_a_place(repository, capsys, monkeypatch):
    project = scope_app(repository)
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0 and "flash: warning:" in err
    assert annotations(err) == []  # not on GitHub Actions
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err
    lines = annotations(err)
    assert len(lines) == 6
    assert lines[2] == (
        f"::warning file=apps/{ODD_DIR_ESCAPED}/app.py,line=21,col=16,title=flash%3A warning"
        "::`json` used in `score` is the module-level import at app.py:3:1; only the function "
        "body travels to the worker in live mode, so import it inside `score`. [scope]"
    )
    # Still printed with --quiet: they are for the runner, not for reading.
    code, _, err = run_cli(["build", "--no-deps", "--quiet", str(project)], capsys)
    assert code == 0 and annotations(err) == lines


@pytest.mark.usefixtures("on_github")
def test_strict_annotates_each_finding_as_an_error(repository, capsys):
    project = scope_app(repository)
    code, _, err = run_cli(["build", "--no-deps", "--strict", str(project)], capsys)
    assert code == StaticCheckError.exit_code
    lines = annotations(err)
    assert len(lines) == 6
    assert all(line.startswith(f"::error file=apps/{ODD_DIR_ESCAPED}/app.py,line=")
               for line in lines)
    assert ",line=27,col=52,title=flash%3A static check failed::`GpuGroup` used in `run`" \
        in lines[5]


def test_each_error_of_a_combined_one(repository, capsys):
    project = repository / "apps" / "two"
    shutil.copytree(FIXTURES / "checks" / "unshipped-import", project)
    code, _, err = run_cli(["build", "--no-deps", "--annotations", "github", str(project)],
                           capsys)
    assert code == SourceCodeError.exit_code
    lines = annotations(err)
    assert len(lines) >= 2
    assert all(line.startswith("::error file=apps/two/") for line in lines)
    assert all("[unshipped-import]%0Ahint: Ship the imported module" in line for line in lines)


@pytest.mark.usefixtures("on_github")
def test_annotations_none_turns_them_off(repository, capsys):
    project = scope_app(repository)
    code, _, err = run_cli(["build", "--no-deps", "--annotations", "none", "--strict",
                            str(project)], capsys)
    assert code == StaticCheckError.exit_code
    assert annotations(err) == []


@pytest.mark.usefixtures("on_github")
def test_json_stays_one_document_on_stdout(repository, capsys):
    project = scope_app(repository)
    code, out, err = run_cli(["build", "--no-deps", "--json", str(project)], capsys)
    assert code == 0
    assert len(json.loads(out)["warnings"]) == 6
    assert len(annotations(err)) == 6
    code, out, err = run_cli(["build", "--no-deps", "--json", "--strict", str(project)], capsys)
    assert code == StaticCheckError.exit_code
    assert json.loads(out)["ok"] is False
    assert len(annotations(err)) == 6


@pytest.mark.usefixtures("on_github")
def test_other_commands_annotate_their_errors(repository, capsys):
    project = repository / "apps" / "locked"
    project.mkdir(parents=True)
    (project / "app.py").write_text(INVALID_ENDPOINT_NAME)
    code, _, err = run_cli(["lock", str(project)], capsys)
    assert code == SourceCodeError.exit_code
    assert [line.split("::")[1] for line in annotations(err)] == [
        "error file=apps/locked/app.py,line=4,col=16,title=flash%3A source error"
    ]
