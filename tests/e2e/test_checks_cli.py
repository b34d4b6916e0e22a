"""The static checks inside `flash build`: warnings, --strict and errors, end to end."""

from __future__ import annotations

import json

import pytest

from flashbuild.errors import SourceCodeError, StaticCheckError

from ..support.helpers import run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")

BODY_IMPORTS = '''\
from runpod_flash import Endpoint


@Endpoint(name="worker", cpu="cpu3c-2-4", dependencies=["appdep"])
def work(x):
    import shared_helper  # provided: appdep needs it
    import tinyutil  # nothing provides it
    import json

    return x
'''


def test_scope_warnings_and_strict(copy_fixture, capsys):
    project = copy_fixture("checks/scope")
    code, out, err = run_cli(["build", "--no-deps", "--json", str(project)], capsys)
    assert code == 0, err
    warnings = json.loads(out)["warnings"]
    assert any(w.startswith("app.py:21:16: `json` used in `score`") for w in warnings)
    assert all(w.endswith("[scope]") for w in warnings)
    code, _, err = run_cli(["build", "--no-deps", "--strict", str(project)], capsys)
    assert code == StaticCheckError.exit_code == 7
    assert "static check warnings with --strict" in err


def test_unshipped_import_is_a_source_error(copy_fixture, capsys):
    project = copy_fixture("checks/unshipped-import")
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == SourceCodeError.exit_code
    assert "notebooks/prototype.py" in err and "[unshipped-import]" in err


def test_undeclared_imports_use_what_was_installed(write_project, wheelhouse, capsys):
    project = write_project({"app.py": BODY_IMPORTS})
    args = ["build", "--json", "--no-index", "--find-links", str(wheelhouse), str(project)]
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    undeclared = [w for w in json.loads(out)["warnings"] if w.endswith("[undeclared-import]")]
    assert len(undeclared) == 1 and "tinyutil" in undeclared[0]
    # The same again from the cache: the import names are kept with the cached part.
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    assert [
        w for w in json.loads(out)["warnings"] if w.endswith("[undeclared-import]")
    ] == undeclared


def test_clean_example_has_no_warnings(copy_fixture, capsys):
    project = copy_fixture("example-app")
    code, out, err = run_cli(["build", "--no-deps", "--strict", "--json", str(project)], capsys)
    assert code == 0, err
    assert json.loads(out)["warnings"] == []
