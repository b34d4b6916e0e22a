"""Values read beyond the scanned file: constants of other project modules, followed
through imports, and build-time environment lookups where they are allowed."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from flashbuild.errors import SourceCodeError
from flashbuild.source.files import collect_project_files
from flashbuild.source.scan import scan_project


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text).lstrip("\n"))
    return root


def scan(root: Path, environ=None, cache_dir=None):
    return scan_project(collect_project_files(root), cache_dir=cache_dir, environ=environ or {})


def scan_error(root: Path, environ=None) -> SourceCodeError:
    with pytest.raises(SourceCodeError) as info:
        scan(root, environ)
    return info.value


PACKAGE = {
    "config.py": 'EXTRA = []\nEXTRA = ["pandas"]\nDEPS = ["numpy"] + EXTRA\n',
    "app/__init__.py": """
        from runpod_flash import NetworkVolume
        volume = NetworkVolume(name="models", size=50)
    """,
    "app/settings.py": """
        from runpod_flash import GpuGroup
        GPU = GpuGroup.ANY
        COMMON = dict(workers=(0, 2), idle_timeout=30)
    """,
    "app/workers/gpu.py": """
        import config
        from runpod_flash import Endpoint
        from ..settings import GPU, COMMON as SHARED
        from .. import volume
        from config import DEPS

        @Endpoint(name="gpu", gpu=GPU, dependencies=DEPS + config.EXTRA, volume=volume,
                  **SHARED)
        def infer(x): ...
    """,
    "app/workers/__init__.py": "",
}


def test_constants_are_followed_through_project_imports(tmp_path):
    (decl,) = scan(write(tmp_path, PACKAGE)).functions
    config = decl.endpoint.config
    assert config.dependencies == ("numpy", "pandas")
    assert (config.workers_min, config.workers_max, config.idle_timeout) == (0, 2, 30)
    assert (config.compute, config.gpu_ids) == ("gpu", ("any",))
    assert dict(config.settings)["volume"] == {"type": "NetworkVolume", "name": "models",
                                              "size": 50}


def test_a_non_static_imported_value_is_reported_where_it_is_defined(tmp_path):
    root = write(tmp_path, {**PACKAGE, "config.py": "import json\nDEPS = json.loads('[]')\n"})
    error = scan_error(root)
    assert str(error.location) == "config.py:2:8"
    assert error.message.startswith("the value of `dependencies` must be static, but "
                                    "`json.loads('[]')` is a call to `json.loads`")
    assert "app/workers/gpu.py:7:45" in [str(place) for place in error.related]


def test_a_name_the_module_does_not_define_is_an_error_at_the_import_use(tmp_path):
    root = write(tmp_path, {**PACKAGE, "config.py": "OTHER = 1\nEXTRA = []\n"})
    error = scan_error(root)
    assert str(error.location) == "app/workers/gpu.py:7:45"
    assert "`DEPS` is not defined at the top level of config.py" in error.message


def test_constants_that_refer_to_each_other_in_a_circle_are_an_error(tmp_path):
    root = write(tmp_path, {
        "a.py": "from b import Y\nX = Y\n",
        "b.py": "from a import X\nY = X\n",
        "app.py": """
            from runpod_flash import Endpoint
            from a import X
            @Endpoint(name="w", dependencies=X)
            def f(): ...
        """,
    })
    error = scan_error(root)
    assert "refers back to itself (a.X -> b.Y -> a.X)" in error.message


def test_a_module_outside_the_project_is_still_not_static(tmp_path):
    root = write(tmp_path, {"app.py": """
        from runpod_flash import Endpoint
        from somelib import DEPS
        @Endpoint(name="w", dependencies=DEPS)
        def f(): ...
    """})
    error = scan_error(root)
    assert "`DEPS` is imported from `somelib`" in error.message


def test_a_cached_result_is_used_only_while_the_modules_it_read_are_unchanged(tmp_path):
    root = write(tmp_path / "project", PACKAGE)
    cache = tmp_path / "cache"
    (first,) = scan(root, cache_dir=cache).functions
    assert first.endpoint.config.dependencies == ("numpy", "pandas")
    (root / "config.py").write_text('DEPS = ["torch"]\nEXTRA = []\n')
    (second,) = scan(root, cache_dir=cache).functions
    assert second.endpoint.config.dependencies == ("torch",)


# --- environment lookups -------------------------------------------------------------

ENVIRONMENT_APP = """
    import os
    from os import environ as ENV, getenv
    from runpod_flash import DataCenter, Endpoint

    MODEL = os.getenv("MODEL", "small")

    @Endpoint(name="w", datacenter=DataCenter[os.environ.get("DC", "EU_RO_1")],
              env={"MODEL": MODEL, "TOKEN": ENV["TOKEN"], "MODE": getenv("MODE", "prod")})
    def f(): ...
"""


def test_lookups_in_env_values_and_enum_names_read_the_build_environment(tmp_path):
    root = write(tmp_path, {"app.py": ENVIRONMENT_APP})
    (decl,) = scan(root, {"TOKEN": "t0k", "DC": "US_CA_2"}).functions
    config = decl.endpoint.config
    assert config.env == (("MODE", "prod"), ("MODEL", "small"), ("TOKEN", "t0k"))
    assert dict(config.settings)["datacenter"] == "US-CA-2"
    assert decl.environment_reads == ("DC", "MODE", "MODEL", "TOKEN")


def test_results_that_read_the_environment_are_never_cached(tmp_path):
    root = write(tmp_path / "project", {"app.py": ENVIRONMENT_APP})
    cache = tmp_path / "cache"
    (first,) = scan(root, {"TOKEN": "one"}, cache_dir=cache).functions
    (second,) = scan(root, {"TOKEN": "two"}, cache_dir=cache).functions
    assert dict(first.endpoint.config.env)["TOKEN"] == "one"
    assert dict(second.endpoint.config.env)["TOKEN"] == "two"
    assert not any(b"one" in path.read_bytes() for path in cache.rglob("*.json"))


def test_an_unset_variable_without_a_default_names_it(tmp_path):
    root = write(tmp_path, {"app.py": ENVIRONMENT_APP})
    error = scan_error(root)
    assert str(error.location) == "app.py:8:41"
    assert error.message.startswith("the environment variable TOKEN is not set for "
                                    "`flash build`, and `ENV[\"TOKEN\"]` gives no default.")
    assert "{{ RUNPOD_SECRET_" in error.hint


def test_an_unknown_enum_member_name_from_the_environment_is_an_error(tmp_path):
    root = write(tmp_path, {"app.py": ENVIRONMENT_APP})
    error = scan_error(root, {"TOKEN": "x", "DC": "MARS_1"})
    assert "`DataCenter.MARS_1` is not a member of DataCenter" in error.message


def test_names_that_only_look_like_lookups_are_not_read(tmp_path):
    root = write(tmp_path, {"app.py": """
        from runpod_flash import Endpoint
        from mylib import getenv
        @Endpoint(name="w", env={"A": getenv("A", "x")})
        def f(): ...
    """})
    error = scan_error(root, {"A": "1"})
    assert "is a call to `getenv`" in error.message


# --- why nothing was found -------------------------------------------------------------


def test_no_endpoints_points_at_legacy_imports_and_unfollowed_decorators(tmp_path):
    from flashbuild.source.plan import build_plan

    root = write(tmp_path, {
        "a.py": "import tetra_rp.core\n",
        "b.py": "from lib import remote\n\n@remote(cfg)\ndef f(): ...\n",
        "c.py": "@Endpoint(name='x')\ndef g(): ...\n",
        "d.py": "def helper(): ...\n",
    })
    result = scan(root)
    expected = [
        ("a.py:1:1", "`tetra_rp.core` is imported here:"),
        ("b.py:1:1", "`remote`, used as the decorator `@remote` of `f` at b.py:3:1, is bound"),
        ("c.py:1:1", "`@Endpoint` decorates `g`, but `Endpoint` is never imported from "
                     "`runpod_flash`."),
    ]
    assert len(result.clues) == len(expected)
    for clue, (location, start) in zip(result.clues, expected, strict=True):
        assert str(clue.location) == location and clue.message.startswith(start), clue
    with pytest.raises(SourceCodeError) as info:
        build_plan(result, project_name="p", python_version="3.12")
    assert str(info.value.location) == "a.py:1:1"
    assert [str(place) for place in info.value.related] == ["b.py:1:1", "c.py:1:1"]
    assert "from runpod_flash import Endpoint" in info.value.hint


def test_every_non_static_value_of_a_build_is_reported_in_one_run(tmp_path):
    root = write(tmp_path, {
        "a.py": """
            import random
            from runpod_flash import Endpoint
            @Endpoint(name=f"w{random.random()}", workers=random.randint(1, 3))
            def f(): ...
            @Endpoint(name="v", dependencies=[str(1)])
            def g(): ...
        """,
        "b.py": """
            from runpod_flash import Endpoint
            @Endpoint(name="u", env={"A": input()})
            def h(): ...
        """,
    })
    error = scan_error(root)
    assert error.message.startswith("4 problems; the first: the value of `name` must be static")
    assert [str(place) for place in (error.location, *error.related)] == [
        "a.py:3:16", "a.py:3:47", "a.py:5:35", "b.py:2:31"]
    assert error.message.count("\n") == 3 and error.hint.count("without running it") == 1


def test_the_report_of_many_problems_is_bounded(tmp_path):
    body = "".join(f"@Endpoint(name=n{i}())\ndef f{i}(): ...\n" for i in range(30))
    root = write(tmp_path, {"a.py": "from runpod_flash import Endpoint\n" + body})
    error = scan_error(root)
    assert error.message.startswith("30 problems; the first:")
    assert error.message.endswith("... and 10 more") and len(error.related) == 19


def test_an_endpoint_object_imported_from_another_module_declares_its_routes(tmp_path):
    root = write(tmp_path, {
        "service.py": """
            from runpod_flash import Endpoint
            from settings import WORKERS
            api = Endpoint(name="svc", cpu="cpu3c-1-2", workers=WORKERS)
            queue = Endpoint(name="jobs", cpu="cpu3c-1-2")
        """,
        "settings.py": "WORKERS = (0, 4)\n",
        "routes/__init__.py": "",
        "routes/users.py": """
            from service import api
            @api.get("/users")
            def users(): ...
        """,
        "routes/items.py": """
            from service import api, queue
            @api.post("/items")
            def items(): ...
            @queue
            def job(x): ...
        """,
    })
    found = {decl.name: decl for decl in scan(root).functions}
    assert sorted(found) == ["items", "job", "users"]
    assert (found["users"].route.method, found["users"].route.path) == ("GET", "/users")
    assert str(found["users"].location) == "routes/users.py:2:1"
    svc = found["items"].endpoint
    assert (svc.config.name, svc.config.load_balanced, svc.config.workers_max) == ("svc", True, 4)
    assert str(svc.location) == "service.py:3:7"
    assert found["job"].endpoint.config.name == "jobs"
    assert not found["job"].endpoint.config.load_balanced
