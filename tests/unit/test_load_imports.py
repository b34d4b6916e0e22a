"""The imports a worker runs to load an endpoint's handler (the link check's input)."""

from __future__ import annotations

from flashbuild.checks.run import check_sources
from flashbuild.checks.undeclared import unavailable_imports

from .test_checks import plan_of

CPU = 'from runpod_flash import Endpoint\n\n'


def loads(files: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(endpoint, module, file:line, importer) of every load-time import."""
    sources, plan = plan_of(files)
    report = check_sources(sources, plan, shipped_paths=frozenset(sources),
                           project_paths=frozenset(sources))
    return [(i.endpoint, i.module, f"{i.location.path}:{i.location.line}", i.importer())
            for i in report.load_imports]


def endpoint(name: str, *, prelude: str = "") -> str:
    return (f"{CPU}{prelude}\n"
            f'@Endpoint(name="{name}", cpu="cpu3c-1-2")\n'
            f"def {name}(x):\n    import inside_the_body\n    return x\n")


def test_module_level_imports_of_the_endpoint_file():
    found = loads({"app.py": endpoint("work", prelude="import os, numpy as np\nimport pandas\n")})
    assert found == [("work", "numpy", "app.py:3", "app.py"),
                     ("work", "pandas", "app.py:4", "app.py")]


def test_project_modules_are_followed_two_levels_deep():
    found = loads({
        "app.py": endpoint("work", prelude="import helpers\n"),
        "helpers.py": "from lib import deep\n",
        "lib/__init__.py": "import yaml\n",
        "lib/deep.py": "from . import other\nimport scipy.linalg\n",
        "lib/other.py": "import json\n",
    })
    assert found == [
        ("work", "yaml", "lib/__init__.py:1",
         "lib/__init__.py (imported through app.py -> helpers.py -> lib/__init__.py)"),
        ("work", "scipy.linalg", "lib/deep.py:2",
         "lib/deep.py (imported through app.py -> helpers.py -> lib/deep.py)"),
    ]


def test_the_package_of_an_endpoint_module_is_loaded_first():
    found = loads({"svc/__init__.py": "import requests\n", "svc/api.py": endpoint("work")})
    assert found == [("work", "requests", "svc/__init__.py:1", "svc/__init__.py")]


def test_imports_that_may_fail_or_never_run_are_skipped():
    prelude = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    import pandas
try:
    import ujson as json
except ImportError:
    import json
try:
    import orjson
except (ValueError, ModuleNotFoundError):
    orjson = None
def helper():
    import inside_a_helper
class Model:
    pass
"""
    assert loads({"app.py": endpoint("work", prelude=prelude)}) == []


def test_each_endpoint_gets_the_imports_of_its_own_files():
    found = loads({"a.py": endpoint("a", prelude="import numpy\n"),
                   "b.py": endpoint("b", prelude="import runpod\nimport runpod_flash\n")})
    assert found == [("a", "numpy", "a.py:3", "a.py")]


def test_an_import_nothing_provides_is_an_error_naming_file_endpoint_and_fix():
    sources, plan = plan_of({
        "app.py": endpoint("work", prelude="import helpers\nimport numpy\n"),
        "helpers.py": "import yaml_lite\nimport torch\n",
    })
    report = check_sources(sources, plan, shipped_paths=frozenset(sources),
                           project_paths=frozenset(sources))
    found = unavailable_imports(report.load_imports, {"work": frozenset({"numpy", "torch"})},
                                {"work": "cpu@1.6.0"})
    assert [(f.code, f.severity, str(f.location)) for f in found] == [
        ("unavailable-import", "error", "helpers.py:1:1")]
    assert found[0].message == (
        "`yaml_lite` is imported at module level of helpers.py (imported through app.py -> "
        "helpers.py), which "
        "the worker loads for endpoint 'work', but neither the endpoint's dependencies, its "
        "image (cpu@1.6.0) nor the standard library provide it, so the handler cannot be "
        "imported; add 'yaml-lite' to the endpoint's dependencies=[...], or move the import "
        "into the functions that use it.")
