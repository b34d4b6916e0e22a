"""Tests for flashbuild.source.files: which files of a project ship."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from flashbuild.errors import SourceCodeError, SourceLocation, UsageError
from flashbuild.source import files as files_module
from flashbuild.source.files import DEFAULT_EXCLUDES, collect_project_files, is_secret

# --- helpers --------------------------------------------------------------------


def make_tree(root: Path, tree: dict[str, str | bytes]) -> Path:
    """Create files under ``root``; keys are POSIX paths, values their content."""
    for rel, content in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def make_project(tmp_path: Path, tree: dict[str, str | bytes]) -> Path:
    return make_tree(tmp_path / "project", tree)


def link(root: Path, rel: str, target: str | Path) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def shipped(root: Path, **kwargs) -> set[str]:
    return {f.path for f in collect_project_files(root, **kwargs).files}


def by_path(root: Path, **kwargs) -> dict:
    return {f.path: f for f in collect_project_files(root, **kwargs).files}


# --- plain projects ---------------------------------------------------------------


def test_sources_and_data_files_ship(tmp_path):
    root = make_project(
        tmp_path,
        {
            "main.py": "",
            "pkg/__init__.py": "",
            "pkg/sub/mod.py": "",
            "data/words.txt": "a\nb\n",
            "README.md": "",
            "pyproject.toml": "",
        },
    )
    assert shipped(root) == {
        "main.py",
        "pkg/__init__.py",
        "pkg/sub/mod.py",
        "data/words.txt",
        "README.md",
        "pyproject.toml",
    }


def test_records_are_relative_posix_with_absolute_resolved_sources(tmp_path):
    root = make_project(tmp_path, {"pkg/mod.py": ""})
    link(tmp_path, "alias", root)  # the root given through a symlink is resolved
    result = collect_project_files(tmp_path / "alias" / ".")
    assert result.root == root.resolve()
    (file,) = result.files
    assert file.path == "pkg/mod.py"
    assert file.source == root.resolve() / "pkg" / "mod.py"
    assert file.link_target is None and not file.is_symlink
    assert result.warnings == ()


# --- defaults ---------------------------------------------------------------------

# One example path per default pattern (several for the interesting ones).
DEFAULT_EXAMPLES = {
    ".git/": [".git/config", ".git/objects/ab/cdef"],
    ".hg/": [".hg/store/data"],
    ".svn/": [".svn/entries"],
    ".flash/": [".flash/cache.json"],
    "__pycache__/": ["__pycache__/x.txt", "pkg/deep/__pycache__/mod.cpython-312.opt"],
    "*.pyc": ["mod.pyc", "pkg/mod.pyc"],
    "*.pyo": ["mod.pyo"],
    "dist/": ["dist/app.tar.gz"],
    "build/": ["build/lib/app.py", "pkg/build/out.py"],
    "*.egg-info/": ["app.egg-info/PKG-INFO"],
    ".eggs/": [".eggs/x.egg"],
    ".idea/": [".idea/workspace.xml"],
    ".vscode/": [".vscode/settings.json"],
    ".vs/": [".vs/x"],
    ".mypy_cache/": [".mypy_cache/3.12/x.json"],
    ".pytest_cache/": [".pytest_cache/v/cache"],
    ".ruff_cache/": [".ruff_cache/x"],
    ".tox/": [".tox/py312/x"],
    ".nox/": [".nox/x"],
    ".ipynb_checkpoints/": [".ipynb_checkpoints/nb-checkpoint.ipynb"],
    ".hypothesis/": [".hypothesis/examples/x"],
    ".DS_Store": [".DS_Store", "data/.DS_Store"],
    "node_modules/": ["node_modules/left-pad/index.js", "web/node_modules/x.js"],
}


def test_every_default_pattern_has_an_example():
    assert set(DEFAULT_EXAMPLES) == set(DEFAULT_EXCLUDES)


@pytest.mark.parametrize("pattern", DEFAULT_EXCLUDES)
def test_default_excludes(tmp_path, pattern):
    root = make_project(tmp_path, {"main.py": "", **dict.fromkeys(DEFAULT_EXAMPLES[pattern], "x")})
    assert shipped(root) == {"main.py"}


def test_defaults_leave_similar_names_alone(tmp_path):
    tree = {
        "build.py": "",  # "build/" only matches directories
        "builder/x.py": "",
        "distance.py": "",
        "pkg/dist.txt": "",
        "mod.pyx": "",
        "environment.yml": "",
        "node_modules.txt": "",
    }
    root = make_project(tmp_path, tree)
    assert shipped(root) == set(tree)


def test_virtualenv_is_detected_by_pyvenv_cfg_whatever_its_name(tmp_path):
    root = make_project(
        tmp_path,
        {
            "main.py": "",
            "my-env/pyvenv.cfg": "home = /usr/bin\n",
            "my-env/lib/python3.12/site-packages/requests/__init__.py": "",
            "tools/sandbox/pyvenv.cfg": "",
            "tools/sandbox/bin/activate": "",
            "tools/helper.py": "",
            "notes/pyvenv.cfg.example": "",
        },
    )
    assert shipped(root) == {"main.py", "tools/helper.py", "notes/pyvenv.cfg.example"}


# --- .gitignore -------------------------------------------------------------------


def test_root_gitignore(tmp_path):
    root = make_project(
        tmp_path,
        {
            ".gitignore": "# comment\n*.log\n/scratch/\nout/\n!keep.log\n",
            "main.py": "",
            "app.log": "",
            "pkg/debug.log": "",
            "keep.log": "",
            "scratch/notes.txt": "",
            "pkg/scratch/mod.py": "",  # "/scratch/" is anchored to the root
            "pkg/out/gen.py": "",
        },
    )
    assert shipped(root) == {".gitignore", "main.py", "keep.log", "pkg/scratch/mod.py"}


def test_nested_gitignore_applies_only_to_its_folder(tmp_path):
    root = make_project(
        tmp_path,
        {
            "sub/.gitignore": "*.txt\n/local.py\n",
            "a.txt": "",
            "local.py": "",
            "sub/b.txt": "",
            "sub/local.py": "",
            "sub/deeper/c.txt": "",
            "sub/deeper/local.py": "",  # "/local.py" is anchored to sub/
            "other/d.txt": "",
        },
    )
    assert shipped(root) == {
        "sub/.gitignore",
        "a.txt",
        "local.py",
        "sub/deeper/local.py",
        "other/d.txt",
    }


def test_nested_gitignore_overrides_the_root_one(tmp_path):
    root = make_project(
        tmp_path,
        {
            ".gitignore": "*.csv\n",
            "sub/.gitignore": "!keep.csv\n",
            "keep.csv": "",
            "sub/keep.csv": "",
            "sub/drop.csv": "",
        },
    )
    assert shipped(root) == {".gitignore", "sub/.gitignore", "sub/keep.csv"}


def test_gitignore_inside_an_excluded_directory_is_never_read(tmp_path):
    root = make_project(
        tmp_path,
        {
            "main.py": "",
            # Invalid UTF-8: reading it would raise UsageError.
            "node_modules/.gitignore": b"\xff\xfe!*\n",
            "ignored/.gitignore": b"\xff",
            ".gitignore": "ignored/\n",
        },
    )
    assert shipped(root) == {".gitignore", "main.py"}


def test_gitignore_negations_do_not_reinclude_defaults(tmp_path):
    root = make_project(
        tmp_path,
        {
            ".gitignore": "*\n!*/\n!*.py\n",  # "ignore everything but Python files"
            ".venv/pyvenv.cfg": "",
            ".venv/lib/site.py": "",
            "build/gen.py": "",
            "app/__pycache__/m.py": "",
            "app/main.py": "",
            "app/data.txt": "",
        },
    )
    assert shipped(root) == {"app/main.py"}


# Tricky .gitignore sets, checked against git itself on one tree.
GIT_TREE = [
    "x.py", "y.txt", "z", "a/x.py", "a/y.txt", "a/keep.txt", "a/b/x.py", "a/b/c.log",
    "b/x.py", "b/y.txt", "b/a/z", "b/a/b/x.py", "log/x.py", "log/b/c.log", "log/a/z",
    "d/e/z", "d/e/x.py", "d/y.txt",
]  # fmt: skip
GIT_CASES = [
    {".gitignore": "*\n!*/\n!*.py\n"},
    {".gitignore": "*/\n!log\n", "b/a/.gitignore": "**/b\n"},
    {".gitignore": "**/b\n!*/\n*.txt\n", "a/.gitignore": "!*\n!*/\na\n*/\n"},
    {".gitignore": "a/**\n!a/keep.txt\n"},
    {".gitignore": "log/\n!log/x.py\n", "a/.gitignore": "b/\n!x.py\n"},
    {".gitignore": "/a\nb/*\n!b/x.py\n", "d/.gitignore": "/e/\n"},
    {".gitignore": "*/**\n!*.py\n"},
    {".gitignore": "d/*/\n!*/z\n**/a/\n", "log/.gitignore": "!a/\n"},
]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("ignore_files", GIT_CASES)
def test_gitignore_semantics_match_git(tmp_path, ignore_files):
    root = make_project(tmp_path, {**dict.fromkeys(GIT_TREE, ""), **ignore_files})
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--others", "--exclude-standard"],
        check=True, env=env, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert shipped(root) == set(listed)


# --- .flashignore -----------------------------------------------------------------


def test_flashignore_excludes(tmp_path):
    root = make_project(
        tmp_path,
        {
            ".flashignore": "tests/\n*.md\n",
            "main.py": "",
            "README.md": "",
            "docs/guide.md": "",
            "tests/test_main.py": "",
            "sub/.flashignore": "*.py\n",  # only the root .flashignore counts
            "sub/mod.py": "",
        },
    )
    assert shipped(root) == {".flashignore", "main.py", "sub/.flashignore", "sub/mod.py"}


def test_flashignore_reincludes_default_excluded_dir_and_gitignored_file(tmp_path):
    root = make_project(
        tmp_path,
        {
            ".gitignore": "generated.py\n",
            ".flashignore": "!build/\n!generated.py\n",
            "generated.py": "",
            "build/lib/app.py": "",
            "build/__pycache__/app.cpython-312.pyc": "",  # still excluded by defaults
            "dist/app.tar.gz": "",
        },
    )
    assert shipped(root) == {".gitignore", ".flashignore", "generated.py", "build/lib/app.py"}


def test_flashignore_can_reinclude_a_virtualenv(tmp_path):
    root = make_project(
        tmp_path,
        {".flashignore": "!vendor-env/\n", "vendor-env/pyvenv.cfg": "", "vendor-env/x.py": ""},
    )
    assert shipped(root) == {".flashignore", "vendor-env/pyvenv.cfg", "vendor-env/x.py"}


def test_directory_reinclusion_does_not_override_rules_for_its_contents(tmp_path):
    # Like git: "!build/" re-includes the directory only; paths inside it are
    # still judged by the patterns that match them.
    root = make_project(
        tmp_path,
        {
            ".gitignore": "*.log\n",
            ".flashignore": "!build/\n",
            "build/app.py": "",
            "build/run.log": "",
            "build/.DS_Store": "",
            "build/node_modules/x.js": "",
        },
    )
    assert shipped(root) == {".gitignore", ".flashignore", "build/app.py"}


def test_later_file_pattern_reincludes_inside_a_shipped_directory(tmp_path):
    root = make_project(
        tmp_path,
        {
            ".gitignore": "*.txt\n",
            ".flashignore": "!*.txt\n!.vscode/\n.vscode/*\n!.vscode/settings.json\n",
            "docs/a.txt": "",
            ".vscode/settings.json": "",
            ".vscode/launch.json": "",
        },
    )
    assert shipped(root) == {".gitignore", ".flashignore", "docs/a.txt", ".vscode/settings.json"}


def test_gitignore_whitelist_idioms(tmp_path):
    root = make_project(
        tmp_path,
        {
            # Ignore everything in sub/ except Python files, at any depth.
            "sub/.gitignore": "*\n!*/\n!*.py\n",
            "sub/a.py": "",
            "sub/c.txt": "",
            "sub/pkg/b.py": "",
            "sub/pkg/d.txt": "",
            # "**" ignores a folder's contents, not the folder, so a file can come back.
            ".gitignore": "assets/**\n!assets/keep.png\n",
            "assets/keep.png": "",
            "assets/drop.png": "",
        },
    )
    assert shipped(root) == {".gitignore", "sub/a.py", "sub/pkg/b.py", "assets/keep.png"}


def test_file_in_excluded_directory_cannot_be_reincluded(tmp_path):
    root = make_project(
        tmp_path,
        {
            ".gitignore": "logs/\n",
            ".flashignore": "!dist/keep.txt\n!logs/a.log\n",
            "dist/keep.txt": "",
            "logs/a.log": "",
        },
    )
    assert shipped(root) == {".gitignore", ".flashignore"}


# --- secrets ----------------------------------------------------------------------


def test_secrets_never_ship_even_when_reincluded(tmp_path):
    root = make_project(
        tmp_path,
        {
            ".flashignore": "!.env\n!.env.*\n!**/.env.local\n!.env/\n",
            ".env": "TOKEN=1",
            ".env.production": "TOKEN=2",
            "sub/.env.local": "TOKEN=3",
            "config/.env/values": "TOKEN=4",
            "env.py": "",
            ".environment": "",
            "main.py": "",
        },
    )
    assert shipped(root) == {".flashignore", "env.py", ".environment", "main.py"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".env", True),
        (".env.production", True),
        ("config/.env.local", True),
        (".env/values", True),
        ("a/.env.x/b", True),
        (".envrc", True),
        (".ssh/id_rsa", True),
        ("deploy/id_ed25519", True),
        ("deploy/id_ed25519.pub", False),
        (".aws/credentials", True),
        ("home/.docker/config.json", True),
        ("docker/config.json", False),
        ("certs/server.p12", True),
        ("certs/server.crt", False),
        (".environment", False),
        ("env", False),
        ("my.env", False),
        ("docs/env.md", False),
    ],
)
def test_is_secret(path, expected):
    assert is_secret(path) is expected


# --- symlinks and special files ---------------------------------------------------


def test_symlink_inside_project_ships_as_relative_link(tmp_path):
    root = make_project(tmp_path, {"data/x.txt": "x", "data/y.txt": "y"})
    link(root, "app/link.txt", "../data/x.txt")
    link(root, "abs.txt", root / "data" / "y.txt")  # absolute, still inside
    link(root, "assets", "data")  # a directory: shipped as a link, not walked
    found = by_path(root)
    assert set(found) == {"data/x.txt", "data/y.txt", "app/link.txt", "abs.txt", "assets"}
    assert found["app/link.txt"].link_target == "../data/x.txt"
    assert found["abs.txt"].link_target == "data/y.txt"
    assert found["assets"].link_target == "data"
    assert found["assets"].is_symlink and not found["data/x.txt"].is_symlink
    assert collect_project_files(root).warnings == ()


def test_symlink_outside_project_is_skipped_with_warning(tmp_path):
    (tmp_path / "outside.txt").write_text("secret")
    root = make_project(tmp_path, {"main.py": ""})
    link(root, "ext.txt", tmp_path / "outside.txt")
    link(root, "up", "..")
    result = collect_project_files(root)
    assert {f.path for f in result.files} == {"main.py"}
    assert [w.location for w in result.warnings] == [
        SourceLocation(path="ext.txt"),
        SourceLocation(path="up"),
    ]
    assert "ext.txt" in result.warnings[0].message
    assert "outside the project" in result.warnings[0].message


def test_symlink_to_secret_or_excluded_path_never_ships(tmp_path):
    root = make_project(
        tmp_path, {".env": "TOKEN=1", "__pycache__/m.pyc": "", ".gitignore": "big.bin\n"}
    )
    (root / "big.bin").write_bytes(b"0")
    link(root, "config.txt", ".env")
    link(root, "cache", "__pycache__/m.pyc")
    link(root, "bin", "big.bin")
    result = collect_project_files(root)
    assert {f.path for f in result.files} == {".gitignore"}
    assert [w.location.path for w in result.warnings] == ["bin", "cache", "config.txt"]


def test_excluded_symlink_is_skipped_silently(tmp_path):
    root = make_project(tmp_path, {"main.py": "", ".gitignore": "alias.py\n"})
    link(root, "alias.py", "main.py")
    link(root, ".env", "main.py")  # the link's own name is a secret
    result = collect_project_files(root)
    assert {f.path for f in result.files} == {".gitignore", "main.py"}
    assert result.warnings == ()


def test_broken_symlink_warns(tmp_path):
    root = make_project(tmp_path, {"main.py": ""})
    link(root, "gone.txt", "missing.txt")
    link(root, "loop", "loop")
    result = collect_project_files(root)
    assert {f.path for f in result.files} == {"main.py"}
    assert [w.location.path for w in result.warnings] == ["gone.txt", "loop"]
    assert "broken" in result.warnings[0].message


def test_symlink_to_directory_without_shipped_files_warns(tmp_path):
    root = make_project(tmp_path, {"main.py": "", "only_cache/x.pyc": ""})
    (root / "empty").mkdir()
    link(root, "to_empty", "empty")
    link(root, "to_cache", "only_cache")
    result = collect_project_files(root)
    assert {f.path for f in result.files} == {"main.py"}
    assert [w.location.path for w in result.warnings] == ["to_cache", "to_empty"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_skipped_with_warning(tmp_path):
    root = make_project(tmp_path, {"main.py": ""})
    os.mkfifo(root / "pipe")
    result = collect_project_files(root)
    assert {f.path for f in result.files} == {"main.py"}
    assert [w.location.path for w in result.warnings] == ["pipe"]


# --- skip, order, modes -------------------------------------------------------------


def test_skip_excludes_given_absolute_paths(tmp_path):
    root = make_project(
        tmp_path,
        {"main.py": "", "app.tar.gz": "", ".app.tar.gz.tmp-1": "", "out/keep.py": "", "o2/x": ""},
    )
    link(tmp_path, "alias", root)  # a skip path spelled through a symlink still matches
    skip = [root / "app.tar.gz", tmp_path / "alias" / ".app.tar.gz.tmp-1", root / "o2"]
    assert shipped(root, skip=skip) == {"main.py", "out/keep.py"}


def test_output_is_sorted_and_deterministic(tmp_path):
    root = make_project(
        tmp_path, {"b.py": "", "a/z.py": "", "a.txt": "", "a_b.py": "", "A.py": "", "a/b/c.py": ""}
    )
    first = collect_project_files(root)
    paths = [f.path for f in first.files]
    assert paths == sorted(paths)
    assert paths == ["A.py", "a.txt", "a/b/c.py", "a/z.py", "a_b.py", "b.py"]
    assert collect_project_files(root) == first


def test_executable_bit_is_detected(tmp_path):
    root = make_project(tmp_path, {"run.sh": "#!/bin/sh\n", "group.sh": "", "lib.py": ""})
    (root / "run.sh").chmod(0o755)
    (root / "group.sh").chmod(0o640 | stat.S_IXGRP)
    found = by_path(root)
    assert {p for p, f in found.items() if f.executable} == {"run.sh", "group.sh"}


# --- errors -----------------------------------------------------------------------


def test_missing_project_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="project directory"):
        collect_project_files(tmp_path / "nope")


def test_project_path_that_is_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "main.py").write_text("")
    with pytest.raises(UsageError, match="not a directory"):
        collect_project_files(tmp_path / "main.py")


def test_unreadable_flashignore_is_a_usage_error(tmp_path):
    root = make_project(tmp_path, {"main.py": "", ".flashignore/x": ""})  # a directory
    with pytest.raises(UsageError) as caught:
        collect_project_files(root)
    assert caught.value.location == SourceLocation(path=".flashignore")
    assert caught.value.hint


def test_undecodable_nested_gitignore_is_a_usage_error(tmp_path):
    root = make_project(tmp_path, {"main.py": "", "sub/.gitignore": b"\xff\xfe\x00bad"})
    with pytest.raises(UsageError) as caught:
        collect_project_files(root)
    assert caught.value.location == SourceLocation(path="sub/.gitignore")
    assert caught.value.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_permission_denied_gitignore_is_a_usage_error(tmp_path):
    root = make_project(tmp_path, {".gitignore": "*.log\n"})
    (root / ".gitignore").chmod(0)
    try:
        with pytest.raises(UsageError) as caught:
            collect_project_files(root)
    finally:
        (root / ".gitignore").chmod(0o644)
    assert caught.value.location == SourceLocation(path=".gitignore")


def test_invalid_pattern_is_a_usage_error(tmp_path):
    root = make_project(tmp_path, {"main.py": "", ".flashignore": "*.log\n!\n"})
    with pytest.raises(UsageError, match="invalid pattern") as caught:
        collect_project_files(root)
    assert caught.value.location == SourceLocation(path=".flashignore")


def test_os_error_while_walking_is_a_usage_error(tmp_path, monkeypatch):
    root = make_project(tmp_path, {"main.py": "", "locked/x.py": ""})
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(files_module.os, "scandir", scandir)
    with pytest.raises(UsageError, match="Permission denied") as caught:
        collect_project_files(root)
    assert caught.value.location == SourceLocation(path="locked")
    assert caught.value.hint


def test_temp_file_of_a_killed_build_never_ships(tmp_path):
    (tmp_path / "app.py").write_text("x = 1\n")
    output = tmp_path / "out.tar.gz"
    (tmp_path / ".out.tar.gz.tmp-0123abcd").write_bytes(b"half an artifact")
    (tmp_path / ".other.tmp-0123abcd").write_bytes(b"a user's file")
    files = collect_project_files(tmp_path, skip=(output,))
    assert [f.path for f in files.files] == [".other.tmp-0123abcd", "app.py"]


# --- hostile names and ignore files ----------------------------------------------


@pytest.mark.parametrize(("name", "why"), [
    (b"caf\xe9.txt", "is not valid UTF-8"),
    (b"back\\slash.txt", "holds a backslash"),
    (b"tab\there.txt", "holds a control character"),
])
def test_a_file_name_the_artifact_cannot_hold_is_a_usage_error(tmp_path, name, why):
    project = make_project(tmp_path, {"app.py": "x = 1\n"})
    with open(os.path.join(os.fsencode(project), name), "wb") as file:
        file.write(b"data")
    with pytest.raises(UsageError, match=why) as info:
        collect_project_files(project)
    assert "Rename it, or leave it out" in info.value.hint
    assert info.value.location is not None


def test_an_unshippable_name_that_is_ignored_is_fine(tmp_path):
    project = make_project(tmp_path, {"app.py": "x = 1\n", ".flashignore": "*.txt\n"})
    with open(os.path.join(os.fsencode(project), b"caf\xe9.txt"), "wb") as file:
        file.write(b"data")
    assert shipped(project) == {"app.py", ".flashignore"}


def test_patterns_git_accepts_but_that_match_nothing_are_dropped(tmp_path):
    project = make_project(tmp_path, {"app.py": "", "z.txt": "", ".gitignore": "[z-a]\n*.txt\n"})
    assert shipped(project) == {"app.py", ".gitignore"}
    assert shipped(project, ignore=["[z-a].py", "app.py"]) == {".gitignore"}


@pytest.mark.parametrize("name", [".gitignore", ".flashignore"])
def test_an_ignore_file_that_is_a_fifo_is_refused_at_once(tmp_path, name):
    project = make_project(tmp_path, {"app.py": ""})
    os.mkfifo(project / name)
    with pytest.raises(UsageError, match=f"{name} is not a regular file"):
        collect_project_files(project)


def test_reading_a_collected_file_never_follows_or_blocks(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    (file,) = collect_project_files(tmp_path).files
    assert files_module.read_project_file(file) == b"x = 1\n"
    (tmp_path / "app.py").unlink()
    os.mkfifo(tmp_path / "app.py")  # opening a FIFO for reading would wait for a writer
    with pytest.raises(SourceCodeError, match="cannot read the file: it is not a regular file"):
        files_module.read_project_file(file)
    (tmp_path / "app.py").unlink()
    with pytest.raises(SourceCodeError, match="cannot read the file: No such file"):
        files_module.project_file_sha256(file)


@pytest.mark.parametrize("path", [
    ".env", "a/.env.local", ".envrc", "x/_netrc", ".pypirc", "deep/.git-credentials",
    ".npmrc", ".yarnrc.yml", "keys/id_ed25519_sk", ".ssh/known_hosts", "a/.gnupg/x",
    "ops/.aws/credentials", "c/.docker/config.json", ".kube/config", "credentials.json",
    "cert.P12", "cert.p12", "store.jks", "app.keystore", "environment.py", "config.py",
    "ID_RSA", "id_rsa.pub", "my.env", "src/ssh_utils.py", "credentials/readme.md",
])
def test_the_quick_secret_test_agrees_with_the_patterns(path):
    parts = path.split("/")
    slow = any(files_module._SECRET_SPEC.check_file("/".join(parts[:n])).include is True
               for n in range(1, len(parts) + 1))
    assert is_secret(path) == slow
