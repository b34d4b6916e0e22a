"""The local wheelhouse: well-formed wheels and sdists, and parseable ELF files."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import shutil
import subprocess
import tarfile
import time
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from ..support.elf import EM_AARCH64, EM_X86_64, elf_hash, shared_object
from ..support.wheelhouse import Dist, build_wheelhouse

# Every distribution the default wheelhouse must hold, at its version.
EXPECTED = {
    "appdep": {"1.0"},
    "badso": {"1.0"},
    "fastmath": {"1.0"},
    "filelock": {"3.16"},
    "liar": {"1.0"},
    "maconly": {"1.0"},
    "mpmath": {"1.3"},
    "networkx": {"3.4"},
    "notelf": {"1.0"},
    "numpy": {"2.1.0"},
    "nvidia-cublas-cu12": {"12.4"},
    "nvidia-cudnn-cu12": {"9.1"},
    "oldpy": {"1.0"},
    "pillow": {"11.0"},
    "py-yaml-lite": {"1.0"},
    "sdistonly": {"1.0"},
    "sentence-transformers": {"3.0"},
    "shared-helper": {"1.0"},
    "sympy": {"1.13"},
    "tinyutil": {"1.0", "2.0"},
    "torch": {"2.5.0"},
    "torchvision": {"0.20.0"},
    "transformers-lite": {"1.0"},
    "triton": {"3.1.0"},
    "withscript": {"1.0"},
}


def _wheels(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.whl"))


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


# --- the files themselves ------------------------------------------------------------


def test_wheelhouse_holds_every_expected_distribution(wheelhouse):
    found: dict[str, set[str]] = {}
    for path in wheelhouse.iterdir():
        if path.suffix == ".whl":
            name, version, _, _ = parse_wheel_filename(path.name)
        else:
            name, version = parse_sdist_filename(path.name)
        found.setdefault(name, set()).add(str(version))
    assert found == EXPECTED
    assert [p.name for p in wheelhouse.glob("sdistonly*")] == ["sdistonly-1.0.tar.gz"]
    maconly = [p.name for p in wheelhouse.glob("*maconly*")]
    assert maconly == ["maconly-1.0-py3-none-macosx_11_0_arm64.whl"]


def test_wheelhouse_builds_quickly_and_byte_for_byte_the_same(tmp_path):
    start = time.perf_counter()
    first = build_wheelhouse(tmp_path / "first")
    elapsed = time.perf_counter() - start
    second = build_wheelhouse(tmp_path / "second")
    assert elapsed < 1.0
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_every_wheel_is_well_formed(wheelhouse):
    for path in _wheels(wheelhouse):
        name, version, _, tags = parse_wheel_filename(path.name)
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            entries = {info.filename: archive.read(info) for info in archive.infolist()}
        dist_infos = {entry.split("/")[0] for entry in entries if ".dist-info/" in entry}
        assert len(dist_infos) == 1, path.name
        (dist_info,) = dist_infos
        # The .dist-info name matches the file name's escaped name and version.
        assert dist_info == "-".join(path.name.split("-")[:2]) + ".dist-info"

        metadata = Parser().parsestr(entries[f"{dist_info}/METADATA"].decode())
        assert canonicalize_name(metadata["Name"]) == name
        assert metadata["Version"] == str(version)
        wheel = Parser().parsestr(entries[f"{dist_info}/WHEEL"].decode())
        assert wheel["Wheel-Version"] == "1.0"
        assert {str(tag) for tag in tags} == set(wheel.get_all("Tag")), path.name
        pure = all(tag.platform == "any" for tag in tags)
        assert wheel["Root-Is-Purelib"] == ("true" if pure else "false")

        rows = list(csv.reader(io.StringIO(entries[f"{dist_info}/RECORD"].decode())))
        assert {row[0] for row in rows} == set(entries), path.name
        for entry, digest, size in rows:
            if entry == f"{dist_info}/RECORD":
                assert digest == size == ""
            else:
                assert digest == _digest(entries[entry]), (path.name, entry)
                assert int(size) == len(entries[entry])


def test_names_keep_their_case_only_when_asked(wheelhouse):
    assert (wheelhouse / "Py_Yaml_Lite-1.0-py3-none-any.whl").is_file()
    assert Dist("Foo.Bar", "1.0").filename == "foo_bar-1.0-py3-none-any.whl"
    assert Dist("Foo.Bar", "1.0", legacy_filename=True).dist_info == "Foo_Bar-1.0.dist-info"


def test_compiled_wheels_carry_x86_64_shared_objects(wheelhouse):
    fastmath = "fastmath-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    with zipfile.ZipFile(wheelhouse / fastmath) as archive:
        data = archive.read("fastmath/_core.cpython-312-x86_64-linux-gnu.so")
    assert data[:4] == b"\x7fELF"
    assert int.from_bytes(data[18:20], "little") == EM_X86_64
    with zipfile.ZipFile(wheelhouse / "liar-1.0-py3-none-manylinux_2_17_x86_64.whl") as archive:
        assert int.from_bytes(archive.read("liar/_core.so")[18:20], "little") == EM_AARCH64


def test_script_wheel_has_an_entry_point_and_a_data_script(wheelhouse):
    with zipfile.ZipFile(wheelhouse / "withscript-1.0-py3-none-any.whl") as archive:
        names = set(archive.namelist())
        entry_points = archive.read("withscript-1.0.dist-info/entry_points.txt").decode()
    assert "withscript-1.0.data/scripts/withscript-tool" in names
    assert "withscript = withscript.cli:main" in entry_points


def test_sdist_holds_metadata_and_an_in_tree_backend(wheelhouse):
    with tarfile.open(wheelhouse / "sdistonly-1.0.tar.gz") as archive:
        names = set(archive.getnames())
        pkg_info = archive.extractfile("sdistonly-1.0/PKG-INFO").read().decode()
    assert {"sdistonly-1.0/pyproject.toml", "sdistonly-1.0/in_tree_backend.py"} <= names
    assert "Name: sdistonly" in pkg_info


# --- crafted ELF files -----------------------------------------------------------------


def test_elf_hash_matches_the_value_glibc_uses():
    # Known from libc: the hash of GLIBC_2.2.5 in every x86-64 binary's .gnu.version_r.
    assert elf_hash(b"GLIBC_2.2.5") == 0x09691A75


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf is not installed")
def test_readelf_reads_the_crafted_shared_objects(tmp_path):
    path = tmp_path / "libdemo.so"
    path.write_bytes(
        shared_object(
            ("GLIBC_2.2.5", "GLIBC_2.17"),
            other_needed={"libm.so.6": ["GLIBC_2.29"]},
            soname="libdemo.so",
        )
    )
    result = subprocess.run(
        ["readelf", "-h", "-d", "-V", "-W", str(path)], capture_output=True, text=True, check=True
    )
    assert result.stderr == ""
    assert "DYN (Shared object file)" in result.stdout
    assert "X86-64" in result.stdout
    assert "Shared library: [libc.so.6]" in result.stdout
    assert "Library soname: [libdemo.so]" in result.stdout
    needs = re.findall(r"File: (\S+)\s+Cnt: (\d+)", result.stdout)
    assert needs == [("libc.so.6", "2"), ("libm.so.6", "1")]
    versions = re.findall(r"Name: (GLIBC_\S+)", result.stdout)
    assert versions == ["GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.29"]

    arm = tmp_path / "libarm.so"
    arm.write_bytes(shared_object(("GLIBC_2.39",), machine=EM_AARCH64))
    result = subprocess.run(
        ["readelf", "-h", "-V", str(arm)], capture_output=True, text=True, check=True
    )
    assert "AArch64" in result.stdout
    assert "Name: GLIBC_2.39" in result.stdout
