"""Workflow commands: escaping and repository-relative places."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flashbuild.cli.github import (
    Places,
    annotations_enabled,
    escape_data,
    escape_property,
    repository_root,
    workflow_command,
)
from flashbuild.errors import SourceLocation


def unescape(text: str) -> str:
    """What the runner does with an escaped value (in reverse order of escaping)."""
    for escaped, raw in (("%2C", ","), ("%3A", ":"), ("%0A", "\n"), ("%0D", "\r"),
                         ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def test_escapes():
    assert escape_data("100%\r\ndone: a, b") == "100%25%0D%0Adone: a, b"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    # A literal escape sequence is not taken for one.
    assert escape_data("%0A") == "%250A"


@given(st.text())
def test_escaped_values_survive_the_runner(text):
    assert unescape(escape_property(text)) == text
    escaped = escape_property(text)
    assert not any(character in escaped for character in ":,\r\n")


def test_workflow_command():
    assert workflow_command("warning", "m", [("file", "a,b.py"), ("line", 3), ("col", None),
                                             ("title", "t: u")]) \
        == "::warning file=a%2Cb.py,line=3,title=t%3A u::m"
    assert workflow_command("error", "x") == "::error::x"


def test_annotations_enabled():
    assert annotations_enabled(None, {"GITHUB_ACTIONS": "true"})
    assert not annotations_enabled(None, {})
    assert not annotations_enabled("none", {"GITHUB_ACTIONS": "true"})
    assert annotations_enabled("github", {})


def test_repository_root(tmp_path):
    project = tmp_path / "repo" / "apps" / "shop"
    project.mkdir(parents=True)
    # Nothing marks a repository: GITHUB_WORKSPACE, else the project.
    assert repository_root(project, {}) == project
    assert repository_root(project, {"GITHUB_WORKSPACE": str(tmp_path)}) == tmp_path
    # A worktree's .git is a file.
    (tmp_path / "repo" / ".git").write_text("gitdir: elsewhere\n")
    assert repository_root(project, {"GITHUB_WORKSPACE": str(tmp_path)}) == tmp_path / "repo"


def test_places(tmp_path):
    project = tmp_path / "apps" / "shop"
    project.mkdir(parents=True)
    location = SourceLocation(path="pkg/app.py", line=3, column=5)
    inside = Places(project_dir=project, root=tmp_path)
    assert inside.location(location) == "apps/shop/pkg/app.py:3:5"
    assert inside.path(project / ".flash" / "artifact.tar.gz") == \
        "apps/shop/.flash/artifact.tar.gz"
    outside = Places(project_dir=project, root=tmp_path / "other")
    assert outside.location(SourceLocation(path="app.py", line=1)) == "app.py:1"
    assert Places(project_dir=project, root=project).location_path(location) == "pkg/app.py"
