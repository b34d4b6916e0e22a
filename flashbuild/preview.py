"""``flash preview``: run a built artifact locally, one process per endpoint, no Docker.

The artifact is unpacked into ``<temporary dir>/app`` exactly as a worker does
it, and every endpoint gets a process started the way its worker starts it:

* queue endpoints: ``python handler_<name>.py --rp_serve_api`` — the real
  ``runpod`` package serves the handler with its local API server
  (``POST /run``, ``POST /runsync``; API docs at ``/``);
* load-balanced endpoints: ``python -m uvicorn handler_<name>:app`` (routes
  plus ``GET /ping``).

Each process runs in ``<tmp>/app`` with ``PYTHONPATH=<tmp>/app:<runtime
site-packages>``, the endpoint's declared ``env``, and the variables of a
worker: ``FLASH_RESOURCE_NAME=<endpoint>``, ``FLASH_APP=<project>``,
``FLASH_ENV=preview`` and ``RUNPOD_POD_ID``. runpod-flash (1.21) runs a
decorated function in place only when ``RUNPOD_POD_ID`` or
``RUNPOD_ENDPOINT_ID`` is set and the resource name equals
``FLASH_RESOURCE_NAME``; otherwise the decorator returns a stub that calls
RunPod. ``RUNPOD_ENDPOINT_ID`` is left unset, so that ``runpod`` logs plain
text and the SDK's production code paths that talk to RunPod stay off.

Cross-endpoint calls: a function that awaits another queue endpoint's
function goes through the SDK's stub, which posts to RunPod's "sentinel";
the preview points that address (``RUNPOD_ENDPOINT_BASE_URL``) at a local
router (:mod:`flashbuild.preview_router`) that forwards the call to the
target's process. Calls to load-balanced endpoints are not routed (they fail
locally rather than reach RunPod).

The endpoints run on the runtime the base images provide, installed once
into a cached environment (:mod:`flashbuild.preview_runtime`). That
environment is made for *this* host's interpreter, so the app is built for
the host's Python version rather than the workers' target, and compiled
wheels match it. Those wheels are manylinux x86_64: an app with compiled
dependencies previews on Linux x86_64 only.

Every process runs in its own process group; :meth:`Preview.stop`, also run
when start-up fails, terminates each group, kills what is left after a grace
period and removes the temporary directory. Logs are kept in
``.flash/preview/<endpoint>.log``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import PackagingError, PreviewError, UsageError
from .preview_router import CallRouter
from .preview_runtime import RuntimeEnvironment
from .runner import CommandListener, format_command

HOST = "127.0.0.1"  # endpoints are never exposed beyond this machine
DEFAULT_PORT = 8000
STARTUP_TIMEOUT = 120.0  # seconds for every endpoint to answer; torch imports are slow
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
PREVIEW_ENV = "preview"
_LOG_TAIL_LINES = 20


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


@dataclass(frozen=True, kw_only=True)
class RunningEndpoint:
    service: EndpointService
    pid: int
    log: Path


# --- endpoints, ports, environment, commands ------------------------------------


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


def plan_services(manifest: Mapping, first_port: int, *,
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


def service_command(service: EndpointService, python: Path) -> tuple[str, ...]:
    """How the worker image starts the endpoint, bound to this machine only."""
    if service.load_balanced:
        module = service.handler_file.removesuffix(".py")
        return (str(python), "-m", "uvicorn", f"{module}:app",
                "--host", HOST, "--port", str(service.port))
    return (str(python), service.handler_file, "--rp_serve_api",
            "--rp_api_port", str(service.port), "--rp_api_host", HOST)


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
        RUNPOD_POD_ID=f"{PREVIEW_ENV}-{service.name}",  # marks a worker: run in place
        RUNPOD_ENDPOINT_BASE_URL=router_url,  # cross-endpoint calls -> the local router
        RUNPOD_URL_MIXED_OK="1",  # the other RunPod URLs stay at their defaults on purpose
        PYTHONPATH=os.pathsep.join((str(app_dir), str(site_packages))),
        PYTHONUNBUFFERED="1",
    )
    # The SDK's HTTP client honours proxy variables; the router is local.
    for variable in ("NO_PROXY", "no_proxy"):
        kept = environment.get(variable)
        environment[variable] = f"{kept},{HOST},localhost" if kept else f"{HOST},localhost"
    return environment


def unpack_artifact(artifact: Path, app_dir: Path) -> dict:
    """Extract the artifact into ``app_dir`` and return its manifest."""
    try:
        app_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(artifact, "r:*") as archive:
            if hasattr(tarfile, "data_filter"):  # no links or paths out of app_dir
                archive.extractall(app_dir, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                archive.extractall(app_dir)
        return json.loads((app_dir / "flash_manifest.json").read_text(encoding="utf-8"))
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise PackagingError(f"cannot unpack {artifact} for the preview: {exc}",
                             hint="Rebuild it: flash build.") from None


# --- processes ------------------------------------------------------------------


class Preview:
    """The running endpoints of one artifact; as a context manager it always cleans up.

    :meth:`start` unpacks the artifact into a fresh temporary directory,
    starts the call router and one process per endpoint, and waits until
    every endpoint answers. :meth:`stop` ends them all.
    """

    def __init__(
        self, *, artifact: Path, runtime: RuntimeEnvironment, log_dir: Path,
        first_port: int = DEFAULT_PORT, environ: Mapping[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        is_free: Callable[[int], bool] = port_is_free,
        listener: CommandListener | None = None,
    ) -> None:
        self.artifact, self.runtime, self.log_dir = artifact, runtime, log_dir
        self.first_port, self.startup_timeout, self.is_free = first_port, startup_timeout, is_free
        self.environ = dict(os.environ if environ is None else environ)
        self.listener = listener
        self.manifest: dict = {}
        self.endpoints: tuple[RunningEndpoint, ...] = ()
        self._processes: list[tuple[RunningEndpoint, subprocess.Popen]] = []
        self._router: CallRouter | None = None
        self._workdir: Path | None = None

    @property
    def app_dir(self) -> Path | None:
        """Where the artifact is unpacked while the preview runs."""
        return None if self._workdir is None else self._workdir / "app"

    def __enter__(self) -> "Preview":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> tuple[RunningEndpoint, ...]:
        """Start every endpoint and wait until each answers; on any failure stop all."""
        try:
            self._workdir = Path(tempfile.mkdtemp(prefix="flash-preview-"))
            app_dir = self._workdir / "app"
            self.manifest = unpack_artifact(self.artifact, app_dir)
            services = plan_services(self.manifest, self.first_port, is_free=self.is_free)
            self._router = CallRouter(
                {s.name: s.url for s in services if not s.load_balanced}, host=HOST
            )
            self._router.start()
            self.log_dir.mkdir(parents=True, exist_ok=True)
            for service in services:
                self._launch(service, app_dir)
            self._wait_until_ready()
        except BaseException:  # also Ctrl-C and SIGTERM during start-up
            self.stop()
            raise
        self.endpoints = tuple(endpoint for endpoint, _ in self._processes)
        return self.endpoints

    def check(self) -> None:
        """Raise :class:`PreviewError` if an endpoint's process has stopped."""
        for endpoint, process in self._processes:
            if process.poll() is not None:
                raise self._failure(endpoint, f"stopped ({_exit_text(process.returncode)})")

    def serve(self, poll_interval: float = 0.5) -> None:
        """Block while every endpoint runs; return only by an exception (signals, a crash)."""
        while True:
            self.check()
            time.sleep(poll_interval)

    def stop(self) -> None:
        """Terminate every process group, kill what is left after a grace period, clean up."""
        processes, self._processes = self._processes, []
        for _, process in processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for _, process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for _, process in processes:
            _signal_group(process, signal.SIGKILL)  # stragglers, and what a leader left behind
            process.wait()
        if self._router is not None:
            self._router.stop()
            self._router = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _launch(self, service: EndpointService, app_dir: Path) -> None:
        assert self._router is not None
        command = service_command(service, self.runtime.python)
        environment = service_environment(
            service, base=self.environ, app_dir=app_dir,
            site_packages=self.runtime.site_packages,
            project_name=self.manifest.get("project_name", app_dir.name),
            router_url=self._router.base_url,
        )
        log = self.log_dir / f"{service.name}.log"
        if self.listener is not None:
            self.listener(format_command(command))
        try:
            process = start_child(command, cwd=app_dir, env=environment, log=log)
        except OSError as exc:
            raise PreviewError(f"cannot start endpoint {service.name!r}: {exc}") from None
        endpoint = RunningEndpoint(service=service, pid=process.pid, log=log)
        self._processes.append((endpoint, process))

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        waiting = list(self._processes)
        while waiting:
            for entry in list(waiting):
                endpoint, process = entry
                if process.poll() is not None:
                    raise self._failure(
                        endpoint, f"stopped while starting ({_exit_text(process.returncode)})"
                    )
                if endpoint_answers(endpoint.service):
                    waiting.remove(entry)
            if waiting and time.monotonic() > deadline:
                raise self._failure(
                    waiting[0][0], f"did not answer within {self.startup_timeout:.0f} s"
                )
            if waiting:
                time.sleep(0.1)

    def _failure(self, endpoint: RunningEndpoint, what: str) -> PreviewError:
        tail = log_tail(endpoint.log)
        hint = f"The full log is {endpoint.log}."
        if "ModuleNotFoundError" in tail:
            hint = ("Declare the missing package in the endpoint's dependencies, or pass "
                    "--with-image-packages if the base image provides it. " + hint)
        shown = "\n".join(f"  | {line}" for line in tail.splitlines()) or "  | (empty)"
        return PreviewError(
            f"endpoint {endpoint.service.name!r} ({endpoint.service.kind}) {what}; "
            f"its log ends with:\n{shown}",
            hint=hint,
        )


def start_child(command: tuple[str, ...], *, cwd: Path, env: Mapping[str, str],
                log: Path) -> subprocess.Popen:
    """The one place flash preview starts processes: endpoint servers, output to ``log``.

    They run until stopped, so they cannot go through
    :func:`~flashbuild.runner.run_command`. Each gets a session (and process
    group) of its own: :meth:`Preview.stop` signals the group, reaching
    whatever the server started, and a Ctrl-C in the terminal reaches only
    flash preview, which then stops the endpoints in order.
    """
    with open(log, "wb") as output:
        return subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _exit_text(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)  # the group id is the leader's pid (own session)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def endpoint_answers(service: EndpointService) -> bool:
    """Load-balanced: ``GET /ping`` is 200. Queue: runpod's API server answers at all."""
    path = "/ping" if service.load_balanced else "/"
    try:
        with _LOCAL.open(service.url + path, timeout=2) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return not service.load_balanced
    except (urllib.error.URLError, OSError):
        return False


def log_tail(log: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
