"""The generated handlers honour the worker contract, proven by running them.

Each test builds an app, extracts its artifact and loads one handler in a fresh
Python process the way a worker does: the extracted root first on
``sys.path`` (then the stand-in ``runpod_flash`` of ``tests/support/stubs``),
the root as working directory, the handler file loaded by its path with the
functions ``flash preview`` boots endpoints with
(:mod:`flashbuild.preview.worker_boot`). The process prints JSON that the test
compares with exact values, so module state never leaks from one test into
another.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ..conftest import REPO_ROOT
from ..support.helpers import build_project

STUBS = REPO_ROOT / "tests" / "support" / "stubs"

# Runs jobs as the worker image and runpod do: the handler file loaded by path as
# handler_<name>, its handler wrapped so that awaitables are awaited (the worker's
# handler.py), and an exception reported by its type and message as the job's error
# (runpod/serverless/modules/rp_job.py, run_job).
QUEUE_WORKER = """
import asyncio, inspect, json, os, sys
from flashbuild.preview.worker_boot import load_by_path, queue_handler

name = "handler_" + os.environ["FLASH_RESOURCE_NAME"]
module = load_by_path(name, os.path.join(os.getcwd(), name + ".py"))
handler = queue_handler(module)  # as the worker wraps it: awaitables awaited

async def run_job(job):
    try:
        output = await handler(job)
    except Exception as exc:
        return {"error_type": type(exc).__name__, "error_message": str(exc)}
    return {"output": output}

async def run_jobs(jobs):
    return [await run_job(job) for job in jobs]

results = asyncio.run(run_jobs(json.load(sys.stdin)))
coroutine = inspect.iscoroutinefunction(module.handler)
print(json.dumps({"coroutine_handler": coroutine, "results": results}))
"""

# Sends [method, url, raw body or None] requests to the handler's ASGI app, loaded as the
# worker's lb_handler loads it (as user_main; `app` checked; GET /ping added if missing).
HTTP_WORKER = """
import json, os, sys
from fastapi.testclient import TestClient
from flashbuild.preview.worker_boot import load_balanced_app, load_by_path

path = os.path.join(os.getcwd(), "handler_" + os.environ["FLASH_RESOURCE_NAME"] + ".py")
app = load_balanced_app(load_by_path("user_main", path))  # as the worker's lb_handler
client = TestClient(app, raise_server_exceptions=False)
results = []
for method, url, body in json.load(sys.stdin):
    headers = {} if body is None else {"content-type": "application/json"}
    response = client.request(method, url, content=body, headers=headers)
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    results.append([response.status_code, payload])
routes = sorted([m, r.path] for r in app.routes for m in getattr(r, "methods", None) or ())
print(json.dumps({"routes": routes, "results": results}))
"""

# Endpoints whose behaviour shows the contract from the outside: a counter
# class, functions that raise, and a route that could shadow GET /ping.
CONTRACT_APP = {
    "contract.py": '''\
from runpod_flash import Endpoint

@Endpoint(name="counter", cpu="cpu3c-1-2")
class Counter:
    instances = 0

    def __init__(self):
        Counter.instances += 1
        self.total = 0

    def add(self, amount):
        self.total += amount
        return {"total": self.total, "instances": Counter.instances}

@Endpoint(name="failing", cpu="cpu3c-1-2")
def look_up(key):
    if key == "missing":
        raise LookupError("no such key: " + key)
    return {"key": key}

@Endpoint(name="failing-async", cpu="cpu3c-1-2")
async def look_up_later(key):
    raise LookupError("not yet: " + key)

api = Endpoint(name="catch-all", cpu="cpu3c-1-2")

@api.get("/{name}")
def greet(name):
    return {"hello": name}
''',
}


def extract(archive_path: Path, destination: Path) -> Path:
    with tarfile.open(archive_path, "r:gz") as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(destination, filter="data")
        else:  # Python without extraction filters; the archive is our own
            archive.extractall(destination)
    return destination


@pytest.fixture
def worker_root(tmp_path):
    """Build a project with --no-deps and return the extracted artifact (the worker's /app)."""

    def build_and_extract(project: Path) -> Path:
        artifact = build_project(project).artifact.path
        return extract(artifact, tmp_path / "app" / project.name)

    return build_and_extract


def run_python(root: Path, endpoint: str, args: list[str], stdin: str = "", extra_path=()) -> str:
    """Run Python in a fresh process set up like a worker serving ``endpoint``."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "FLASH_RESOURCE_NAME": endpoint,
           "FLASH_APP": "test-app", "FLASH_ENV": "test", "RUNPOD_ENDPOINT_ID": "test-endpoint",
           "PYTHONPATH": os.pathsep.join([*map(str, extra_path), str(root), str(STUBS)])}
    completed = subprocess.run(
        [sys.executable, *args], cwd=root, env=env, input=stdin,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    return lines[-1] if lines else ""


def run_jobs(root: Path, endpoint: str, jobs: list) -> dict:
    return json.loads(run_python(root, endpoint, ["-c", QUEUE_WORKER], json.dumps(jobs)))


def send_requests(root: Path, endpoint: str, requests: list) -> dict:
    return json.loads(run_python(root, endpoint, ["-c", HTTP_WORKER], json.dumps(requests)))


def job(arguments, job_id: str = "job-1") -> dict:
    return {"id": job_id, "input": arguments}


def error(kind: str, message: str) -> dict:
    """A failed job as the worker reports it."""
    return {"error_type": kind, "error_message": message}


# --- queue functions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "arguments", "expected", "is_coroutine"),
    [
        ("alias-ep", {"x": 41}, 42, False),
        ("module-alias", {"x": 21}, 42, True),
        ("legacy-cpu", {"width": 640, "height": 480}, {"size": [640, 480]}, False),
        ("legacy-gpu", {"prompt": "a cat"}, {"prompt": "a cat"}, True),
        ("constants", {"payload": {"k": [1, 2]}}, {"k": [1, 2]}, False),
        ("package-init", {"items": [1, 2, 3]}, 3, False),
    ],
)
def test_queue_function_handler_returns_the_function_result(
    copy_fixture, worker_root, endpoint, arguments, expected, is_coroutine
):
    """job["input"] becomes keyword arguments; async functions get a coroutine handler."""
    root = worker_root(copy_fixture("forms-app"))
    assert run_jobs(root, endpoint, [job(arguments)]) == {
        "coroutine_handler": is_coroutine,
        "results": [{"output": expected}],
    }


def test_missing_or_empty_input_calls_a_function_without_arguments(copy_fixture, worker_root):
    root = worker_root(copy_fixture("forms-app"))
    report = run_jobs(root, "tuples", [job(None), job({}), {"id": "no-input"}])
    assert report["results"] == [{"output": None}] * 3


def test_bad_arguments_are_raised_for_the_worker_to_report(copy_fixture, worker_root):
    """A queue endpoint has one function: naming another one is just an unexpected argument."""
    root = worker_root(copy_fixture("forms-app"))
    jobs = [job({"y": 1}), job({}), job({"function_name": "module_alias_function", "x": 1}),
            job([1, 2]), job({"x": 1})]
    assert run_jobs(root, "alias-ep", jobs)["results"] == [
        error("TypeError", "alias_function() got an unexpected keyword argument 'y'"),
        error("TypeError", "alias_function() missing 1 required positional argument: 'x'"),
        error("TypeError", "alias_function() got an unexpected keyword argument 'function_name'"),
        error("TypeError", "job input must be a JSON object of keyword arguments, got list"),
        {"output": 2},  # the worker keeps serving after a failed job
    ]


@pytest.mark.parametrize(
    ("endpoint", "error_message", "is_coroutine"),
    [("failing", "no such key: missing", False), ("failing-async", "not yet: missing", True)],
)
def test_exception_from_user_code_reaches_the_worker_unchanged(
    write_project, worker_root, endpoint, error_message, is_coroutine
):
    root = worker_root(write_project(CONTRACT_APP, name="contract-app"))
    report = run_jobs(root, endpoint, [job({"key": "missing"}), job({"key": "a"})])
    assert report["coroutine_handler"] is is_coroutine
    assert report["results"][0] == error("LookupError", error_message)
    if endpoint == "failing":
        assert report["results"][1] == {"output": {"key": "a"}}


def test_example_app_handlers_load_without_the_endpoints_dependencies(copy_fixture, worker_root):
    """pandas and transformers are imported inside the functions, so loading needs neither."""
    root = worker_root(copy_fixture("example-app"))
    missing = "() missing 1 required positional argument: 'texts'"
    assert run_jobs(root, "cpu-worker", [job({})]) == {
        "coroutine_handler": False, "results": [error("TypeError", "clean" + missing)]}
    assert run_jobs(root, "gpu-worker", [job({})]) == {
        "coroutine_handler": True, "results": [error("TypeError", "classify" + missing)]}


# --- queue classes -------------------------------------------------------------------


def test_class_handler_dispatches_on_the_method_name(copy_fixture, worker_root):
    root = worker_root(copy_fixture("forms-app"))
    jobs = [job({"method": "embed", "text": "abcd"}),
            job({"method": "embed_many", "texts": ["a", "bc"]})]  # an async method
    assert run_jobs(root, "embedder", jobs) == {
        "coroutine_handler": False,
        "results": [{"output": [4.0]}, {"output": [[1.0], [2.0]]}],
    }


def test_class_handler_rejects_private_unknown_and_missing_methods(copy_fixture, worker_root):
    root = worker_root(copy_fixture("forms-app"))
    expected = 'job input must name a method of Embedder in "method": one of embed, embed_many'
    jobs = [job({"method": "_private"}), job({"method": "__init__"}), job({"method": "nope"}),
            job({"text": "two methods, none named"}), job(["embed"])]
    assert run_jobs(root, "embedder", jobs)["results"] == [
        error("ValueError", expected + " (got '_private')"),
        error("ValueError", expected + " (got '__init__')"),
        error("ValueError", expected + " (got 'nope')"),
        error("ValueError", expected),
        error("TypeError", "job input must be a JSON object, got list"),
    ]


def test_class_is_instantiated_once_and_keeps_its_state_between_jobs(write_project, worker_root):
    """A single public method may be called without naming it."""
    root = worker_root(write_project(CONTRACT_APP, name="contract-app"))
    jobs = [job({"amount": 2}, "job-1"), job({"method": "add", "amount": 3}, "job-2")]
    assert run_jobs(root, "counter", jobs)["results"] == [
        {"output": {"total": 2, "instances": 1}},
        {"output": {"total": 5, "instances": 1}},
    ]


@pytest.mark.parametrize(
    ("endpoint", "arguments", "expected"),
    [("alias-ep", {"x": 1}, 2), ("embedder", {"method": "embed", "text": "ab"}, [2.0])],
)
def test_the_worker_boot_serves_the_wrapped_handler_with_runpod(
    copy_fixture, worker_root, tmp_path, endpoint, arguments, expected
):
    # A stand-in runpod package records what the boot passes to serverless.start.
    fake_runpod = tmp_path / "fake-runpod"
    fake_runpod.mkdir()
    (fake_runpod / "runpod.py").write_text(
        "import asyncio, inspect, json, sys, types\n\n"
        "def start(config):\n"
        "    output = config['handler'](json.load(sys.stdin))\n"
        "    if inspect.isawaitable(output):\n"
        "        output = asyncio.run(output)\n"
        "    document = {'keys': sorted(config), 'argv': sys.argv[1:], 'output': output}\n"
        "    print(json.dumps(document))\n\n"
        "serverless = types.SimpleNamespace(start=start)\n"
    )
    root = worker_root(copy_fixture("forms-app"))
    boot = ("import sys; from flashbuild.preview.worker_boot import main; "
            f"main(['queue', {str(root)!r}, 'handler_{endpoint}.py', '127.0.0.1', '8123'])")
    line = run_python(root, endpoint, ["-c", boot], json.dumps(job(arguments)),
                      extra_path=[fake_runpod])
    assert json.loads(line) == {
        "keys": ["handler"], "output": expected,
        "argv": ["--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", "8123"]}
    # Run as a script, as the images never do, the handler file starts nothing.
    assert run_python(root, endpoint, [f"handler_{endpoint}.py"], extra_path=[fake_runpod]) == ""


# --- load-balanced endpoints ------------------------------------------------------


def body(value) -> str:
    return json.dumps(value)


def test_load_balanced_app_has_exactly_the_declared_routes_plus_ping(copy_fixture, worker_root):
    root = worker_root(copy_fixture("forms-app"))
    report = send_requests(root, "routes", [["GET", "/ping", None]])
    assert report["routes"] == [
        ["DELETE", "/items/{item_id}"], ["GET", "/items/{item_id}"], ["GET", "/ping"],
        ["PATCH", "/items/{item_id}"], ["POST", "/items"], ["PUT", "/items/{item_id}"],
    ]
    assert report["results"] == [[200, {"status": "healthy"}]]


def test_each_declared_route_answers_with_its_method(copy_fixture, worker_root):
    """Path and GET query parameters, or the JSON body, become keyword arguments."""
    root = worker_root(copy_fixture("forms-app"))
    requests = [
        ["GET", "/items/a1?verbose=yes", None],
        ["GET", "/items/a1", None],
        ["POST", "/items", body({"name": "box", "size": 3})],
        ["POST", "/items", body({"name": "box"})],
        ["PUT", "/items/a1", body({"name": "crate"})],
        ["DELETE", "/items/a1", None],
        ["PATCH", "/items/a1", body({"size": 9})],
    ]
    assert send_requests(root, "routes", requests)["results"] == [
        [200, {"item_id": "a1", "verbose": "yes"}],
        [200, {"item_id": "a1", "verbose": "no"}],
        [200, {"name": "box", "size": 3}],
        [200, {"name": "box", "size": 1}],
        [200, {"item_id": "a1", "name": "crate"}],
        [200, {"deleted": "a1"}],
        [200, {"item_id": "a1", "size": 9}],
    ]


def test_undeclared_routes_methods_docs_and_code_execution_are_refused(copy_fixture, worker_root):
    root = worker_root(copy_fixture("forms-app"))
    requests = [
        ["GET", "/items", None], ["DELETE", "/items", None], ["POST", "/items/a1", body({})],
        ["POST", "/ping", None], ["GET", "/nothing", None],
        ["POST", "/execute", body({"function_code": "import os"})], ["GET", "/execute", None],
        ["GET", "/docs", None], ["GET", "/redoc", None], ["GET", "/openapi.json", None],
        ["GET", "/docs/oauth2-redirect", None],
    ]
    statuses = [status for status, _ in send_requests(root, "routes", requests)["results"]]
    assert statuses == [405, 405, 405, 405, 404, 404, 404, 404, 404, 404, 404]


def test_bad_input_gives_client_errors_not_server_errors(copy_fixture, worker_root):
    root = worker_root(copy_fixture("forms-app"))
    requests = [
        ["POST", "/items", body({})],
        ["POST", "/items", body({"name": "box", "colour": "red"})],
        ["GET", "/items/a1?colour=red", None],
        ["PUT", "/items/a1", None],
        ["POST", "/items", body(["box"])],
        ["POST", "/items", body("box")],
        ["POST", "/items", '{"name": '],
        ["POST", "/items", '{"name": NaN}'],
        ["POST", "/items", '{"name": "box", "size": 1e400}'],
        ["POST", "/items", "[" * 50_000],
    ]
    results = send_requests(root, "routes", requests)["results"]
    assert [status for status, _ in results] == [422, 422, 422, 422, 422, 422, 400, 400, 400, 400]
    assert results[0][1] == {"detail": "missing a required argument: 'name'"}
    assert results[1][1] == {"detail": "got an unexpected keyword argument 'colour'"}
    assert results[4][1] == {"detail": "request body must be a JSON object"}
    assert results[6][1] == {"detail": "request body is not valid JSON"}


def test_legacy_remote_routes_are_served(copy_fixture, worker_root):
    root = worker_root(copy_fixture("forms-app"))
    requests = [["POST", "/generate", body({"prompt": "a cat"})], ["GET", "/status", None]]
    assert send_requests(root, "legacy-lb", requests)["results"] == [
        [200, {"prompt": "a cat"}], [200, {"ok": True}]]
    requests = [["DELETE", "/items/x7", None], ["GET", "/items/x7", None]]
    assert send_requests(root, "legacy-cpu-lb", requests)["results"] == [
        [200, {"deleted": "x7"}], [405, {"detail": "Method Not Allowed"}]]


def test_example_app_load_balancer(copy_fixture, worker_root):
    root = worker_root(copy_fixture("example-app"))
    requests = [["GET", "/health", None], ["GET", "/ping", None],
                ["POST", "/classify", body({})], ["GET", "/classify", None]]
    assert send_requests(root, "lb-worker", requests)["results"] == [
        [200, {"status": "ok"}],
        [200, {"status": "healthy"}],
        [422, {"detail": "missing a required argument: 'text'"}],
        [405, {"detail": "Method Not Allowed"}],
    ]


def test_ping_is_not_shadowed_by_a_route_with_a_path_parameter(write_project, worker_root):
    root = worker_root(write_project(CONTRACT_APP, name="contract-app"))
    requests = [["GET", "/ping", None], ["GET", "/bob", None]]
    assert send_requests(root, "catch-all", requests)["results"] == [
        [200, {"status": "healthy"}],
        [200, {"hello": "bob"}],
    ]


# --- the generated text -------------------------------------------------------------


TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}")


@pytest.mark.parametrize(("fixture", "handler_count"), [("example-app", 3), ("forms-app", 11)])
def test_handlers_contain_no_timestamps_or_host_paths(
    copy_fixture, worker_root, tmp_path, fixture, handler_count
):
    """Handlers must not differ between machines, checkouts or build times."""
    root = worker_root(copy_fixture(fixture))
    handlers = sorted(root.glob("handler_*.py"))
    assert len(handlers) == handler_count
    for handler in handlers:
        text = handler.read_text()
        assert str(tmp_path) not in text, handler.name
        assert str(REPO_ROOT) not in text, handler.name
        assert TIMESTAMP.search(text) is None, handler.name


@pytest.mark.network
def test_installed_wheel_renders_handlers_from_its_own_templates(copy_fixture, tmp_path):
    """A non-editable install must not rely on the checkout's templates/ directory."""
    wheel_dir, site_dir, outside = tmp_path / "wheel", tmp_path / "site", tmp_path / "outside"
    outside.mkdir()
    # Building the wheel fetches the build backend (hatchling): hence the network mark.
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps",
                    "--quiet", "-w", str(wheel_dir)], check=True, timeout=600)
    (wheel,) = wheel_dir.glob("flashbuild-*.whl")
    subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--quiet", "--offline",
                    "--no-deps", "--python", sys.executable, "--target", str(site_dir), str(wheel)],
                   check=True, timeout=300)
    project = copy_fixture("forms-app")
    from_wheel = tmp_path / "from-wheel.tar.gz"
    # From outside the checkout, with only the install target added to sys.path.
    probe, built = [
        subprocess.run([sys.executable, *args], cwd=outside, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(site_dir)}, timeout=300,
                       check=False)
        for args in (
            ["-c", "from flashbuild.render import handlers; print(handlers.templates_dir())"],
            ["-m", "flashbuild", "build", "--no-deps", "-o", str(from_wheel), str(project)],
        )
    ]
    assert probe.returncode == 0, probe.stderr
    installed_templates = site_dir / "flashbuild" / "render" / "templates"
    assert Path(probe.stdout.strip()) == installed_templates.resolve()
    assert built.returncode == 0, built.stderr
    # Same templates, same sources: the same bytes as a build from the checkout.
    assert from_wheel.read_bytes() == build_project(project).artifact.path.read_bytes()


def test_names_python_normalises_and_dotted_endpoints_work_on_the_worker(
    write_project, worker_root
):
    root = worker_root(write_project({
        "app.py": "from runpod_flash import Endpoint\n\n\n"
                  "@Endpoint(name='fitter', cpu='cpu3c-1-2')\n"
                  "def \ufb01t(x):\n    return x + 1\n\n\n"  # "ﬁt", which Python binds as "fit"
                  "@Endpoint(name='v1.queue', cpu='cpu3c-1-2')\n"
                  "def dotted(x):\n    return -x\n\n\n"
                  "api = Endpoint(name='v1.api', cpu='cpu3c-1-2')\n\n\n"
                  "@api.get('/answer')\ndef answer():\n    return {'answer': 42}\n",
    }, name="names-app"))
    assert run_jobs(root, "fitter", [job({"x": 1})])["results"] == [{"output": 2}]
    assert run_jobs(root, "v1.queue", [job({"x": 3})])["results"] == [{"output": -3}]
    assert send_requests(root, "v1.api", [["GET", "/answer", None]])["results"] == [
        [200, {"answer": 42}]]
