"""Real wheels from PyPI for the bundled apps (marked ``network``)."""

from __future__ import annotations

import json
import tarfile

import pytest

from .helpers import run_cli

pytestmark = pytest.mark.network

PYPI = "https://pypi.org/simple"


def build(copy_fixture, capsys, name: str):
    project = copy_fixture(name)
    code, _, err = run_cli(["build", "--index-url", PYPI, str(project)], capsys)
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
    assert size < 150_000_000


def test_example_app_installs_real_wheels(copy_fixture, capsys):
    dependencies, names, _ = build(copy_fixture, capsys, "example-app")
    shipped = {p["name"] for p in dependencies["lock"]}
    assert {"pandas", "transformers", "accelerate", "numpy"} <= shipped
    assert {e["name"]: e["reason"] for e in dependencies["excluded"]}["torch"] == "image:gpu"
    assert "pandas/__init__.py" in names and "requirements.txt" in names
