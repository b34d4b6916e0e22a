"""``flash preview``: builds for preview, the endpoint processes' lifecycle, the command.

Without network the processes run on a stand-in runtime: this interpreter,
the stand-in ``runpod_flash`` of ``tests/support/stubs`` and a small ``runpod``
whose ``serverless.start`` serves ``/runsync`` like the real local API
server. The ``network`` test installs the real runtime from PyPI and drives
``flash preview`` on ``fixtures/preview-app`` as a user would.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from flashbuild._util.processes import start_child
from flashbuild.cli.json_documents import document_schema
from flashbuild.cli.preview import preview
from flashbuild.errors import PreviewError
from flashbuild.pipeline import build
from flashbuild.preview.runtime import RuntimeEnvironment, preview_build_config
from flashbuild.preview.services import HOST
from flashbuild.preview.session import Preview, unpack_artifact

from ..conftest import REPO_ROOT
from ..support.helpers import build_project, hermetic_environ

STUBS = REPO_ROOT / "tests" / "support" / "stubs"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# A stand-in for runpod's local API server (runpod/serverless/__init__.py,
# modules/rp_fastapi.py): the same flags, a page at "/", POST /runsync.
FAKE_RUNPOD = '''
import argparse, asyncio, inspect, json
from http.server import BaseHTTPRequestHandler, HTTPServer


class serverless:
    @staticmethod
    def start(config):
        parser = argparse.ArgumentParser()
        parser.add_argument("--rp_serve_api", action="store_true")
        parser.add_argument("--rp_api_port", type=int, default=8000)
        parser.add_argument("--rp_api_host", default="localhost")
        args = parser.parse_args()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.answer({"docs": True})

            def do_POST(self):
                job = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                output = config["handler"]({"id": "test", "input": job["input"]})
                if inspect.isawaitable(output):
                    output = asyncio.run(output)
                self.answer({"id": "test", "status": "COMPLETED", "output": output})

            def answer(self, document):
                payload = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        HTTPServer((args.rp_api_host, args.rp_api_port), Handler).serve_forever()
'''

PROBE_APP = '''
import os
from runpod_flash import Endpoint


@Endpoint(name="probe", cpu="cpu3c-1-2", env={"GREETING": "hi"})
def probe(echo: str) -> dict:
    import sys

    keys = ("FLASH_RESOURCE_NAME", "FLASH_APP", "FLASH_ENV", "RUNPOD_POD_ID",
            "RUNPOD_ENDPOINT_ID", "GREETING", "PYTHONPATH")
    handler = next(name for name in sys.modules if name.startswith("handler_"))
    main = sys.modules["__main__"].__file__ or ""
    constants = getattr(sys.modules.get("constants"), "__file__", None)
    return {"echo": echo, "cwd": os.getcwd(), "handler_module": handler,
            "main_is_boot": main.endswith("worker_boot.py"), "constants": constants,
            **{key: os.environ.get(key) for key in keys}}
'''


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _post_json(url: str, document: dict, timeout: float = 60) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with _NO_PROXY.open(request, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def _get_json(url: str, timeout: float = 60) -> tuple[int, dict]:
    with _NO_PROXY.open(url, timeout=timeout) as response:
        return response.status, json.loads(response.read())


# --- builds for preview -------------------------------------------------------------


def test_preview_build_keeps_the_deployable_manifest(write_project):
    project = write_project({"probe.py": PROBE_APP})
    config = preview_build_config(project, environ=hermetic_environ(), no_deps=True)
    deployable = project / ".flash" / "flash_manifest.json"
    deployable.parent.mkdir()
    deployable.write_text('{"python_version": "3.12"}')
    build(config)
    assert config.output.is_file()
    assert config.manifest_path == project.resolve() / ".flash" / "preview" / "flash_manifest.json"
    assert config.manifest_path.is_file()
    assert deployable.read_text() == '{"python_version": "3.12"}'


def test_unpacking_gives_the_workers_tree_and_manifest(copy_fixture, tmp_path):
    result = build_project(copy_fixture("preview-app"))
    manifest = unpack_artifact(result.artifact.path, tmp_path / "app")
    assert sorted(manifest["resources"]) == ["adder", "api", "counter", "greeter"]
    for name in ("handler_adder.py", "handler_api.py", "api.py", "flash_manifest.json"):
        assert (tmp_path / "app" / name).is_file()


# --- processes, on a stand-in runtime -----------------------------------------------


@pytest.fixture
def stand_in_runtime(tmp_path) -> RuntimeEnvironment:
    site = tmp_path / "site"
    shutil.copytree(STUBS / "runpod_flash", site / "runpod_flash")
    (site / "runpod").mkdir()
    (site / "runpod" / "__init__.py").write_text(FAKE_RUNPOD)
    return RuntimeEnvironment(root=tmp_path, python=Path(sys.executable), site_packages=site,
                              packages=("runpod",), from_cache=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def test_endpoint_runs_as_on_a_worker_and_stops_with_the_preview(
    write_project, stand_in_runtime, tmp_path
):
    project = write_project({"probe.py": PROBE_APP}, name="probe-app")
    artifact = build_project(project).artifact.path
    session = Preview(artifact=artifact, runtime=stand_in_runtime, log_dir=tmp_path / "logs",
                      first_port=_free_port(), startup_timeout=60, image_modules=("constants",))
    with session:
        (endpoint,) = session.endpoints
        app_dir = session.app_dir
        status, answer = _post_json(endpoint.service.url + "/runsync", {"input": {"echo": "x"}})
        session.check()
    assert status == 200 and answer["status"] == "COMPLETED"
    output = answer["output"]
    assert output["echo"] == "x"
    assert (output["FLASH_RESOURCE_NAME"], output["FLASH_APP"], output["FLASH_ENV"]) == (
        "probe", "probe-app", "preview")
    assert (output["RUNPOD_POD_ID"], output["RUNPOD_ENDPOINT_ID"]) == ("preview-probe",) * 2
    # Loaded by path under its own name, never as __main__; the image's modules stood in.
    assert output["handler_module"] == "handler_probe" and output["main_is_boot"]
    assert output["constants"] == "/app/constants.py"
    assert output["GREETING"] == "hi"
    assert output["cwd"] == str(app_dir)
    assert output["PYTHONPATH"].split(os.pathsep) == [str(app_dir),
                                                      str(stand_in_runtime.site_packages)]
    assert _gone(endpoint.pid)
    assert not app_dir.exists()
    assert (tmp_path / "logs" / "probe.log").is_file()


def test_an_endpoint_that_dies_at_start_up_is_named_with_its_log(
    write_project, stand_in_runtime, tmp_path
):
    project = write_project({
        "probe.py": PROBE_APP,
        "broken.py": 'import not_installed_anywhere\nfrom runpod_flash import Endpoint\n\n\n'
                     '@Endpoint(name="broken", cpu="cpu3c-1-2")\ndef run(x):\n    return x\n',
    })
    artifact = build_project(project).artifact.path
    session = Preview(artifact=artifact, runtime=stand_in_runtime, log_dir=tmp_path / "logs",
                      first_port=_free_port(), startup_timeout=60)
    with pytest.raises(PreviewError) as raised:
        session.start()
    message = str(raised.value)
    assert "endpoint 'broken' (queue) stopped while starting (exit code 1)" in message
    assert "No module named 'not_installed_anywhere'" in message
    assert "--with-image-packages" in raised.value.hint
    assert session.app_dir is None and session.endpoints == ()


def test_serving_ends_with_an_error_when_an_endpoint_dies(
    write_project, stand_in_runtime, tmp_path
):
    project = write_project({"probe.py": PROBE_APP})
    artifact = build_project(project).artifact.path
    with Preview(artifact=artifact, runtime=stand_in_runtime, log_dir=tmp_path / "logs",
                 first_port=_free_port(), startup_timeout=60) as session:
        os.kill(session.endpoints[0].pid, signal.SIGKILL)
        with pytest.raises(PreviewError, match=r"'probe' \(queue\) stopped \(killed by SIGKILL\)"):
            session.serve(poll_interval=0.05)


def test_an_endpoint_that_never_answers_is_stopped_after_the_timeout(
    write_project, stand_in_runtime, tmp_path, monkeypatch
):
    project = write_project({
        "probe.py": PROBE_APP,
        "slow.py": 'import time\nfrom runpod_flash import Endpoint\n\ntime.sleep(600)\n\n\n'
                   '@Endpoint(name="slow", cpu="cpu3c-1-2")\ndef run(x):\n    return x\n',
    })
    artifact = build_project(project).artifact.path
    started_pids = []

    def recording_start_child(*args, **kwargs):
        process = start_child(*args, **kwargs)
        started_pids.append(process.pid)
        return process

    monkeypatch.setattr("flashbuild.preview.session.start_child", recording_start_child)
    announced = []
    session = Preview(artifact=artifact, runtime=stand_in_runtime, log_dir=tmp_path / "logs",
                      first_port=_free_port(), startup_timeout=3, listener=announced.append)
    started = time.monotonic()
    with pytest.raises(PreviewError, match=r"'slow' .* did not answer within 3 s"):
        session.start()
    assert time.monotonic() - started < 30
    assert [command.split()[4] for command in announced] == ["handler_probe.py",
                                                             "handler_slow.py"]
    assert len(started_pids) == 2 and all(_gone(pid) for pid in started_pids)


def test_command_reports_a_bad_project_with_its_exit_code(tmp_path):
    result = CliRunner().invoke(preview, [str(tmp_path / "missing"), "--json"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    jsonschema.validate(document, document_schema("error"))
    assert document["ok"] is False and document["error"]["kind"] == "configuration error"


# --- the command, on the real runtime -------------------------------------------------


def _start_preview(project: Path, port: int, stderr_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "flashbuild", "preview", str(project), "--port", str(port),
               "--json"]
    with open(stderr_path, "wb") as stderr:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)


def _first_line(process: subprocess.Popen, timeout: float, stderr_path: Path) -> dict:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        process.kill()
        pytest.fail(f"no JSON line within {timeout} s:\n{stderr_path.read_text()}")
    assert line, f"flash preview exited early:\n{stderr_path.read_text()}"
    return json.loads(line)


def _stop(process: subprocess.Popen, signum: int) -> int:
    process.send_signal(signum)
    try:
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.network
@pytest.mark.usefixtures("private_uv_cache")
def test_flash_preview_serves_every_endpoint_until_stopped(copy_fixture, tmp_path):
    project = copy_fixture("preview-app")
    stderr_path = tmp_path / "preview.err"
    started = time.monotonic()
    process = _start_preview(project, _free_port(), stderr_path)
    try:
        document = _first_line(process, 600, stderr_path)
        cold_seconds = time.monotonic() - started
        jsonschema.validate(document, document_schema("preview"))
        endpoints = {e["name"]: e for e in document["endpoints"]}
        assert {name: e["kind"] for name, e in endpoints.items()} == {
            "adder": "queue", "api": "load-balanced", "counter": "queue", "greeter": "queue"}
        ports = [e["port"] for e in document["endpoints"]]
        assert ports == sorted(ports) and len(set(ports)) == 4

        def run(name: str, job_input: dict) -> dict:
            status, answer = _post_json(endpoints[name]["url"] + "/runsync", {"input": job_input})
            assert status == 200, answer
            return answer

        assert run("adder", {"a": 2, "b": 3})["output"] == {"sum": 5}
        assert run("greeter", {"name": "Ada"})["output"] == {"greeting": "Hello, Ada!"}
        assert run("counter", {"method": "add", "amount": 2})["output"] == {"total": 2}
        assert run("counter", {"method": "add", "amount": 3})["output"] == {"total": 5}
        assert run("counter", {"method": "reset"})["output"] == {"total": 0}
        failed = run("counter", {"method": "explode"})
        assert failed["status"] == "FAILED" and "add, reset" in failed["error"]

        api = endpoints["api"]["url"]
        assert _get_json(api + "/ping") == (200, {"status": "healthy"})
        assert _get_json(api + "/items/42?detail=long") == (200, {
            "item_id": "42", "detail": "long", "app": "preview-app", "env": "preview"})
        # POST /welcome awaits greeter's function: routed to the local greeter process.
        assert _post_json(api + "/welcome", {"name": "Ada", "excited": True}) == (
            200, {"message": "Hello, Ada!", "via": "greeter"})
    finally:
        code = _stop(process, signal.SIGTERM)
    assert code == 0, stderr_path.read_text()
    assert all(_gone(e["pid"]) for e in document["endpoints"])
    assert not Path(document["app_dir"]).exists()
    assert "Stopped every endpoint." in stderr_path.read_text()

    # Again, unchanged: the runtime comes from the cache; Ctrl-C stops it too.
    started = time.monotonic()
    process = _start_preview(project, _free_port(), stderr_path)
    try:
        again = _first_line(process, 300, stderr_path)
        warm_seconds = time.monotonic() - started
        assert again["runtime"]["from_cache"] is True
        assert _post_json(again["endpoints"][0]["url"] + "/runsync",
                          {"input": {"a": 1, "b": 1}})[1]["output"] == {"sum": 2}
    finally:
        code = _stop(process, signal.SIGINT)
    assert code == 0, stderr_path.read_text()
    assert all(_gone(e["pid"]) for e in again["endpoints"])
    sys.stdout.write(
        f"flash preview ready after {cold_seconds:.1f} s cold, {warm_seconds:.1f} s warm\n"
    )
