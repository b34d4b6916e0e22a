"""A handler must be importable on its worker: ``flash build`` checks the imports it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashbuild.errors import SourceCodeError

from ..support.helpers import run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")


def flash(capsys, wheelhouse: Path, project: Path, *options: str) -> tuple[int, str]:
    code, _, err = run_cli(
        ["build", "--no-index", "--find-links", str(wheelhouse), *options, str(project)], capsys
    )
    return code, err


def worker(prelude: str, *, deps: list[str] | None = None, cpu: bool = True) -> str:
    compute = 'cpu="cpu3c-1-2"' if cpu else "gpu=GpuGroup.ANY"
    return (f"from runpod_flash import Endpoint, GpuGroup\n{prelude}\n\n"
            f'@Endpoint(name="work", {compute}, dependencies={deps or []!r})\n'
            "def work(x):\n    return x\n")


def test_a_declared_module_level_import_passes(write_project, wheelhouse, capsys):
    project = write_project({"main.py": worker("import tinyutil", deps=["tinyutil"])})
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    assert "unavailable-import" not in err


def test_an_undeclared_module_level_import_fails_the_build(write_project, wheelhouse, capsys):
    # As in an app that imports numpy and pandas at the top of a CPU endpoint's file and
    # declares them nowhere the build reads: the handler could not be imported.
    project = write_project({"main.py": worker("import numpy as np\nimport pandas as pd")})
    previous = project / ".flash" / "artifact.tar.gz"
    previous.parent.mkdir()
    previous.write_bytes(b"previous")
    code, err = flash(capsys, wheelhouse, project)
    assert code == SourceCodeError.exit_code, err
    assert "main.py:2:1: `numpy` is imported at module level of main.py" in err
    assert "endpoint 'work'" in err and "its image (cpu@wheelhouse-1)" in err
    assert "main.py:3:1" in err and "`pandas`" in err
    assert "Declare the package in the endpoint's dependencies" in err
    assert "Traceback" not in err
    assert previous.read_bytes() == b"previous"


def test_project_modules_are_followed_two_levels_deep(write_project, wheelhouse, capsys):
    project = write_project({
        "main.py": worker("import helpers", deps=["tinyutil"]),
        "helpers.py": "import tinyutil\nfrom lib import deep\n",
        "lib/__init__.py": "",
        "lib/deep.py": "import yaml_lite\n",
    })
    code, err = flash(capsys, wheelhouse, project)
    assert code == SourceCodeError.exit_code, err
    assert ("lib/deep.py:1:1: `yaml_lite` is imported at module level of lib/deep.py (imported "
            "through main.py -> helpers.py -> lib/deep.py)") in err
    assert "add 'yaml-lite'" in err
    (project / "main.py").write_text(worker("import helpers", deps=["tinyutil", "py-yaml-lite"]))
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err  # the import name comes from the installed wheel


def test_a_module_the_image_provides_passes(write_project, wheelhouse, capsys):
    project = write_project({"main.py": worker("import numpy\nimport torch", cpu=False)})
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    project = write_project({"main.py": worker("import numpy\nimport torch")}, name="cpu")
    code, err = flash(capsys, wheelhouse, project)
    assert code == SourceCodeError.exit_code and "`torch`" in err and "cpu@wheelhouse-1" in err


def test_body_and_guarded_imports_stay_warnings(write_project, wheelhouse, capsys):
    prelude = "try:\n    import ujson as json\nexcept ImportError:\n    import json"
    source = worker(prelude).replace("    return x\n", "    import pandas\n    return x\n")
    project = write_project({"main.py": source})
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    assert "`pandas` imported in `work`" in err and "[undeclared-import]" in err


def test_without_dependencies_nothing_is_known_to_check(write_project, capsys):
    project = write_project({"main.py": worker("import pandas")})
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err
