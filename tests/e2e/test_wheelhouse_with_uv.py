"""uv accepts the local wheelhouse: resolutions, wheels it refuses, an sdist built offline."""

from __future__ import annotations

import pytest

from flashbuild.records import Target

from ..support.wheelhouse import uv_pip

SENTENCE_TRANSFORMERS_STACK = {
    "filelock==3.16",
    "mpmath==1.3",
    "networkx==3.4",
    "numpy==2.1.0",
    "nvidia-cublas-cu12==12.4",
    "nvidia-cudnn-cu12==9.1",
    "sentence-transformers==3.0",
    "sympy==1.13",
    "tinyutil==2.0",
    "torch==2.5.0",
    "transformers-lite==1.0",
    "triton==3.1.0",
}


def test_uv_resolves_sentence_transformers_to_the_whole_fake_stack(wheelhouse, uv_cache, tmp_path):
    requirements = tmp_path / "requirements.in"
    requirements.write_text("sentence-transformers\n")
    result = uv_pip(
        ["compile", requirements, "--no-header", "--no-annotate"],
        wheelhouse=wheelhouse,
        cache_dir=uv_cache,
    )
    assert result.ok, result.stderr
    pins = {line.strip() for line in result.stdout.splitlines() if "==" in line}
    assert pins == SENTENCE_TRANSFORMERS_STACK


def test_uv_resolves_torchvision_with_pillow(wheelhouse, uv_cache, tmp_path):
    requirements = tmp_path / "requirements.in"
    requirements.write_text("torchvision\nappdep\n")
    result = uv_pip(
        ["compile", requirements, "--no-header", "--no-annotate"],
        wheelhouse=wheelhouse,
        cache_dir=uv_cache,
        target=Target(python_version="3.13"),
    )
    assert result.ok, result.stderr
    pins = {line.strip() for line in result.stdout.splitlines() if "==" in line}
    expected = {"torchvision==0.20.0", "pillow==11.0", "torch==2.5.0", "appdep==1.0"}
    assert expected | {"shared-helper==1.0"} <= pins


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("maconly", "macosx_11_0_arm64"),
        ("oldpy", "cp38"),
    ],
)
def test_uv_refuses_wheels_for_another_platform_or_python(
    wheelhouse, uv_cache, tmp_path, name, message
):
    result = uv_pip(
        ["install", "--target", tmp_path / "site", "--no-deps", name],
        wheelhouse=wheelhouse,
        cache_dir=uv_cache,
    )
    assert not result.ok
    assert message in result.stderr


def test_sdist_only_package_needs_a_build_and_builds_offline(wheelhouse, uv_cache, tmp_path):
    refused = uv_pip(
        ["install", "--target", tmp_path / "refused", "--no-deps", "--only-binary", ":all:",
         "sdistonly"],
        wheelhouse=wheelhouse,
        cache_dir=uv_cache,
    )
    assert not refused.ok
    assert "sdistonly" in refused.stderr

    built = uv_pip(
        ["install", "--target", tmp_path / "built", "--no-deps", "sdistonly"],
        wheelhouse=wheelhouse,
        cache_dir=uv_cache,
    )
    assert built.ok, built.stderr
    assert (tmp_path / "built" / "sdistonly" / "__init__.py").is_file()
