"""``flash preview``: run a built artifact locally, one process per endpoint, no Docker.

The artifact is unpacked into ``<temporary dir>/app`` exactly as a worker does
it, and every endpoint gets a process started the way its worker starts it
(:mod:`flashbuild.preview.services`).

Cross-endpoint calls: a function that awaits another queue endpoint's
function goes through the SDK's stub, which posts to RunPod's "sentinel";
the preview points that address (``RUNPOD_ENDPOINT_BASE_URL``) at a local
router (:mod:`flashbuild.preview.router`) that forwards the call to the
target's process. Calls to load-balanced endpoints are not routed (they fail
locally rather than reach RunPod).

The endpoints run on the runtime the base images provide, installed once
into a cached environment (:mod:`flashbuild.preview.runtime`). That
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

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._util.files import safe_extract
from .._util.processes import CommandListener, format_command, start_child
from ..errors import PackagingError, PreviewError
from ..render.manifest import MANIFEST_FILE
from .router import LOCAL_HTTP, CallRouter
from .runtime import RuntimeEnvironment
from .services import (
    DEFAULT_PORT,
    HOST,
    EndpointService,
    plan_services,
    port_is_free,
    service_command,
    service_environment,
)

STARTUP_TIMEOUT = 120.0  # seconds for every endpoint to answer; torch imports are slow
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
_LOG_TAIL_LINES = 20


@dataclass(frozen=True, kw_only=True)
class RunningEndpoint:
    service: EndpointService
    pid: int
    log: Path


def unpack_artifact(artifact: Path, app_dir: Path) -> dict[str, Any]:
    """Extract the artifact into ``app_dir`` and return its manifest."""
    try:
        safe_extract(artifact, app_dir)
        return json.loads((app_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise PackagingError(f"cannot unpack {artifact} for the preview: {exc}",
                             hint="Rebuild it: flash build.") from None


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
        image_modules: tuple[str, ...] = (),
    ) -> None:
        self.artifact, self.runtime, self.log_dir = artifact, runtime, log_dir
        self.image_modules = image_modules  # the worker image's own modules, stood in
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

    def __enter__(self) -> Preview:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
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
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
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
        command = service_command(service, self.runtime.python, app_dir, self.image_modules)
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


def _exit_text(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(process.pid, signum)  # the group id is the leader's pid (own session)


def endpoint_answers(service: EndpointService) -> bool:
    """Load-balanced: ``GET /ping`` is 200. Queue: runpod's API server answers at all."""
    path = "/ping" if service.load_balanced else "/"
    try:
        with LOCAL_HTTP.open(service.url + path, timeout=2) as response:
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
