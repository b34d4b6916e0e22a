"""The post-install audit, on directories unpacked from the local wheelhouse without uv."""

from __future__ import annotations

import compileall
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename

from flashbuild.deps.audit import (
    InstallAuditError,
    audit_install,
    check_shared_object,
    check_wheel_tags,
    find_top_level_clashes,
    is_shared_object_name,
    remove_install_leftovers,
)
from flashbuild.deps.elf import ElfFormatError, read_elf
from flashbuild.deps.installed import read_installed_dists, top_level_names
from flashbuild.deps.records import InstalledDist
from flashbuild.deps.tags import manylinux_platforms, preferred_wheel, target_tags, wheel_tags_fit
from flashbuild.errors import DependencyError
from flashbuild.records import Target

from ..support.elf import EM_AARCH64, shared_object
from ..support.wheelhouse import Dist, install_wheel, write_wheel

TARGET = Target()  # CPython 3.12, glibc 2.28
CLEAN_SET = (
    "fastmath", "numpy", "torch", "triton", "pillow", "torchvision", "nvidia-cublas-cu12",
    "nvidia-cudnn-cu12", "sentence-transformers", "transformers-lite", "filelock", "sympy",
    "mpmath", "networkx", "tinyutil", "withscript", "Py_Yaml_Lite",
)


def wheel_for(wheelhouse: Path, name: str, python: str = "312") -> Path:
    """The newest wheel of ``name`` for CPython 3.<python>, else the newest for anything."""
    candidates = []
    for path in sorted(wheelhouse.glob("*.whl")):
        dist, version, _, tags = parse_wheel_filename(path.name)
        if dist == canonicalize_name(name):
            preferred = any(tag.interpreter in (f"cp{python}", "py3") for tag in tags)
            candidates.append((preferred, version, path))
    assert candidates, name
    return max(candidates)[2]


def install(wheelhouse: Path, site: Path, *names: str) -> Path:
    for name in names:
        install_wheel(wheel_for(wheelhouse, name), site)
    return site


def violations_of(error: InstallAuditError) -> set[tuple[str, str, str]]:
    return {(v.dist, v.path, v.kind) for v in error.violations}


# --- wheel tags ------------------------------------------------------------------------


def test_manylinux_platforms_run_from_the_target_glibc_down_with_legacy_aliases():
    platforms = manylinux_platforms((2, 28))
    assert platforms[0] == "manylinux_2_28_x86_64"
    assert platforms[-1] == "manylinux1_x86_64"
    legacy = {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"}
    assert legacy <= set(platforms)
    assert "manylinux_2_5_x86_64" in platforms
    assert "manylinux_2_29_x86_64" not in platforms
    assert len(platforms) == 24 + 3


def test_target_tags_accept_the_target_abi_abi3_and_pure_wheels_only():
    tags = target_tags(TARGET)
    assert Tag("cp312", "cp312", "manylinux_2_28_x86_64") in tags
    assert Tag("cp312", "cp312", "manylinux1_x86_64") in tags
    assert Tag("cp39", "abi3", "manylinux2014_x86_64") in tags
    assert Tag("py3", "none", "manylinux2010_x86_64") in tags
    assert Tag("py3", "none", "any") in tags
    assert Tag("cp312", "none", "any") in tags
    assert Tag("cp312", "cp312", "linux_x86_64") not in tags
    assert Tag("cp312", "cp312", "manylinux_2_29_x86_64") not in tags
    assert Tag("cp313", "abi3", "manylinux_2_17_x86_64") not in tags
    assert Tag("cp311", "cp311", "manylinux_2_17_x86_64") not in tags
    assert not any(tag.platform.endswith("aarch64") for tag in tags)


@pytest.mark.parametrize(
    ("tags", "python_version", "fits"),
    [
        (["cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"], "3.12", True),
        (["cp312-cp312-manylinux_2_28_x86_64"], "3.12", True),
        (["cp312-cp312-manylinux_2_31_x86_64"], "3.12", False),
        (["cp312-cp312-linux_x86_64"], "3.12", False),
        (["cp311-cp311-manylinux1_x86_64"], "3.12", False),
        (["cp311-cp311-manylinux1_x86_64"], "3.11", True),
        (["cp310-abi3-manylinux_2_17_x86_64"], "3.13", True),
        (["cp313-abi3-manylinux_2_17_x86_64"], "3.12", False),
        (["py2.py3-none-any"], "3.10", True),
        (["py3-none-manylinux2014_x86_64"], "3.13", True),
        (["py3-none-macosx_11_0_arm64"], "3.12", False),
        (["cp312-cp312-manylinux_2_17_aarch64"], "3.12", False),
        (["cp312-cp312-win_amd64", "py3-none-any"], "3.12", True),
        (["not a tag"], "3.12", False),
        ([], "3.12", False),
    ],
)
def test_wheel_tags_fit(tags, python_version, fits):
    assert wheel_tags_fit(tags, Target(python_version=python_version)) is fits


# --- the wheel's file name decides, as for pip and uv ------------------------------------

VLLM_WHEEL = "vllm-0.21.0-1-cp38-abi3-manylinux_2_24_x86_64.whl"


def installed(*wheel_file_tags: str) -> InstalledDist:
    return InstalledDist(name="vllm", version="0.21.0", dist_info="vllm-0.21.0.dist-info",
                         tags=wheel_file_tags, files=(), top_levels=())


def test_the_file_name_decides_and_a_disagreeing_wheel_file_is_a_note():
    violations, notes = check_wheel_tags(installed("cp38-abi3-linux_x86_64"), TARGET, VLLM_WHEEL)
    assert violations == []
    assert notes == [
        "vllm 0.21.0: its WHEEL file lists the tags cp38-abi3-linux_x86_64, its file name "
        f"{VLLM_WHEEL} others; judged by the file name, as pip and uv do"
    ]
    agreeing = installed("cp38-abi3-manylinux_2_24_x86_64")
    assert check_wheel_tags(agreeing, TARGET, VLLM_WHEEL) == ([], [])


@pytest.mark.parametrize(("candidates", "chosen"), [
    # vllm 0.21.0 was published twice for x86_64; the build number 1 wins.
    (["vllm-0.21.0-cp38-abi3-manylinux_2_24_x86_64.whl", VLLM_WHEEL], VLLM_WHEEL),
    # The CPython-specific wheel beats abi3, abi3 beats pure, newer manylinux beats older.
    (["x-1.0-py3-none-any.whl", "x-1.0-cp38-abi3-manylinux_2_17_x86_64.whl",
      "x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"],
     "x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"),
    (["x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "x-1.0-cp312-cp312-manylinux_2_28_x86_64.whl"],
     "x-1.0-cp312-cp312-manylinux_2_28_x86_64.whl"),
    # Nothing that fits (or nothing that is a wheel): no choice.
    (["x-1.0-cp312-cp312-manylinux_2_34_x86_64.whl", "x-1.0.tar.gz"], None),
])
def test_preferred_wheel_is_the_one_an_installer_takes(candidates, chosen):
    assert preferred_wheel(candidates, TARGET) == chosen
    assert preferred_wheel(reversed(candidates), TARGET) == chosen


def test_without_a_file_name_the_wheel_file_decides():
    violations, notes = check_wheel_tags(installed("cp38-abi3-linux_x86_64"), TARGET)
    assert [(v.path, v.kind) for v in violations] == [("vllm-0.21.0.dist-info/WHEEL", "wheel-tag")]
    assert "was built on this machine" in violations[0].reason
    assert notes == []


@pytest.mark.parametrize(("wheel_file", "kind", "reason"), [
    ("vllm-0.20.2-cp38-abi3-manylinux_2_35_x86_64.whl", "wheel-tag",
     "does not fit CPython 3.12 on manylinux_2_28_x86_64"),
    ("vllm-0.21.0-cp312-cp312-linux_x86_64.whl", "wheel-tag", "built for one machine"),
    ("vllm-0.21.0-cp38-abi3-manylinux_2_24_aarch64.whl", "wheel-tag", "does not fit"),
    ("vllm.whl", "metadata", "not a valid wheel file name"),
])
def test_a_file_name_that_does_not_fit_is_a_violation(wheel_file, kind, reason):
    violations, notes = check_wheel_tags(installed("cp38-abi3-manylinux_2_24_x86_64"), TARGET,
                                         wheel_file)
    assert [(v.path, v.kind) for v in violations] == [(wheel_file, kind)]
    assert reason in violations[0].reason and notes == []


# --- ELF -------------------------------------------------------------------------------

_VERSIONS = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 60)).map(lambda v: f"GLIBC_{v[0]}.{v[1]}"),
    min_size=1, max_size=6, unique=True,
)


@given(versions=_VERSIONS, section_headers=st.booleans())
def test_read_elf_returns_every_required_version(tmp_path_factory, versions, section_headers):
    path = tmp_path_factory.mktemp("elf") / "lib.so"
    path.write_bytes(shared_object(versions, section_headers=section_headers))
    info = read_elf(path)
    assert info.required_versions == tuple(versions)
    assert info.glibc == max(tuple(int(p) for p in v[6:].split(".")) for v in versions)


def test_read_elf_sees_versions_of_other_glibc_libraries(tmp_path):
    path = tmp_path / "lib.so"
    other = {"libm.so.6": ["GLIBC_2.29"], "libstdc++.so.6": ["GLIBCXX_3.4.30"]}
    path.write_bytes(shared_object(("GLIBC_2.17",), other_needed=other))
    info = read_elf(path)
    assert info.required_versions == ("GLIBC_2.17", "GLIBC_2.29", "GLIBCXX_3.4.30")
    assert info.glibc == (2, 29)
    assert check_shared_object(path, TARGET) == (
        "needs GLIBC_2.29, newer than the target's glibc 2.28", "glibc"
    )


def _patched(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value):]


@pytest.mark.parametrize(
    ("data", "kind", "reason"),
    [
        (shared_object(("GLIBC_2.28",)), None, None),
        (shared_object(("GLIBC_2.29",)), "glibc", "GLIBC_2.29"),
        (shared_object(("GLIBC_2.17",), machine=EM_AARCH64), "architecture", "AArch64"),
        (_patched(shared_object(), 4, b"\x01"), "architecture", "32-bit"),
        (_patched(shared_object(), 5, b"\x02"), "architecture", "big-endian"),
        (b"\xcf\xfa\xed\xfe" + bytes(60), "not-elf", "not an ELF file"),
        (b"INPUT(-lfoo)\n", "not-elf", "not an ELF file"),
        (shared_object()[:100], "not-elf", "truncated"),
    ],
)
def test_check_shared_object(tmp_path, data, kind, reason):
    path = tmp_path / "lib.so"
    path.write_bytes(data)
    problem = check_shared_object(path, TARGET)
    if kind is None:
        assert problem is None
    else:
        assert problem is not None and problem[1] == kind and reason in problem[0]


def test_read_elf_refuses_files_that_are_not_elf(tmp_path):
    path = tmp_path / "x.so"
    path.write_bytes(b"")
    with pytest.raises(ElfFormatError):
        read_elf(path)


@pytest.mark.parametrize(
    ("name", "shared"),
    [
        ("fastmath/_core.so", True),
        ("fastmath/_core.cpython-312-x86_64-linux-gnu.so", True),
        ("nvidia/cudnn/lib/libcudnn.so.9", True),
        ("lib/libfoo.so.1.2.3", True),
        ("foo/_x.abi3.so", True),
        ("foo/so.py", False),
        ("foo/x.so.py", False),
        ("foo/x.soname", False),
    ],
)
def test_is_shared_object_name(name, shared):
    assert is_shared_object_name(name) is shared


# --- top-level names ---------------------------------------------------------------------


def test_top_level_names_of_a_project():
    names = top_level_names(
        ["app/__init__.py", "app/x.py", "utils.py", "README.md", "ns/sub/mod.py", "fast.abi3.so"]
    )
    assert names == {"app": "app/", "utils": "utils.py", "README.md": "README.md",
                     "ns": "ns/", "fast": "fast.abi3.so"}


def test_dist_top_levels_come_from_its_record(wheelhouse, tmp_path):
    site = install(wheelhouse, tmp_path, "Py_Yaml_Lite", "withscript", "nvidia-cublas-cu12")
    dists = {dist.name: dist for dist in read_installed_dists(site)}
    assert set(dists) == {"py-yaml-lite", "withscript", "nvidia-cublas-cu12"}
    assert dists["py-yaml-lite"].top_levels == ("yaml_lite",)
    assert dists["py-yaml-lite"].dist_info == "Py_Yaml_Lite-1.0.dist-info"
    assert dists["withscript"].top_levels == ("withscript",)  # bin/ is not a top level
    assert dists["nvidia-cublas-cu12"].top_levels == ("nvidia",)


def test_clash_names_the_project_path_and_the_dist(wheelhouse, tmp_path):
    site = install(wheelhouse, tmp_path, "Py_Yaml_Lite", "nvidia-cublas-cu12", "nvidia-cudnn-cu12")
    project = {"yaml_lite": "yaml_lite.py", "nvidia": "nvidia/", "app": "app/"}
    clashes = find_top_level_clashes(read_installed_dists(site), project)
    assert [str(clash) for clash in sorted(clashes)] == [
        "nvidia-cublas-cu12 12.4: nvidia/: installs 'nvidia', which the project defines in nvidia/",
        "nvidia-cudnn-cu12 9.1: nvidia/: installs 'nvidia', which the project defines in nvidia/",
        "py-yaml-lite 1.0: yaml_lite/: installs 'yaml_lite', "
        "which the project defines in yaml_lite.py",
    ]


# --- the whole audit -------------------------------------------------------------------------


def test_a_clean_install_passes_and_loses_bin_and_bytecode(wheelhouse, tmp_path):
    site = install(wheelhouse, tmp_path / "site", *CLEAN_SET)
    compileall.compile_dir(site, quiet=1)
    (site / "tinyutil" / "stale.pyc").write_bytes(b"old layout")
    assert (site / "bin" / "withscript-tool").is_file()

    report = audit_install(site, TARGET, {"app": "app/", "handler_gpu": "handler_gpu.py"})

    assert {dist.name for dist in report.dists} == {canonicalize_name(n) for n in CLEAN_SET}
    assert report.glibc == (2, 28)  # pillow's _imaging needs exactly the target's glibc
    assert report.shared_objects == 9
    assert "bin/" in report.removed
    assert "tinyutil/stale.pyc" in report.removed
    assert "torch/__pycache__/" in report.removed
    assert not (site / "bin").exists()
    assert not list(site.rglob("__pycache__")) and not list(site.rglob("*.pyc"))
    assert (site / "torch" / "lib" / "libtorch_cpu.so").is_file()


def test_every_violation_is_reported_in_one_error(wheelhouse, tmp_path):
    localbuild = write_wheel(Dist("localbuild", "1.0", tags="cp312-cp312-linux_x86_64"), tmp_path)
    site = install(wheelhouse, tmp_path / "site", "badso", "notelf", "liar", "maconly", "oldpy",
                   "fastmath", "withscript", "Py_Yaml_Lite")
    install_wheel(localbuild, site)
    (site / "stray.so").write_bytes(shared_object(("GLIBC_2.34",)))  # listed in no RECORD

    with pytest.raises(InstallAuditError) as caught:
        audit_install(site, TARGET, {"yaml_lite": "yaml_lite/", "app": "app/"})

    error = caught.value
    assert isinstance(error, DependencyError) and error.exit_code == 4
    assert violations_of(error) == {
        ("badso 1.0", "badso/_core.so", "glibc"),
        ("notelf 1.0", "notelf/_core.so", "not-elf"),
        ("liar 1.0", "liar/_core.so", "architecture"),
        ("maconly 1.0", "maconly-1.0.dist-info/WHEEL", "wheel-tag"),
        ("oldpy 1.0", "oldpy-1.0.dist-info/WHEEL", "wheel-tag"),
        ("localbuild 1.0", "localbuild-1.0.dist-info/WHEEL", "wheel-tag"),
        ("py-yaml-lite 1.0", "yaml_lite/", "clash"),
        ("", "stray.so", "glibc"),
    }
    message = str(error)
    assert message.startswith("the installed dependencies do not fit the target (CPython 3.12, "
                              "manylinux_2_28_x86_64): 8 problems")
    assert (
        "badso 1.0: badso/_core.so: needs GLIBC_2.39, newer than the target's glibc 2.28"
        in message
    )
    assert "(not listed in any RECORD): stray.so" in message
    assert "built on this machine" in message  # the linux_x86_64 explanation
    assert "--exclude" in error.hint and "Rename the project module" in error.hint
    # A failed audit changes nothing on disk.
    assert (site / "bin" / "withscript").is_file()


def test_missing_wheel_and_record_files_are_violations(wheelhouse, tmp_path):
    site = install(wheelhouse, tmp_path, "tinyutil", "appdep")
    (site / "tinyutil-2.0.dist-info" / "WHEEL").unlink()
    (site / "appdep-1.0.dist-info" / "RECORD").unlink()
    with pytest.raises(InstallAuditError) as caught:
        audit_install(site, TARGET, {})
    assert violations_of(caught.value) == {
        ("tinyutil 2.0", "tinyutil-2.0.dist-info/WHEEL", "metadata"),
        ("appdep 1.0", "appdep-1.0.dist-info/RECORD", "metadata"),
    }
    assert "--exclude" in caught.value.hint and "Rename" not in caught.value.hint


def test_the_target_python_decides_which_abi_fits(wheelhouse, tmp_path):
    site = install(wheelhouse, tmp_path, "fastmath")  # the cp312 wheel
    with pytest.raises(InstallAuditError) as caught:
        audit_install(site, Target(python_version="3.13"), {})
    assert violations_of(caught.value) == {
        ("fastmath 1.0", "fastmath-1.0.dist-info/WHEEL", "wheel-tag")
    }


def test_remove_install_leftovers_keeps_a_lock_file_a_dist_installed(tmp_path):
    (tmp_path / ".lock").write_text("")
    assert remove_install_leftovers(tmp_path, listed=[".lock"]) == ()
    assert remove_install_leftovers(tmp_path) == (".lock",)
    assert not (tmp_path / ".lock").exists()
