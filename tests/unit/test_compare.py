"""Comparing two artifacts: the first differing attribute of each member, in a fixed order."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from flashbuild._util.files import file_sha256
from flashbuild.inspect.compare import ATTRIBUTES, ENCODING, compare_artifacts
from flashbuild.records import Artifact


def write_archive(path: Path, members: list[tuple[str, bytes, dict]]) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, data, attributes in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            for key, value in attributes.items():
                setattr(info, key, value)
            archive.addfile(info, io.BytesIO(data))
    return path


def as_rebuilt(path: Path) -> Artifact:
    return Artifact(path=path, size=path.stat().st_size, sha256=file_sha256(path), entries=0)


def test_the_first_differing_attribute_is_reported(tmp_path):
    made = write_archive(tmp_path / "made.tar.gz", [
        ("a.py", b"print(1)\n", {}), ("b.py", b"x = 1\n", {}), ("c.py", b"y\n", {})])
    given = write_archive(tmp_path / "given.tar.gz", [
        ("a.py", b"print(22)\n", {"mode": 0o755}),  # size comes before mode and content
        ("b.py", b"x = 2\n", {"uid": 1000, "mtime": 5}),  # uid before mtime and content
        ("c.py", b"y\n", {"mtime": 7})])
    comparison = compare_artifacts(given, as_rebuilt(made))
    assert not comparison.identical and comparison.members == 3
    assert [(d.name, d.attribute, d.artifact, d.rebuilt) for d in comparison.differences] == [
        ("a.py", "size", 10, 9), ("b.py", "uid", 1000, 0), ("c.py", "mtime", 7, 0)]
    assert ATTRIBUTES.index("size") < ATTRIBUTES.index("mode") < ATTRIBUTES.index("uid") \
        < ATTRIBUTES.index("mtime") < ATTRIBUTES.index("content_sha256")


def test_a_second_member_of_the_same_name_is_a_member_of_its_own(tmp_path):
    made = write_archive(tmp_path / "made.tar.gz", [("a.py", b"1\n", {})])
    given = write_archive(tmp_path / "given.tar.gz", [("a.py", b"1\n", {}),
                                                      ("a.py", b"2\n", {})])
    differences = compare_artifacts(given, as_rebuilt(made)).differences
    assert [(d.name, d.attribute, d.artifact, d.rebuilt) for d in differences] == [
        ("a.py (copy 2)", "presence", "file", None)]


def test_equal_members_in_other_bytes_are_an_encoding_difference(tmp_path):
    members = [("a.py", b"1\n", {})]
    made = write_archive(tmp_path / "made.tar.gz", members)
    given = tmp_path / "given.tar.gz"
    given.write_bytes(made.read_bytes() + b"\x1f\x8b\x08\x00" + bytes(6) + b"\x03\x00"
                      + bytes(8))  # an empty gzip member appended: same tar, other bytes
    comparison = compare_artifacts(given, as_rebuilt(made))
    assert comparison.differences == () and comparison.archive_difference == ENCODING
    assert compare_artifacts(made, as_rebuilt(made)).identical
