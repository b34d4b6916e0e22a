"""What flashbuild knows about the ``runpod_flash`` API, as plain data.

The scanner recognises a name as ours only when it is imported from
``runpod_flash`` (or one of its submodules); these tables say what each name
is. They come from ``sdk_symbols.json``, generated from the real SDK by
``tools/sdk_symbols/generate.py`` (its ``package``/``version`` say which):
a name the SDK does not export, or a member its enum does not have, is an
error, because the SDK itself would fail on it when the worker imports it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..records import Compute

SDK_PACKAGE = "runpod_flash"
TABLE_FILE = Path(__file__).resolve().parent / "sdk_symbols.json"
_TABLE_TEXT = TABLE_FILE.read_text(encoding="utf-8")
_TABLE: dict[str, Any] = json.loads(_TABLE_TEXT)
TABLE_DIGEST = hashlib.sha256(_TABLE_TEXT.encode()).hexdigest()  # part of scan cache keys
SDK_VERSION: str = _TABLE["version"]  # the runpod-flash the tables were read from

ENDPOINT = "Endpoint"
REMOTE = "remote"

# Every public name ``from runpod_flash import ...`` can bind.
EXPORTS: frozenset[str] = frozenset(_TABLE["exports"])
# Enum name -> member name -> value, for every enum the SDK exports.
ENUM_TABLES: dict[str, dict[str, str]] = _TABLE["enums"]
GPU_GROUPS = ENUM_TABLES["GpuGroup"]
GPU_TYPES = ENUM_TABLES["GpuType"]
CPU_INSTANCE_TYPES = ENUM_TABLES["CpuInstanceType"]
DATA_CENTERS = ENUM_TABLES["DataCenter"]
CUDA_VERSIONS = ENUM_TABLES["CudaVersion"]
# GpuGroup member -> the GpuType members of that pool; the pools GpuGroup.ANY stands for.
GPU_POOLS: dict[str, list[str]] = _TABLE["gpu_pools"]
ANY_GPU_POOLS: tuple[str, ...] = tuple(_TABLE["any_gpu_pools"])
# Callable name (Endpoint, the resource classes, PodTemplate, ...) -> its keyword names.
PARAMETERS: dict[str, frozenset[str]] = {
    name: frozenset(names) for name, names in _TABLE["parameters"].items()
}

ENUMS = frozenset(ENUM_TABLES)
GPU_ENUMS = frozenset({"GpuGroup", "GpuType"})


@dataclass(frozen=True, kw_only=True)
class ResourceClass:
    """A legacy resource configuration class used with ``@remote``."""

    name: str
    compute: Compute
    load_balanced: bool


RESOURCE_CLASSES: dict[str, ResourceClass] = {
    cls.name: cls
    for cls in (
        ResourceClass(name="LiveServerless", compute="gpu", load_balanced=False),
        ResourceClass(name="ServerlessEndpoint", compute="gpu", load_balanced=False),
        ResourceClass(name="CpuLiveServerless", compute="cpu", load_balanced=False),
        ResourceClass(name="CpuServerlessEndpoint", compute="cpu", load_balanced=False),
        ResourceClass(name="LiveLoadBalancer", compute="gpu", load_balanced=True),
        ResourceClass(name="LoadBalancerSlsResource", compute="gpu", load_balanced=True),
        ResourceClass(name="CpuLiveLoadBalancer", compute="cpu", load_balanced=True),
        ResourceClass(name="CpuLoadBalancerSlsResource", compute="cpu", load_balanced=True),
    )
}

# The class the SDK's build makes of an ``Endpoint`` of each kind (compute, load-balanced).
LIVE_CLASSES = {
    ("gpu", False): "LiveServerless",
    ("cpu", False): "CpuLiveServerless",
    ("gpu", True): "LiveLoadBalancer",
    ("cpu", True): "CpuLiveLoadBalancer",
}


def sdk_resource_type(declared: str, compute: str, load_balanced: bool) -> str:
    """The ``resource_type`` the SDK records: an Endpoint's Live class, else the class used."""
    return LIVE_CLASSES[(compute, load_balanced)] if declared == ENDPOINT else declared


# Classes whose calls may appear inside a static value (``template=PodTemplate(...)``).
VALUE_CLASSES = frozenset({"PodTemplate", "NetworkVolume"})

# Callables whose calls the evaluator turns into StaticCall records.
STATIC_CALLABLES = frozenset({ENDPOINT}) | frozenset(RESOURCE_CLASSES) | VALUE_CLASSES

KNOWN_SYMBOLS = EXPORTS

# What the SDK's classes fill in when a declaration leaves a field out.
DEPLOYMENT: dict[str, Any] = _TABLE["deployment"]
ENDPOINT_DEFAULTS: dict[str, Any] = DEPLOYMENT["endpoint_defaults"]
DEFAULT_CPU_INSTANCE: str = DEPLOYMENT["cpu_default_instances"][0]
DEFAULT_GPU = GPU_GROUPS["ANY"]
DEFAULT_WORKERS = (int(_TABLE["constants"]["DEFAULT_WORKERS_MIN"]),
                   int(_TABLE["constants"]["DEFAULT_WORKERS_MAX"]))
DEFAULT_IDLE_TIMEOUT: int = ENDPOINT_DEFAULTS["idle_timeout"]

# Image names of the reference tool; the tag carries the target Python.
IMAGE_REPOSITORIES = {
    ("gpu", False): "runpod/flash",
    ("cpu", False): "runpod/flash-cpu",
    ("gpu", True): "runpod/flash-lb",
    ("cpu", True): "runpod/flash-lb-cpu",
}


def image_name(compute: str, load_balanced: bool, python_version: str) -> str:
    """The worker image an endpoint runs on, e.g. ``runpod/flash:py3.12-latest``."""
    return f"{IMAGE_REPOSITORIES[(compute, load_balanced)]}:py{python_version}-latest"
