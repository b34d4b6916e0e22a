"""The real SDK accepts every manifest, and every handler loads as the worker loads it.

Marked ``network``: a side venv gets runpod-flash (the version the SDK table
was generated from, with the runpod it requires) from PyPI. For every fixture
app: ``Manifest.from_dict`` and ``create_resource_from_manifest`` (what
``flash deploy`` runs) accept every resource as the class the manifest names;
for the apps runpod-flash's own ``flash build`` builds, the resources it
provisions from flashbuild's manifest equal those from its own; and each
handler, loaded by path with the worker's steps, answers a job or a route.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from flashbuild.deps.uv import uv_binary
from flashbuild.preview.services import WORKER_BOOT
from flashbuild.source import symbols

from ..conftest import FIXTURES, REPO_ROOT
from ..support.fixture_digests import APPS
from ..support.helpers import build_project

pytestmark = pytest.mark.network

PYPI = "https://pypi.org/simple"
RUNNER = REPO_ROOT / "tests" / "support" / "sdk_conformance.py"
# The apps runpod-flash's own build can build: no dependencies to install, every endpoint
# defined in the file whose decorator names it.
BOTH_BUILD = ("sdk-app", "preview-app")


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory) -> Path:
    """A venv's interpreter with the real runpod-flash, its runpod, and httpx for TestClient."""
    venv = tmp_path_factory.mktemp("sdk") / "venv"
    uv = uv_binary()
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
                   check=True, env=environment, timeout=300)
    subprocess.run([uv, "pip", "install", "--quiet", "--no-config", "--python",
                    str(venv / "bin" / "python"), "--index-url", PYPI,
                    f"runpod-flash=={symbols.SDK_VERSION}", "httpx"],
                   check=True, env=environment, timeout=600)
    return venv / "bin" / "python"


def run_sdk(python: Path, *args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> object:
    completed = subprocess.run(
        [str(python), str(RUNNER), *args], capture_output=True, text=True, timeout=300,
        env={**os.environ, "RUNPOD_API_KEY": "conformance", **(env or {})}, cwd=cwd,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1])


def test_the_side_venv_has_the_pinned_sdk(sdk_python):
    completed = subprocess.run(
        [str(sdk_python), "-c", "import runpod_flash; print(runpod_flash.__version__)"],
        capture_output=True, text=True, check=True, timeout=120)
    assert completed.stdout.strip() == symbols.SDK_VERSION


@pytest.mark.parametrize("app", APPS)
def test_the_sdk_provisions_every_resource(app, sdk_python, copy_fixture):
    result = build_project(copy_fixture(app))
    report = run_sdk(sdk_python, "provision", str(result.manifest_path))
    provisioned = report[str(result.manifest_path)]
    resources = result.manifest["resources"]
    assert sorted(provisioned) == sorted(resources)
    for name, resource in resources.items():
        assert provisioned[name]["class"] == resource["resource_type"], name
        assert provisioned[name]["workersMax"] == resource["workersMax"], name
        if resource["compute"] == "gpu":
            assert provisioned[name]["gpuIds"] == resource["gpuIds"], name


@pytest.mark.parametrize("app", BOTH_BUILD)
def test_provisioned_resources_equal_those_of_the_sdk_s_own_build(
    app, sdk_python, copy_fixture, tmp_path
):
    ours = build_project(copy_fixture(app)).manifest_path
    theirs_project = tmp_path / "theirs"
    shutil.copytree(FIXTURES / app, theirs_project, ignore=shutil.ignore_patterns(".flash"))
    flash = sdk_python.parent / "flash"
    completed = subprocess.run([str(flash), "build", "--no-deps"], cwd=theirs_project,
                               capture_output=True, text=True, timeout=600, check=False,
                               env={**os.environ, "NO_COLOR": "1"})
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    theirs = theirs_project / ".flash" / "flash_manifest.json"
    report = run_sdk(sdk_python, "provision", str(ours), str(theirs))
    assert report[str(ours)] == report[str(theirs)]


# Calls whose answers show each handler loaded and wired as on a worker.
CALLS = {
    "sdk-app": {
        "gpu-groups": ([["job", {"x": 1}]], [2]),
        "gpu-type": ([["job", {"x": 4}]], [8]),
        "cpu-sized": ([["job", {"text": "hi"}]], ["HI"]),
        "with-volume": ([["job", {}]], ["/runpod-volume/models"]),
        "api": ([["GET", "/health", None], ["POST", "/echo", {"text": "a"}],
                 ["GET", "/ping", None]],
                [[200, {"ok": True}], [200, {"text": "a"}], [200, {"status": "healthy"}]]),
        "gpu-api": ([["POST", "/square", {"n": 3}]], [[200, {"square": 9}]]),
    },
}


# Endpoints whose loading needs a package of their image, which the side venv lacks.
NEEDS_IMAGE_PACKAGE = {("checks/clean-app", "scorer"): "torch"}


def _unpack(artifact: Path, destination: Path) -> Path:
    with tarfile.open(artifact, "r:gz") as archive:
        archive.extractall(destination, filter="data")
    return destination


@pytest.mark.parametrize("app", APPS)
def test_every_handler_loads_as_on_the_worker_and_answers(app, sdk_python, copy_fixture,
                                                          tmp_path):
    result = build_project(copy_fixture(app))
    app_dir = _unpack(result.artifact.path, tmp_path / "app")
    calls = CALLS.get(app, {})
    for name, resource in result.manifest["resources"].items():
        requests, expected = calls.get(name, ([], []))
        if resource["is_load_balanced"] and not requests:
            requests, expected = [["GET", "/ping", None]], [[200, {"status": "healthy"}]]
        calls_file = tmp_path / f"{name}.json"
        calls_file.write_text(json.dumps(requests))
        environment = {"FLASH_RESOURCE_NAME": name, "RUNPOD_ENDPOINT_ID": f"test-{name}",
                       "FLASH_APP": app, "FLASH_ENV": "test",
                       **({"FLASH_ENDPOINT_TYPE": "lb"} if resource["is_load_balanced"]
                          else {})}
        arguments = ("handler", str(app_dir), str(WORKER_BOOT), str(calls_file))
        missing = NEEDS_IMAGE_PACKAGE.get((app, name))
        if missing is not None:
            completed = subprocess.run(
                [str(sdk_python), str(RUNNER), *arguments], capture_output=True, text=True,
                timeout=300, env={**os.environ, **environment}, check=False)
            assert f"No module named '{missing}'" in completed.stderr, completed.stderr[-2000:]
            continue
        assert run_sdk(sdk_python, *arguments, env=environment) == expected, (app, name)
