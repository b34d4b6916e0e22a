"""End to end through the CLI and the pipeline: outputs, determinism, failures."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from flashbuild.errors import PackagingError, UsageError

from ..conftest import FIXTURES, REPO_ROOT
from ..support.helpers import archive_names, archive_text, build_project, run_cli

ENDPOINT_APP = {
    "app.py": (
        "from runpod_flash import Endpoint\n\n\n"
        '@Endpoint(name="worker")\n'
        "def work(x):\n"
        "    return x\n"
    )
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_example_app_builds_with_expected_members(copy_fixture, capsys):
    project = copy_fixture("example-app")
    code, out, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err
    assert out == ""
    assert "with 3 endpoints for Python 3.12" in err
    artifact = project / ".flash" / "artifact.tar.gz"
    assert archive_names(artifact) == [
        ".gitignore", "cpu_worker.py", "data", "data/stopwords.txt",
        "gpu_worker.py", "handler_cpu-worker.py", "handler_gpu-worker.py",
        "handler_lb-worker.py", "lb_worker.py", "main.py", "pyproject.toml", "sbom.cdx.json",
        "flash_manifest.json",
    ]
    assert not (project / ".flash" / ".build").exists()


def test_two_builds_are_byte_identical_even_after_touching_files(copy_fixture):
    project = copy_fixture("example-app")
    first = build_project(project).artifact
    first_bytes = first.path.read_bytes()
    first_manifest = (project / ".flash" / "flash_manifest.json").read_bytes()
    later = time.time() + 3600
    for path in project.rglob("*.py"):
        os.utime(path, (later, later))
        path.chmod(0o600)
    second = build_project(project).artifact
    assert second.path.read_bytes() == first_bytes
    assert second.sha256 == first.sha256 == sha256(first.path)
    assert (project / ".flash" / "flash_manifest.json").read_bytes() == first_manifest


def test_same_app_in_two_directories_gives_the_same_artifact(copy_fixture, tmp_path):
    first = copy_fixture("forms-app")
    second = tmp_path / "elsewhere" / "forms-app"
    shutil.copytree(first, second)
    assert build_project(first).artifact.sha256 == build_project(second).artifact.sha256


def test_archive_is_normalised(copy_fixture):
    project = copy_fixture("example-app")
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o700)
    artifact = build_project(project).artifact.path
    raw = artifact.read_bytes()
    assert raw[3] & 0x08 == 0  # gzip FNAME flag: no file name recorded
    assert raw[4:8] == b"\0\0\0\0"  # gzip MTIME
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw))) as archive:
        members = archive.getmembers()
    names = [m.name for m in members]
    # The manifest follows the app part, in its own member (it records the sizes).
    assert names[-1] == "flash_manifest.json"
    assert names[:-1] == sorted(names[:-1], key=lambda name: name.split("/"))
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == 315532800
        assert not member.name.startswith(("/", "./")) and ".." not in member.name.split("/")
        expected = 0o755 if member.isdir() or member.name == "run.sh" else 0o644
        assert member.mode == expected, member.name


def test_source_date_epoch_sets_entry_times(copy_fixture, monkeypatch, capsys):
    project = copy_fixture("example-app")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    code, _, err = run_cli(["build", "--no-deps", "-q", str(project)], capsys)
    assert code == 0, err
    assert err == ""
    with tarfile.open(project / ".flash" / "artifact.tar.gz") as archive:
        assert {m.mtime for m in archive.getmembers()} == {1700000000}
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == UsageError.exit_code
    assert "SOURCE_DATE_EPOCH" in err


def test_secrets_and_escaping_symlinks_never_ship(write_project, tmp_path, capsys):
    outside = tmp_path / "outside.txt"
    outside.write_text("host secret")
    project = write_project({
        **ENDPOINT_APP,
        ".env": "TOKEN=1",
        ".env.production": "TOKEN=2",
        "config/.env.local": "TOKEN=3",
        "data/words.txt": "alpha",
        ".flashignore": "!.env\n!.env.*\n!config/.env.local\n",
    })
    (project / "escape.txt").symlink_to(outside)
    (project / "escape_dir").symlink_to(tmp_path)
    (project / "points_to_env").symlink_to(project / ".env")
    (project / "words_link.txt").symlink_to(Path("data") / "words.txt")

    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)

    assert code == 0, err
    artifact = project / ".flash" / "artifact.tar.gz"
    names = archive_names(artifact)
    assert not [name for name in names if ".env" in name or "escape" in name]
    assert "points_to_env" not in names
    assert "data/words.txt" in names
    with tarfile.open(artifact) as archive:
        link = archive.getmember("words_link.txt")
        assert link.issym() and link.linkname == "data/words.txt"
        for member in archive.getmembers():
            if member.isfile():
                content = archive.extractfile(member).read()
                assert b"host secret" not in content and b"TOKEN=" not in content
    assert "escape.txt" in err and "outside the project" in err


def test_output_option_and_keep_build(copy_fixture, tmp_path, capsys):
    project = copy_fixture("example-app")
    output = tmp_path / "out" / "app.tar.gz"
    code, _, err = run_cli(
        ["build", "--no-deps", "--keep-build", "--output", str(output), str(project)], capsys
    )
    assert code == 0, err
    assert output.is_file()
    assert not (project / ".flash" / "artifact.tar.gz").exists()
    assert (project / ".flash" / "flash_manifest.json").is_file()
    build_dir = project / ".flash" / ".build"
    assert sorted(p.relative_to(build_dir).as_posix() for p in build_dir.rglob("*")
                  if p.is_file()) == sorted(
        name for name in archive_names(output) if name != "data"
    )
    assert "build directory" in err


def test_output_inside_project_is_not_packed_into_itself(copy_fixture):
    project = copy_fixture("example-app")
    first = build_project(project, output=project / "artifact.tar.gz")
    second = build_project(project, output=project / "artifact.tar.gz")
    assert "artifact.tar.gz" not in archive_names(second.artifact.path)
    assert first.artifact.sha256 == second.artifact.sha256


def test_failed_write_keeps_build_dir_and_previous_artifact(copy_fixture, capsys):
    project = copy_fixture("example-app")
    blocker = project / "not-a-dir"
    blocker.write_text("a file where a directory is needed")
    code, _, err = run_cli(
        ["build", "--no-deps", "--output", str(blocker / "a.tar.gz"), str(project)], capsys
    )
    assert code == PackagingError.exit_code, err
    assert "flash: packaging error:" in err
    assert "build directory kept for inspection:" in err
    assert (project / ".flash" / ".build" / "handler_gpu-worker.py").is_file()
    assert "Traceback" not in err


def test_source_error_leaves_previous_artifact_and_manifest(copy_fixture, capsys):
    project = copy_fixture("example-app")
    build_project(project)
    artifact = project / ".flash" / "artifact.tar.gz"
    manifest = project / ".flash" / "flash_manifest.json"
    before = artifact.read_bytes(), manifest.read_bytes()
    (project / "broken.py").write_text("def oops(:\n")
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 3
    assert err.startswith("flash: source error: broken.py:1:10: syntax error")
    assert (artifact.read_bytes(), manifest.read_bytes()) == before


def test_app_without_dependencies_installs_nothing(write_project, capsys):
    plain = write_project(ENDPOINT_APP, name="plain")
    code, _, err = run_cli(["build", "--no-index", str(plain)], capsys)
    assert code == 0, err
    manifest = json.loads(archive_text(plain / ".flash" / "artifact.tar.gz", "flash_manifest.json"))
    assert manifest["dependencies"]["installed"] is False
    assert manifest["dependencies"]["source"] == "none"


def test_python_version_reaches_manifest_and_images(write_project):
    project = write_project(ENDPOINT_APP)
    result = build_project(project, python_version="3.11")
    resource = result.manifest["resources"]["worker"]
    assert result.manifest["python_version"] == "3.11"
    assert resource["target_python_version"] == "3.11"
    assert resource["imageName"] == "runpod/flash:py3.11-latest"


def test_version_and_help(capsys):
    from flashbuild import __version__

    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and __version__ in out
    code, out, _ = run_cli(["build", "--help"], capsys)
    assert code == 0
    for option in ("--no-deps", "--keep-build", "--python-version", "--output", "--exclude",
                   "--verbose", "--quiet"):
        assert option in out


def test_console_script_runs_as_a_module(copy_fixture):
    project = copy_fixture("example-app")
    completed = subprocess.run(
        [sys.executable, "-m", "flashbuild", "build", "--no-deps", "-q", str(project)],
        capture_output=True, text=True, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert (project / ".flash" / "artifact.tar.gz").is_file()


@pytest.mark.network
def test_installed_wheel_finds_its_templates(tmp_path):
    """Build a wheel, install it (not editable) in a fresh venv, build the example there."""
    import uv

    uv_bin = uv.find_uv_bin()
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
    index = ["--index-url", "https://pypi.org/simple"]

    def run(*command, cwd=tmp_path):
        completed = subprocess.run(command, cwd=cwd, env=environment, capture_output=True,
                                   text=True, timeout=600, check=False)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed.stdout

    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".flash", "__pycache__", ".pytest_cache", ".hypothesis"))
    run(uv_bin, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), *index, str(source))
    wheel = next((tmp_path / "dist").glob("flashbuild-*.whl"))
    venv = tmp_path / "venv"
    run(uv_bin, "venv", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    run(uv_bin, "pip", "install", "--python", str(python), *index, str(wheel))
    shutil.rmtree(source)  # nothing may come from the checkout
    app = tmp_path / "app"
    shutil.copytree(FIXTURES / "example-app", app)
    location = run(str(python), "-c",
                   "import flashbuild.render.handlers as r; print(r.templates_dir())")
    assert str(venv) in location
    run(str(venv / "bin" / "flash"), "build", "--no-deps", str(app))
    names = archive_names(app / ".flash" / "artifact.tar.gz")
    assert {"handler_gpu-worker.py", "handler_cpu-worker.py", "handler_lb-worker.py"} <= set(names)


def test_a_manifest_that_cannot_be_written_leaves_the_artifact_as_it_was(write_project, tmp_path):
    from flashbuild.errors import PackagingError

    from ..support.helpers import app, endpoint

    project = write_project(app(endpoint("cpu", [], cpu=True)))
    first = build_project(project).artifact.path.read_bytes()
    (project / "main.py").write_text((project / "main.py").read_text() + "\nX = 2\n")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(PackagingError):
        build_project(project, manifest_output=blocker / "flash_manifest.json")
    assert (project / ".flash" / "artifact.tar.gz").read_bytes() == first
    assert not [p for p in (project / ".flash").iterdir() if ".tmp-" in p.name]


def test_an_unchanged_artifact_is_not_written_again_but_checked(write_project, capsys):
    from ..support.helpers import run_cli

    project = write_project({"app.py": (
        "from runpod_flash import Endpoint\n\n\n"
        "@Endpoint(name='worker', cpu='cpu3c-1-2')\ndef work(x):\n    return x\n")})
    assert run_cli(["build", "--no-deps", "-q", str(project)], capsys)[0] == 0
    artifact = project / ".flash" / "artifact.tar.gz"
    first = artifact.stat()
    assert run_cli(["build", "--no-deps", "-q", str(project)], capsys)[0] == 0
    assert (artifact.stat().st_ino, artifact.stat().st_mtime_ns) == (first.st_ino,
                                                                      first.st_mtime_ns)
    original = artifact.read_bytes()
    artifact.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # damaged in place
    assert run_cli(["build", "--no-deps", "-q", str(project)], capsys)[0] == 0
    assert artifact.read_bytes() == original
    code, _, err = run_cli(["build", "--no-deps", "-q", "--compression-level", "1",
                            str(project)], capsys)
    assert code == 0, err
    assert artifact.read_bytes() != original
    with tarfile.open(artifact) as archive:
        assert not any("stamp" in name for name in archive.getnames())
