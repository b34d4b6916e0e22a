"""A three-endpoint app for the ``flash manifest`` tests, and helpers to build, edit and
rewrite its manifests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from flashbuild.cli.manifest import manifest
from flashbuild.render.manifest import manifest_bytes

from .helpers import build_project

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


def manifest_snapshots(directory: Path) -> Callable[[Path], Path]:
    """Build a project and keep a copy of its manifest in ``directory`` (the next build
    overwrites it); returns the copy's path."""
    counter = iter(range(1000))

    def build(project: Path) -> Path:
        result = build_project(project)
        copy = directory / f"manifest-{next(counter)}.json"
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
