"""The manifest's deploy fields use the SDK's vocabulary (values verified against
runpod-flash 1.21.0's own GpuGroup.to_gpu_ids_str and resource classes)."""

from __future__ import annotations

import pytest

from flashbuild.errors import SourceCodeError
from flashbuild.source.deployment import gpu_ids_string, normalized_gpu_ids

from .test_scan import only, scan_error

ANY11 = ("ADA_24,ADA_32_PRO,ADA_48_PRO,ADA_80_PRO,AMPERE_16,AMPERE_24,AMPERE_48,AMPERE_80,"
         "BLACKWELL_180,BLACKWELL_96,HOPPER_141")


@pytest.mark.parametrize(("declared", "pools"), [
    (["ADA_24"], "ADA_24"),
    (["ADA_24", "AMPERE_80"], "ADA_24,AMPERE_80"),
    (["NVIDIA GeForce RTX 4090"], "ADA_24"),
    (["NVIDIA L4"], "AMPERE_24,-NVIDIA GeForce RTX 3090,-NVIDIA RTX A5000"),
    (["NVIDIA RTX A4000", "NVIDIA RTX A4500"],
     "AMPERE_16,-NVIDIA RTX 2000 Ada Generation,-NVIDIA RTX 4000 Ada Generation"),
    (["NVIDIA H100 80GB HBM3", "ADA_24"], "ADA_24,ADA_80_PRO"),
    (["NVIDIA L4", "AMPERE_24"], "AMPERE_24"),
    (["ADA_24", "any"], ANY11),
    (["any"], ANY11),
])
def test_gpu_pools_as_the_sdk_writes_them(declared, pools):
    assert gpu_ids_string(declared) == pools


def test_a_written_gpu_ids_string_is_only_normalised():
    assert normalized_gpu_ids("AMPERE_80, ADA_24,-NVIDIA A100 80GB PCIe,ADA_24") == (
        "ADA_24,AMPERE_80,-NVIDIA A100 80GB PCIe")


ENDPOINT = "from runpod_flash import DataCenter, Endpoint, PodTemplate, ServerlessScalerType\n"


@pytest.mark.parametrize(("arguments", "fragment"), [
    ('cpu="cpu3c-1-2", datacenter=DataCenter.US_KS_2',
     "CPU endpoints are not available in US-KS-2; the CPU data centers are EU-RO-1"),
    ('datacenter="US-XX-9"', "unknown data center 'US-XX-9'"),
    ("idle_timeout=0", "`idle_timeout` must be between 1 and 3600 seconds, got 0"),
    ('scaler_type="FAST"', "`scaler_type` must be a ServerlessScalerType member"),
    ('min_cuda_version="11.0"', "`min_cuda_version` must be a CudaVersion member"),
    ('cpu="cpu3g-2-8", template=PodTemplate(containerDiskInGb=100)',
     "a 100 GB container disk exceeds what the CPU instances allow (cpu3g-2-8: 20 GB)"),
])
def test_what_the_sdk_refuses_fails_at_the_argument(arguments, fragment):
    error = scan_error(ENDPOINT + f"@Endpoint(name='e', {arguments})\ndef f(): ...\n")
    assert isinstance(error, SourceCodeError) and fragment in error.message
    assert str(error.location).startswith("app.py:2:")


def test_data_centers_are_kept_as_api_values():
    config = only(ENDPOINT + "@Endpoint(name='e', cpu='cpu3c-1-2', datacenter='eu_ro_1')\n"
                  "def f(): ...\n").endpoint.config
    assert dict(config.settings)["datacenter"] == "eu_ro_1"  # as written; locations normalise


def fields_of(source: str) -> dict:
    from flashbuild.source.deployment import deployment_fields

    from .test_checks import plan_of

    _, plan = plan_of({"app.py": source})
    (endpoint,) = plan.endpoints
    return deployment_fields(endpoint.config, endpoint.image_name)


def test_endpoint_settings_become_the_sdk_fields():
    fields = fields_of(
        "from runpod_flash import (CudaVersion, DataCenter, Endpoint, GpuType, NetworkVolume,\n"
        "    PodTemplate, ServerlessScalerType)\n"
        "@Endpoint(name='e', gpu=GpuType.NVIDIA_L4, datacenter=[DataCenter.EU_RO_1, 'us-ks-2'],\n"
        "          scaler_type=ServerlessScalerType.REQUEST_COUNT, scaler_value=2,\n"
        "          min_cuda_version=CudaVersion.V12_4, max_concurrency=3, idle_timeout=5,\n"
        "          template=PodTemplate(containerDiskInGb=150, dockerArgs='--x'),\n"
        "          volume=NetworkVolume(name='models', size=50, datacenter=DataCenter.EU_RO_1))\n"
        "def f(): ...\n")
    assert fields == {
        "resource_type": "LiveServerless", "is_live_resource": True,
        "imageName": "runpod/flash:py3.12-latest", "workersMin": 0, "workersMax": 1,
        "idleTimeout": 5, "scalerType": "REQUEST_COUNT", "scalerValue": 2, "env": {},
        "gpuIds": "AMPERE_24,-NVIDIA GeForce RTX 3090,-NVIDIA RTX A5000",
        "minCudaVersion": "12.4", "locations": "EU-RO-1,US-KS-2",
        "networkVolumes": [{"name": "models", "size": 50, "dataCenterId": "EU-RO-1"}],
        "template": {"containerDiskInGb": 150, "dockerArgs": "--x", "startScript": "",
                     "advancedStart": False, "containerRegistryAuthId": ""},
        "max_concurrency": 3,
    }


def test_legacy_classes_keep_their_own_spelling():
    fields = fields_of(
        "from runpod_flash import CpuLiveServerless, LiveServerless, remote\n"
        "gpu = LiveServerless(name='g', gpuIds='AMPERE_80, ADA_24', templateId='t-1',\n"
        "                     locations='EU-RO-1', python_version='3.11', scalerValue=8)\n"
        "@remote(resource_config=gpu)\n"
        "def f(): ...\n")
    assert fields["resource_type"] == "LiveServerless"
    assert fields["gpuIds"] == "ADA_24,AMPERE_80" and fields["templateId"] == "t-1"
    assert "template" not in fields and fields["locations"] == "EU-RO-1"
    assert fields["python_version"] == "3.11" and fields["scalerValue"] == 8
    cpu = fields_of("from runpod_flash import CpuLiveServerless, remote\n"
                    "@remote(resource_config=CpuLiveServerless(name='c'))\ndef f(): ...\n")
    assert cpu["instanceIds"] == ["cpu3g-2-8"] and cpu["template"]["containerDiskInGb"] == 20
    assert "locations" not in cpu and "minCudaVersion" not in cpu and "gpuIds" not in cpu
