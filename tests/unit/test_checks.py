"""Static checks: scope, imports and cross-endpoint calls, on fixture apps and small sources."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flashbuild.checks.findings import Finding, sorted_findings
from flashbuild.checks.run import check_sources
from flashbuild.checks.undeclared import undeclared_imports
from flashbuild.config.images import PROFILES_DIR, image_table
from flashbuild.deps.installed import (
    endpoint_import_names,
    image_import_names,
    import_names_of,
    read_installed_dists,
)
from flashbuild.records import BuildPlan, ScannedModule, ScanResult
from flashbuild.source.files import collect_project_files
from flashbuild.source.modules import local_module_names, module_name
from flashbuild.source.plan import build_plan
from flashbuild.source.scan import scan_project, scan_source

from ..conftest import FIXTURES
from ..support.helpers import wheelhouse_images

CHECKS = FIXTURES / "checks"
CLEAN_FIXTURES = ["example-app", "forms-app", "embeddings-app", "checks/clean-app"]

# What each fixture endpoint's dependency tree provides, as a resolver would install it.
INSTALLED_IMPORT_NAMES = {
    "cpu-worker": {"pandas", "numpy", "dateutil", "pytz", "tzdata", "six"},
    "gpu-worker": {"transformers", "accelerate", "huggingface_hub", "tokenizers", "numpy"},
    "embedder": {"sentence_transformers", "transformers", "torch", "numpy"},
    "stats": {"numpy"},
    "preprocess": {"pandas", "numpy"},
    "inference": {"transformers", "numpy"},
    "parser": {"requests", "urllib3", "idna", "certifi", "charset_normalizer"},
    "fetcher": {"requests", "pydantic"},
}


# --- helpers ------------------------------------------------------------------------


def plan_of(files: dict[str, str]) -> tuple[dict[str, bytes], BuildPlan]:
    """Sources and build plan of a project given as ``{path: source}`` (dedented)."""
    sources = {path: dedent(text).lstrip("\n").encode() for path, text in files.items()}
    functions = tuple(
        decl for path in sorted(sources)
        for decl in scan_source(sources[path], path=path, module=module_name(path))
    )
    modules = tuple(ScannedModule(path=p, module=module_name(p)) for p in sorted(sources))
    plan = build_plan(ScanResult(modules=modules, functions=functions), project_name="app",
                      python_version="3.12")
    return sources, plan


def check(files: dict[str, str], *, unshipped: dict[str, str] | None = None,
          code: str | None = None) -> list[Finding]:
    """check_sources on inline files; ``unshipped`` files exist but are left out."""
    sources, plan = plan_of(files)
    project = frozenset(sources) | frozenset(unshipped or ())
    found = check_sources(sources, plan, shipped_paths=frozenset(sources),
                          project_paths=project).findings
    return [f for f in found if code is None or f.code == code]


def endpoint_file(body: str, *, prelude: str = "", header: str = "def work(a, *args, b=1, **kw):"
                  ) -> dict[str, str]:
    """``app.py`` with ``prelude`` at module level and one CPU endpoint running ``body``."""
    text = (
        "from runpod_flash import Endpoint\n"
        + dedent(prelude).strip("\n") + "\n\n"
        + '@Endpoint(name="work", cpu="cpu3c-1-2")\n'
        + header + "\n"
        + "".join(f"    {line}\n" for line in dedent(body).strip("\n").splitlines())
    )
    return {"app.py": text}


def used_names(findings: list[Finding]) -> list[str]:
    return [re.match(r"`([^`]+)`", f.message).group(1) for f in findings]


def fixture_findings(relative: str) -> tuple[tuple[Finding, ...], dict, BuildPlan, Path]:
    root = FIXTURES / relative
    files = collect_project_files(root)
    scan = scan_project(files)
    plan = build_plan(scan, project_name=root.name, python_version="3.12")
    sources = {f.path: f.source.read_bytes() for f in files.files
               if f.path.endswith(".py") and not f.is_symlink}
    project = frozenset(p.relative_to(root).as_posix() for p in root.rglob("*.py")
                        if ".flash" not in p.parts)
    found = check_sources(sources, plan, shipped_paths=frozenset(sources),
                          project_paths=project).findings
    return found, sources, plan, root


def check_imports(plan: BuildPlan, table, *, import_names, local_modules):
    """The undeclared-import check, given what the dependencies and the images provide."""
    provided = {e.name: import_names.get(e.name, frozenset())
                | image_import_names(table, e.image_kind) for e in plan.endpoints}
    labels = {e.name: table.label([e.image_kind]) for e in plan.endpoints}
    return sorted_findings(undeclared_imports(plan, provided=provided, images=labels,
                                              local_modules=frozenset(local_modules)))


def fixture_import_findings(relative: str) -> tuple[Finding, ...]:
    _, _, plan, root = fixture_findings(relative)
    images = wheelhouse_images()
    project = [p.relative_to(root).as_posix() for p in root.rglob("*.py")]
    return check_imports(
        plan, images,
        import_names={name: frozenset(names) for name, names in INSTALLED_IMPORT_NAMES.items()},
        local_modules=local_module_names(project),
    )


def summary(findings) -> list[tuple[str, str]]:
    return [(f.code, f"{f.location.path}:{f.location.line}") for f in findings]


# --- the fixture apps -----------------------------------------------------------------


@pytest.mark.parametrize("fixture", CLEAN_FIXTURES)
def test_clean_fixtures_have_no_findings(fixture):
    found, *_ = fixture_findings(fixture)
    assert found == ()
    assert fixture_import_findings(fixture) == ()


def test_scope_fixture():
    found, *_ = fixture_findings("checks/scope")
    found_with_names = zip(found, used_names(found), strict=True)
    assert [(f.code, f.location.line, name) for f, name in found_with_names] == [
        ("scope", 19, "load_labels"),
        ("scope", 20, "LABELS"),
        ("scope", 21, "json"),
        ("scope", 22, "DATA_DIR"),
        ("scope", 27, "score"),
        ("scope", 27, "GpuGroup"),
    ]
    assert {f.severity for f in found} == {"warning"}
    messages = "\n".join(f.message for f in found)
    assert "`json` used in `score` is the module-level import at app.py:3:1" in messages
    assert "so import it inside `score`" in messages
    assert "assigned at app.py:9:1 that is not a constant literal" in messages
    assert "`from app import score`" in messages  # the endpoint function: import it instead
    assert "RETRIES" not in messages  # a literal constant


def test_module_level_import_fixture():
    found, *_ = fixture_findings("checks/module-level-import")
    assert summary(found) == [("module-level-import", "app.py:6"),
                              ("module-level-import", "app.py:8")]
    assert used_names(found) == ["requests", "pydantic"]
    assert "import it inside the endpoint functions" in found[0].message


def test_unshipped_import_fixture():
    found, *_ = fixture_findings("checks/unshipped-import")
    assert summary(found) == [("unshipped-import", "app.py:9"), ("unshipped-import", "util.py:3")]
    assert {f.severity for f in found} == {"error"}
    assert "notebooks/prototype.py, which the ignore rules" in found[0].message
    assert "util.py (loaded through `tune`)" in found[1].message


def test_not_awaited_fixture():
    found, *_ = fixture_findings("checks/not-awaited")
    assert summary(found) == [("not-awaited", f"gpu.py:{line}") for line in (10, 11, 12, 19)]
    assert "write `await prepare(...)`" in found[0].message
    assert "sync function in `report`" in found[3].message


def test_undeclared_import_fixture():
    found = fixture_import_findings("checks/undeclared-import")
    assert summary(found) == [("undeclared-import", "app.py:11"),
                              ("undeclared-import", "app.py:12")]
    assert "add 'pyyaml' to its dependencies" in found[0].message
    assert "`sklearn.linear_model` imported in `parse_config`" in found[1].message
    assert "add 'scikit-learn'" in found[1].message


# --- scope: what must not be reported ----------------------------------------------------

NOT_MODULE_LEVEL = {
    "assignment": "np = 1\nreturn np",
    "used before its assignment": "x = np\nnp = 2\nreturn x",
    "tuple unpacking": "(np, other), *rest = (1, 2), 3\nreturn np",
    "for target": "for np in range(3):\n    pass\nreturn np",
    "with target": "with open(a) as np:\n    return np",
    "except target": "try:\n    pass\nexcept ValueError as np:\n    return np",
    "walrus": "if (np := a):\n    return np",
    "walrus in a comprehension": "[(np := v) for v in a]\nreturn np",
    "del": "del np\nreturn np",
    "augmented assignment": "np += 1\nreturn np",
    "annotation without value": "np: int\nreturn np",
    "import in the body": "import numpy as np\nreturn np",
    "from-import in the body": "from numpy import np\nreturn np",
    "nested def": "def np():\n    return 1\nreturn np",
    "nested class": "class np:\n    pass\nreturn np",
    "match capture": "match a:\n    case [np, *rest]:\n        return np, rest",
    "match mapping rest": "match a:\n    case {'k': 1, **np}:\n        return np",
    "comprehension variable": "return [np for np in a]",
    "lambda parameter": "f = lambda np: np\nreturn f",
    "nested function parameter": "def f(np=1):\n    return np\nreturn f",
    "global declaration": "global np\nreturn np",
    "global in a nested function": "def f():\n    global np\n    return np\nreturn f",
    "nonlocal": "np = 1\ndef f():\n    nonlocal np\n    return np\nreturn f",
    "builtins": "return len(a), print, ValueError, __file__, __name__",
    "undefined name": "return undefined_anywhere",
    "attribute and keyword names": "return a.np, dict(np=1)",
    "match class keyword": "match a:\n    case dict(np=1):\n        return 1",
    "local annotation": "x: np.ndarray = a\nreturn x",
}


@pytest.mark.parametrize("body", NOT_MODULE_LEVEL.values(), ids=NOT_MODULE_LEVEL.keys())
def test_local_bindings_are_not_reported(body):
    files = endpoint_file(body, prelude="import numpy as np")
    assert check(files, code="scope") == []


@pytest.mark.parametrize("parameter", ["a", "args", "b", "kw"])
def test_parameters_shadow_module_names(parameter):
    files = endpoint_file(f"return {parameter}", prelude=f"{parameter} = object()")
    assert check(files, code="scope") == []


@pytest.mark.parametrize("value", [
    "'text'", "b'bytes'", "1", "-1", "2.5", "1j", "True", "None", "'a' 'b'", "f'plain'",
    "(1, 'two', None, (3.0, -4))", "()",
])
def test_constant_literals_are_not_reported(value):
    files = endpoint_file("return LIMIT", prelude=f"LIMIT = {value}")
    assert check(files, code="scope") == []


def test_header_decorators_defaults_and_annotations_are_not_reported():
    files = endpoint_file(
        "return a", prelude="import numpy as np\nimport functools\nDEFAULT = object()",
        header="@functools.cache\n"
        "def work(a: np.ndarray = DEFAULT, *, b: 'np.int8' = np) -> np.ndarray:",
    )
    assert check(files, code="scope") == []


def test_the_endpoint_may_name_itself():
    files = endpoint_file("return work", prelude="")
    assert check(files, code="scope") == []


# --- scope: what must be reported ----------------------------------------------------------

MODULE_LEVEL = {
    "import": ("import numpy as np", "return np.zeros(3)", ["np"]),
    "from-import of the SDK": ("from runpod_flash import GpuGroup", "return GpuGroup.ANY",
                               ["GpuGroup"]),
    "call result": ("CONFIG = dict(a=1)", "return CONFIG", ["CONFIG"]),
    "list": ("NAMES = ['a']", "return NAMES", ["NAMES"]),
    "literal then rebound": ("LIMIT = 1\nLIMIT = len('ab')", "return LIMIT", ["LIMIT"]),
    "augmented": ("COUNT = 0\nCOUNT += 1", "return COUNT", ["COUNT"]),
    "unpacked": ("A, B = 1, 2", "return A", ["A"]),
    "module-level for": ("for ITEM in range(3):\n    pass", "return ITEM", ["ITEM"]),
    "function": ("def helper():\n    return 1", "return helper()", ["helper"]),
    "class": ("class Model:\n    pass", "return Model()", ["Model"]),
    "inside a try block": ("try:\n    import yaml\nexcept ImportError:\n    yaml = None",
                           "return yaml", ["yaml"]),
    "in a nested function": ("import numpy as np", "def f():\n    return np\nreturn f", ["np"]),
    "in a nested default": ("import numpy as np", "def f(x=np):\n    return x\nreturn f", ["np"]),
    "in a nested decorator": ("import functools",
                              "@functools.cache\ndef f():\n    return 1\nreturn f", ["functools"]),
    "in a lambda": ("import numpy as np", "return lambda v: np", ["np"]),
    "in a comprehension": ("import numpy as np", "return [np.sqrt(v) for v in a if np]",
                           ["np", "np"]),
    "first iterable of a comprehension whose variable shadows it": (
        "np = object()", "return [np for np in np]", ["np"]),
    "in an f-string": ("NAME = str(1)", "return f'{NAME}!'", ["NAME"]),
    "global declared elsewhere": ("import numpy as np",
                                  "def f():\n    global np\nreturn np", ["np"]),
}


@pytest.mark.parametrize(("prelude", "body", "names"), MODULE_LEVEL.values(),
                         ids=MODULE_LEVEL.keys())
def test_module_level_names_are_reported(prelude, body, names):
    found = check(endpoint_file(body, prelude=prelude), code="scope")
    assert used_names(found) == names
    assert all(f.severity == "warning" and f.location.path == "app.py" for f in found)


def test_scope_location_is_the_use():
    found = check(endpoint_file("x = 1\nreturn x + np.pi", prelude="import numpy as np"),
                  code="scope")
    (finding,) = found
    assert (finding.location.line, finding.location.column) == (7, 16)
    assert finding.message == (
        "`np` used in `work` is the module-level import at app.py:2:1; only the function body "
        "travels to the worker in live mode, so import it inside `work`."
    )


def test_class_endpoint_bodies_are_checked_and_methods_do_not_see_class_names():
    files = {"app.py": """
        from runpod_flash import Endpoint
        import numpy as np
        size = object()
        @Endpoint(name="model")
        class Model:
            size = 3
            table = np.eye(size)
            def predict(self, x):
                return x * size, Model.size
    """}
    found = check(files, code="scope")
    assert [(name, f.location.line) for name, f in zip(used_names(found), found, strict=True)] == [
        ("np", 7), ("size", 9)]


def test_route_functions_are_checked():
    files = {"app.py": """
        from runpod_flash import Endpoint
        import json
        api = Endpoint(name="api", cpu="cpu3c-1-2")
        @api.post("/x")
        def handle(x):
            return json.dumps(x)
    """}
    assert used_names(check(files, code="scope")) == ["json"]


# --- the property: exactly the module-level uses are reported -------------------------------

MODULE_NAMES = ["np", "cfg", "helper", "Model"]  # not constant literals
CONSTANTS = ["LIMIT", "NAME"]
PARAMETERS = ["p0", "p1"]
LOCALS = ["x0", "x1", *MODULE_NAMES]  # locals may shadow module names
READABLE = [*MODULE_NAMES, *CONSTANTS, *PARAMETERS, "x0", "x1", "len", "print"]
READABLE_NAMES = st.sampled_from(READABLE)
PRELUDE = '''import numpy as np
from runpod_flash import Endpoint

LIMIT = 10
NAME = "x"
cfg = dict(a=1)


def helper():
    return 1


class Model:
    pass


@Endpoint(name="generated", cpu="cpu3c-1-2")
def generated(p0, p1):
'''


@st.composite
def expressions(draw, names=READABLE_NAMES):
    """(source text, names read) of a small expression."""
    first, second = draw(names), draw(names)
    form = draw(st.sampled_from(["{a}", "{a}.real", "{a}({b})", "({a}, {b})", "f'{{{a}}}'"]))
    text = form.format(a=first, b=second)
    return text, [first] + ([second] if "{b}" in form else [])


@st.composite
def statements(draw):
    """(lines, reads as (name, line offset, shadowing name or None), names bound)."""
    kind = draw(st.sampled_from(["assign", "augassign", "for", "with", "walrus", "import", "del",
                                 "except", "use", "comprehension", "lambda", "def"]))
    target = draw(st.sampled_from(LOCALS))
    text, reads = draw(expressions())
    plain = [(name, 0, None) for name in reads]
    if kind == "use":
        return [f"print({text})"], plain, set()
    if kind == "except":
        return ["try:", "    pass", f"except Exception as {target}:", "    pass"], [], {target}
    if kind in ("comprehension", "lambda", "def"):
        inner = draw(st.sampled_from(["c0", *MODULE_NAMES]))
        body, body_reads = draw(expressions(st.sampled_from([inner, *READABLE])))
        shadowed = [(name, 0, inner) for name in body_reads]
        if kind == "comprehension":
            condition, condition_reads = draw(expressions(st.sampled_from([inner, *READABLE])))
            line = f"{target} = [{body} for {inner} in {text} if {condition}]"
            return [line], plain + shadowed + [(n, 0, inner) for n in condition_reads], {target}
        if kind == "lambda":
            return [f"{target} = lambda {inner}: {body}"], shadowed, {target}
        return [f"def {target}({inner}): return {body}"], shadowed, {target}
    lines = {
        "assign": f"{target} = {text}",
        "augassign": f"{target} += {text}",
        "for": f"for {target} in {text}: pass",
        "with": f"with {text} as {target}: pass",
        "walrus": f"if ({target} := {text}): pass",
        "import": f"import json as {target}",
        "del": f"del {target}",
    }
    return [lines[kind]], ([] if kind in ("import", "del") else plain), {target}


@given(globals_=st.lists(st.sampled_from(MODULE_NAMES), unique=True, max_size=2),
       body=st.lists(statements(), min_size=1, max_size=8))
def test_exactly_the_module_level_uses_are_reported(globals_, body):
    lines = [f"global {', '.join(globals_)}"] if globals_ else []
    reads: list[tuple[str, int, str | None]] = []
    bound = set(PARAMETERS)
    first_line = PRELUDE.count("\n") + 1
    for statement_lines, statement_reads, statement_binds in body:
        reads += [(name, first_line + len(lines) + offset, inner)
                  for name, offset, inner in statement_reads]
        lines += statement_lines
        bound |= statement_binds
    source = PRELUDE + "".join(f"    {line}\n" for line in lines) + "    return None\n"
    compile(source, "app.py", "exec")  # the generator only writes valid Python
    expected = Counter(
        (name, line) for name, line, inner in reads
        if name in MODULE_NAMES and name != inner and name not in bound and name not in globals_
    )
    found = check({"app.py": source}, code="scope")
    found_lines = [f.location.line for f in found]
    assert Counter(zip(used_names(found), found_lines, strict=True)) == expected


# --- cross-endpoint calls ---------------------------------------------------------------

CPU_ENDPOINT = '''
    from runpod_flash import Endpoint
    @Endpoint(name="cpu", cpu="cpu3c-1-2")
    async def prepare(text):
        return text
'''


def caller(body: str, *, is_async: bool = True) -> dict[str, str]:
    """``cpu.py`` with the ``prepare`` endpoint and ``gpu.py`` calling it from ``body``."""
    keyword = "async def" if is_async else "def"
    lines = "".join(f"    {line}\n" for line in dedent(body).strip("\n").splitlines())
    gpu = ("from runpod_flash import Endpoint\n"
           '@Endpoint(name="gpu")\n'
           f"{keyword} infer(text, texts=()):\n"
           "    import asyncio\n"
           "    from cpu import prepare\n" + lines)
    return {"cpu.py": CPU_ENDPOINT, "gpu.py": gpu}


AWAITED = {
    "await": "return await prepare(text)",
    "gather of a comprehension": "return await asyncio.gather(*[prepare(t) for t in texts])",
    "gather of arguments": "return await asyncio.gather(prepare(text), prepare(text))",
    "create_task": "task = asyncio.create_task(prepare(text))\nreturn await task",
    "wait_for": "return await asyncio.wait_for(prepare(text), timeout=5)",
    "kept, then awaited": "pending = prepare(text)\nreturn await pending",
    "collected, then gathered": (
        "tasks = []\nfor t in texts:\n    tasks.append(prepare(t))\n"
        "return await asyncio.gather(*tasks)"),
    "list kept, then gathered": (
        "calls = [prepare(t) for t in texts]\nreturn await asyncio.gather(*calls)"),
    "conditional": "return await (prepare(text) if text else prepare('x'))",
    "not called": "return prepare",
}


@pytest.mark.parametrize("body", AWAITED.values(), ids=AWAITED.keys())
def test_awaited_calls_are_not_reported(body):
    assert check(caller(body), code="not-awaited") == []


NOT_AWAITED = {
    "discarded": "prepare(text)",
    "assigned and used": "result = prepare(text)\nreturn result['x']",
    "returned": "return prepare(text)",
    "passed to another call": "print(prepare(text))",
    "in a nested sync function": "def run():\n    return prepare(text)\nreturn await run()",
    "collected, never awaited": "tasks = []\ntasks.append(prepare(text))\nreturn tasks",
}


@pytest.mark.parametrize("body", NOT_AWAITED.values(), ids=NOT_AWAITED.keys())
def test_calls_that_are_not_awaited_are_reported(body):
    (found,) = check(caller(body), code="not-awaited")
    assert found.location.path == "gpu.py" and found.severity == "warning"
    assert "`prepare` (endpoint 'cpu')" in found.message


def test_sync_callers_are_reported_unless_they_run_the_coroutine():
    (found,) = check(caller("return prepare(text)", is_async=False), code="not-awaited")
    assert "sync function in `infer`" in found.message and "`async def`" in found.message
    assert check(caller("return asyncio.run(prepare(text))", is_async=False),
                 code="not-awaited") == []
    assert check(caller("pending = prepare(text)\nreturn asyncio.run(pending)", is_async=False),
                 code="not-awaited") == []


def test_aliases_relative_imports_and_other_names():
    files = {
        "cpu.py": CPU_ENDPOINT,
        "pkg/__init__.py": "",
        "pkg/worker.py": CPU_ENDPOINT.replace('"cpu"', '"pkg-cpu"').replace("prepare", "clean"),
        "pkg/gpu.py": """
            from runpod_flash import Endpoint
            def clean(x):
                return x
            @Endpoint(name="gpu")
            async def infer(text):
                from cpu import prepare as prep
                from .worker import clean
                prep(text)
                return clean(text)
        """,
    }
    assert [f.location.line for f in check(files, code="not-awaited")] == [8, 9]


def test_class_endpoints_and_local_functions_are_not_checked_for_await():
    files = {
        "model.py": """
            from runpod_flash import Endpoint
            @Endpoint(name="model")
            class Model:
                def predict(self, x):
                    return x
        """,
        "gpu.py": """
            from runpod_flash import Endpoint
            @Endpoint(name="gpu")
            async def infer(text):
                from model import Model
                def prepare(x):
                    return x
                return Model(), prepare(text)
        """,
        "cpu.py": CPU_ENDPOINT,
    }
    assert check(files) == []


@pytest.mark.parametrize("import_line, is_call", [
    ("from cpu import prepare", True),  # the module that defines it
    ("from helpers import prepare", True),  # a project module that re-exports it
    ("from helpers.sub import prepare", True),  # a module of a project package
    ("from other_dist import prepare", False),  # a dependency's function of the same name
    ("from .cpu import prepare", False),  # beyond the top-level package: Python refuses it
])
def test_the_plan_and_the_call_check_share_one_rule(import_line, is_call):
    gpu = ("from runpod_flash import Endpoint\n"
           '@Endpoint(name="gpu")\n'
           "async def infer(text):\n"
           f"    {import_line}\n"
           "    return prepare(text)\n")
    files = {"cpu.py": CPU_ENDPOINT, "gpu.py": gpu, "helpers/__init__.py": "",
             "helpers/sub.py": ""}
    sources, plan = plan_of(files)
    planned = next(e for e in plan.endpoints if e.name == "gpu")
    assert planned.calls == (("cpu",) if is_call else ())
    found = check_sources(sources, plan, shipped_paths=frozenset(sources),
                          project_paths=frozenset(sources)).findings
    assert [f.code for f in found] == (["not-awaited"] if is_call else [])


# --- unshipped and module-level imports -------------------------------------------------------


def test_shipped_local_modules_and_packages_are_fine():
    files = {
        "app.py": """
            from runpod_flash import Endpoint
            import helpers
            from pkg import sub
            @Endpoint(name="work")
            def work(x):
                from pkg.sub import value
                from . import nothing_here
                return value
        """,
        "helpers.py": "import os\n",
        "pkg/__init__.py": "",
        "pkg/sub.py": "value = 1\n",
    }
    assert check(files) == []


def test_unshipped_submodules_and_module_level_imports_are_errors():
    files = {
        "app.py": """
            from runpod_flash import Endpoint
            from pkg import sub
            @Endpoint(name="work")
            def work(x):
                import pkg.private
                return x
        """,
        "pkg/__init__.py": "",
    }
    found = check(files, unshipped={"pkg/sub.py": "", "pkg/private.py": "", "other.py": ""})
    assert summary(found) == [("unshipped-import", "app.py:2"), ("unshipped-import", "app.py:5")]
    assert "`pkg.sub` imported by app.py is the project file pkg/sub.py" in found[0].message
    assert "`pkg.private` imported by `work`" in found[1].message


def test_files_that_no_endpoint_loads_may_import_unshipped_modules():
    files = {"app.py": endpoint_file("return x")["app.py"], "main.py": "import scratch\n"}
    assert check(files, unshipped={"scratch.py": ""}) == []


def test_module_level_imports_of_dependencies():
    files = {
        "app.py": """
            from __future__ import annotations
            import os, numpy
            import runpod
            from runpod_flash import Endpoint
            from . import sibling
            import helpers
            try:
                import orjson as json
            except ImportError:
                import simplejson as json
            if TYPE_CHECKING:
                import pandas
            else:
                import polars
            @Endpoint(name="work")
            def work(x: numpy.ndarray, codec=json, frame: polars.DataFrame = None):
                return x
        """,
        "helpers.py": "import requests\n",
        "sibling.py": "",
    }
    found = check(files, code="module-level-import")
    assert used_names(found) == ["numpy", "orjson", "simplejson", "polars"]
    assert (found[0].location.line, found[0].location.column) == (2, 12)


def test_imports_that_only_serve_other_module_level_code_are_not_reported():
    files = {"app.py": """
        from fastapi import APIRouter, Depends
        from pydantic import BaseModel
        import numpy as np
        import pandas
        from runpod_flash import Endpoint

        router = APIRouter()

        class Health(BaseModel):
            ok: bool

        @router.get("/health")
        def health(check=Depends(lambda: 1)) -> Health:
            return Health(ok=True)

        def summarise(frame):
            return pandas.DataFrame(frame).describe()

        SCALE = np.float32(2)

        @Endpoint(name="work", cpu="cpu3c-1-2")
        def work(rows):
            return summarise(rows) * SCALE
    """}
    found = check(files, code="module-level-import")
    # pandas through summarise(), numpy through SCALE; not fastapi or pydantic
    assert used_names(found) == ["numpy", "pandas"]


# --- check_imports: undeclared dependencies ----------------------------------------------------


def imports_of(files, *, installed=None, images=None, local=frozenset()):
    _, plan = plan_of(files)
    table = wheelhouse_images(images)
    return check_imports(
        plan, table,
        import_names={name: frozenset(names) for name, names in (installed or {}).items()},
        local_modules=local,
    )


def test_undeclared_imports():
    body = """
        import os.path, tomllib
        import runpod_flash
        import yaml
        from PIL import Image
        from cv2 import imread
        from .sibling import x
        from helpers import y
        import torch
    """
    gpu = endpoint_file(body).get("app.py").replace('cpu="cpu3c-1-2"', "gpu=GpuGroup.ANY")
    gpu = gpu.replace("import Endpoint", "import Endpoint, GpuGroup")
    found = imports_of({"app.py": gpu}, installed={"work": {"yaml"}}, local={"helpers"})
    assert used_names(found) == ["PIL", "cv2"]
    assert "add 'pillow'" in found[0].message and "its image (gpu@wheelhouse-1)" in found[0].message
    assert "add 'opencv-python-headless'" in found[1].message
    cpu = imports_of(endpoint_file(body), installed={"work": {"yaml"}}, local={"helpers"})
    assert used_names(cpu) == ["PIL", "cv2", "torch"]
    overridden = imports_of({"app.py": gpu}, installed={"work": {"yaml"}}, local={"helpers"},
                            images={"gpu": {"provides": ["torch", "pillow", "opencv-python"]}})
    assert overridden == ()


def test_dependencies_of_other_endpoints_do_not_count():
    files = {"app.py": """
        from runpod_flash import Endpoint
        @Endpoint(name="a", cpu="cpu3c-1-2", dependencies=["pyyaml"])
        def a(x):
            import yaml
        @Endpoint(name="b", cpu="cpu3c-1-2")
        def b(x):
            import yaml
    """}
    found = imports_of(files, installed={"a": {"yaml"}})
    assert [(f.location.line, f.severity) for f in found] == [(7, "warning")]
    assert "endpoint 'b'" in found[0].message


# --- import names of distributions -------------------------------------------------------------


def write_dist(site: Path, name: str, version: str, record: list[str], top_level=None) -> None:
    dist_info = site / f"{name}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    (dist_info / "METADATA").write_text(metadata)
    if record:
        (dist_info / "RECORD").write_text("".join(f"{path},,\n" for path in record))
    if top_level is not None:
        (dist_info / "top_level.txt").write_text("\n".join(top_level) + "\n")


def test_import_names_of_installed_distributions(tmp_path):
    write_dist(tmp_path, "PyYAML", "6.0", ["yaml/__init__.py", "_yaml/__init__.py",
                                           "PyYAML-6.0.dist-info/METADATA"])
    write_dist(tmp_path, "numpy", "2.0", ["numpy/__init__.py", "numpy.libs/libgfortran.so.5",
                                          "bin/f2py", "numpy-2.0.dist-info/RECORD"])
    write_dist(tmp_path, "six", "1.16", ["six.py", "__pycache__/six.cpython-312.pyc"])
    write_dist(tmp_path, "legacy_pkg", "1", [], top_level=["legacy", "_legacy_speedups", ""])
    write_dist(tmp_path, "fast", "1", ["_fast.cpython-312-x86_64-linux-gnu.so", "fast.pth"])
    assert import_names_of(tmp_path, read_installed_dists(tmp_path)) == (
        ("fast", ("_fast",)),
        ("legacy-pkg", ("_legacy_speedups", "legacy")),
        ("numpy", ("numpy",)),
        ("pyyaml", ("_yaml", "yaml")),
        ("six", ("six",)),
    )


def test_image_import_names():
    table = wheelhouse_images()
    assert image_import_names(table, "gpu") == {
        "filelock", "mpmath", "networkx", "numpy", "nvidia", "sympy", "torch", "triton",
        "runpod", "runpod_flash"}
    assert image_import_names(table, "cpu") == {"runpod", "runpod_flash"}
    custom = wheelhouse_images({"cpu": {"provides": ["Pillow==10.0", "PyYAML", "scikit-learn"]}})
    assert image_import_names(custom, "cpu") == {"PIL", "yaml", "sklearn", "runpod", "runpod_flash"}


def test_image_import_names_come_from_the_profile():
    release = image_table(release="1.6.0", profiles_dir=PROFILES_DIR)
    gpu = image_import_names(release, "gpu")
    # Read from the wheels: names no guess from the distribution name gives.
    assert {"dateutil", "functorch", "torchgen", "yaml", "_yaml", "torchvision"} <= gpu
    assert "torchvision" not in image_import_names(release, "gpu-lb")
    assert "torch" not in image_import_names(release, "cpu")
    assert {"pydantic", "aiohttp", "fastapi"} <= image_import_names(release, "cpu")


def test_endpoint_import_names_fall_back_to_guesses_for_packages_not_installed():
    installed = (("pyyaml", ("_yaml", "yaml")),)
    assert endpoint_import_names({"a": ["PyYAML", "torch", "Pillow"], "b": []}, installed) == {
        "a": frozenset({"yaml", "_yaml", "torch", "PIL"}),
        "b": frozenset(),
    }


def test_local_module_names():
    paths = ["app.py", "pkg/__init__.py", "pkg/sub/mod.py", "ns/mod.py", "README.md",
             "my-scripts/run.py", "setup.py"]
    assert local_module_names(paths) == {"app", "pkg", "ns", "setup"}
