"""``flash preview`` without endpoint processes: ports, services, commands, environments,
the call router, the runtime and the endpoint table."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flashbuild.cli.preview import preview_text
from flashbuild.errors import UsageError
from flashbuild.preview.router import CallRouter
from flashbuild.preview.runtime import (
    ensure_runtime,
    preview_build_config,
    runtime_key,
    runtime_packages,
)
from flashbuild.preview.services import (
    HOST,
    WORKER_BOOT,
    EndpointService,
    allocate_ports,
    plan_services,
    port_is_free,
    service_command,
    service_environment,
)
from flashbuild.preview.session import Preview, RunningEndpoint
from flashbuild.records import IndexOptions

from ..support.helpers import wheelhouse_images

HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

MANIFEST = {
    "project_name": "shop",
    "resources": {
        "worker": {"is_load_balanced": False, "handler_file": "handler_worker.py",
                   "compute": "gpu", "env": {"MODEL": "tiny"}},
        "api": {"is_load_balanced": True, "handler_file": "handler_api.py", "compute": "cpu",
                "env": {}},
    },
    "routes": {"api": {"GET /items/{item_id}": "get_item", "POST /orders": "order"}},
}


def _always_free(_port: int) -> bool:
    return True


# --- ports ------------------------------------------------------------------------


def test_ports_are_consecutive_from_the_first_skipping_busy_ones():
    busy = {8001, 8003}
    assert allocate_ports(3, 8000, is_free=lambda port: port not in busy) == (8000, 8002, 8004)


def test_no_free_port_left_is_a_usage_error():
    with pytest.raises(UsageError, match="free ports from 65534"):
        allocate_ports(3, 65534, is_free=_always_free)


def test_a_listening_port_is_busy():
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_is_free(port)
        assert allocate_ports(1, port)[0] > port


# --- services, commands, environment ----------------------------------------------


def test_services_follow_the_manifest_by_name():
    api, worker = plan_services(MANIFEST, 9000, is_free=lambda port: port != 9000)
    assert (api.name, api.kind, api.port, api.url) == (
        "api", "load-balanced", 9001, f"http://{HOST}:9001")
    assert api.routes == ("GET /items/{item_id}", "POST /orders")
    assert (worker.name, worker.kind, worker.port, worker.routes) == ("worker", "queue", 9002, ())
    assert worker.env == (("MODEL", "tiny"),)


def test_commands_boot_each_endpoint_as_the_worker_image_does(tmp_path):
    python, app = Path("/env/bin/python"), tmp_path / "app"
    queue_service = EndpointService(name="worker", kind="queue",
                                    handler_file="handler_worker.py", port=8000)
    assert service_command(queue_service, python, app, ("constants", "logger")) == (
        "/env/bin/python", str(WORKER_BOOT), "queue", str(app), "handler_worker.py",
        "127.0.0.1", "8000", "constants", "logger")
    lb_service = EndpointService(name="lb-worker", kind="load-balanced",
                                 handler_file="handler_lb-worker.py", port=8001)
    assert service_command(lb_service, python, app) == (
        "/env/bin/python", str(WORKER_BOOT), "lb", str(app), "handler_lb-worker.py",
        "127.0.0.1", "8001")
    assert WORKER_BOOT.is_file()


def test_environment_is_a_workers_that_runs_its_own_functions_in_place(tmp_path):
    service = EndpointService(name="worker", kind="queue", handler_file="handler_worker.py",
                              port=8000, env=(("MODEL", "tiny"), ("FLASH_ENV", "mine")))
    base = {
        "PATH": "/usr/bin", "HOME": "/home/me", "RUNPOD_API_KEY": "key",
        "PYTHONPATH": "/elsewhere", "VIRTUAL_ENV": "/venv", "FLASH_IS_LIVE_PROVISIONING": "true",
        "RUNPOD_ENDPOINT_ID": "real-endpoint", "RUNPOD_AI_API_KEY": "worker-secret",
        "NO_PROXY": "internal.example",
    }
    environment = service_environment(
        service, base=base, app_dir=tmp_path / "app", site_packages=tmp_path / "site",
        project_name="shop", router_url="http://127.0.0.1:5000/v2",
    )
    assert environment["FLASH_RESOURCE_NAME"] == "worker"
    assert environment["FLASH_APP"] == "shop"
    assert environment["FLASH_ENV"] == "preview"  # ours wins over the declared env
    assert environment["RUNPOD_POD_ID"] == environment["RUNPOD_ENDPOINT_ID"] == "preview-worker"
    assert "FLASH_ENDPOINT_TYPE" not in environment  # a queue endpoint
    assert environment["MODEL"] == "tiny"
    assert environment["PYTHONPATH"] == os.pathsep.join(
        (str(tmp_path / "app"), str(tmp_path / "site")))
    assert environment["RUNPOD_ENDPOINT_BASE_URL"] == "http://127.0.0.1:5000/v2"
    assert environment["NO_PROXY"] == "internal.example,127.0.0.1,localhost"
    assert (environment["PATH"], environment["RUNPOD_API_KEY"]) == ("/usr/bin", "key")
    for dropped in ("VIRTUAL_ENV", "FLASH_IS_LIVE_PROVISIONING", "RUNPOD_AI_API_KEY"):
        assert dropped not in environment


# --- cross-endpoint calls -------------------------------------------------------------


class _EchoTarget(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        payload = json.dumps({"path": self.path, "received": json.loads(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_router_forwards_sentinel_calls_to_the_named_endpoint():
    target = ThreadingHTTPServer((HOST, 0), _EchoTarget)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    router = CallRouter({"greeter": f"http://{HOST}:{target.server_address[1]}"})
    router.start()
    try:
        def call(path: str, endpoint: str) -> tuple[int, dict]:
            request = urllib.request.Request(
                router.base_url + path, data=b'{"input": {"name": "Ada"}}', method="POST",
                headers={"Content-Type": "application/json", "X-Flash-Endpoint": endpoint})
            try:
                with _NO_PROXY.open(request, timeout=10) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        assert call("/flash/runsync", "greeter") == (
            200, {"path": "/runsync", "received": {"input": {"name": "Ada"}}})
        status, answer = call("/flash/runsync", "api")
        assert status == 404 and "queue endpoints: greeter" in answer["error"]
        assert call("/elsewhere", "greeter")[0] == 404
    finally:
        router.stop()
        target.shutdown()
        target.server_close()


# --- build and runtime --------------------------------------------------------------


def test_preview_builds_for_the_host_python_beside_the_deployable_artifact(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.flash]\npython-version = "3.13"\n')
    config = preview_build_config(tmp_path, environ={}, no_deps=True)
    assert config.python_version == HOST_PYTHON
    assert config.output == tmp_path.resolve() / ".flash" / "preview" / "artifact.tar.gz"


def test_runtime_is_the_flash_runtime_plus_image_packages_on_request():
    images = wheelhouse_images({"gpu": {"provides": ["torch==2.5.1", "numpy", "runpod==1.9.0"]}})
    # runpod-flash keeps the profile's version: the replaced list does not name it.
    assert runtime_packages(MANIFEST, images) == (
        "fastapi", "runpod==1.9.0", "runpod-flash==1.19.0", "uvicorn")
    assert runtime_packages(MANIFEST, images, with_image_packages=True) == (
        "fastapi", "numpy", "runpod==1.9.0", "runpod-flash==1.19.0", "torch==2.5.1", "uvicorn")
    cpu_only = {"resources": {"api": MANIFEST["resources"]["api"]}}
    assert "torch" not in runtime_packages(cpu_only, wheelhouse_images(), with_image_packages=True)


def test_runtime_key_depends_on_packages_and_index():
    base = runtime_key(("runpod",), IndexOptions())
    assert base == runtime_key(("runpod",), IndexOptions())
    assert base != runtime_key(("runpod", "torch"), IndexOptions())
    assert base != runtime_key(("runpod",), IndexOptions(index_url="https://mirror/simple"))


def test_a_cached_runtime_is_used_without_running_uv(tmp_path, monkeypatch):
    packages = ("fastapi", "runpod")
    root = tmp_path / "cache" / "preview" / runtime_key(packages, IndexOptions())
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "site-packages").mkdir(parents=True)
    (root / "bin" / "python").symlink_to(sys.executable)
    (root / "preview-runtime.json").write_text(json.dumps({
        "format": 1, "python": "bin/python", "site_packages": "lib/site-packages",
        "packages": list(packages)}))

    def no_commands(*_args, **_kwargs):
        raise AssertionError("uv must not run for a cached runtime")

    monkeypatch.setattr("flashbuild.preview.runtime.run_command", no_commands)
    runtime = ensure_runtime(packages, cache_root=tmp_path / "cache")
    assert (runtime.root, runtime.from_cache) == (root, True)
    assert runtime.python == root / "bin" / "python"


# --- the endpoint table -------------------------------------------------------------


def test_table_lists_name_kind_url_and_what_to_call(tmp_path):
    session = Preview(artifact=tmp_path / "a.tar.gz", runtime=None, log_dir=tmp_path / "logs")
    session.manifest = MANIFEST
    session.endpoints = tuple(
        RunningEndpoint(service=service, pid=1, log=tmp_path / "logs" / f"{service.name}.log")
        for service in plan_services(MANIFEST, 8000, is_free=_always_free)
    )
    lines = preview_text(session).splitlines()
    assert lines[0] == f"Serving shop (2 endpoints, Python {HOST_PYTHON}); Ctrl-C stops."
    assert lines[1:4] == [
        "  endpoint  kind           URL                    call",
        "  api       load-balanced  http://127.0.0.1:8000  GET /items/{item_id}, POST /orders",
        "  worker    queue          http://127.0.0.1:8001  POST /runsync, POST /run",
    ]
