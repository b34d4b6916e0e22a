"""Machine-readable output, --dry-run numbers, and plain text for CI logs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ..support.helpers import app, endpoint, run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")

ANSI = re.compile(r"\x1b\[")
REPO = Path(__file__).resolve().parents[2]


def wheel_size(wheelhouse: Path, prefix: str) -> int:
    (match,) = [p for p in wheelhouse.iterdir() if p.name.startswith(prefix)]
    return match.stat().st_size


def test_build_json_is_one_document_on_stdout(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True), endpoint("gpu", [])))
    code, out, err = run_cli(["build", "--json", "--no-index", "--find-links", str(wheelhouse),
                              str(project)], capsys)
    assert code == 0, err
    document = json.loads(out)
    artifact = project / ".flash" / "artifact.tar.gz"
    assert document["ok"] is True
    assert document["artifact"]["bytes"] == artifact.stat().st_size
    assert len(document["artifact"]["sha256"]) == 64
    assert [e["name"] for e in document["endpoints"]] == ["cpu", "gpu"]
    assert document["dependencies"]["installed"] == [
        {"name": "appdep", "version": "1.0"}, {"name": "shared-helper", "version": "1.0"}]
    assert set(document["stages"]) == {"scan", "plan", "check", "render", "resolve", "package"}
    assert "Built " in err and "Built " not in out


def test_failed_build_json_names_the_error(write_project, capsys, monkeypatch):
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # the index is down on purpose: fail at once
    project = write_project(app(endpoint("cpu", ["tinyutil"], cpu=True)))
    code, out, err = run_cli(["build", "--json", "--index-url", "http://127.0.0.1:9/simple",
                              str(project)], capsys)
    assert code == 4
    document = json.loads(out)
    assert document["ok"] is False
    assert document["error"]["exit_code"] == 4
    assert "could not be reached" in document["error"]["message"]
    assert "could not be reached" in err


def test_dry_run_reports_sizes_without_installing(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("cpu-torch", ["torch", "appdep"], cpu=True)))
    code, out, err = run_cli(["build", "--dry-run", "--json", "--no-index", "--find-links",
                              str(wheelhouse), "--exclude", "sympy", str(project)], capsys)
    assert code == 0, err
    report = json.loads(out)
    rows = {row["name"]: row for row in report["packages"]}
    assert rows["appdep"]["wheel_bytes"] == wheel_size(wheelhouse, "appdep-1.0")
    assert rows["torch"]["wheel_bytes"] == wheel_size(wheelhouse, "torch-2.5.0-cp312")
    assert rows["sympy"] == {**rows["sympy"], "shipped": False, "reason": "user"}
    assert rows["mpmath"]["reason"] == "only-needed-by:sympy"
    assert rows["nvidia-cudnn-cu12"]["pulled_in_by"] == (
        "nvidia-cudnn-cu12 ← torch ← endpoint cpu-torch"
    )
    assert rows["torch"]["endpoints"] == ["cpu-torch"]
    shipped = [row["wheel_bytes"] for row in report["packages"] if row["shipped"]]
    project_bytes = (project / "main.py").stat().st_size
    assert report["project_bytes"] == project_bytes
    assert report["projected_bytes"] == project_bytes + sum(shipped)
    best = report["exclude_savings"][0]
    assert best["exclude"] == "torch"
    assert best["saves_bytes"] == sum(rows[n]["wheel_bytes"] for n in best["removes"])
    assert {"torch", "nvidia-cublas-cu12", "triton", "numpy"} <= set(best["removes"])
    assert not (project / ".flash").exists()  # nothing written


def test_dry_run_text_shows_the_cap_verdict(
    write_project, wheelhouse, capsys, tmp_path, monkeypatch
):
    # A fresh cache: no earlier build of the same app can supply unpacked sizes.
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(tmp_path / "fresh-flashbuild-cache"))
    project = write_project(app(endpoint("cpu-torch", ["torch"], cpu=True)))
    code, out, _ = run_cli(["build", "--dry-run", "--max-size", "1kB", "--no-index",
                            "--find-links", str(wheelhouse), str(project)], capsys)
    assert code == 0
    assert "EXCEEDS the cap of 1.00 kB (1,000 bytes)" in out
    assert re.search(r"^torch 2\.5\.0 +\S+ kB +\? +yes +torch ← endpoint cpu-torch$", out, re.M)
    assert "--exclude torch" in out


@pytest.mark.parametrize("extra_env", [{"NO_COLOR": "1"}, {"CI": "true"}, {}])
def test_no_escape_codes_in_logs(write_project, wheelhouse, extra_env):
    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True)))
    environment = {**os.environ, **extra_env}
    completed = subprocess.run(
        [sys.executable, "-m", "flashbuild", "build", "-v", "--no-cache", "--no-index",
         "--find-links", str(wheelhouse), str(project)],
        cwd=REPO, env=environment, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert not ANSI.search(completed.stderr + completed.stdout)
    assert "\r" not in completed.stderr  # no live indicator without a terminal
    assert re.search(r"^  resolve +\d+\.\d\d s$", completed.stderr, re.M)
    assert "+ " in completed.stderr and "uv pip" in completed.stderr  # -v echoes commands


def test_the_summary_groups_what_was_left_out_by_reason(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("embed", ["sentence-transformers", "appdep"]),
                                endpoint("cpu", ["tinyutil"], cpu=True)))
    options = ["build", "--no-index", "--find-links", str(wheelhouse), "--exclude", "appdep"]
    code, _, err = run_cli([*options, str(project)], capsys)
    assert code == 0, err
    lines = err.splitlines()
    start = next(i for i, line in enumerate(lines) if "left out" in line)
    assert lines[start].endswith("3 installed, 11 left out")
    assert lines[start + 1:start + 5] == [
        "    - image:gpu@wheelhouse-1 (9): filelock 3.16, mpmath 1.3, networkx 3.4, numpy 2.1.0, "
        "nvidia-cublas-cu12 12.4, nvidia-cudnn-cu12 9.1 and 3 more",
        "    - user (1): appdep 1.0",
        "    - 1 only the packages above need",
        "    (-v lists every package; the manifest has all)",
    ]
    code, _, err = run_cli([*options, "-v", str(project)], capsys)
    assert code == 0 and "    - shared-helper 1.0 (only-needed-by:appdep)" in err


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink", "device"])
def test_an_output_path_that_is_not_a_regular_file_is_left_untouched(
    write_project, capsys, tmp_path, kind
):
    project = write_project(app(endpoint("cpu", [], cpu=True)))
    target = tmp_path / "out"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        (tmp_path / "elsewhere.tar.gz").write_bytes(b"keep")
        target.symlink_to(tmp_path / "elsewhere.tar.gz")
    else:
        target = Path("/dev/null")
    before = os.lstat(target)
    code, _, err = run_cli(["build", "--no-deps", "-o", str(target), str(project)], capsys)
    assert code == 2, err
    assert ("flashbuild only writes regular files and left it untouched" in err
            or (kind == "directory" and "is a directory" in err))
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_size) == (
        before.st_mode, before.st_ino, before.st_size)
    if kind == "symlink":
        assert (tmp_path / "elsewhere.tar.gz").read_bytes() == b"keep"


def test_an_output_path_on_the_manifest_is_refused(write_project, capsys):
    project = write_project(app(endpoint("cpu", [], cpu=True)))
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err
    manifest = project / ".flash" / "flash_manifest.json"
    before = manifest.read_bytes()
    code, _, err = run_cli(["build", "--no-deps", "-o", str(manifest), str(project)], capsys)
    assert code == 2 and "is where the manifest is written" in err
    assert manifest.read_bytes() == before


def test_dry_run_and_preview_cannot_be_combined(write_project, capsys):
    project = write_project(app(endpoint("cpu", [], cpu=True)))
    code, out, err = run_cli(["build", "--dry-run", "--preview", str(project)], capsys)
    assert code == 2 and out == ""
    assert "--dry-run and --preview cannot be combined" in err


def test_flashbuild_s_own_cache_never_ships_even_inside_the_project(
    write_project, wheelhouse, capsys, monkeypatch
):
    project = write_project(app(endpoint("cpu", ["tinyutil"], cpu=True)))
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(project / ".cache" / "flashbuild"))
    options = ["build", "--no-index", "--find-links", str(wheelhouse), str(project)]
    for _ in range(2):  # the second build finds the first one's cache in the project
        code, _, err = run_cli(options, capsys)
        assert code == 0, err
    with tarfile.open(project / ".flash" / "artifact.tar.gz") as archive:
        names = archive.getnames()
    assert not [name for name in names if name.startswith(".cache")]
    assert (project / ".cache" / "flashbuild").is_dir()
