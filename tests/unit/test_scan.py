"""The scanner on small sources: every decorator form, static values, errors, imports."""

from __future__ import annotations

from textwrap import dedent

import pytest

from flashbuild.errors import SourceCodeError
from flashbuild.records import FunctionDecl
from flashbuild.source.files import collect_project_files
from flashbuild.source.modules import module_name
from flashbuild.source.scan import scan_project, scan_source


def scan(text: str, path: str = "app.py") -> tuple[FunctionDecl, ...]:
    """Scan ``text`` (dedented; line 1 is its first non-empty line) as the file ``path``."""
    source = dedent(text).lstrip("\n").encode()
    return scan_source(source, path=path, module=module_name(path))


def only(text: str, path: str = "app.py") -> FunctionDecl:
    found = scan(text, path)
    assert len(found) == 1, found
    return found[0]


def scan_error(text: str, path: str = "app.py") -> SourceCodeError:
    with pytest.raises(SourceCodeError) as info:
        scan(text, path)
    return info.value


# --- decorator forms ------------------------------------------------------------


def test_endpoint_on_sync_and_async_functions():
    sync, coroutine = scan('''
        from runpod_flash import Endpoint
        @Endpoint(name="sync-ep")
        def plain(x): ...
        @Endpoint(name="async-ep")
        async def waits(x): ...
    ''')
    assert (sync.name, sync.is_async, str(sync.location)) == ("plain", False, "app.py:2:1")
    assert (coroutine.name, coroutine.is_async, str(coroutine.location)) == (
        "waits", True, "app.py:4:1")
    for decl, name in ((sync, "sync-ep"), (coroutine, "async-ep")):
        config = decl.endpoint.config
        assert (config.name, config.resource_type, config.load_balanced) == (
            name, "Endpoint", False)
        assert decl.route is None and not decl.is_class and decl.module == "app"
        assert decl.endpoint.location == decl.location


def test_endpoint_on_class_records_public_methods_only():
    decl = only('''
        from runpod_flash import Endpoint
        @Endpoint(name="model")
        class Model:
            size = 3
            def __init__(self): ...
            def predict(self, x): ...
            async def stream(self, x): ...
            def _cache(self): ...
            @staticmethod
            def describe(): ...
    ''')
    assert (decl.name, decl.is_class, decl.is_async, str(decl.location)) == (
        "Model", True, False, "app.py:2:1")
    assert decl.class_methods == ("predict", "stream", "describe")


@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "patch"])
def test_endpoint_instance_routes(method):
    decl = only(f'''
        from runpod_flash import Endpoint
        api = Endpoint(name="api", workers=2)
        @api.{method}("/items/{{item_id}}")
        async def handle(item_id): ...
    ''')
    assert decl.route.method == method.upper()
    assert decl.route.path == "/items/{item_id}"
    assert str(decl.route.location) == str(decl.location) == "app.py:3:1"
    assert str(decl.endpoint.location) == "app.py:2:7"  # the Endpoint(...) call
    config = decl.endpoint.config
    assert (config.name, config.load_balanced, config.workers_max) == ("api", True, 2)


def test_route_path_may_be_a_keyword_or_a_constant():
    by_keyword, by_constant = scan('''
        from runpod_flash import Endpoint
        api = Endpoint("api")
        HEALTH = "/health"
        @api.get(path="/items")
        def items(): ...
        @api.get(HEALTH)
        def health(): ...
    ''')
    assert (by_keyword.route.path, by_constant.route.path) == ("/items", "/health")
    assert by_keyword.endpoint.config.name == "api"  # name given positionally


def test_endpoint_instance_used_as_direct_decorator_is_a_queue_endpoint():
    decl = only('''
        from runpod_flash import Endpoint, GpuGroup
        worker = Endpoint(name="direct", gpu=GpuGroup.ADA_24)
        @worker
        def run(x): ...
    ''')
    assert (decl.name, decl.route, str(decl.location)) == ("run", None, "app.py:3:1")
    config = decl.endpoint.config
    assert (config.name, config.load_balanced, config.gpu_ids) == ("direct", False, ("ADA_24",))


@pytest.mark.parametrize(("resource", "compute", "gpus", "instances"), [
    ("LiveServerless", "gpu", ("any",), ()),
    ("ServerlessEndpoint", "gpu", ("any",), ()),
    ("CpuLiveServerless", "cpu", (), ("cpu3g-2-8",)),
    ("CpuServerlessEndpoint", "cpu", (), ("cpu3g-2-8",)),
])
def test_remote_with_queue_resources(resource, compute, gpus, instances):
    decl = only(f'''
        from runpod_flash import {resource}, remote
        cfg = {resource}(name="worker", workersMax=3)
        @remote(resource_config=cfg, dependencies=["numpy", "numpy"], system_dependencies=["git"])
        def work(x): ...
    ''')
    config = decl.endpoint.config
    assert (config.resource_type, config.load_balanced) == (resource, False)
    assert config.compute == compute
    assert (config.gpu_ids, config.instance_ids) == (gpus, instances)
    assert (config.workers_min, config.workers_max, config.idle_timeout) == (0, 3, 60)
    assert (decl.dependencies, decl.system_dependencies) == (("numpy",), ("git",))
    assert decl.route is None
    assert str(decl.endpoint.location) == "app.py:2:7"


@pytest.mark.parametrize(("resource", "compute"), [
    ("LiveLoadBalancer", "gpu"), ("LoadBalancerSlsResource", "gpu"),
    ("CpuLiveLoadBalancer", "cpu"), ("CpuLoadBalancerSlsResource", "cpu"),
])
def test_remote_with_load_balancers(resource, compute):
    decl = only(f'''
        from runpod_flash import {resource}, remote
        lb = {resource}(name="lb")
        @remote(lb, method="post", path="/generate")
        async def generate(prompt): ...
    ''')
    config = decl.endpoint.config
    assert (config.resource_type, config.load_balanced, config.compute) == (resource, True, compute)
    assert (decl.route.method, decl.route.path, decl.is_async) == ("POST", "/generate", True)


def test_remote_legacy_options_inline_configurations_and_cpu_instances():
    legacy, inline, cpu = scan('''
        from runpod_flash import CpuInstanceType, GpuGroup, GpuType, LiveServerless, PodTemplate
        from runpod_flash import remote
        cfg = LiveServerless(name="legacy", gpus=[GpuGroup.AMPERE_80, GpuType.NVIDIA_L4],
                             workersMin=1, workersMax=4, idleTimeout=30, env={"B": "2", "A": "1"},
                             template=PodTemplate(containerDiskInGb=100))
        @remote(cfg)
        def legacy_fn(): ...
        @remote(LiveServerless(name="inline", gpuIds="AMPERE_48, ADA_24"))
        def inline_fn(): ...
        # The docs' hybrid pipeline: a LiveServerless with instanceIds runs on CPU.
        @remote(LiveServerless(name="pre", instanceIds=[CpuInstanceType.CPU5C_4_8]))
        async def preprocess(data): ...
    ''')
    config = legacy.endpoint.config
    assert config.gpu_ids == ("AMPERE_80", "NVIDIA L4")
    assert (config.workers_min, config.workers_max, config.idle_timeout) == (1, 4, 30)
    assert config.env == (("A", "1"), ("B", "2"))
    assert config.settings == (("template", {"type": "PodTemplate", "containerDiskInGb": 100}),)
    assert inline.endpoint.config.gpu_ids == ("AMPERE_48", "ADA_24")
    config = cpu.endpoint.config
    assert (config.compute, config.gpu_ids, config.instance_ids) == ("cpu", (), ("cpu5c-4-8",))


# --- names: imports, aliases, shadowing --------------------------------------------


@pytest.mark.parametrize("header, decorator", [
    ("from runpod_flash import Endpoint as EP, GpuType", "EP"),
    ("import runpod_flash as rf\nfrom runpod_flash import GpuType", "rf.Endpoint"),
    ("import runpod_flash\nfrom runpod_flash.core import GpuType", "runpod_flash.Endpoint"),
    ("from runpod_flash import *", "Endpoint"),
    ("import runpod_flash.core as core\nfrom runpod_flash import GpuType", "core.Endpoint"),
])
def test_import_forms_and_aliases(header, decorator):
    source = f"{header}\n@{decorator}(name='ep', gpu=GpuType.NVIDIA_L4)\ndef f(): ...\n"
    assert only(source).endpoint.config.gpu_ids == ("NVIDIA L4",)


def test_module_alias_reaches_enums_and_resource_classes():
    decl = only('''
        import runpod_flash as rf
        cfg = rf.CpuLiveServerless(name="cpu", instanceIds=[rf.CpuInstanceType.CPU3C_1_2])
        @rf.remote(cfg)
        def f(): ...
    ''')
    assert decl.endpoint.config.instance_ids == ("cpu3c-1-2",)


def test_a_users_own_endpoint_class_and_other_apps_are_ignored():
    assert scan('''
        import runpod_flash
        class Endpoint:
            def __init__(self, **options): ...
        @Endpoint(name="not-flash")
        def mine(): ...
        app = make_app()
        @app.get("/not-flash")
        def route(): ...
    ''') == ()


def test_shadowed_or_reassigned_names_are_no_longer_flash_s():
    decls = scan('''
        from runpod_flash import Endpoint
        api = Endpoint(name="api")
        @Endpoint(name="before")
        def before(): ...
        from mylib import Endpoint
        api = FastAPI()
        @Endpoint(name="after")
        def after(): ...
        @api.get("/items")
        def items(): ...
    ''')
    assert [d.name for d in decls] == ["before"]


def test_only_module_level_definitions_count_and_blocks_are_straight_line():
    decls = scan('''
        from runpod_flash import Endpoint
        try:
            WORKERS = 2
        except ImportError:
            WORKERS = 9
        if True:
            @Endpoint(name="in-if", workers=WORKERS)
            def in_if(): ...
        def factory():
            @Endpoint(name="nested")
            def nested(): ...
    ''')
    assert [(d.name, d.endpoint.config.workers_max) for d in decls] == [("in_if", 2)]


def test_a_file_that_never_mentions_the_sdk_has_no_endpoints():
    assert scan("from elsewhere import Endpoint\n@Endpoint(name='x')\ndef f(): ...\n") == ()


# --- static values -----------------------------------------------------------------


def test_module_constants_tuples_additions_and_merges():
    config = only('''
        from runpod_flash import Endpoint, GpuGroup, GpuType
        BASE = ["requests>=2.31"]
        DEPS = BASE + ["rich"]
        DEPS += ["httpx"]
        ALL = [*DEPS, "numpy", "rich"]
        SYSTEM = ("ffmpeg",) + ("git",)
        SHARED_ENV = {"LOG_LEVEL": "debug", "MODE": "dev"}
        GPUS = [GpuGroup.AMPERE_80, GpuType.NVIDIA_GEFORCE_RTX_4090, GpuGroup.AMPERE_80]
        TIMEOUT = 100 + 20
        @Endpoint(name="consts" "-" f"app", gpu=GPUS, dependencies=ALL, workers=(1, 3),
                  system_dependencies=SYSTEM, env={**SHARED_ENV, "MODE": "prod"},
                  idle_timeout=TIMEOUT, execution_timeout_ms=-(-5))
        def f(): ...
    ''').endpoint.config
    assert config.name == "consts-app"
    assert config.dependencies == ("requests>=2.31", "rich", "httpx", "numpy")
    assert config.system_dependencies == ("ffmpeg", "git")
    assert config.gpu_ids == ("AMPERE_80", "NVIDIA GeForce RTX 4090")
    assert (config.workers_min, config.workers_max, config.idle_timeout) == (1, 3, 120)
    assert config.env == (("LOG_LEVEL", "debug"), ("MODE", "prod"))
    assert config.settings == (("execution_timeout_ms", 5),)


@pytest.mark.parametrize(("workers", "expected"), [
    ("5", (0, 5)), ("(1, 3)", (1, 3)), ("[2, 2]", (2, 2)), ("None", (0, 1)),
])
def test_workers_forms(workers, expected):
    config = only(f"from runpod_flash import Endpoint\n"
                  f"@Endpoint(name='w', workers={workers})\ndef f(): ...\n").endpoint.config
    assert (config.workers_min, config.workers_max) == expected


@pytest.mark.parametrize(("argument", "setting"), [
    ("cpu=CpuInstanceType.CPU5C_4_8", ("instance_ids", ("cpu5c-4-8",))),
    ("cpu=['cpu3c-2-4', CpuInstanceType.CPU3C_2_4]", ("instance_ids", ("cpu3c-2-4",))),
    ("gpu=GpuType.NVIDIA_A100_80GB_PCIe", ("gpu_ids", ("NVIDIA A100 80GB PCIe",))),
    ("datacenter=DataCenter.EU_RO_1", ("settings", (("datacenter", "EU-RO-1"),))),
    ("scaler_type=ServerlessScalerType.QUEUE_DELAY",
     ("settings", (("scaler_type", "QUEUE_DELAY"),))),
    ("volume=NetworkVolume(name='v', size=100)",
     ("settings", (("volume", {"type": "NetworkVolume", "name": "v", "size": 100}),))),
])
def test_enum_members_and_value_classes(argument, setting):
    config = only(
        "from runpod_flash import (CpuInstanceType, DataCenter, Endpoint, GpuType,\n"
        "    NetworkVolume, ServerlessScalerType)\n"
        f"@Endpoint(name='e', {argument})\ndef f(): ...\n"
    ).endpoint.config
    field, value = setting
    assert getattr(config, field) == value


# --- errors at their place ------------------------------------------------------------

PREAMBLE = "import os\nfrom runpod_flash import Endpoint\nSTAGE = 'dev'\n"


@pytest.mark.parametrize(("argument", "column", "fragment"), [
    ('name=f"w-{STAGE}"', 16, '`f"w-{STAGE}"` is an f-string'),
    ('name="w-" f"{STAGE}"', 21, '`f"{STAGE}"` is an f-string'),
    ('name="w", dependencies=load()', 34, "`load()` is a call to `load`"),
    ('name=os.environ["K"]', 16, "is an environment lookup"),
    ('name="w", dependencies=[os.getenv("K")]', 35, "is an environment lookup"),
    ('name="w", workers=os.environ.get("K", "1")', 29, "is an environment lookup"),
    ('name="w", env={os.getenv("K"): "v"}', 26, "is an environment lookup"),
    ('name="w", workers={"a": 2}["a"]', 29, "is a subscript"),
    ('name="w", dependencies=[d for d in "ab"]', 34, "is a comprehension"),
    ('name="w", workers=3 if STAGE else 1', 29, "is a conditional expression"),
    ('name="w", workers=2 * 3', 29, "an arithmetic expression other than `+`"),
    ('name="w", dependencies=UNDEFINED', 34, "not a module-level constant of this file"),
    ('name=b"w"', 16, "is a bytes literal"),
])
def test_non_static_values_fail_at_their_column(argument, column, fragment):
    error = scan_error(PREAMBLE + f"@Endpoint({argument})\ndef f(): ...\n")
    assert str(error.location) == f"app.py:4:{column}"
    assert fragment in error.message
    assert "without running it" in error.hint or "RUNPOD_SECRET_" in error.hint


def test_a_faulty_constant_is_reported_where_defined_and_where_used():
    error = scan_error('''
        import os
        from runpod_flash import Endpoint
        TOKEN = os.environ.get("TOKEN")
        @Endpoint(name="w", env={"TOKEN": TOKEN})
        def f(): ...
    ''', path="pkg/app.py")
    assert str(error.location) == "pkg/app.py:3:9"
    assert [str(place) for place in error.related] == ["pkg/app.py:4:35"]


def test_a_name_bound_to_a_function_names_its_definition():
    error = scan_error('''
        from runpod_flash import Endpoint
        def deps(): ...
        @Endpoint(name="w", dependencies=deps)
        def f(): ...
    ''')
    assert str(error.location) == "app.py:3:34"
    assert "`deps` is a function (bound at app.py:2:1)" in error.message
    assert [str(place) for place in error.related] == ["app.py:2:1"]


@pytest.mark.parametrize(("text", "location", "message"), [
    ("import os\n\ndef broken(:\n    pass\n", "util/broken.py:3:12", "invalid syntax"),
    ("x = (1,\ny = 2\n", "util/broken.py:1:5", "'(' was never closed"),
    ("def f():\n        a = 1\n    b = 2\n", "util/broken.py:3:10", "unindent does not match"),
])
def test_syntax_errors_name_file_and_line(write_project, text, location, message):
    # The broken file does not even import runpod_flash: every shipped file must parse.
    root = write_project({"app.py": "print('fine')\n", "util/broken.py": text})
    with pytest.raises(SourceCodeError) as info:
        scan_project(collect_project_files(root))
    assert str(info.value.location) == location
    assert info.value.message.startswith("syntax error: ")
    assert message in info.value.message


# --- imports inside bodies, modules, projects ----------------------------------------


def test_body_imports_are_made_absolute():
    decl = only('''
        from runpod_flash import Endpoint
        @Endpoint(name="w")
        async def f():
            from cpu_worker import clean, tidy as t
            from .sibling import helper
            from ..up import beyond
            import numpy.linalg
            from . import models
            from .sub import *
    ''', path="pkg/sub/mod.py")
    assert decl.module == "pkg.sub.mod"
    assert [(ref.module, ref.names) for ref in decl.body_imports] == [
        ("cpu_worker", ("clean", "tidy")),
        ("pkg.sub.sibling", ("helper",)),
        ("pkg.up", ("beyond",)),
        ("numpy.linalg", ()),
        ("pkg.sub", ("models",)),
        ("pkg.sub.sub", ("*",)),
    ]
    assert str(decl.body_imports[0].location) == "pkg/sub/mod.py:4:5"


@pytest.mark.parametrize(("path", "relative", "expected"), [
    ("pkg/__init__.py", "from .models import m", "pkg.models"),
    ("pkg/__init__.py", "from ..top import m", ""),  # beyond the top-level package
    ("pkg/mod.py", "from .. import m", ""),
    ("app.py", "from .worker import m", ""),  # no parent package at all
])
def test_relative_imports_at_the_edges(path, relative, expected):
    decl = only(f"from runpod_flash import Endpoint\n@Endpoint(name='w')\ndef f():\n"
                f"    {relative}\n", path=path)
    assert decl.body_imports[0].module == expected


def test_module_names():
    assert [module_name(p) for p in ("app.py", "pkg/__init__.py", "pkg/sub/models.py",
                                     "__init__.py")] == ["app", "pkg", "pkg.sub.models", "__init__"]


def test_scan_project_reads_subpackages_and_init_files(write_project):
    root = write_project({
        "main.py": "print('no endpoints here')\n",
        "pkg/__init__.py": "from runpod_flash import Endpoint\n\n@Endpoint(name='init')\n"
                           "def from_init(): ...\n",
        "pkg/sub/models.py": "from runpod_flash import Endpoint\n\n\n@Endpoint(name='deep')\n"
                             "class Deep:\n    def run(self): ...\n",
        "notes.txt": "@Endpoint(name='text')\n",
    })
    result = scan_project(collect_project_files(root))
    assert [(m.path, m.module) for m in result.modules] == [
        ("main.py", "main"), ("pkg/__init__.py", "pkg"), ("pkg/sub/models.py", "pkg.sub.models")]
    assert [(f.name, f.module, f.file, str(f.location)) for f in result.functions] == [
        ("from_init", "pkg", "pkg/__init__.py", "pkg/__init__.py:3:1"),
        ("Deep", "pkg.sub.models", "pkg/sub/models.py", "pkg/sub/models.py:4:1"),
    ]


@pytest.mark.parametrize(("source", "where", "fragment", "suggestion"), [
    ("from runpod_flash import DataCenter, Endpoint\n"
     "@Endpoint(name='e', datacenter=DataCenter.US_GA_2)\ndef f(): ...\n",
     "app.py:2:43", "`DataCenter.US_GA_2` is not a member of DataCenter", "DataCenter.US_CA_2"),
    ("from runpod_flash import CudaVersion, Endpoint\n"
     "@Endpoint(name='e', min_cuda_version=CudaVersion.V99_9)\ndef f(): ...\n",
     "app.py:2:50", "`CudaVersion.V99_9` is not a member of CudaVersion", "CudaVersion.V12_9"),
    ("from runpod_flash import Endpoint, FlashBoot\n"
     "@Endpoint(name='e')\ndef f(): ...\n",
     "app.py:1:36", "`FlashBoot` is not a name runpod-flash", None),
    ("from runpod_flash import Endpoint\n"
     "@Endpoint(name='e')\ndef f():\n    from runpod_flash import GpuGroups\n",
     "app.py:4:30", "`GpuGroups` is not a name runpod-flash", "`GpuGroup`"),
])
def test_names_the_sdk_lacks_fail_at_their_place(source, where, fragment, suggestion):
    error = scan_error(source)
    assert str(error.location) == where
    assert fragment in error.message and "fails on the worker" in error.message
    if suggestion:
        assert f"Did you mean {suggestion}?" in error.message


@pytest.mark.parametrize("key", ["A=B", "", "LINE\nBREAK", "1ST", "WITH SPACE", "É"])
def test_env_keys_must_be_environment_variable_names(key):
    error = scan_error("from runpod_flash import Endpoint\n"
                       f"@Endpoint(name='e', env={{{key!r}: 'v'}})\ndef f(): ...\n")
    assert "cannot be an environment variable" in error.message
    assert str(error.location).startswith("app.py:2:")


@pytest.mark.parametrize("name", ["worker\n", "worker\t", "work\x00er", "worker\r\n"])
def test_endpoint_names_with_control_characters_are_refused(name):
    error = scan_error(f"from runpod_flash import Endpoint\n@Endpoint(name={name!r})\n"
                       "def f(): ...\n")
    assert "is not valid" in error.message


def test_a_tab_and_space_mix_python_accepts_is_accepted():
    source = (b"from runpod_flash import Endpoint\n"
              b"@Endpoint(name='e', cpu='cpu3c-1-2')\n"
              b"def f():\n    if 1:\n\t    x = 1\n    return x\n")
    (decl,) = scan_source(source, path="app.py", module="app")
    assert decl.name == "f"


def test_a_syntax_error_is_reported_at_its_own_line():
    error = scan_error("from runpod_flash import Endpoint\n\n\nx = 1\ny = (2,\nz = 3\n")
    assert error.location.line in (5, 6) and error.location.line != 1


@pytest.mark.parametrize("expression", [" + ".join(["1"] * 10_000), "(" * 2000 + "1" + ")" * 2000,
                                        " + ".join(["1"] * 300)])
def test_absurd_nesting_is_refused_not_a_crash(expression):
    error = scan_error(f"from runpod_flash import Endpoint\nX = {expression}\n")
    assert "nested" in error.message or "too many nested parentheses" in error.message


def test_a_long_chain_of_constants_is_an_error_at_the_declaration():
    source = ("from runpod_flash import Endpoint\nDEPS = []\n" + "DEPS += ['x']\n" * 400
              + "@Endpoint(name='e', cpu='cpu3c-1-2', dependencies=DEPS)\ndef f(): ...\n")
    error = scan_error(source)
    assert "too long a chain of constants" in error.message
    assert error.location.line == 403


# --- spread arguments and dict(...) ---------------------------------------------------


def test_spread_static_dicts_and_dict_calls_are_keyword_arguments():
    decl = only('''
        from runpod_flash import Endpoint
        _BASE = dict(workers=(0, 3), idle_timeout=60)
        _COMMON = {**_BASE, "env": dict({"A": "1"}, B="2")}
        ARGS = ("worker",)
        @Endpoint(*ARGS, cpu="cpu3c-1-2", **_COMMON)
        def run(x): ...
    ''')
    config = decl.endpoint.config
    assert (config.name, config.workers_min, config.workers_max, config.idle_timeout) == (
        "worker", 0, 3, 60)
    assert config.env == (("A", "1"), ("B", "2"))


def test_a_non_static_value_in_a_spread_dict_names_its_option_and_definition():
    error = scan_error('''
        from runpod_flash import Endpoint
        import mylib
        _COMMON = {"workers": 2, "runner": mylib.pick()}
        @Endpoint(name="w", cpu="cpu3c-1-2", **_COMMON)
        def run(x): ...
    ''')
    assert str(error.location) == "app.py:3:36"
    assert error.message.startswith("the value of `runner` must be static, but `mylib.pick()`")
    assert [str(where) for where in error.related] == ["app.py:4:40"]


@pytest.mark.parametrize(("text", "location", "fragment"), [
    ('@Endpoint(name="w", **{"name": "v"})', "app.py:2:21", "`name` is given more than once"),
    ('@Endpoint(name="w", **[1])', "app.py:2:21", "a `**` of something other than a dict"),
    ('@Endpoint(name="w", **{1: 2})', "app.py:2:21", "a `**` of something other than a dict"),
    ('@Endpoint(*"w")', "app.py:2:11", "a `*` of a non-sequence"),
    ('@Endpoint(name="w", env=dict([("A", "1")]))', "app.py:2:25",
     "a `dict(...)` call with positional arguments other than one dict"),
])
def test_spreads_python_would_refuse_are_errors(text, location, fragment):
    error = scan_error(f"from runpod_flash import Endpoint\n{text}\ndef run(x): ...\n")
    assert str(error.location) == location and fragment in error.message, error


# --- files that cannot declare endpoints: only compiled, many at a time ---------------


def test_many_files_are_checked_in_workers_and_every_problem_is_reported(tmp_path, monkeypatch):
    from flashbuild.source import python_syntax

    monkeypatch.setattr(python_syntax, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(python_syntax.os, "cpu_count", lambda: 3)
    for index in range(40):
        (tmp_path / f"m{index:02d}.py").write_text(f"X = {index}\n")
    (tmp_path / "m07.py").write_text("def broken(:\n")
    (tmp_path / "m31.py").write_text("x = (" * 300 + ")" * 300 + "\n")
    (tmp_path / "app.py").write_text(
        "from runpod_flash import Endpoint\n@Endpoint(name='w')\ndef f(): ...\n")
    checks = python_syntax.SyntaxChecks([(p.name, p.read_bytes())
                                         for p in sorted(tmp_path.glob("m*.py"))])
    assert checks._pool is not None  # two workers for 40 files above a threshold of 10
    assert [path for path, _ in checks.problems()] == ["m07.py", "m31.py"]
    with pytest.raises(SourceCodeError) as info:
        scan_project(collect_project_files(tmp_path))
    assert info.value.message.startswith("2 problems; the first: syntax error")
    assert [str(info.value.location), *map(str, info.value.related)] == ["m07.py:1:12",
                                                                          "m31.py:1:1005"]
    assert "too many nested parentheses" in info.value.message


def test_a_file_known_to_compile_is_not_parsed_again(tmp_path, monkeypatch):
    from flashbuild.source import python_syntax

    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "lib.py").write_text("X = 1\n")
    (tmp_path / "project" / "app.py").write_text(
        "from runpod_flash import Endpoint\n@Endpoint(name='w')\ndef f(): ...\n")
    files = collect_project_files(tmp_path / "project")
    scan_project(files, cache_dir=tmp_path / "cache")
    parsed = []
    monkeypatch.setattr(python_syntax, "syntax_problem", parsed.append)
    scan_project(files, cache_dir=tmp_path / "cache")
    assert parsed == []
    (tmp_path / "project" / "lib.py").write_text("X = 2\n")
    scan_project(collect_project_files(tmp_path / "project"), cache_dir=tmp_path / "cache")
    assert parsed == [b"X = 2\n"]
