"""``flash manifest show`` on manifests of real builds, and how unreadable inputs surface
through the commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flashbuild import __version__
from flashbuild.errors import UsageError
from flashbuild.inspect.load import load_manifest

from ..support.helpers import build_project, run_cli
from ..support.manifest_app import APP, edit, invoke, manifest_snapshots, write, write_manifest

EXPECTED_SHOW = f"""\
app: 3 endpoints for Python 3.12 (flashbuild {__version__})

ENDPOINT    TYPE           COMPUTE        WORKERS  IDLE  DEPS  CALLS
api         load-balanced  CPU cpu3c-1-2  1-2      60s   0     gpu-worker
cpu-worker  queue          CPU cpu3c-2-4  0-5      60s   0     -
gpu-worker  queue          GPU AMPERE_80  0-3      120s  1     cpu-worker

ENDPOINT    ROUTE                 FUNCTION           DECLARED AT
api         GET /items/{{item_id}}  get_item           api.py:6:1
api         POST /items           async create_item  api.py:11:1
cpu-worker  -                     clean              cpu_worker.py:4:1
gpu-worker  -                     async classify     gpu_worker.py:4:1

totals: 3 endpoints, 4 functions, 2 routes, 0 installed packages
dependencies: not installed (built with --no-deps, or none declared)
worker images: release wheelhouse-1
"""


@pytest.fixture
def project(write_project) -> Path:
    return write_project(APP)


@pytest.fixture
def snapshot(tmp_path):
    """Build a project and keep a copy of its manifest (the next build overwrites it)."""
    return manifest_snapshots(tmp_path)


# --- show --------------------------------------------------------------------


def test_show_prints_endpoints_functions_and_totals(project, snapshot):
    result = invoke("show", snapshot(project))
    assert result.exit_code == 0, result.output
    assert result.stdout == EXPECTED_SHOW


def test_show_reads_the_current_directory_by_default(project, monkeypatch):
    build_project(project)
    monkeypatch.chdir(project)
    assert invoke("show").stdout == EXPECTED_SHOW


def test_show_reads_a_project_directory_and_an_artifact(project, tmp_path):
    artifact = build_project(project).artifact.path
    moved = tmp_path / "elsewhere" / "release.tar.gz"
    moved.parent.mkdir()
    shutil.copyfile(artifact, moved)
    assert invoke("show", project).stdout == EXPECTED_SHOW
    assert invoke("show", project / ".flash").stdout == EXPECTED_SHOW
    assert invoke("show", moved).stdout == EXPECTED_SHOW


def test_show_json_is_the_manifest_file_byte_for_byte(project):
    result = build_project(project)
    from_file = invoke("show", "--json", result.manifest_path)
    from_artifact = invoke("show", "--json", result.artifact.path)
    assert from_file.stdout_bytes == result.manifest_path.read_bytes()
    assert from_artifact.stdout_bytes == result.manifest_path.read_bytes()


def test_show_json_normalises_key_order_and_indentation(project, snapshot, tmp_path):
    original = snapshot(project)
    shuffled = tmp_path / "shuffled.json"
    shuffled.write_text(json.dumps(dict(reversed(json.loads(original.read_text()).items()))))
    assert invoke("show", "--json", shuffled).stdout_bytes == original.read_bytes()


def test_show_lists_classes_and_exclusions(copy_fixture, snapshot, tmp_path):
    data = json.loads(snapshot(copy_fixture("forms-app")).read_text())
    data["dependencies"].update(
        installed=True, source="resolved", platform="x86_64-manylinux_2_28", exclude=["pyyaml"],
        lock=[{"name": "httpx", "version": "0.28.1"}, {"name": "rich", "version": "13.9.4"}],
        excluded=[
            {"name": "pyyaml", "version": "6.0.2", "reason": "user", "version_checked": True},
            {"name": "torch", "version": "2.5.1", "reason": "image:gpu@pyproject",
             "version_checked": False},
        ],
        images={"release": "1.6.0", "overrides": {"gpu": ["torch"]}},
    )
    output = invoke("show", write_manifest(tmp_path / "m.json", data)).stdout
    assert ("embedder       -                        class Embedder (embed, embed_many)  "
            "pkg/sub/models.py:6:1\n") in output
    assert "routes         GET /items/{item_id}     get_item" in output
    assert output.endswith(
        "totals: 11 endpoints, 16 functions, 8 routes, 2 installed packages\n"
        "dependencies: 2 installed (resolved, x86_64-manylinux_2_28), 2 left out; "
        "asked to exclude pyyaml\n"
        "worker images: release 1.6.0; described in pyproject.toml: gpu\n"
        "\n"
        "left out of the artifact (2):\n"
        "PACKAGE  VERSION  REASON\n"
        "pyyaml   6.0.2    user\n"
        "torch    2.5.1    image:gpu@pyproject\n"
    )


# --- errors --------------------------------------------------------------------


def test_truncated_artifact_is_a_usage_error(project, tmp_path):
    artifact = build_project(project).artifact.path
    truncated = write(tmp_path / "cut.tar.gz", artifact.read_bytes()[:200])
    with pytest.raises(UsageError, match=r"^cannot read artifact .*cut\.tar\.gz: "):
        load_manifest(truncated)


def test_missing_default_manifest_surfaces_from_the_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("show")
    assert isinstance(result.exception, UsageError)
    assert str(result.exception) == "no manifest at .flash/flash_manifest.json in the current " \
        "directory"
    assert result.stdout == ""
    diffed = invoke("diff", "old.json", "new.json")
    assert str(diffed.exception) == "no such manifest or artifact: old.json"


def test_errors_and_exit_codes_through_the_flash_command(project, snapshot, capsys):
    old = snapshot(project)
    edit(project / "cpu_worker.py", "workers=5", "workers=6")
    new = snapshot(project)

    assert run_cli(["manifest", "diff", "--exit-code", str(old), str(new)], capsys)[0] == 1
    assert run_cli(["manifest", "diff", "--exit-code", str(old), str(old)], capsys)[0] == 0
    code, out, err = run_cli(["manifest", "show", str(project / "nothing.json")], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"flash: configuration error: no such manifest or artifact: {project}/nothing.json\n"
        "  hint: Pass a flash_manifest.json or an artifact (.tar.gz) written by `flash build`.\n"
    )


def test_show_reads_a_manifest_written_before_gpu_ids_became_a_pool_string(
    copy_fixture, snapshot, tmp_path
):
    data = json.loads(snapshot(copy_fixture("sdk-app")).read_text())
    for resource in data["resources"].values():  # as manifests of earlier versions had them
        if "gpus" in resource:
            resource["gpuIds"] = resource.pop("gpus")
    output = invoke("show", write_manifest(tmp_path / "old.json", data)).stdout
    assert "gpu-groups   queue          GPU AMPERE_80, ADA_24" in output
