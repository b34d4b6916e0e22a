"""The manifest of the forms fixture, field by field, and its schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from flashbuild.render.manifest import manifest_schema

from ..support.generated_apps import config_hash_of
from ..support.helpers import archive_text, build_project

QUEUE_GPU = "runpod/flash:py3.12-latest"
QUEUE_CPU = "runpod/flash-cpu:py3.12-latest"
LB_GPU = "runpod/flash-lb:py3.12-latest"
LB_CPU = "runpod/flash-lb-cpu:py3.12-latest"


def function(name, module, location, *, is_async=False, calls=(), route=None, methods=None):
    entry = {"name": name, "module": module, "is_async": is_async, "is_class": methods is not None,
             "calls": list(calls), "location": location}
    if methods is not None:
        entry["class_methods"] = list(methods)
    if route is not None:
        entry["http_method"], entry["http_path"] = route.split(" ", 1)
    return entry


# What runpod-flash 1.21.0's own build writes (GpuGroup.all(), DataCenter.all()).
ANY_POOLS = ("ADA_24,ADA_32_PRO,ADA_48_PRO,ADA_80_PRO,AMPERE_16,AMPERE_24,AMPERE_48,AMPERE_80,"
             "BLACKWELL_180,BLACKWELL_96,HOPPER_141")
ALL_DATA_CENTERS = ("US-CA-2,US-IL-1,US-KS-2,US-MO-1,US-MO-2,US-NC-2,US-NE-1,US-WA-1,EU-CZ-1,"
                    "EU-RO-1,EUR-NO-1")
LIVE = {QUEUE_GPU: "LiveServerless", QUEUE_CPU: "CpuLiveServerless", LB_GPU: "LiveLoadBalancer",
        LB_CPU: "CpuLiveLoadBalancer"}


def resource(name, file_path, functions, *, image, legacy=False, gpu=None, pools=ANY_POOLS,
             cpu=None, disk=64, workers=(0, 1), idle=60, env=None, deps=(), system=(),
             settings=None, calls=()):
    load_balanced = image.startswith("runpod/flash-lb")
    entry = {
        "resource_type": LIVE[image],
        "is_live_resource": True,
        "file_path": file_path,
        "module_path": file_path.removesuffix(".py").removesuffix("/__init__").replace("/", "."),
        "functions": functions,
        "is_load_balanced": load_balanced,
        "makes_remote_calls": bool(calls),
        "handler_file": f"handler_{name}.py",
        "imageName": image,
        "compute": "cpu" if cpu else "gpu",
        "workersMin": workers[0],
        "workersMax": workers[1],
        "idleTimeout": idle,
        "scalerType": "REQUEST_COUNT" if load_balanced else "QUEUE_DELAY",
        "scalerValue": 4,
        "template": {"advancedStart": False, "containerDiskInGb": disk,
                     "containerRegistryAuthId": "", "dockerArgs": "", "startScript": ""},
        "env": env or {},
        "target_python_version": "3.12",
        "dependencies": list(deps),
        "system_dependencies": list(system),
        "settings": settings or {},
        "calls": list(calls),
    }
    if cpu:
        entry["instanceIds"] = list(cpu)
    else:
        entry.update(gpus=list(gpu or ["any"]), gpuIds=pools, minCudaVersion="12.8")
        if not legacy:  # an Endpoint on GPU may run in every data center
            entry["locations"] = ALL_DATA_CENTERS
    return entry


EXPECTED_RESOURCES = {
    "alias-ep": resource(
        "alias-ep", "aliases.py", [function("alias_function", "aliases", "aliases.py:8:1")],
        image=QUEUE_GPU, gpu=["NVIDIA GeForce RTX 4090"], pools="ADA_24"),
    "module-alias": resource(
        "module-alias", "aliases.py",
        [function("module_alias_function", "aliases", "aliases.py:13:1", is_async=True)],
        image=QUEUE_CPU, cpu=["cpu5c-4-8"], disk=60, workers=(1, 3)),
    "constants": resource(
        "constants", "static_values.py",
        [function("with_constants", "static_values", "static_values.py:15:1")],
        image=QUEUE_GPU, gpu=["AMPERE_80", "ADA_24"], pools="ADA_24,AMPERE_80", workers=(1, 3),
        idle=300,
        env={"LOG_LEVEL": "debug", "MODE": "prod"}, deps=["httpx", "requests>=2.31", "rich"],
        system=["ffmpeg", "libsndfile1"], settings={"execution_timeout_ms": 60000}),
    "tuples": resource(
        "tuples", "static_values.py",
        [function("with_tuples", "static_values", "static_values.py:29:1")],
        image=QUEUE_CPU, cpu=["cpu3c-2-4", "cpu3g-4-16"], disk=20, workers=(0, 5),
        deps=["numpy", "pyyaml"]),
    "legacy-gpu": resource(
        "legacy-gpu", "legacy.py",
        [function("legacy_generate", "legacy", "legacy.py:26:1", is_async=True)],
        image=QUEUE_GPU, legacy=True, gpu=["AMPERE_48"], pools="AMPERE_48", workers=(0, 4),
        idle=30, env={"HF_HOME": "/runpod-volume"}, deps=["diffusers", "torch"],
        system=["git"]),
    "legacy-cpu": resource(
        "legacy-cpu", "legacy.py", [function("legacy_resize", "legacy", "legacy.py:31:1")],
        image=QUEUE_CPU, legacy=True, cpu=["cpu3g-1-4"], disk=10, deps=["pillow"]),
    "legacy-lb": resource(
        "legacy-lb", "legacy.py",
        [function("legacy_route", "legacy", "legacy.py:36:1", is_async=True,
                  calls=["legacy-gpu"], route="POST /generate"),
         function("legacy_status", "legacy", "legacy.py:43:1", route="GET /status")],
        image=LB_GPU, legacy=True, calls=["legacy-gpu"]),
    "legacy-cpu-lb": resource(
        "legacy-cpu-lb", "legacy.py",
        [function("legacy_delete", "legacy", "legacy.py:48:1", route="DELETE /items/{item_id}")],
        image=LB_CPU, legacy=True, cpu=["cpu3g-2-8"], disk=20),
    "package-init": resource(
        "package-init", "pkg/__init__.py",
        [function("package_function", "pkg", "pkg/__init__.py:6:1", calls=["embedder"])],
        image=QUEUE_CPU, cpu=["cpu3c-1-2"], disk=10, calls=["embedder"]),
    "embedder": resource(
        "embedder", "pkg/sub/models.py",
        [function("Embedder", "pkg.sub.models", "pkg/sub/models.py:6:1",
                  methods=["embed", "embed_many"])],
        image=QUEUE_GPU, deps=["sentence-transformers"]),
    "routes": resource(
        "routes", "routes.py",
        [function("get_item", "routes", "routes.py:8:1", route="GET /items/{item_id}"),
         function("create_item", "routes", "routes.py:13:1", is_async=True, calls=["embedder"],
                  route="POST /items"),
         function("put_item", "routes", "routes.py:20:1", route="PUT /items/{item_id}"),
         function("delete_item", "routes", "routes.py:25:1", route="DELETE /items/{item_id}"),
         function("patch_item", "routes", "routes.py:30:1", is_async=True,
                  route="PATCH /items/{item_id}")],
        image=LB_CPU, cpu=["cpu3c-2-4"], disk=20, workers=(1, 2), calls=["embedder"]),
}


@pytest.fixture(scope="module")
def forms_build(tmp_path_factory):
    import shutil

    from ..conftest import FIXTURES

    project = tmp_path_factory.mktemp("forms") / "forms-app"
    shutil.copytree(FIXTURES / "forms-app", project)
    result = build_project(project, exclude=("PyYAML", "torch,Torch_Vision"))
    return project, result


def test_manifest_resources_field_by_field(forms_build):
    _, result = forms_build
    resources = result.manifest["resources"]
    assert sorted(resources) == sorted(EXPECTED_RESOURCES)  # own_endpoint.py declares none
    for name, expected in EXPECTED_RESOURCES.items():
        actual = dict(resources[name])
        assert len(actual.pop("config_hash")) == 64
        assert actual == expected, name


def test_manifest_top_level(forms_build):
    _, result = forms_build
    manifest = result.manifest
    assert manifest["version"] == "1.0"
    assert manifest["project_name"] == "forms-app"  # no pyproject: the directory name
    assert manifest["python_version"] == "3.12"
    assert manifest["routes"] == {
        "legacy-cpu-lb": {"DELETE /items/{item_id}": "legacy_delete"},
        "legacy-lb": {"GET /status": "legacy_status", "POST /generate": "legacy_route"},
        "routes": {"DELETE /items/{item_id}": "delete_item", "GET /items/{item_id}": "get_item",
                   "PATCH /items/{item_id}": "patch_item", "POST /items": "create_item",
                   "PUT /items/{item_id}": "put_item"},
    }
    assert manifest["function_registry"] == {
        function["name"]: name
        for name, resource in EXPECTED_RESOURCES.items()
        for function in resource["functions"]
    }
    assert manifest["dependencies"] == {
        "installed": False, "exclude": ["pyyaml", "torch", "torch-vision"], "lock": [],
        "excluded": [], "source": "none", "platform": "x86_64-manylinux_2_28",
        "images": {"release": "wheelhouse-1", "overrides": {}},
    }
    assert "generated_at" not in json.dumps(manifest)
    assert len(manifest["source_fingerprint"]) == 64


def test_manifest_files_match_and_validate(forms_build):
    project, result = forms_build
    on_disk = (project / ".flash" / "flash_manifest.json").read_text()
    in_artifact = archive_text(result.artifact.path, "flash_manifest.json")
    assert on_disk == in_artifact
    assert json.loads(on_disk) == result.manifest
    jsonschema.validate(result.manifest, manifest_schema())
    assert str(project) not in on_disk  # no host paths


def test_config_hash_matches_documented_recipe(forms_build):
    """The README's recipe, applied to the manifest's own fields, gives each config_hash."""
    _, result = forms_build
    for name, resource in result.manifest["resources"].items():
        assert resource["config_hash"] == config_hash_of(name, resource), name


def test_schema_rejects_broken_manifests(forms_build):
    _, result = forms_build
    schema = manifest_schema()
    broken = json.loads(json.dumps(result.manifest))
    broken["resources"]["routes"]["workersMin"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = json.loads(json.dumps(result.manifest))
    broken["resources"]["alias-ep"]["instanceIds"] = ["cpu3c-1-2"]  # gpu and cpu at once
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = json.loads(json.dumps(result.manifest))
    broken["generated_at"] = "2026-01-01T00:00:00"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
