"""uv installs from the local wheelhouse, and the post-install audit judges the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashbuild.deps.audit import InstallAuditError, audit_install
from flashbuild.records import Target

from ..support.wheelhouse import Dist, build_wheelhouse, uv_pip, write_wheel

TARGET = Target()  # CPython 3.12, glibc 2.28


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """A wheelhouse of this module's own: a test adds a wheel to it for a while."""
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


def test_uv_installs_the_wheels_and_the_audit_accepts_them(wheelhouse, uv_cache, tmp_path):
    site = tmp_path / "site"
    result = uv_pip(
        ["install", "--target", site, "--no-deps", "fastmath", "numpy", "withscript",
         "Py_Yaml_Lite", "nvidia-cublas-cu12", "nvidia-cudnn-cu12", "pillow"],
        wheelhouse=wheelhouse,
        cache_dir=uv_cache,
    )
    assert result.ok, result.stderr
    assert (site / "fastmath" / "_core.cpython-312-x86_64-linux-gnu.so").is_file()

    report = audit_install(site, TARGET, {"app": "app/"})

    assert {dist.name for dist in report.dists} == {
        "fastmath", "numpy", "withscript", "py-yaml-lite", "nvidia-cublas-cu12",
        "nvidia-cudnn-cu12", "pillow",
    }
    # uv writes console scripts to bin/, leaves its lock file in a --target directory
    # and a timestamped cache record in the .dist-info of wheels from local files.
    assert {"bin/", ".lock", "fastmath-1.0.dist-info/uv_cache.json"} <= set(report.removed)
    assert not list(site.glob("*.dist-info/uv_cache.json"))
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info")) == [
        "PIL", "fastmath", "numpy", "nvidia", "withscript", "yaml_lite",
    ]


def test_uv_installs_what_only_the_audit_refuses(wheelhouse, uv_cache, tmp_path):
    localbuild = write_wheel(Dist("localbuild", "1.0", tags="cp312-cp312-linux_x86_64"), wheelhouse)
    try:
        site = tmp_path / "site"
        result = uv_pip(
            ["install", "--target", site, "--no-deps", "badso", "liar", "notelf", "localbuild"],
            wheelhouse=wheelhouse,
            cache_dir=uv_cache,
        )
    finally:
        localbuild.unlink()  # the wheelhouse is shared by this module's tests
    # uv trusts file names and takes linux_x86_64 for a manylinux platform.
    assert result.ok, result.stderr
    with pytest.raises(InstallAuditError) as caught:
        audit_install(site, TARGET, {})
    assert {(v.dist, v.kind) for v in caught.value.violations} == {
        ("badso 1.0", "glibc"),
        ("liar 1.0", "architecture"),
        ("notelf 1.0", "not-elf"),
        ("localbuild 1.0", "wheel-tag"),
    }
