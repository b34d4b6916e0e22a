"""What flashbuild knows about the ``runpod_flash`` API, as plain data.

The scanner recognises a name as ours only when it is imported from
``runpod_flash`` (or one of its submodules); these tables say what each name
is. Enum tables follow runpod-flash 1.21.0; a member missing here is reported
as a likely typo, because the SDK itself would fail on it at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..records import Compute

SDK_PACKAGE = "runpod_flash"

ENDPOINT = "Endpoint"
REMOTE = "remote"

GPU_GROUPS: dict[str, str] = {
    "ANY": "any",
    "ADA_24": "ADA_24",
    "ADA_32_PRO": "ADA_32_PRO",
    "ADA_48_PRO": "ADA_48_PRO",
    "ADA_80_PRO": "ADA_80_PRO",
    "AMPERE_16": "AMPERE_16",
    "AMPERE_24": "AMPERE_24",
    "AMPERE_48": "AMPERE_48",
    "AMPERE_80": "AMPERE_80",
    "HOPPER_141": "HOPPER_141",
    "BLACKWELL_96": "BLACKWELL_96",
    "BLACKWELL_180": "BLACKWELL_180",
}

GPU_TYPES: dict[str, str] = {
    "ANY": "any",
    "NVIDIA_GEFORCE_RTX_4090": "NVIDIA GeForce RTX 4090",
    "NVIDIA_GEFORCE_RTX_5090": "NVIDIA GeForce RTX 5090",
    "NVIDIA_RTX_6000_ADA_GENERATION": "NVIDIA RTX 6000 Ada Generation",
    "NVIDIA_RTX_PRO_6000_BLACKWELL_SERVER_EDITION": "NVIDIA RTX PRO 6000 Blackwell Server Edition",
    "NVIDIA_RTX_PRO_6000_BLACKWELL_WORKSTATION_EDITION": (
        "NVIDIA RTX PRO 6000 Blackwell Workstation Edition"
    ),
    "NVIDIA_RTX_PRO_6000_BLACKWELL_MAX_Q_WORKSTATION_EDITION": (
        "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition"
    ),
    "NVIDIA_H100_80GB_HBM3": "NVIDIA H100 80GB HBM3",
    "NVIDIA_RTX_A4000": "NVIDIA RTX A4000",
    "NVIDIA_RTX_A4500": "NVIDIA RTX A4500",
    "NVIDIA_RTX_4000_ADA_GENERATION": "NVIDIA RTX 4000 Ada Generation",
    "NVIDIA_RTX_2000_ADA_GENERATION": "NVIDIA RTX 2000 Ada Generation",
    "NVIDIA_RTX_A5000": "NVIDIA RTX A5000",
    "NVIDIA_L4": "NVIDIA L4",
    "NVIDIA_GEFORCE_RTX_3090": "NVIDIA GeForce RTX 3090",
    "NVIDIA_A40": "NVIDIA A40",
    "NVIDIA_RTX_A6000": "NVIDIA RTX A6000",
    "NVIDIA_A100_80GB_PCIe": "NVIDIA A100 80GB PCIe",
    "NVIDIA_A100_SXM4_80GB": "NVIDIA A100-SXM4-80GB",
    "NVIDIA_H200": "NVIDIA H200",
    "NVIDIA_B200": "NVIDIA B200",
}

CPU_INSTANCE_TYPES: dict[str, str] = {
    f"CPU{gen}{kind.upper()}_{vcpu}_{ram}": f"cpu{gen}{kind}-{vcpu}-{ram}"
    for gen, kind, sizes in (
        (3, "g", ((1, 4), (2, 8), (4, 16), (8, 32))),
        (3, "c", ((1, 2), (2, 4), (4, 8), (8, 16))),
        (5, "c", ((1, 2), (2, 4), (4, 8), (8, 16))),
    )
    for vcpu, ram in sizes
}

# Enums whose members are checked against a table, and enums taken on trust
# (their member name is used as the value).
CHECKED_ENUMS: dict[str, dict[str, str]] = {
    "GpuGroup": GPU_GROUPS,
    "GpuType": GPU_TYPES,
    "CpuInstanceType": CPU_INSTANCE_TYPES,
}
OPEN_ENUMS = frozenset({"DataCenter", "CudaVersion", "ServerlessScalerType", "ServerlessType"})
ENUMS = frozenset(CHECKED_ENUMS) | OPEN_ENUMS

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

# Classes whose calls may appear inside a static value (``template=PodTemplate(...)``).
VALUE_CLASSES = frozenset({"PodTemplate", "NetworkVolume"})

# Callables whose calls the evaluator turns into StaticCall records.
STATIC_CALLABLES = frozenset({ENDPOINT}) | frozenset(RESOURCE_CLASSES) | VALUE_CLASSES

KNOWN_SYMBOLS = frozenset({ENDPOINT, REMOTE}) | ENUMS | STATIC_CALLABLES

DEFAULT_CPU_INSTANCE = "cpu3g-2-8"  # what the SDK's CPU classes default to
DEFAULT_GPU = "any"
DEFAULT_WORKERS = (0, 1)
DEFAULT_IDLE_TIMEOUT = 60

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
