"""``flash manifest show`` and ``flash manifest diff`` on manifests of real builds."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from flashbuild import __version__
from flashbuild.errors import UsageError
from flashbuild.cli.manifest import manifest
from flashbuild.inspect.diff import diff_manifests
from flashbuild.inspect.json_diff import diff_values
from flashbuild.inspect.load import load_manifest
from flashbuild.render.manifest import manifest_bytes

from .helpers import build_project, run_cli

GPU_WORKER = """\
from runpod_flash import Endpoint, GpuGroup


@Endpoint(name="gpu-worker", gpu=GpuGroup.AMPERE_80, workers=(0, 3), idle_timeout=120,
          dependencies=["transformers"], env={"MODEL_ID": "small", "HF_TOKEN": "hf-secret-1"})
async def classify(texts):
    from cpu_worker import clean

    return await clean(texts)
"""
CPU_WORKER = """\
from runpod_flash import Endpoint


@Endpoint(name="cpu-worker", cpu="cpu3c-2-4", workers=5)
def clean(texts):
    return texts
"""
API = """\
from runpod_flash import Endpoint

api = Endpoint(name="api", cpu="cpu3c-1-2", workers=(1, 2))


@api.get("/items/{item_id}")
def get_item(item_id: int):
    return {"id": item_id}


@api.post("/items")
async def create_item(name: str):
    from gpu_worker import classify

    return await classify([name])
"""
APP = {"gpu_worker.py": GPU_WORKER, "cpu_worker.py": CPU_WORKER, "api.py": API}

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
"""

ANSI_ESCAPE = re.compile(r"\x1b|\x9b")


@pytest.fixture
def project(write_project) -> Path:
    return write_project(APP)


@pytest.fixture
def snapshot(tmp_path):
    """Build a project and keep a copy of its manifest (the next build overwrites it)."""
    counter = iter(range(1000))

    def build(project: Path) -> Path:
        result = build_project(project)
        copy = tmp_path / f"manifest-{next(counter)}.json"
        shutil.copyfile(result.manifest_path, copy)
        return copy

    return build


def invoke(*args: str):
    return CliRunner().invoke(manifest, [str(arg) for arg in args])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def write_manifest(path: Path, data: dict) -> Path:
    path.write_bytes(manifest_bytes(data))
    return path


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
            {"name": "torch", "version": "2.5.1", "reason": "image:gpu", "version_checked": False},
        ],
    )
    output = invoke("show", write_manifest(tmp_path / "m.json", data)).stdout
    assert ("embedder       -                        class Embedder (embed, embed_many)  "
            "pkg/sub/models.py:6:1\n") in output
    assert "routes         GET /items/{item_id}     get_item" in output
    assert output.endswith(
        "totals: 11 endpoints, 16 functions, 8 routes, 2 installed packages\n"
        "dependencies: 2 installed (resolved, x86_64-manylinux_2_28), 2 left out; "
        "asked to exclude pyyaml\n"
        "\n"
        "left out of the artifact (2):\n"
        "PACKAGE  VERSION  REASON\n"
        "pyyaml   6.0.2    user\n"
        "torch    2.5.1    image:gpu\n"
    )


# --- diff: endpoints ---------------------------------------------------------


def test_diff_of_identical_manifests_is_unchanged_with_exit_code_0(project, snapshot):
    old, new = snapshot(project), snapshot(project)
    result = invoke("diff", "--exit-code", old, new)
    assert result.exit_code == 0
    assert result.stdout == (
        "endpoints: 3 unchanged\n"
        "  unchanged     api\n"
        "  unchanged     cpu-worker\n"
        "  unchanged     gpu-worker\n"
        "source: unchanged\n"
        "project: unchanged\n"
        "dependencies: unchanged\n"
        "exclusions: unchanged\n"
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
    assert result.stdout == (
        "endpoints: 1 created, 1 removed, 1 updated, 1 unchanged\n"
        "  created       batch\n"
        "  removed       cpu-worker\n"
        "  updated       gpu-worker\n"
        '                  calls: ["cpu-worker"] -> []\n'
        '                  function classify: calls ["cpu-worker"] -> []\n'
        '                  gpuIds: ["AMPERE_80"] -> ["AMPERE_80", "ADA_24"]\n'
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
    assert result.stdout == (
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


def test_values_are_compared_as_json_and_lists_by_name():
    assert diff_values({"flashboot": 1, "ids": [1]}, {"flashboot": True, "ids": [1]}) == {
        "flashboot": {"old": 1, "new": True}}
    assert diff_values({"f": [{"name": "a", "x": 1}, {"name": "b"}]},
                       {"f": [{"name": "b"}, {"name": "a", "x": 2}]}) == {
        "f.a.x": {"old": 1, "new": 2}}  # order alone is no change
    duplicates = [{"name": "a"}, {"name": "a", "x": 1}]
    assert diff_values({"f": duplicates}, {"f": duplicates[:1]}) == {
        "f": {"old": duplicates, "new": duplicates[:1]}}
    assert diff_values({}, {"t": {"env": {"TOKEN": "secret"}, "image": "x"}}) == {
        "t": {"new": {"env": ["TOKEN"], "image": "x"}}}


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
    assert result.stdout.endswith(
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
                         "exclusions"}
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
                             capture_output=True, text=True)
    same = subprocess.run([*command, "diff", "--exit-code", str(old), str(old)],
                          capture_output=True, text=True)
    without_flag = subprocess.run([*command, "diff", str(old), str(new)], capture_output=True)
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


# --- errors --------------------------------------------------------------------


def gzip_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.json", "no such manifest or artifact: {d}/missing.json"),
        (lambda d: d, "{d} is a directory without .flash/flash_manifest.json"),
        (lambda d: write(d / "x.json", b"{not json"),
         "{d}/x.json is not JSON: Expecting property name enclosed in double quotes at line 1, "
         "column 2"),
        (lambda d: write(d / "x.json", b"\xff\xfe"),
         "{d}/x.json is not JSON: it is not UTF-8 text"),
        (lambda d: write(d / "x.json", b'{"name": "app"}'),
         "{d}/x.json is not a flashbuild manifest: it has no `version` field"),
        (lambda d: write(d / "x.json", b'{"version": "2.0", "resources": {}}'),
         "{d}/x.json has manifest version '2.0'; this flashbuild reads version 1.0"),
        (lambda d: write(d / "x.json", b'{"version": "1.0", "resources": []}'),
         "{d}/x.json is not a flashbuild manifest: `resources` must map endpoint names to objects"),
        (lambda d: gzip_tar(d / "a.tar.gz", {"app.py": b"print()"}),
         "artifact {d}/a.tar.gz has no flash_manifest.json at its root"),
        (lambda d: gzip_tar(d / "a.tar.gz", {"sub/flash_manifest.json": b"{}"}),
         "artifact {d}/a.tar.gz has no flash_manifest.json at its root"),
        (lambda d: gzip_tar(d / "a.tar.gz", {"flash_manifest.json": b"[]"}),
         "flash_manifest.json in {d}/a.tar.gz is not a flashbuild manifest: it has no `version` "
         "field"),
        (lambda d: write(d / "a.tar.gz", b"not a tar"), "cannot read artifact {d}/a.tar.gz: "),
    ],
)
def test_unreadable_inputs_raise_usage_errors(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(UsageError) as raised:
        load_manifest(path)
    assert str(raised.value).startswith(message.format(d=tmp_path))
    assert raised.value.exit_code == 2
    assert "flash build" in raised.value.hint


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


def test_errors_and_exit_codes_through_the_flash_command(project, snapshot, capsys, monkeypatch):
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
