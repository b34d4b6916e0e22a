"""The endpoints of a preview: their ports, commands and environments, as on a worker.

Each endpoint runs :mod:`flashbuild.preview.worker_boot` with the preview
runtime's Python, which loads its handler file the way the worker image does
(by path, as ``handler_<name>`` for a queue endpoint, served by runpod's local
API server: ``POST /run``, ``POST /runsync``, API docs at ``/``; as
``user_main`` for a load-balanced one, whose ``app`` uvicorn serves with
``GET /ping``), with the image's own modules stood in.

Each process runs in the unpacked app with ``PYTHONPATH=<app>:<runtime
site-packages>``, the endpoint's declared ``env``, and the variables the SDK
sets on a worker: ``FLASH_RESOURCE_NAME=<endpoint>``, ``FLASH_APP=<project>``,
``FLASH_ENV=preview``, ``FLASH_ENDPOINT_TYPE=lb`` for load-balanced endpoints,
and ``RUNPOD_ENDPOINT_ID``/``RUNPOD_POD_ID`` (marking a worker: runpod-flash
runs a decorated function in place when its resource name equals
``FLASH_RESOURCE_NAME``, and sends calls of other endpoints' functions to
``RUNPOD_ENDPOINT_BASE_URL``, here the preview's router).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

HOST = "127.0.0.1"  # endpoints are never exposed beyond this machine
DEFAULT_PORT = 8000
PREVIEW_ENV = "preview"


@dataclass(frozen=True, kw_only=True)
class EndpointService:
    """One endpoint of the artifact and where the preview serves it."""

    name: str
    kind: str  # "queue" or "load-balanced"
    handler_file: str
    port: int
    env: tuple[tuple[str, str], ...] = ()  # the endpoint's declared env
    routes: tuple[str, ...] = ()  # "GET /items/{item_id}", load-balanced only

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def load_balanced(self) -> bool:
        return self.kind == "load-balanced"


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on ``port`` (probed as uvicorn binds: SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def allocate_ports(count: int, first_port: int, *,
                   is_free: Callable[[int], bool] = port_is_free) -> tuple[int, ...]:
    """``count`` free ports from ``first_port`` upward, skipping busy ones."""
    ports: list[int] = []
    port = first_port
    while len(ports) < count:
        if port > 65535:
            raise UsageError(f"no {count} free ports from {first_port} upward.",
                             hint="Pass a lower --port, or stop what uses those ports.")
        if is_free(port):
            ports.append(port)
        port += 1
    return tuple(ports)


def plan_services(manifest: Mapping[str, Any], first_port: int, *,
                  is_free: Callable[[int], bool] = port_is_free) -> tuple[EndpointService, ...]:
    """One service per endpoint of the manifest, by name, on consecutive free ports."""
    names = sorted(manifest["resources"])
    ports = allocate_ports(len(names), first_port, is_free=is_free)
    services = []
    for name, port in zip(names, ports, strict=True):
        resource = manifest["resources"][name]
        load_balanced = bool(resource.get("is_load_balanced"))
        services.append(EndpointService(
            name=name,
            kind="load-balanced" if load_balanced else "queue",
            handler_file=resource.get("handler_file") or f"handler_{name}.py",
            port=port,
            env=tuple(sorted((resource.get("env") or {}).items())),
            routes=tuple(manifest.get("routes", {}).get(name, {})) if load_balanced else (),
        ))
    return tuple(services)


WORKER_BOOT = Path(__file__).resolve().parent / "worker_boot.py"


def service_command(service: EndpointService, python: Path, app_dir: Path,
                    image_modules: tuple[str, ...] = ()) -> tuple[str, ...]:
    """How the worker image starts the endpoint, bound to this machine only."""
    mode = "lb" if service.load_balanced else "queue"
    return (str(python), str(WORKER_BOOT), mode, str(app_dir), service.handler_file, HOST,
            str(service.port), *image_modules)


def _inherited(name: str) -> bool:
    """Host variables kept: not our own, not Python path settings, no worker wiring."""
    if name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") or name.startswith("FLASH_"):
        return False
    return not name.startswith("RUNPOD_") or name == "RUNPOD_API_KEY"


def service_environment(
    service: EndpointService, *, base: Mapping[str, str], app_dir: Path,
    site_packages: Path, project_name: str, router_url: str,
) -> dict[str, str]:
    """The process environment of one endpoint, as on its worker."""
    environment = {name: value for name, value in base.items() if _inherited(name)}
    environment.update(service.env)
    environment.update(
        FLASH_RESOURCE_NAME=service.name,
        FLASH_APP=project_name,
        FLASH_ENV=PREVIEW_ENV,
        RUNPOD_ENDPOINT_ID=f"{PREVIEW_ENV}-{service.name}",  # marks a worker: run in place
        RUNPOD_POD_ID=f"{PREVIEW_ENV}-{service.name}",
        RUNPOD_ENDPOINT_BASE_URL=router_url,  # cross-endpoint calls -> the local router
        RUNPOD_URL_MIXED_OK="1",  # the other RunPod URLs stay at their defaults on purpose
        PYTHONPATH=os.pathsep.join((str(app_dir), str(site_packages))),
        PYTHONUNBUFFERED="1",
    )
    if service.load_balanced:
        environment["FLASH_ENDPOINT_TYPE"] = "lb"
    # The SDK's HTTP client honours proxy variables; the router is local.
    for variable in ("NO_PROXY", "no_proxy"):
        kept = environment.get(variable)
        environment[variable] = f"{kept},{HOST},localhost" if kept else f"{HOST},localhost"
    return environment
