"""Reading manifests and artifacts, and comparing JSON values, without a build."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from flashbuild.errors import UsageError
from flashbuild.inspect.json_diff import diff_values
from flashbuild.inspect.load import load_manifest


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_values_are_compared_as_json_and_lists_by_name():
    assert diff_values({"flashboot": 1, "ids": [1]}, {"flashboot": True, "ids": [1]}) == {
        "flashboot": {"old": 1, "new": True}}
    assert diff_values({"f": [{"name": "a", "x": 1}, {"name": "b"}]},
                       {"f": [{"name": "b"}, {"name": "a", "x": 2}]}) == {
        "f.a.x": {"old": 1, "new": 2}}  # order alone is no change
    duplicates = [{"name": "a"}, {"name": "a", "x": 1}]
    assert diff_values({"f": duplicates}, {"f": duplicates[:1]}) == {
        "f": {"old": duplicates, "new": duplicates[:1]}}
    assert diff_values({}, {"t": {"env": {"TOKEN": "secret"}, "image": "x"}}) == {
        "t": {"new": {"env": ["TOKEN"], "image": "x"}}}


# --- errors --------------------------------------------------------------------


def gzip_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.json", "no such manifest or artifact: {d}/missing.json"),
        (lambda d: d, "{d} is a directory without .flash/flash_manifest.json"),
        (lambda d: write(d / "x.json", b"{not json"),
         "{d}/x.json is not JSON: Expecting property name enclosed in double quotes at line 1, "
         "column 2"),
        (lambda d: write(d / "x.json", b"\xff\xfe"),
         "{d}/x.json is not JSON: it is not UTF-8 text"),
        (lambda d: write(d / "x.json", b'{"name": "app"}'),
         "{d}/x.json is not a flashbuild manifest: it has no `version` field"),
        (lambda d: write(d / "x.json", b'{"version": "2.0", "resources": {}}'),
         "{d}/x.json has manifest version '2.0'; this flashbuild reads version 1.0"),
        (lambda d: write(d / "x.json", b'{"version": "1.0", "resources": []}'),
         "{d}/x.json is not a flashbuild manifest: `resources` must map endpoint names to objects"),
        (lambda d: gzip_tar(d / "a.tar.gz", {"app.py": b"print()"}),
         "artifact {d}/a.tar.gz has no flash_manifest.json at its root"),
        (lambda d: gzip_tar(d / "a.tar.gz", {"sub/flash_manifest.json": b"{}"}),
         "artifact {d}/a.tar.gz has no flash_manifest.json at its root"),
        (lambda d: gzip_tar(d / "a.tar.gz", {"flash_manifest.json": b"[]"}),
         "flash_manifest.json in {d}/a.tar.gz is not a flashbuild manifest: it has no `version` "
         "field"),
        (lambda d: write(d / "a.tar.gz", b"not a tar"), "cannot read artifact {d}/a.tar.gz: "),
    ],
)
def test_unreadable_inputs_raise_usage_errors(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(UsageError) as raised:
        load_manifest(path)
    assert str(raised.value).startswith(message.format(d=tmp_path))
    assert raised.value.exit_code == 2
    assert "flash build" in raised.value.hint


def test_a_manifest_that_inflates_beyond_any_real_one_is_not_read(tmp_path):
    import gzip
    import io
    import tarfile as tar

    from flashbuild.inspect.load import MAX_MANIFEST_BYTES, load_manifest

    artifact = tmp_path / "bomb.tar.gz"
    size = MAX_MANIFEST_BYTES + 1
    with gzip.open(artifact, "wb", compresslevel=1) as raw, tar.open(fileobj=raw, mode="w") as out:
        info = tar.TarInfo("flash_manifest.json")
        info.size = size
        out.addfile(info, io.BytesIO(b" " * size))
    assert artifact.stat().st_size < 1_000_000
    with pytest.raises(UsageError, match="more than a manifest ever needs"):
        load_manifest(artifact)
