"""Grouping and validation of endpoints, defaults, cross-endpoint calls and config_hash."""

from __future__ import annotations

import hashlib
from textwrap import dedent

import pytest

from flashbuild.errors import SourceCodeError
from flashbuild.records import BuildPlan, PlannedEndpoint, ScannedModule, ScanResult
from flashbuild.source.modules import module_name
from flashbuild.source.plan import build_plan
from flashbuild.source.scan import scan_source


def plan(files: dict[str, str], python_version: str = "3.12") -> BuildPlan:
    """Scan ``{path: source}`` (sources dedented) and plan project ``demo``."""
    modules, functions = [], []
    for path, text in files.items():
        module = module_name(path)
        modules.append(ScannedModule(path=path, module=module))
        source = dedent(text).lstrip("\n").encode()
        functions.extend(scan_source(source, path=path, module=module))
    scan = ScanResult(modules=tuple(modules), functions=tuple(functions))
    return build_plan(scan, project_name="demo", python_version=python_version)


def plan_error(files: dict[str, str]) -> SourceCodeError:
    with pytest.raises(SourceCodeError) as info:
        plan(files)
    return info.value


def endpoint(files: dict[str, str], **options) -> PlannedEndpoint:
    (only,) = plan(files, **options).endpoints
    return only


def queue(name: str, function: str, options: str = "") -> str:
    """A file whose line 2 is ``@Endpoint(name=..., <options>)``."""
    return (f"from runpod_flash import Endpoint\n@Endpoint(name={name!r}{options})\n"
            f"def {function}(): ...\n")


def routes(name: str, *declared: tuple[str, str, str]) -> str:
    """``api = Endpoint(name)`` on line 2, then route ``i`` decorated on line ``3 + 2 * i``."""
    lines = ["from runpod_flash import Endpoint", f"api = Endpoint(name={name!r})"]
    for method, path, function in declared:
        lines += [f"@api.{method}({path!r})", f"def {function}(): ..."]
    return "\n".join(lines) + "\n"


def remote_routes(*declared: tuple[str, str, str]) -> str:
    """A ``LiveLoadBalancer`` named ``lb``; route ``i`` decorated on line ``3 + 2 * i``."""
    lines = ["from runpod_flash import LiveLoadBalancer, remote",
             "lb = LiveLoadBalancer(name='lb')"]
    for method, path, function in declared:
        lines += [f"@remote(lb, method={method!r}, path={path!r})", f"def {function}(): ..."]
    return "\n".join(lines) + "\n"


# --- validation: each error kind of the README --------------------------------------

PLAN_ERRORS = {
    "no endpoints": (
        {"app.py": "import runpod_flash\n", "util.py": "X = 1\n"}, None, (),
        "no Flash endpoints found in 2 Python files of project 'demo'"),
    "two functions on one queue endpoint": (
        {"a.py": queue("worker", "first"), "b.py": queue("worker", "second")},
        "b.py:2:1", ("a.py:2:1",),
        "queue endpoint 'worker' already runs `first` (a.py:2:1)"),
    "different configurations": (
        {"a.py": queue("shared", "one", ", workers=3"),
         "b.py": queue("shared", "two", ", workers=5")},
        "b.py:2:1", ("a.py:2:1",),
        "endpoint 'shared' is declared with a different configuration at a.py:2:1 and here "
        "(workers_max: 3 vs 5)"),
    "queue and load-balanced": (
        {"a.py": routes("svc", ("get", "/x", "x")), "b.py": queue("svc", "y")},
        "b.py:2:1", ("a.py:2:7",),
        "endpoint 'svc' is declared queue-based here but load-balanced at a.py:2:7"),
    "direct decorator and routes on one instance": (
        {"app.py": "from runpod_flash import Endpoint\nep = Endpoint(name='both')\n"
                   "@ep\ndef a(): ...\n@ep.get('/b')\ndef b(): ...\n"},
        "app.py:2:6", ("app.py:3:1",), "declared load-balanced here but queue-based at app.py:3:1"),
    "function name used by two endpoints": (
        {"a.py": queue("one", "process"), "b.py": queue("two", "process")},
        "b.py:2:1", ("a.py:2:1",),
        "function name `process` is used by endpoint 'one' (a.py:2:1) and endpoint 'two'"),
    "unsupported method": (
        {"app.py": remote_routes(("FETCH", "/items", "items"))}, "app.py:3:1", (),
        "HTTP method 'FETCH' of `items` is not supported"),
    "unsupported route decorator": (
        {"app.py": routes("api", ("head", "/items", "items"))}, "app.py:3:1", (),
        "HTTP method 'HEAD' of `items` is not supported"),
    "path without a slash": (
        {"app.py": routes("api", ("get", "/ok", "ok"), ("post", "items", "items"))},
        "app.py:5:1", (), "route path 'items' of `items` must start with '/'"),
    "reserved /ping": (
        {"app.py": routes("api", ("get", "/ping", "ping"))}, "app.py:3:1", (),
        "route path '/ping' of `ping` is reserved by the worker"),
    "reserved /execute": (
        {"app.py": remote_routes(("POST", "/execute/", "run_code"))}, "app.py:3:1", (),
        "route path '/execute/' of `run_code` is reserved"),
    "duplicate route": (
        {"app.py": routes("api", ("get", "/items", "first"), ("get", "/items", "second"))},
        "app.py:5:1", ("app.py:3:1",),
        "route GET /items of endpoint 'api' is declared twice: by `first` (app.py:3:1) "
        "and by `second`"),
    "duplicate route, method in other case": (
        {"app.py": remote_routes(("get", "/items", "first"), ("GET", "/items", "second"))},
        "app.py:5:1", ("app.py:3:1",), "route GET /items of endpoint 'lb' is declared twice"),
}


@pytest.mark.parametrize(("files", "location", "related", "fragment"), PLAN_ERRORS.values(),
                         ids=PLAN_ERRORS.keys())
def test_plan_errors(files, location, related, fragment):
    error = plan_error(files)
    assert (str(error.location) if error.location else None) == location
    assert tuple(str(place) for place in error.related) == related
    assert fragment in error.message
    assert error.hint


def test_a_conflict_in_env_names_the_variables_but_never_prints_their_values():
    error = plan_error({
        "a.py": queue("shared", "one", ", env={'TOKEN': 'secret-a', 'MODE': 'x'}"),
        "b.py": queue("shared", "two", ", env={'TOKEN': 'secret-b', 'MODE': 'x', 'NEW': 'y'}"),
    })
    assert "(env: NEW, TOKEN differ)" in error.message
    assert "secret" not in error.message


HEADER = "from runpod_flash import Endpoint, GpuGroup, LiveLoadBalancer, LiveServerless, remote\n"

DECLARATION_ERRORS = {
    "gpu and cpu": ("@Endpoint(name='w', gpu=GpuGroup.ANY, cpu='cpu3c-1-2')", "app.py:2:43",
                    "`gpu` and `cpu` are mutually exclusive"),
    # A parenthesised tuple is placed at its first element.
    "reversed workers": ("@Endpoint(name='w', workers=(3, 1))", "app.py:2:30",
                         "workers (3, 1) is not a valid range"),
    "no workers": ("@Endpoint(name='w', workers=0)", "app.py:2:29", "workers (0, 0) is not"),
    "legacy workers": ("cfg = LiveServerless(name='q', workersMin=3, workersMax=2)\n@remote(cfg)",
                       "app.py:2:57", "workers (3, 2) is not a valid range"),
    "unknown enum member": ("@Endpoint(name='w', gpu=GpuGroup.AMPERE_8O)", "app.py:2:34",
                            "Did you mean GpuGroup.AMPERE_80?"),
    "unknown cpu instance": ("@Endpoint(name='w', cpu='cpu9x-1-1')", "app.py:2:25",
                             "must be CpuInstanceType members or instance names"),
    "unknown option": ("@Endpoint(name='w', workrs=3)", "app.py:2:28", "Did you mean `workers`?"),
    "invalid requirement": ("@Endpoint(name='w', dependencies=['numpy>=>1'])", "app.py:2:34",
                            "dependency 'numpy>=>1' of endpoint 'w' is not a valid requirement"),
    "bare decorator": ("@Endpoint", "app.py:2:1",
                       "@Endpoint must be called with its configuration"),
    "missing name": ("@Endpoint()", "app.py:2:2", "Endpoint() needs a `name`"),
    "method on queue resource": ("cfg = LiveServerless(name='q')\n@remote(cfg, path='/x')",
                                 "app.py:3:19", "`method`/`path` only apply to load balancers"),
    "load balancer without route": ("lb = LiveLoadBalancer(name='l')\n@remote(lb)", "app.py:3:9",
                                    "needs `method` and `path`"),
    "strings as list": ("@Endpoint(name='w', dependencies='numpy')", "app.py:2:34",
                        "must be a list of strings"),
    "non-string env": ("@Endpoint(name='w', env={'N': 4})", "app.py:2:25",
                       "keys and values must be strings"),
    "invalid name": ("@Endpoint(name='bad name')", "app.py:2:16", "'bad name' is not valid"),
    "client endpoint": ("@Endpoint(name='w', id='abc123')", "app.py:2:24",
                        "is a client for an existing endpoint"),
    "two positional": ("@Endpoint('w', 'x')", "app.py:2:16", "at most 1 positional argument"),
    "two decorators": ("@Endpoint(name='w')\n@Endpoint(name='v')", "app.py:3:1",
                       "more than one Flash decorator"),
    "uncalled route": ("api = Endpoint(name='a')\n@api.get", "app.py:3:1",
                       "must be called with a path"),
    "two route arguments": ("api = Endpoint(name='a')\n@api.get('/a', '/b')", "app.py:3:2",
                            "exactly one argument, the path"),
    "non-string path": ("api = Endpoint(name='a')\n@api.get(3)", "app.py:3:10",
                        "route path must be a string"),
    "no resource": ("@remote(resource_config=None)", "app.py:2:25",
                    "needs a resource configuration such as LiveServerless(name=...), got None"),
    "endpoint as resource": ("@remote(Endpoint(name='e'))", "app.py:2:9", "got Endpoint(...)."),
    "route on a class": ("api = Endpoint(name='a')\n@api.post('/run')\nclass Runner: ...\n#",
                         "app.py:3:1", "`Runner` is a class"),
}


@pytest.mark.parametrize(("source", "location", "fragment"), DECLARATION_ERRORS.values(),
                         ids=DECLARATION_ERRORS.keys())
def test_declaration_errors_point_at_the_argument_at_fault(source, location, fragment):
    error = plan_error({"app.py": HEADER + source + "\ndef f(): ...\n"})
    assert str(error.location) == location
    assert fragment in error.message


# --- grouping and defaults ------------------------------------------------------------


def test_defaults():
    planned = endpoint({"app.py": queue("plain", "work")})
    config = planned.config
    assert (config.compute, config.gpu_ids, config.instance_ids) == ("gpu", ("any",), ())
    assert (config.workers_min, config.workers_max, config.idle_timeout) == (0, 1, 60)
    assert (planned.dependencies, planned.system_dependencies, config.env, config.settings) == (
        (), (), (), ())
    assert (planned.handler_file, planned.image_name) == (
        "handler_plain.py", "runpod/flash:py3.12-latest")
    assert (planned.calls, str(planned.declared_at)) == ((), "app.py:2:1")


@pytest.mark.parametrize(("source", "image", "instances"), [
    ("@Endpoint(name='e', cpu='cpu3c-1-2')", "runpod/flash-cpu:py3.11-latest", ("cpu3c-1-2",)),
    ("cfg = CpuLiveServerless(name='e')\n@remote(cfg)", "runpod/flash-cpu:py3.11-latest",
     ("cpu3g-2-8",)),
    ("cfg = CpuLiveLoadBalancer(name='e')\n@remote(cfg, method='GET', path='/')",
     "runpod/flash-lb-cpu:py3.11-latest", ("cpu3g-2-8",)),
    ("api = Endpoint(name='e')\n@api.get('/')", "runpod/flash-lb:py3.11-latest", ()),
])
def test_images_and_cpu_defaults(source, image, instances):
    header = "from runpod_flash import CpuLiveLoadBalancer, CpuLiveServerless, Endpoint, remote\n"
    planned = endpoint({"app.py": header + source + "\ndef f(): ...\n"}, python_version="3.11")
    assert (planned.image_name, planned.config.instance_ids) == (image, instances)


def test_one_name_declared_identically_in_two_files_is_one_endpoint():
    result = plan({
        "b.py": routes("api", ("post", "/b", "from_b")),
        "a.py": routes("api", ("get", "/a", "from_a")),
        "z.py": queue("zeta", "last"),
    })
    assert [e.name for e in result.endpoints] == ["api", "zeta"]
    api = result.endpoints[0]
    assert [f.decl.name for f in api.functions] == ["from_a", "from_b"]  # source order
    assert str(api.declared_at) == "a.py:2:7"
    assert result.function_registry == (("from_a", "api"), ("from_b", "api"), ("last", "zeta"))


def test_dependencies_merge_endpoint_and_function_levels_sorted_and_unique():
    planned = endpoint({"app.py": '''
        from runpod_flash import LiveLoadBalancer, remote
        lb = LiveLoadBalancer(name="lb")
        @remote(lb, method="GET", path="/a", dependencies=["torch", "numpy"],
                system_dependencies=["git"])
        def a(): ...
        @remote(lb, method="GET", path="/b", dependencies=["numpy", "accelerate"],
                system_dependencies=["ffmpeg", "git"])
        def b(): ...
    '''})
    assert planned.dependencies == ("accelerate", "numpy", "torch")
    assert planned.system_dependencies == ("ffmpeg", "git")


def test_calls_record_endpoints_whose_functions_are_imported_in_a_body():
    result = plan({
        "cpu_worker.py": queue("cpu", "clean"),
        "pkg/__init__.py": queue("init", "from_init"),
        "pkg/models.py": queue("models", "embed"),
        "gpu_worker.py": '''
            from runpod_flash import Endpoint
            from cpu_worker import clean  # module level: not a call from the worker
            @Endpoint(name="gpu")
            async def infer(data):
                from cpu_worker import clean
                from pkg.models import embed as embedding
                from numpy import from_init  # same name, not a project module
                import pkg  # a module import names no function
                from gpu_worker import infer  # itself
                return await clean(data)
        ''',
        "pkg/sub.py": '''
            from runpod_flash import Endpoint
            @Endpoint(name="sub")
            class Sub:
                def run(self):
                    from . import from_init
                    from .models import embed
        ''',
    })
    calls = {e.name: e.calls for e in result.endpoints}
    assert calls == {"cpu": (), "gpu": ("cpu", "models"), "init": (), "models": (),
                     "sub": ("init", "models")}
    gpu = next(e for e in result.endpoints if e.name == "gpu")
    assert gpu.functions[0].calls == ("cpu", "models")


# --- config_hash ------------------------------------------------------------------------

BASE = "from runpod_flash import Endpoint, GpuGroup\n@Endpoint(name='e'{})\ndef f(): ...\n"


def hash_of(options: str = "", python_version: str = "3.12") -> str:
    return endpoint({"app.py": BASE.format(options)}, python_version=python_version).config_hash


def test_config_hash_follows_the_documented_recipe():
    canonical = (
        '{"compute":"gpu","dependencies":[],"gpuIds":"ADA_24,ADA_32_PRO,ADA_48_PRO,ADA_80_PRO,'
        'AMPERE_16,AMPERE_24,AMPERE_48,AMPERE_80,BLACKWELL_180,BLACKWELL_96,HOPPER_141",'
        '"gpus":["any"],"idleTimeout":60,"imageName":"runpod/flash:py3.12-latest",'
        '"is_load_balanced":false,"locations":"US-CA-2,US-IL-1,US-KS-2,US-MO-1,US-MO-2,'
        'US-NC-2,US-NE-1,US-WA-1,EU-CZ-1,EU-RO-1,EUR-NO-1","minCudaVersion":"12.8","name":"e",'
        '"resource_type":"LiveServerless","scalerType":"QUEUE_DELAY","scalerValue":4,'
        '"settings":{},"system_dependencies":[],"template":{"advancedStart":false,'
        '"containerDiskInGb":64,"containerRegistryAuthId":"","dockerArgs":"","startScript":""},'
        '"workersMax":1,"workersMin":0}'
    )
    assert hash_of() == hashlib.sha256(canonical.encode()).hexdigest()
    assert hash_of() == hash_of()  # stable


def test_config_hash_ignores_env():
    assert hash_of(", env={'TOKEN': 'old'}") == hash_of(", env={'TOKEN': 'new', 'X': '1'}") == (
        hash_of())


CHANGES = [
    ", workers=2", ", workers=(1, 1)", ", idle_timeout=61", ", gpu=GpuGroup.ADA_24",
    ", gpu=[GpuGroup.ADA_24, GpuGroup.AMPERE_80]", ", gpu=[GpuGroup.AMPERE_80, GpuGroup.ADA_24]",
    ", cpu='cpu3c-1-2'", ", dependencies=['numpy']", ", dependencies=['numpy>=2']",
    ", system_dependencies=['git']", ", execution_timeout_ms=1000", ", gpu_count=2",
]


def test_every_other_change_alters_config_hash():
    hashes = [hash_of(change) for change in CHANGES]
    hashes.append(hash_of(python_version="3.11"))  # the image tag changes
    hashes += [
        endpoint({"app.py": queue("other-name", "f")}).config_hash,
        endpoint({"app.py": routes("e", ("get", "/", "f"))}).config_hash,
        endpoint({"app.py": "from runpod_flash import LiveServerless, remote\n"
                            "@remote(LiveServerless(name='e'))\ndef f(): ...\n"}).config_hash,
    ]
    assert hash_of() not in hashes
    assert len(set(hashes)) == len(hashes)
