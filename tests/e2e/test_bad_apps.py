"""Every bad app in fixtures/bad fails with its own message, location and exit code."""

from __future__ import annotations

import tarfile

import pytest

from flashbuild.errors import SourceCodeError, UsageError

from ..conftest import FIXTURES
from ..support.helpers import run_cli

SOURCE = SourceCodeError.exit_code

# fixture, expected "file:line:col" (or None), fragment of the message, related places
CASES = [
    ("no-endpoints", None, "no Flash endpoints found in 1 Python file", ()),
    ("legacy-tetra", "app.py:3:1", "`tetra_rp` is imported here: `tetra_rp` is the former "
     "name of `runpod_flash`, which the worker images do not have", ()),
    ("dynamic-decorator", "app.py:5:1", "`Endpoint`, used as the decorator `@Endpoint` of "
     "`work` at app.py:8:1, is bound here in a way flashbuild cannot follow", ()),
    ("two-queue-functions", "app.py:9:1", "queue endpoint 'worker' already runs `first`",
     ("app.py:4:1",)),
    ("conflicting-config", "b.py:4:1",
     "endpoint 'shared' is declared with a different configuration at a.py:4:1 and here "
     "(workers_max: 3 vs 5)", ("a.py:4:1",)),
    ("conflicting-lb-config", "b.py:3:7", "(workers_max: 3 vs 4)", ("a.py:3:7",)),
    ("queue-and-lb", "app.py:3:7",
     "endpoint 'service' is declared load-balanced here but queue-based at app.py:6:1",
     ("app.py:6:1",)),
    ("duplicate-function-name", "b.py:4:1",
     "function name `process` is used by endpoint 'first' (a.py:4:1) and endpoint 'second'",
     ("a.py:4:1",)),
    ("image-module", "constants.py",
     "the project's module `constants` (constants.py) is named like the worker image's own "
     "/app/constants.py (release wheelhouse-1)", ()),
    ("image-package", "logger/__init__.py",
     "the project's package `logger` (logger/__init__.py) is named like the worker image's own "
     "/app/logger.py", ()),
    ("bad-method", "app.py:6:1", "HTTP method 'FETCH' of `items` is not supported", ()),
    ("path-without-slash", "app.py:6:1", "route path 'items' of `items` must start with '/'", ()),
    ("reserved-ping", "app.py:6:1", "route path '/ping' of `ping` is reserved", ()),
    ("reserved-execute", "app.py:6:1", "route path '/execute' of `run_code` is reserved", ()),
    ("duplicate-route", "app.py:11:1",
     "route GET /items of endpoint 'api' is declared twice: by `list_items` (app.py:6:1)",
     ("app.py:6:1",)),
    ("syntax-error", "util/helpers.py:1:12", "syntax error: invalid syntax", ()),
    ("nonstatic-call", "app.py:8:39",
     "the value of `dependencies` must be static, but `load_dependencies()` is a call to "
     "`load_dependencies`", ()),
    ("nonstatic-fstring", "app.py:6:16",
     "the value of `name` must be static, but `f\"worker-{STAGE}\"` is an f-string", ()),
    ("nonstatic-env", "app.py:5:16", 'is a call to `os.environ.get("DEPS", "numpy").split`',
     ("app.py:8:39",)),
    ("unknown-option", "app.py:4:33",
     "`worker` is not an option of Endpoint(). Did you mean `workers`?", ()),
    ("gpu-and-cpu", "app.py:4:48", "`gpu` and `cpu` are mutually exclusive", ()),
    ("bad-workers", "app.py:4:35", "workers (3, 1) is not a valid range", ()),
    ("unknown-gpu", "app.py:4:39",
     "`GpuGroup.AMPERE_8O` is not a member of GpuGroup in runpod-flash 1.21.0, so importing "
     "this module fails on the worker. Did you mean GpuGroup.AMPERE_80?", ()),
    ("invalid-requirement", "app.py:4:39",
     "dependency 'numpy>=>1' of endpoint 'worker' is not a valid requirement", ()),
    ("route-on-queue-resource", "app.py:6:24",
     "`method`/`path` only apply to load balancers, but LiveServerless is queue-based", ()),
    ("missing-name", "app.py:4:2", "Endpoint() needs a `name`", ()),
    ("bare-decorator", "app.py:4:1", "@Endpoint must be called with its configuration", ()),
    ("handler-clash", "handler_worker.py",
     "project file handler_worker.py would be overwritten by the generated handler", ()),
]


def test_every_bad_fixture_has_a_case():
    assert sorted(path.name for path in (FIXTURES / "bad").iterdir()) == sorted(
        case[0] for case in CASES
    )


@pytest.mark.parametrize(("fixture", "location", "fragment", "related"), CASES,
                         ids=[case[0] for case in CASES])
def test_bad_app_fails_with_location_and_hint(
    copy_fixture, capsys, fixture, location, fragment, related
):
    project = copy_fixture(f"bad/{fixture}")
    previous = project / ".flash" / "artifact.tar.gz"
    previous.parent.mkdir()
    previous.write_bytes(b"previous artifact")

    code, out, err = run_cli(["build", "--no-deps", str(project)], capsys)

    assert code == SOURCE, err
    assert out == ""
    # Progress lines of the stages that ran come first; the error is one paragraph after them.
    first_line = next(line for line in err.splitlines() if line.startswith("flash: "))
    expected_prefix = "flash: source error: " + (f"{location}: " if location else "")
    assert first_line.startswith(expected_prefix), err
    assert fragment in err
    for place in related:
        assert f"  see also: {place}" in err
    assert "  hint: " in err
    assert "Traceback" not in err
    assert previous.read_bytes() == b"previous artifact"
    assert sorted(p.name for p in previous.parent.iterdir()) == ["artifact.tar.gz"]


def test_verbose_adds_the_traceback(copy_fixture, capsys):
    project = copy_fixture("bad/two-queue-functions")
    code, _, err = run_cli(["build", "--no-deps", "-v", str(project)], capsys)
    assert code == SOURCE
    assert "Traceback" in err


def test_usage_errors_exit_2(tmp_path, capsys):
    code, _, err = run_cli(["build", "--no-deps", str(tmp_path / "missing")], capsys)
    assert code == UsageError.exit_code
    assert "does not exist" in err
    code, _, err = run_cli(["build", "--python-version", "2.7", str(tmp_path)], capsys)
    assert code == 2
    assert "2.7" in err
    code, _, err = run_cli(["build", "--no-deps", "--exclude", "not a name", str(tmp_path)],
                           capsys)
    assert code == UsageError.exit_code
    assert "'not a name' is not a valid package name" in err


def test_preview_refuses_a_module_named_like_the_image_s_own(copy_fixture, capsys):
    project = copy_fixture("bad/image-module")
    code, _, err = run_cli(["preview", "--no-deps", str(project)], capsys)
    assert code == SOURCE, err
    assert "flash: source error: constants.py: the project's module `constants`" in err



ENDPOINT_FILE = ("from runpod_flash import Endpoint\n\n\n"
                 "@Endpoint(name='worker', cpu='cpu3c-1-2')\ndef work(x):\n    return x\n")


@pytest.mark.parametrize(("files", "location", "fragment"), [
    ({"v1.2.py": ENDPOINT_FILE}, "v1.2.py", "whose module name 'v1.2' cannot be imported"),
    ({"my-app/work.py": ENDPOINT_FILE}, "my-app/work.py", "'my-app.work' cannot be imported"),
    ({"app.py": ENDPOINT_FILE, "app/__init__.py": ""}, "app.py",
     "`import app` imports the package app/__init__.py beside it"),
    ({"app.py": ENDPOINT_FILE, "handler_worker/__init__.py": ""}, "handler_worker/",
     "project folder handler_worker/ is named like the generated handler"),
    ({"app.py": ENDPOINT_FILE + "\n\nwork = None\n"}, "app.py:9:8",
     "`work` is bound again here, after its endpoint declaration"),
    ({"app.py": ENDPOINT_FILE + "\n\ndef work(x):\n    return 0\n"}, "app.py:9:1",
     "`work` is bound again here"),
])
def test_a_handler_that_could_not_find_its_function_fails_the_build(
    write_project, capsys, files, location, fragment
):
    project = write_project(files)
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == SOURCE, err
    assert f"flash: source error: {location}: " in err and fragment in err
    assert "Traceback" not in err


KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
       "-----END OPENSSH PRIVATE KEY-----\n")


@pytest.mark.parametrize(("files", "location", "what"), [
    ({"config/deploy.pem": "# deploy key\n" + KEY}, "config/deploy.pem:2", "a private key"),
    ({"settings.py": "TOKEN = 'ghp_" + "a1B2" * 9 + "'\n"}, "settings.py:1", "a GitHub token"),
    ({"notes.md": "x\ny\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"}, "notes.md:3",
     "an AWS access key ID"),
])
def test_a_shipped_file_holding_a_credential_fails_the_build(
    write_project, capsys, files, location, what
):
    project = write_project({"app.py": ENDPOINT_FILE, **files})
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == SOURCE, err
    assert f"flash: source error: {location}: " in err and f"looks like {what}" in err
    assert "allow-secrets" in err
    path = next(iter(files))
    (project / "pyproject.toml").write_text(f'[tool.flash]\nallow-secrets = ["{path}"]\n')
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err


def test_well_known_credential_files_never_ship_and_envrc_stays_out(write_project, capsys):
    project = write_project({
        "app.py": ENDPOINT_FILE, ".flashignore": "!.env*\n", ".envrc": "export A=1\n",
        ".netrc": "machine x login y password z\n", ".pypirc": "[pypi]\n",
        "keys/id_rsa": "k\n", "keys/id_rsa.pub": "ssh-rsa AAAA\n",
        ".ssh/known_hosts": "h\n", "deploy/.aws/credentials": "[default]\n",
        ".docker/config.json": "{}\n", "credentials.json": "{}\n",
    })
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err
    with tarfile.open(project / ".flash" / "artifact.tar.gz") as archive:
        names = set(archive.getnames())
    assert {"app.py", "keys/id_rsa.pub"} <= names
    assert not names & {".envrc", ".netrc", ".pypirc", "keys/id_rsa", ".ssh/known_hosts",
                        "deploy/.aws/credentials", ".docker/config.json", "credentials.json"}
