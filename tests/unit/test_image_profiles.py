"""The image profiles: generated from checked-in inputs, and what they say."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from flashbuild.config.images import PROFILES_DIR, available_releases, image_table
from flashbuild.errors import UsageError

from ..conftest import REPO_ROOT

TOOLS = REPO_ROOT / "tools" / "image_profiles"


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"image_profiles_{name}", TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    saved = list(sys.path)
    try:
        yield load_tool("profiles")
    finally:
        sys.path[:] = saved


def test_the_checked_in_profiles_are_what_the_inputs_give(generator):
    releases = [folder.name for folder in generator.releases()]
    assert releases == list(available_releases(PROFILES_DIR)) == ["1.4.1", "1.6.0"]
    for folder in generator.releases():
        written = (PROFILES_DIR / f"{folder.name}.json").read_text(encoding="utf-8")
        assert generator.rendered(folder) == written


def test_the_generator_reports_a_stale_profile(generator, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(generator, "OUTPUT", tmp_path)
    assert generator.main(["check"]) == 1
    assert "is not what the inputs give" in capsys.readouterr().err
    assert generator.main(["generate"]) == 0
    assert generator.main(["check"]) == 0


def versions(release: str, kind: str, python: str = "3.12") -> dict[str, str | None]:
    table = image_table(release=release, python=python, profiles_dir=PROFILES_DIR)
    return {p.name: p.version for p in table.for_kind(kind).provides}


def test_the_newest_release_is_the_default():
    assert image_table(profiles_dir=PROFILES_DIR).release == "1.6.0"


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12", "3.13"])
def test_release_1_6_0_as_its_dockerfiles_install_it(python):
    gpu, gpu_lb = versions("1.6.0", "gpu", python), versions("1.6.0", "gpu-lb", python)
    cpu, cpu_lb = versions("1.6.0", "cpu", python), versions("1.6.0", "cpu-lb", python)
    assert gpu["torch"] == gpu_lb["torch"] == "2.9.1"
    assert gpu["torchvision"] == "0.24.1" and "torchvision" not in gpu_lb
    assert gpu["triton"] == "3.5.1" and gpu["nvidia-cudnn-cu12"] == "9.10.2.21"
    assert "numpy" in gpu and "torch" not in cpu and "numpy" not in cpu
    assert ("torchaudio" in gpu) == (python == "3.12")  # only the base image's Python has it
    for image in (gpu, gpu_lb, cpu, cpu_lb):
        assert image["runpod-flash"] == "1.19.0" and image["runpod"] == "1.10.1"
        assert {"pydantic", "fastapi", "uvicorn", "aiohttp", "cloudpickle", "requests",
                "hf-transfer", "huggingface-hub", "python-dateutil"} <= set(image)
    assert cpu == cpu_lb and set(cpu) < set(gpu_lb) < set(gpu)


def test_release_1_4_1_has_an_older_runtime_and_fewer_images():
    assert versions("1.4.1", "cpu")["runpod-flash"] == "1.11.3"
    assert "torchvision" not in versions("1.4.1", "gpu")
    table = image_table(release="1.4.1", python="3.11", profiles_dir=PROFILES_DIR)
    assert not table.for_kind("gpu").available and table.for_kind("cpu").available


def test_every_entry_says_where_it_came_from():
    for release in available_releases(PROFILES_DIR):
        for kind in ("cpu", "cpu-lb", "gpu", "gpu-lb"):
            table = image_table(release=release, profiles_dir=PROFILES_DIR)
            for package in table.for_kind(kind).provides:
                assert package.source in ("runtime", "base", kind)
                assert package.version and package.modules, (release, kind, package)


def test_an_unknown_release_is_a_usage_error():
    with pytest.raises(UsageError, match=r"no image profile for release '0\.1'") as info:
        image_table(release="0.1", profiles_dir=PROFILES_DIR)
    assert "1.4.1, 1.6.0" in info.value.message


@pytest.mark.parametrize(("paths", "modules"), [
    (["six.py", "six-1.17.0.dist-info/RECORD"], ("six",)),
    (["yaml/__init__.py", "_yaml/__init__.py", "PyYAML-6.0.dist-info/METADATA"],
     ("_yaml", "yaml")),
    (["_cffi_backend.cpython-312-x86_64-linux-gnu.so", "cffi/__init__.py"],
     ("_cffi_backend", "cffi")),
    (["numpy.libs/libopenblas.so", "numpy/__init__.py", "distutils-precedence.pth"],
     ("numpy",)),
    (["pkg-1.0.data/purelib/extra/__init__.py", "pkg-1.0.data/scripts/tool",
      "pkg-1.0.data/headers/x.h"], ("extra",)),
])
def test_top_level_modules_of_a_wheel(paths, modules):
    assert load_tool("wheel_modules").modules_of(paths) == modules


def test_each_release_lists_the_image_s_own_modules():
    newest = image_table(release="1.6.0", profiles_dir=PROFILES_DIR).app_modules
    older = image_table(release="1.4.1", profiles_dir=PROFILES_DIR).app_modules
    assert {"handler", "lb_handler", "constants", "logger", "version", "unpack_volume"} <= set(
        older) <= set(newest)
    assert "sitecustomize" in newest and "sitecustomize" not in older


@pytest.mark.parametrize(("paths", "clash"), [
    (["app.py", "constants.py"], "constants.py"),
    (["app.py", "version/__init__.py", "version/data.py"], "version/__init__.py"),
    (["app.py", "pkg/constants.py", "pkg/__init__.py", "logger.txt", "lb_handlers.py"], None),
])
def test_a_top_level_module_named_like_the_image_s_own_is_refused(paths, clash):
    from flashbuild.config.images import check_app_modules
    from flashbuild.errors import SourceCodeError

    table = image_table(release="1.6.0", profiles_dir=PROFILES_DIR)
    if clash is None:
        check_app_modules(table, paths)
        return
    with pytest.raises(SourceCodeError, match="is named like the worker image's own") as info:
        check_app_modules(table, paths)
    assert info.value.location is not None and info.value.location.path == clash


@pytest.mark.parametrize("release", ["x\x00y", "../image_profiles/1.6.0", "1.6.0/../1.6.0", ""])
def test_a_release_is_only_ever_a_known_name(release):
    from flashbuild.config.images import load_profile

    with pytest.raises(UsageError, match="there is no image profile for release"):
        load_profile(release)
