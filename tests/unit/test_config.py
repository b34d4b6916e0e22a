"""Options, FLASH_* variables and [tool.flash] combine into one checked configuration."""

from __future__ import annotations

import pytest

from flashbuild.config.build_config import BuildConfig
from flashbuild.errors import UsageError


def make(project, environ=None, **options) -> BuildConfig:
    return BuildConfig.create(project_dir=project, environ=environ or {}, **options)


def test_defaults(tmp_path):
    config = make(tmp_path)
    assert config.python_version == "3.12"
    assert config.target.uv_platform == "x86_64-manylinux_2_28"
    assert config.index.uv_arguments() == []
    assert config.exclude == () and config.allow_build == ()


def test_precedence_command_line_then_environment_then_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flash]\npython-version = "3.11"\nexclude = ["PyYAML"]\nglibc = "2.31"\n'
        'index-url = "https://from.pyproject/simple"\nfind-links = ["wheels"]\n'
        'allow-build = ["Docopt"]\n'
    )
    config = make(tmp_path)
    assert config.python_version == "3.11" and config.glibc == (2, 31)
    assert config.exclude == ("pyyaml",) and config.allow_build == ("docopt",)
    assert config.index.index_url == "https://from.pyproject/simple"
    assert config.index.find_links == (str(tmp_path / "wheels"),)
    config = make(tmp_path, {"FLASH_INDEX_URL": "https://from.env/simple"},
                  exclude=["torch"], python_version="3.13")
    assert config.index.index_url == "https://from.env/simple"
    assert config.exclude == ("pyyaml", "torch") and config.python_version == "3.13"
    config = make(tmp_path, {"FLASH_INDEX_URL": "https://from.env/simple"},
                  index_url="https://from.cli/simple")
    assert config.index.uv_arguments()[:2] == ["--index-url", "https://from.cli/simple"]


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ('[tool.flash]\nexculde = ["torch"]\n', "unknown key 'exculde'"),
        ('[tool.flash]\nexclude = "torch"\n', "exclude must be a list of strings"),
        ('[tool.flash]\nglibc = "2.5"\n', "glibc level '2.5' is not one the resolver"),
        ('[tool.flash.images.tpu]\nprovides = []\n', "unknown image 'tpu'"),
        ('[tool.flash.images.gpu]\nprovides = ["torch>=2"]\n', "must be a name or name==version"),
        ("[tool.flash\n", "not valid TOML"),
        ("tool = 1\n", "`tool` must be a table"),
        ('tool = {flash = "x"}\n', "`tool.flash` must be a table"),
        ("project = []\n", "`project` must be a table"),
        ('[tool.flash]\nglibc = "2.999"\n', "glibc level '2.999' is not one the resolver"),
        ('[tool.flash]\nglibc = "2.20"\n', "glibc level '2.20' is not one the resolver"),
    ],
)
def test_bad_settings_are_named(tmp_path, pyproject, message):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as info:
        make(tmp_path)
    assert info.value.location is not None and info.value.location.path == "pyproject.toml"


def test_image_override_keeps_the_runtime(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flash.images.gpu]\nprovides = ["torch==2.5.1"]\n'
    )
    images = make(tmp_path).images
    gpu = {p.name: p for p in images.for_kind("gpu").provides}
    cpu = {p.name: p for p in images.for_kind("cpu").provides}
    # The worker's runtime at the profile's versions (a custom image builds on the
    # worker's), the profile's own GPU packages replaced by the list.
    assert str(gpu["torch"]) == "torch==2.5.1" and "torchvision" not in gpu
    assert {name: p for name, p in gpu.items() if name != "torch"} == cpu
    assert str(gpu["runpod-flash"]) == "runpod-flash==1.19.0" and "pydantic" in gpu
    assert images.overridden == ("gpu",)
    assert images.label(["cpu", "gpu", "gpu-lb"]) == "cpu+gpu-lb@1.6.0+gpu@pyproject"
    assert images.manifest_data() == {
        "release": "1.6.0",  # the newest, by default
        "overrides": {"gpu": ["torch==2.5.1"]},
    }


def test_image_override_names_the_runtime_version(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flash.images.cpu]\nprovides = ["runpod-flash==1.21.0"]\n'
    )
    cpu = {p.name: str(p) for p in make(tmp_path).images.for_kind("cpu").provides}
    assert cpu["runpod-flash"] == "runpod-flash==1.21.0" and cpu["runpod"] == "runpod==1.10.1"


@pytest.mark.parametrize("url", ["pypi.org/simple", "htps://pypi.org/simple", "https://",
                                 "https://pypi .org/simple", "", "ftp://x/simple",
                                 "https://[::1", "https://host:port/simple", "http://h:0/"])
def test_a_malformed_index_url_is_a_usage_error(tmp_path, url):
    for options, environ in (({"index_url": url}, {}), ({}, {"FLASH_INDEX_URL": url}),
                             ({"extra_index_urls": [url]}, {})):
        if not url and "index_url" in options:
            continue  # an empty option means "not given"
        if not url and environ:
            continue
        with pytest.raises(UsageError, match="is not a package index URL"):
            make(tmp_path, environ, **options)


def test_index_urls_that_uv_takes_are_accepted(tmp_path):
    for url in ("https://pypi.org/simple", "http://127.0.0.1:8080/simple/",
                f"file://{tmp_path}/simple"):
        assert make(tmp_path, index_url=url).index.index_url == url


def test_the_compression_engine_and_its_levels(tmp_path):
    assert (make(tmp_path).compression_engine, make(tmp_path).compression_level) == ("zlib-ng", 6)
    fast = make(tmp_path, compression_engine="isal")
    assert (fast.compression_engine, fast.compression_level) == ("isal", 2)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flash]\ncompression-engine = "isal"\ncompression-level = 3\n')
    assert (make(tmp_path).compression_engine, make(tmp_path).compression_level) == ("isal", 3)
    with pytest.raises(UsageError, match="compression level 7 is out of range for isal"):
        make(tmp_path, compression_level=7)
    with pytest.raises(UsageError, match="'brotli' is not a compression engine"):
        make(tmp_path, compression_engine="brotli")
