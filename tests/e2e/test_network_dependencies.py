"""Real wheels from PyPI for the bundled apps (marked ``network``)."""

from __future__ import annotations

import json
import tarfile

import pytest

from ..support.helpers import run_cli

pytestmark = pytest.mark.network

PYPI = "https://pypi.org/simple"


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
    shipped = {p["name"] for p in dependencies["lock"]}
    assert excluded["torch"] == "image:gpu" and excluded["triton"] == "image:gpu"
    cuda = [name for name in excluded if name.startswith("nvidia-")]
    assert cuda and all(excluded[name] == "only-needed-by:torch" for name in cuda)
    # numpy is needed by the CPU endpoint, whose image has none: it ships.
    assert {"sentence-transformers", "transformers", "numpy"} <= shipped
    tops = {name.split("/")[0] for name in names}
    assert {"sentence_transformers", "transformers", "numpy"} <= tops
    assert not tops & {"torch", "nvidia", "triton", "bin"}
    assert not [name for name in names if name.endswith(".pyc")]
    assert not [t for t in tops if t.startswith(("torch-", "triton-", "nvidia_", "torch.libs"))]
    assert size < 150_000_000


def test_example_app_installs_real_wheels(copy_fixture, capsys):
    dependencies, names, _ = build(copy_fixture, capsys, "example-app")
    shipped = {p["name"] for p in dependencies["lock"]}
    assert {"pandas", "transformers", "accelerate", "numpy"} <= shipped
    assert {e["name"]: e["reason"] for e in dependencies["excluded"]}["torch"] == "image:gpu"
    assert "pandas/__init__.py" in names and "requirements.txt" in names


PANDAS_APP = (
    "from runpod_flash import Endpoint\n\n\n"
    '@Endpoint(name="tables", dependencies=["pandas"])\n'
    "def summary(rows):\n"
    "    import pandas as pd\n\n"
    "    return pd.DataFrame(rows).describe().to_dict()\n"
)


def test_gpu_only_pandas_app_ships_pandas_without_numpy(write_project, capsys):
    project = write_project({"app.py": PANDAS_APP})
    code, _, err = run_cli(["build", "--index-url", PYPI, str(project)], capsys)
    assert code == 0, err
    manifest = json.loads((project / ".flash" / "flash_manifest.json").read_text())
    shipped = {p["name"] for p in manifest["dependencies"]["lock"]}
    excluded = {e["name"]: e["reason"] for e in manifest["dependencies"]["excluded"]}
    assert "pandas" in shipped and "numpy" not in shipped
    assert excluded == {"numpy": "image:gpu"}
    with tarfile.open(project / ".flash" / "artifact.tar.gz", "r:gz") as archive:
        tops = {name.split("/")[0] for name in archive.getnames()}
    assert "pandas" in tops and "numpy" not in tops and "numpy.libs" not in tops


@pytest.mark.parametrize("python_version", ["3.12", "3.10"])
def test_target_python_differs_from_the_host(write_project, capsys, python_version):
    """The host runs 3.11; the wheels must be the target's, whatever the host is."""
    cpu_app = PANDAS_APP.replace('name="tables"', 'name="tables", cpu="cpu3c-2-4"')
    project = write_project({"app.py": cpu_app})
    code, _, err = run_cli(
        ["build", "--index-url", PYPI, "--python-version", python_version, str(project)], capsys
    )
    assert code == 0, err
    tag = "cp" + python_version.replace(".", "")
    with tarfile.open(project / ".flash" / "artifact.tar.gz", "r:gz") as archive:
        names = archive.getnames()
        wheel = archive.extractfile(next(n for n in names if n.startswith("pandas-")
                                         and n.endswith(".dist-info/WHEEL"))).read().decode()
    assert f"Tag: {tag}-{tag}-manylinux" in wheel
    extensions = [n for n in names if n.startswith(("pandas/", "numpy/")) and n.endswith(".so")]
    assert extensions and all(f"cpython-{tag[2:]}-x86_64-linux-gnu" in n for n in extensions)
