"""``flash images``: the known releases of the worker images and what each provides."""

from __future__ import annotations

import json

from flashbuild.errors import UsageError

from ..support.helpers import run_cli


def test_list_shows_the_releases_newest_first(capsys, monkeypatch):
    monkeypatch.delenv("FLASHBUILD_IMAGE_PROFILES")
    code, out, _ = run_cli(["images", "list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("1.6.0  (2026-08-20)  cpu 3.10, 3.11, 3.12, 3.13;")
    assert lines[1].startswith("1.4.1  (2026-04-09)") and "gpu 3.12;" in lines[1]


def test_show_prints_each_kind_with_versions_and_sources(capsys, monkeypatch):
    monkeypatch.delenv("FLASHBUILD_IMAGE_PROFILES")
    code, out, _ = run_cli(["images", "show", "--kind", "gpu", "--kind", "gpu-lb"], capsys)
    assert code == 0
    assert out.startswith("release 1.6.0, Python 3.12\n")
    gpu, gpu_lb = out.split("\n\ngpu-lb: ")
    assert "\n  torchvision " in gpu and "torchvision" not in gpu_lb
    assert [line.split() for line in gpu.splitlines() if line.split()[:1] == ["torch"]] == [
        ["torch", "2.9.1", "base"]]
    assert "\ncpu:" not in out


def test_show_json_is_the_profile_of_one_python(capsys, monkeypatch):
    monkeypatch.delenv("FLASHBUILD_IMAGE_PROFILES")
    code, out, _ = run_cli(["images", "show", "1.4.1", "--python", "3.11", "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["release"] == "1.4.1" and document["python"] == "3.11"
    assert document["images"]["gpu"] is None  # 1.4.1 built GPU images for 3.12 only
    assert document["images"]["cpu"]["runpod-flash"]["version"] == "1.11.3"


def test_profiles_of_your_own_come_from_the_environment(capsys):
    code, out, _ = run_cli(["images", "list"], capsys)  # the tests' profiles
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["wheelhouse-1", "wheelhouse-0"]


def test_an_unknown_release_is_a_usage_error(capsys):
    code, out, err = run_cli(["images", "show", "9.9"], capsys)
    assert code == UsageError.exit_code and out == ""
    assert "no image profile for release '9.9' (known releases: wheelhouse-0, wheelhouse-1)" in err
