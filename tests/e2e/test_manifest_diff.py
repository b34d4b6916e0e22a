"""``flash manifest diff`` on manifests of real builds: what changed for each endpoint, in
the dependencies and the exclusions, as text or JSON, and its exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flashbuild._util.units import human
from flashbuild.inspect.diff import diff_manifests
from flashbuild.inspect.load import load_manifest

from ..support.manifest_app import (
    APP,
    CPU_WORKER,
    edit,
    invoke,
    manifest_snapshots,
    write_manifest,
)

ANSI_ESCAPE = re.compile(r"\x1b|\x9b")


def without_sizes(report: str) -> str:
    """The report up to its sizes, which depend on how the code compresses."""
    return report.rpartition("size: ")[0]


@pytest.fixture
def project(write_project) -> Path:
    return write_project(APP)


@pytest.fixture
def snapshot(tmp_path):
    """Build a project and keep a copy of its manifest (the next build overwrites it)."""
    return manifest_snapshots(tmp_path)


# --- diff: endpoints ---------------------------------------------------------


def test_diff_of_identical_manifests_is_unchanged_with_exit_code_0(project, snapshot):
    old, new = snapshot(project), snapshot(project)
    result = invoke("diff", "--exit-code", old, new)
    assert result.exit_code == 0
    size = human(load_manifest(old)["artifact"]["compressed_bytes"])
    assert result.stdout == (
        "endpoints: 3 unchanged\n"
        "  unchanged     api\n"
        "  unchanged     cpu-worker\n"
        "  unchanged     gpu-worker\n"
        "source: unchanged\n"
        "project: unchanged\n"
        "dependencies: unchanged\n"
        "exclusions: unchanged\n"
        f"size: {size} -> {size} (0 B, +0.00%)\n"
    )


def test_diff_lists_created_removed_and_updated_endpoints(project, snapshot):
    old = snapshot(project)
    (project / "cpu_worker.py").unlink()
    edit(project / "gpu_worker.py", "from cpu_worker import clean", "from math import floor")
    edit(project / "gpu_worker.py", "workers=(0, 3)", "workers=(1, 4)")
    edit(project / "gpu_worker.py", "GpuGroup.AMPERE_80", "[GpuGroup.AMPERE_80, GpuGroup.ADA_24]")
    (project / "batch.py").write_text(CPU_WORKER.replace("cpu-worker", "batch"))
    new = snapshot(project)

    fingerprints = [load_manifest(path)["source_fingerprint"][:12] for path in (old, new)]

    result = invoke("diff", "--exit-code", old, new)
    assert result.exit_code == 1
    assert without_sizes(result.stdout) == (
        "endpoints: 1 created, 1 removed, 1 updated, 1 unchanged\n"
        "  created       batch\n"
        "  removed       cpu-worker\n"
        "  updated       gpu-worker\n"
        '                  calls: ["cpu-worker"] -> []\n'
        '                  function classify: calls ["cpu-worker"] -> []\n'
        '                  gpuIds: "AMPERE_80" -> "ADA_24,AMPERE_80"\n'
        '                  gpus: ["AMPERE_80"] -> ["AMPERE_80", "ADA_24"]\n'
        "                  makes_remote_calls: true -> false\n"
        "                  workersMax: 3 -> 4\n"
        "                  workersMin: 0 -> 1\n"
        "  unchanged     api\n"
        f"source: changed ({fingerprints[0]} -> {fingerprints[1]}), every endpoint runs the new "
        "code\n"
        "project: unchanged\n"
        "dependencies: unchanged\n"
        "exclusions: unchanged\n"
    )


def test_renamed_function_is_removed_and_added(project, snapshot):
    old = snapshot(project)
    edit(project / "cpu_worker.py", "def clean(", "def normalise(")
    edit(project / "gpu_worker.py", "import clean", "import normalise")
    new = snapshot(project)
    assert invoke("diff", old, new).stdout.startswith(
        "endpoints: 1 code changed, 2 unchanged\n"
        "  code changed  cpu-worker\n"
        "                  function removed: clean\n"
        "                  function added: normalise (cpu_worker.py:4:1)\n"
        "  unchanged     api\n"
        "  unchanged     gpu-worker\n"
        "source: changed ("
    )


def test_diff_shows_settings_changes_by_path(project, snapshot):
    old = snapshot(project)
    edit(project / "cpu_worker.py", "workers=5)", "workers=5, execution_timeout_ms=60000)")
    new = snapshot(project)
    data = diff_manifests(load_manifest(old), load_manifest(new))
    assert data["updated"] == {"cpu-worker": {"settings.execution_timeout_ms": {"new": 60000}}}
    assert "  updated       cpu-worker\n                  settings.execution_timeout_ms: " \
           "(absent) -> 60000\n" in invoke("diff", old, new).stdout


def test_env_only_change_names_keys_and_never_values(project, snapshot):
    old = snapshot(project)
    edit(project / "gpu_worker.py", '"HF_TOKEN": "hf-secret-1"', '"HF_TOKEN": "hf-secret-2"')
    edit(project / "gpu_worker.py", '"MODEL_ID": "small"', '"API_KEY": "key-secret-3"')
    new_path = snapshot(project)

    result = invoke("diff", "--exit-code", old, new_path)
    assert result.exit_code == 0
    assert "  env only      gpu-worker: env added API_KEY; removed MODEL_ID; changed HF_TOKEN\n" \
        in result.stdout
    assert json.loads(invoke("diff", "--json", old, new_path).stdout)["env_only"] == {
        "gpu-worker": {"added": ["API_KEY"], "removed": ["MODEL_ID"], "changed": ["HF_TOKEN"]}
    }
    for output in (result.stdout, invoke("diff", "--json", old, new_path).stdout):
        for secret in ("hf-secret-1", "hf-secret-2", "key-secret-3", "small"):
            assert secret not in output


def test_env_values_of_updated_endpoints_and_templates_stay_hidden(project, snapshot, tmp_path):
    old_data = load_manifest(snapshot(project))
    new_data = json.loads(json.dumps(old_data))
    gpu = new_data["resources"]["gpu-worker"]
    gpu["env"]["HF_TOKEN"] = "hf-secret-2"
    gpu["settings"]["template"] = {"env": [{"key": "DB_PASSWORD", "value": "pw-secret"}]}
    gpu["config_hash"] = "0" * 64
    old = write_manifest(tmp_path / "old.json", old_data)
    new = write_manifest(tmp_path / "new.json", new_data)

    text, as_json = invoke("diff", old, new).stdout, invoke("diff", "--json", old, new).stdout
    assert "  updated       gpu-worker\n" \
           "                  env: changed HF_TOKEN\n" \
           "                  settings.template: (absent) -> " in text
    assert json.loads(as_json)["updated"]["gpu-worker"]["env"] == {
        "added": [], "removed": [], "changed": ["HF_TOKEN"]}
    for secret in ("hf-secret", "pw-secret"):
        assert secret in json.dumps(new_data)  # the test would prove nothing otherwise
        assert secret not in text and secret not in as_json


def test_code_only_change_is_not_an_update(project, snapshot):
    old = snapshot(project)
    edit(project / "api.py", '"/items/{item_id}"', '"/items/{item_id}/v2"')
    with (project / "api.py").open("a") as source:
        source.write('\n\n@api.delete("/items/{item_id}")\ndef drop_item(item_id: int):\n'
                     "    return None\n")
    new = snapshot(project)
    fingerprints = [load_manifest(path)["source_fingerprint"][:12] for path in (old, new)]

    result = invoke("diff", "--exit-code", old, new)
    assert result.exit_code == 0
    assert without_sizes(result.stdout) == (
        "endpoints: 1 code changed, 2 unchanged\n"
        "  code changed  api\n"
        "                  function added: drop_item (DELETE /items/{item_id}, api.py:18:1)\n"
        '                  function get_item: http_path "/items/{item_id}" -> '
        '"/items/{item_id}/v2"\n'
        "  unchanged     cpu-worker\n"
        "  unchanged     gpu-worker\n"
        f"source: changed ({fingerprints[0]} -> {fingerprints[1]}), every endpoint runs the new "
        "code\n"
        "project: unchanged\n"
        "dependencies: unchanged\n"
        "exclusions: unchanged\n"
    )
    data = json.loads(invoke("diff", "--json", old, new).stdout)
    assert (data["changes"], data["source_changed"]) == (False, True)
    assert data["unchanged"] == ["cpu-worker", "gpu-worker"]
    assert data["code_changed"]["api"]["functions.get_item.http_path"] == {
        "old": "/items/{item_id}", "new": "/items/{item_id}/v2"}
    assert data["code_changed"]["api"]["functions.drop_item"]["new"]["http_method"] == "DELETE"


# --- diff: dependencies ------------------------------------------------------


def test_dependency_and_exclusion_changes(project, snapshot, tmp_path):
    base = load_manifest(snapshot(project))

    def with_packages(name: str, lock: dict, excluded: dict) -> Path:
        data = json.loads(json.dumps(base))
        data["dependencies"].update(
            installed=True, source="resolved",
            lock=[{"name": n, "version": v} for n, v in lock.items()],
            excluded=[{"name": n, "version": v, "reason": r, "version_checked": False}
                      for n, (v, r) in excluded.items()],
        )
        return write_manifest(tmp_path / name, data)

    old = with_packages("old.json", {"anyio": "4.6.0", "httpx": "0.27.0", "idna": "3.10"},
                        {"torch": ("2.5.1", "image:gpu"),
                         "sympy": ("1.13.1", "only-needed-by:torch")})
    new = with_packages("new.json", {"anyio": "4.6.0", "httpx": "0.28.1", "rich": "13.9.4"},
                        {"torch": ("2.6.0", "image:gpu"), "pyyaml": ("6.0.2", "user")})

    result = invoke("diff", "--exit-code", old, new)
    assert result.exit_code == 0  # packages alone recreate no endpoint
    assert result.stdout.rpartition("size: ")[0].endswith(
        "dependencies: 1 added, 1 removed, 1 changed\n"
        "  added    rich 13.9.4\n"
        "  removed  idna 3.10\n"
        "  changed  httpx 0.27.0 -> 0.28.1\n"
        "exclusions: 1 added, 1 removed, 1 changed\n"
        "  added    pyyaml 6.0.2 (user)\n"
        "  removed  sympy 1.13.1 (only-needed-by:torch)\n"
        "  changed  torch 2.5.1 (image:gpu) -> 2.6.0 (image:gpu)\n"
    )
    data = json.loads(invoke("diff", "--json", old, new).stdout)
    assert data["dependencies"] == {
        "added": {"rich": "13.9.4"},
        "removed": {"idna": "3.10"},
        "changed": {"httpx": {"old": "0.27.0", "new": "0.28.1"}},
    }
    assert data["exclusions"]["changed"] == {"torch": {
        "old": {"version": "2.5.1", "reason": "image:gpu", "version_checked": False},
        "new": {"version": "2.6.0", "reason": "image:gpu", "version_checked": False},
    }}
    assert "dependencies.installed" not in data["project"]  # same on both sides


# --- diff: JSON and exit codes -------------------------------------------------


def test_diff_json_shape(project, snapshot):
    old = snapshot(project)
    edit(project / "cpu_worker.py", "workers=5", "workers=6")
    new = snapshot(project)
    result = invoke("diff", "--json", "--exit-code", old, new)
    assert result.exit_code == 1
    assert result.stdout.endswith("}\n")
    data = json.loads(result.stdout)
    assert set(data) == {"changes", "source_changed", "created", "removed", "updated",
                         "code_changed", "env_only", "unchanged", "project", "dependencies",
                         "exclusions", "sizes", "schema_version"}
    assert (data["changes"], data["source_changed"]) == (True, True)
    assert data["updated"] == {"cpu-worker": {"workersMax": {"old": 5, "new": 6}}}
    assert data["unchanged"] == ["api", "gpu-worker"]
    assert data["created"] == data["removed"] == [] and data["code_changed"] == {}
    assert set(data["project"]) == {"source_fingerprint"}


def test_exit_code_from_a_separate_process(project, snapshot):
    old = snapshot(project)
    edit(project / "cpu_worker.py", "workers=5", "workers=6")
    new = snapshot(project)
    command = [sys.executable, "-c",
               "from flashbuild.cli.manifest import manifest; manifest(prog_name='flash manifest')"]
    changed = subprocess.run([*command, "diff", "--exit-code", str(old), str(new)],
                             capture_output=True, text=True, check=False)
    same = subprocess.run([*command, "diff", "--exit-code", str(old), str(old)],
                          capture_output=True, text=True, check=False)
    without_flag = subprocess.run([*command, "diff", str(old), str(new)],
                                  capture_output=True, check=False)
    assert (changed.returncode, same.returncode, without_flag.returncode) == (1, 0, 0)
    assert "  updated       cpu-worker\n                  workersMax: 5 -> 6\n" in changed.stdout
    assert changed.stderr == ""


def test_output_never_carries_terminal_escapes(project, snapshot, tmp_path):
    old_data = load_manifest(snapshot(project))
    new_data = json.loads(json.dumps(old_data))
    new_data["resources"]["gpu-worker"]["env"]["\x1b[31mRED"] = "x"
    new_data["dependencies"]["excluded"] = [
        {"name": "evil\x9b2J", "version": "1", "reason": "user", "version_checked": True}]
    old = write_manifest(tmp_path / "old.json", old_data)
    new = write_manifest(tmp_path / "new.json", new_data)
    outputs = [invoke("diff", old, new).stdout, invoke("diff", "--json", old, new).stdout,
               invoke("show", new).stdout]
    for output in outputs:
        assert not ANSI_ESCAPE.search(output)
    assert "env added \\x1b[31mRED" in outputs[0]
    assert "evil\\x9b2J" in outputs[2]
