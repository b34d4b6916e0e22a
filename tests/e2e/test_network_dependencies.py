"""Real wheels from PyPI, against the real image profiles (marked ``network``)."""

from __future__ import annotations

import json
import tarfile

import pytest

from flashbuild.config.images import PROFILES_DIR, image_table
from flashbuild.errors import DependencyError

from ..support.helpers import run_cli

pytestmark = pytest.mark.network

PYPI = "https://pypi.org/simple"
RELEASE = "1.6.0"
# Every distribution of the worker's runtime, which every image of the release has.
RUNTIME = {p.name for p in image_table(release=RELEASE, profiles_dir=PROFILES_DIR)
           .for_kind("cpu").provides if p.source == "runtime"}


@pytest.fixture(autouse=True)
def real_image_profiles(monkeypatch):
    """These builds target the real worker images, not the test wheelhouse's."""
    monkeypatch.delenv("FLASHBUILD_IMAGE_PROFILES", raising=False)


def build(copy_fixture, capsys, name: str, *options: str):
    project = copy_fixture(name)
    code, _, err = run_cli(["build", "--index-url", PYPI, *options, str(project)], capsys)
    assert code == 0, err
    manifest = json.loads((project / ".flash" / "flash_manifest.json").read_text())
    artifact = project / ".flash" / "artifact.tar.gz"
    with tarfile.open(artifact, "r:gz") as archive:
        names = archive.getnames()
    return manifest["dependencies"], names, artifact.stat().st_size


def test_sentence_transformers_ships_without_torch(copy_fixture, capsys):
    dependencies, names, size = build(copy_fixture, capsys, "embeddings-app")
    excluded = {e["name"]: e["reason"] for e in dependencies["excluded"]}
    shipped = {p["name"]: p["version"] for p in dependencies["lock"]}
    gpu = f"image:gpu@{RELEASE}"
    assert excluded["torch"] == gpu and excluded["triton"] == gpu
    cuda = [name for name in excluded if name.startswith("nvidia-")]
    assert cuda and all(excluded[name] == gpu for name in cuda)
    assert all(e["version_checked"] for e in dependencies["excluded"])
    # numpy is needed by the CPU endpoint, whose image has none: it ships, at the GPU
    # image's version, as the GPU worker imports the artifact's copy first.
    gpu_numpy = image_table(release=RELEASE, profiles_dir=PROFILES_DIR).for_kind("gpu")
    assert shipped["numpy"] == gpu_numpy.version_of("numpy").version
    assert {"sentence-transformers", "transformers"} <= set(shipped)
    assert not set(shipped) & RUNTIME - {"numpy"}
    tops = {name.split("/")[0] for name in names}
    assert {"sentence_transformers", "transformers", "numpy"} <= tops
    assert not tops & {"torch", "nvidia", "triton", "bin", "pydantic", "requests"}
    assert not [name for name in names if name.endswith(".pyc")]
    assert not [t for t in tops if t.startswith(("torch-", "triton-", "nvidia_", "torch.libs"))]
    assert size < 150_000_000


def test_example_app_installs_real_wheels(copy_fixture, capsys):
    dependencies, names, _ = build(copy_fixture, capsys, "example-app")
    shipped = {p["name"] for p in dependencies["lock"]}
    assert {"pandas", "transformers", "accelerate", "numpy"} <= shipped
    assert {e["name"]: e["reason"] for e in dependencies["excluded"]}["torch"] == (
        f"image:gpu@{RELEASE}")
    assert not shipped & RUNTIME - {"numpy"}
    assert "pandas/__init__.py" in names and "requirements.txt" in names


def build_files(write_project, capsys, files: dict[str, str], name: str = "app"):
    """Build a project written from ``files``: (shipped name -> version, excluded name ->
    reason, the archive's member names)."""
    project = write_project(files, name=name)
    code, _, err = run_cli(["build", "--index-url", PYPI, str(project)], capsys)
    assert code == 0, err
    manifest = json.loads((project / ".flash" / "flash_manifest.json").read_text())
    shipped = {p["name"]: p["version"] for p in manifest["dependencies"]["lock"]}
    excluded = {e["name"]: e["reason"] for e in manifest["dependencies"]["excluded"]}
    with tarfile.open(project / ".flash" / "artifact.tar.gz", "r:gz") as archive:
        names = archive.getnames()
    return shipped, excluded, names


def top_levels(names: list[str]) -> set[str]:
    return {name.split("/")[0] for name in names}


PANDAS_APP = (
    "from runpod_flash import Endpoint\n\n\n"
    '@Endpoint(name="tables", dependencies=["pandas"])\n'
    "def summary(rows):\n"
    "    import pandas as pd\n\n"
    "    return pd.DataFrame(rows).describe().to_dict()\n"
)


def test_gpu_only_pandas_app_ships_pandas_without_numpy(write_project, capsys):
    shipped, excluded, names = build_files(write_project, capsys, {"app.py": PANDAS_APP})
    assert "pandas" in shipped and "numpy" not in shipped
    assert excluded["numpy"] == f"image:gpu@{RELEASE}"
    tops = top_levels(names)
    assert "pandas" in tops and "numpy" not in tops and "numpy.libs" not in tops


WEB_APP = (
    "from runpod_flash import Endpoint\n"
    "import pandas as pd\n"
    "import requests\n\n\n"
    '@Endpoint(name="web", cpu="cpu3c-2-4", dependencies=["fastapi", "requests", "pandas"])\n'
    "def fetch(url):\n"
    "    return pd.DataFrame(requests.get(url, timeout=10).json()).to_dict()\n"
)


def test_the_worker_runtime_never_ships(write_project, capsys):
    shipped, excluded, names = build_files(write_project, capsys, {"app.py": WEB_APP})
    assert "pandas" in shipped and "numpy" in shipped  # the CPU image has no numpy
    assert not set(shipped) & RUNTIME
    assert excluded["fastapi"] == excluded["requests"] == f"image:cpu@{RELEASE}"
    assert {"pydantic", "pydantic-core", "anyio", "typing-extensions"} <= set(excluded)
    assert not top_levels(names) & {
        "fastapi", "requests", "pydantic", "pydantic_core", "anyio", "dateutil"}


VISION_APP = (
    "from runpod_flash import Endpoint, GpuGroup\n\n"
    'api = Endpoint(name="vision", gpu=GpuGroup.ANY, dependencies=["torchvision"])\n\n\n'
    '@api.post("/classify")\n'
    "def classify(image):\n"
    "    import torchvision\n\n"
    "    return torchvision.__version__\n"
)


def test_torchvision_ships_for_the_image_torch_without_torch(write_project, capsys):
    # The load-balanced GPU image has torch 2.9.1 but no torchvision.
    shipped, excluded, names = build_files(write_project, capsys, {"app.py": VISION_APP})
    assert shipped["torchvision"].startswith("0.24.")  # built for torch 2.9.1
    assert excluded["torch"] == excluded["triton"] == f"image:gpu-lb@{RELEASE}"
    tops = top_levels(names)
    assert "torchvision" in tops
    assert not [t for t in tops if t.startswith(("torch", "triton", "nvidia")) and
                not t.startswith("torchvision")]
    # On the queue-based GPU image, which has torchvision 0.24.1, nothing ships for it.
    queue_app = {"app.py": PANDAS_APP.replace('"pandas"', '"torchvision"')}
    shipped, excluded, _ = build_files(write_project, capsys, queue_app, name="queue")
    assert shipped == {} and excluded["torchvision"] == f"image:gpu@{RELEASE}"


LLM_APP = (
    "from runpod_flash import Endpoint, GpuGroup\n\n\n"
    '@Endpoint(name="llm", gpu=GpuGroup.ANY, dependencies=["vllm==0.21.0"])\n'
    "def generate(prompt):\n"
    "    from vllm import LLM\n\n"
    "    return LLM\n"
)
# An image of one's own, built on the worker image with what vllm 0.21.0 pins.
VLLM_IMAGE = """
[tool.flash.images.gpu]
provides = ["torch==2.11.0", "torchaudio==2.11.0", "torchvision==0.26.0", "triton==3.6.0",
            "numpy==2.2.6", "fastar==0.9.0"]
"""


def test_vllm_needs_a_newer_torch_than_the_gpu_image_has(write_project, capsys):
    project = write_project({"app.py": LLM_APP})
    code, _, err = run_cli(["build", "--index-url", PYPI, str(project)], capsys)
    assert code == DependencyError.exit_code, err
    assert "vllm (declared by endpoint llm at app.py:4:1)" in err
    assert "vllm==0.21.0 depends on torch" in err or "vllm==0.21.0 depends on torchvision" in err
    assert f"(the gpu@{RELEASE} image) is what the image has" in err


def test_vllm_builds_for_an_image_with_its_torch(write_project, capsys):
    project = write_project({"app.py": LLM_APP, "pyproject.toml": VLLM_IMAGE})
    code, _, err = run_cli(["build", "--index-url", PYPI, str(project)], capsys)
    assert code == 0, err
    # Its wheel's WHEEL file says linux_x86_64; the file name, which installers go by, says
    # manylinux_2_24: a note, not an error.
    assert "vllm-0.21.0-1-cp38-abi3-manylinux_2_24_x86_64.whl" in err
    manifest = json.loads((project / ".flash" / "flash_manifest.json").read_text())
    shipped = {p["name"]: p["version"] for p in manifest["dependencies"]["lock"]}
    assert shipped["vllm"] == "0.21.0"
    assert not {"torch", "torchvision", "triton"} & set(shipped)
    assert not set(shipped) & RUNTIME - {"fastar"}
