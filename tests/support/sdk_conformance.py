"""Run inside a venv holding the real runpod-flash: what the SDK makes of an artifact.

Not imported by the tests: they run it with the side venv's interpreter.

``provision MANIFEST...``
    ``Manifest.from_dict`` and ``create_resource_from_manifest`` on every
    resource, as ``flash deploy`` does; prints, per manifest and resource, the
    class and the fields the SDK deploys.
``handler APP_DIR WORKER_BOOT CALLS_JSON``
    Loads the handler of ``FLASH_RESOURCE_NAME`` from an unpacked artifact the
    way the worker image does (with flashbuild's ``worker_boot.py``, by path;
    one endpoint per process, as on workers) and answers the calls:
    ``[["job", input], ...]`` or ``[[method, url, body], ...]``; prints the answers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import warnings

FIELDS = ("gpuIds", "instanceIds", "workersMin", "workersMax", "idleTimeout", "locations",
          "scalerType", "scalerValue", "minCudaVersion", "imageName", "env", "networkVolumes")


def plain(value):
    """JSON data of an SDK value: enums by value, models by their fields."""
    if isinstance(value, list):
        return [plain(item) for item in value]
    if hasattr(value, "model_dump"):
        return {k: plain(v) for k, v in value.model_dump(exclude_none=True).items()}
    return getattr(value, "value", value)


def provision(paths):
    from runpod_flash.runtime.models import Manifest
    from runpod_flash.runtime.resource_provisioner import create_resource_from_manifest

    report = {}
    for path in paths:
        with open(path, encoding="utf-8") as file:
            manifest = json.load(file)
        Manifest.from_dict(manifest)
        resources = {}
        for name, data in manifest["resources"].items():
            resource = create_resource_from_manifest(
                name, data, python_version=manifest.get("python_version"))
            fields = {field: plain(getattr(resource, field, None)) for field in FIELDS}
            resources[name] = {"class": type(resource).__name__, **fields}
        report[path] = resources
    return report


def handler(app_dir, boot_path, calls):
    spec = importlib.util.spec_from_file_location("worker_boot", boot_path)
    boot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(boot)
    sys.path.insert(0, app_dir)
    os.chdir(app_dir)
    endpoint = os.environ["FLASH_RESOURCE_NAME"]
    path = os.path.join(app_dir, f"handler_{endpoint}.py")
    if not calls or calls[0][0] == "job":
        wrapper = boot.queue_handler(boot.load_by_path(f"handler_{endpoint}", path))
        return [asyncio.run(wrapper({"id": "job", "input": arguments})) for _, arguments in calls]
    from fastapi.testclient import TestClient

    client = TestClient(boot.load_balanced_app(boot.load_by_path("user_main", path)))
    answers = []
    for method, url, body in calls:
        response = client.request(method, url, json=body)
        answers.append([response.status_code, response.json()])
    return answers


def main(argv):
    warnings.simplefilter("ignore")
    if argv[0] == "provision":
        result = provision(argv[1:])
    else:
        with open(argv[3], encoding="utf-8") as file:
            result = handler(argv[1], argv[2], json.load(file))
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
