"""Tests for flashbuild.artifact: deterministic, validated, atomic tar.gz writing."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flashbuild import records as models
from flashbuild._util.files import atomic_write_bytes
from flashbuild.artifact import tar as archive
from flashbuild.artifact.members import (
    ArchiveMember,
    members_from_directory,
    members_from_project_files,
    members_from_rendered,
)
from flashbuild.artifact.stored import stored_gzip, stored_member_size, tar_entry
from flashbuild.artifact.write import write_artifact
from flashbuild.config.environment import DEFAULT_SOURCE_DATE_EPOCH, source_date_epoch
from flashbuild.errors import PackagingError, UsageError

MTIME = 1_700_000_000
PREVIOUS = b"previous artifact, must survive failures"


def make_sources(root: Path) -> dict[str, Path]:
    """A few source files; their names are the archive names they get."""
    files = {
        "src/app.py": b"print('app')\n",
        "src/pkg/__init__.py": b"",
        "src/pkg/util.py": b"VALUE = 1\n" * 100,
        "bin/run.sh": b"#!/bin/sh\necho run\n",
    }
    paths = {}
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths[name] = path
    paths["bin/run.sh"].chmod(0o755)
    return paths


def sample_members(root: Path) -> list[ArchiveMember]:
    paths = make_sources(root)
    return [
        *(ArchiveMember(name=name, source=path, executable=name.endswith(".sh"))
          for name, path in paths.items()),
        ArchiveMember(name="handler_gpu.py", data=b"# generated\n"),
        ArchiveMember(name="bin/generated.sh", data=b"#!/bin/sh\n", executable=True),
        ArchiveMember(name="src/link.py", link_target="app.py"),
        ArchiveMember(name="shared", link_target="src/pkg"),
    ]


def expected_tree(root: Path) -> dict[str, object]:
    """What extracting sample_members must produce: bytes, ('link', target) or ('x', bytes)."""
    tree: dict[str, object] = {}
    for name, path in make_sources(root).items():
        content = path.read_bytes()
        tree[name] = ("x", content) if name.endswith(".sh") else content
    tree["handler_gpu.py"] = b"# generated\n"
    tree["bin/generated.sh"] = ("x", b"#!/bin/sh\n")
    tree["src/link.py"] = ("link", "app.py")
    tree["shared"] = ("link", "src/pkg")
    return tree


def read_tree(root: Path) -> dict[str, object]:
    """Files and symlinks under root in the shape of expected_tree."""
    tree: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            tree[name] = ("link", os.readlink(path))
        elif path.is_file():
            content = path.read_bytes()
            tree[name] = ("x", content) if os.access(path, os.X_OK) else content
    return tree


def extract_all(tar: tarfile.TarFile, destination: Path) -> None:
    # The "data" filter refuses absolute names and links that leave the destination.
    if hasattr(tarfile, "data_filter"):
        tar.extractall(destination, filter="data")
    else:  # Python without extraction filters
        tar.extractall(destination)


def leftovers(directory: Path, keep: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p != keep)


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """An existing artifact that failed writes must leave untouched."""
    output = tmp_path / "out" / "app.tar.gz"
    output.parent.mkdir()
    output.write_bytes(PREVIOUS)
    return output


# --- determinism ----------------------------------------------------------------


def test_same_members_give_byte_identical_archives(tmp_path: Path) -> None:
    first = sample_members(tmp_path / "one")
    second = sample_members(tmp_path / "two")
    # Same contents, different metadata: mtimes, permission bits other than x, umask.
    for index, member in enumerate(m for m in second if m.source is not None):
        os.utime(member.source, (1_000_000 + index, 2_000_000 + index * 7919))
        member.source.chmod(0o700 if member.executable else 0o600)
    if os.geteuid() == 0:
        for member in second:
            if member.source is not None:
                os.chown(member.source, 4321, 4321)
    a = write_artifact(first, tmp_path / "a.tar.gz", mtime=MTIME)
    old_umask = os.umask(0o077)
    try:
        b = write_artifact(list(reversed(second)), tmp_path / "b.tar.gz", mtime=MTIME)
    finally:
        os.umask(old_umask)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert (a.sha256, a.size, a.entries) == (b.sha256, b.size, b.entries)


def test_changed_content_changes_the_archive(tmp_path: Path) -> None:
    one = write_artifact([ArchiveMember(name="a", data=b"1")], tmp_path / "1.tgz", mtime=MTIME)
    two = write_artifact([ArchiveMember(name="a", data=b"2")], tmp_path / "2.tgz", mtime=MTIME)
    assert one.sha256 != two.sha256


def test_artifact_describes_the_written_file(tmp_path: Path) -> None:
    artifact = write_artifact(sample_members(tmp_path / "src"), tmp_path / "a.tar.gz", mtime=MTIME)
    content = artifact.path.read_bytes()
    assert artifact.path == tmp_path / "a.tar.gz"
    assert artifact.size == len(content)
    assert artifact.sha256 == hashlib.sha256(content).hexdigest()
    with tarfile.open(artifact.path, "r:gz") as tar:
        assert artifact.entries == len(tar.getmembers())


def test_gzip_header_has_no_file_name_and_zero_mtime(tmp_path: Path) -> None:
    artifact = write_artifact(sample_members(tmp_path / "src"), tmp_path / "a.tar.gz", mtime=MTIME)
    header = artifact.path.read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    flags = header[3]
    assert flags & 0x08 == 0, "FNAME bit set: the file name leaked into the gzip header"
    assert flags == 0
    assert header[4:8] == b"\0\0\0\0", "gzip MTIME must be zero"


def test_entries_have_normalised_metadata(tmp_path: Path) -> None:
    long_name = "deep/" + "x" * 120 + "/naïve.py"  # needs a pax "path" record
    members = [*sample_members(tmp_path / "src"), ArchiveMember(name=long_name, data=b"ok")]
    artifact = write_artifact(members, tmp_path / "a.tar.gz", mtime=MTIME)
    with tarfile.open(artifact.path, "r:gz") as tar:
        entries = {info.name: info for info in tar.getmembers()}
    assert long_name in entries
    for info in entries.values():
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
        assert info.mtime == MTIME and isinstance(info.mtime, int)
        assert set(info.pax_headers) <= {"path", "linkpath"}, info.pax_headers
    modes = {name: (info.type, info.mode) for name, info in entries.items()}
    assert modes["src"] == (tarfile.DIRTYPE, 0o755)
    assert modes["src/app.py"] == (tarfile.REGTYPE, 0o644)
    assert modes["bin/run.sh"] == (tarfile.REGTYPE, 0o755)
    assert modes["bin/generated.sh"] == (tarfile.REGTYPE, 0o755)
    assert modes["handler_gpu.py"] == (tarfile.REGTYPE, 0o644)
    assert modes["src/link.py"] == (tarfile.SYMTYPE, 0o777)


def test_parent_directories_are_added_once_in_component_order(tmp_path: Path) -> None:
    members = [
        ArchiveMember(name="a.txt", data=b""),
        ArchiveMember(name="a/z.txt", data=b""),
        ArchiveMember(name="a-b.txt", data=b""),
        ArchiveMember(name="a/b/c.txt", data=b""),
        ArchiveMember(name="a/b.txt", data=b""),
        ArchiveMember(name="a/b/d/e.txt", data=b""),
    ]
    artifact = write_artifact(members, tmp_path / "a.tar.gz", mtime=MTIME)
    with tarfile.open(artifact.path, "r:gz") as tar:
        names = [info.name for info in tar.getmembers()]
        directories = [info.name for info in tar.getmembers() if info.isdir()]
    # Raw string order would put "a-b.txt" and "a.txt" before "a/...", since "-" < "." < "/".
    assert names == [
        "a", "a/b", "a/b/c.txt", "a/b/d", "a/b/d/e.txt", "a/b.txt", "a/z.txt", "a-b.txt", "a.txt",
    ]
    assert directories == ["a", "a/b", "a/b/d"]
    assert artifact.entries == len(names)


def test_mtime_must_be_a_non_negative_int(tmp_path: Path) -> None:
    member = ArchiveMember(name="a", data=b"")
    for bad in (1.5, -1, True):
        with pytest.raises(ValueError):
            write_artifact([member], tmp_path / "a.tar.gz", mtime=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "a.tar.gz").exists()


# --- extraction -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["r:gz", "r:*"])
def test_archive_extracts_with_tarfile(tmp_path: Path, mode: str) -> None:
    artifact = write_artifact(sample_members(tmp_path / "src"), tmp_path / "a.tar.gz", mtime=MTIME)
    destination = tmp_path / "extracted"
    with tarfile.open(artifact.path, mode) as tar:
        extract_all(tar, destination)
    assert read_tree(destination) == expected_tree(tmp_path / "src")


@pytest.mark.skipif(shutil.which("tar") is None, reason="no system tar")
def test_archive_extracts_with_system_tar(tmp_path: Path) -> None:
    artifact = write_artifact(sample_members(tmp_path / "src"), tmp_path / "a.tar.gz", mtime=MTIME)
    destination = tmp_path / "extracted"
    destination.mkdir()
    subprocess.run(
        ["tar", "xzf", str(artifact.path), "-C", str(destination)],
        check=True, capture_output=True,
    )
    assert read_tree(destination) == expected_tree(tmp_path / "src")


def test_symlink_members_extract_as_links(tmp_path: Path) -> None:
    members = [
        ArchiveMember(name="lib/real.py", data=b"real"),
        ArchiveMember(name="lib/alias.py", link_target="real.py"),
        ArchiveMember(name="top/up.py", link_target="../lib/real.py"),
    ]
    artifact = write_artifact(members, tmp_path / "a.tar.gz", mtime=MTIME)
    with tarfile.open(artifact.path, "r:gz") as tar:
        links = {info.name: info.linkname for info in tar.getmembers() if info.issym()}
        extract_all(tar, tmp_path / "x")
    assert links == {"lib/alias.py": "real.py", "top/up.py": "../lib/real.py"}
    for name, target in links.items():
        path = tmp_path / "x" / name
        assert path.is_symlink() and os.readlink(path) == target
        assert path.read_bytes() == b"real"


# --- SOURCE_DATE_EPOCH ------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [("0", 0), ("1700000000", 1700000000),
                                           ("8589934591", 8589934591)])
def test_source_date_epoch_from_environment(raw: str, expected: int) -> None:
    assert source_date_epoch({"SOURCE_DATE_EPOCH": raw}) == expected


def test_source_date_epoch_defaults_to_1980() -> None:
    assert source_date_epoch({"OTHER": "1"}) == DEFAULT_SOURCE_DATE_EPOCH == 315532800


@pytest.mark.parametrize("raw", ["", "-1", "1.5", "1e9", "soon", " 12", "١٢", "9" * 5000,
                                 "8589934592", "99999999999999999999"])
def test_invalid_source_date_epoch_is_a_usage_error(raw: str) -> None:
    with pytest.raises(UsageError) as caught:
        source_date_epoch({"SOURCE_DATE_EPOCH": raw})
    assert "SOURCE_DATE_EPOCH" in caught.value.message
    assert caught.value.hint and "unset" in caught.value.hint


# --- validation -------------------------------------------------------------------

INVALID = {
    "absolute": ([ArchiveMember(name="/etc/passwd", data=b"")], "'/etc/passwd' is an absolute"),
    "dotdot": ([ArchiveMember(name="a/../../x", data=b"")], "'..'"),
    "leading dotdot": ([ArchiveMember(name="../x", data=b"")], "'..'"),
    "empty": ([ArchiveMember(name="", data=b"")], "empty"),
    "backslash": ([ArchiveMember(name="a\\b", data=b"")], "backslash"),
    "nul": ([ArchiveMember(name="a\0b", data=b"")], "NUL"),
    "not normalised": ([ArchiveMember(name="./a", data=b"")], "normalised"),
    "double slash": ([ArchiveMember(name="a//b", data=b"")], "normalised"),
    "surrogate": ([ArchiveMember(name="bad\udcff.py", data=b"")], "UTF-8"),
    "duplicate": (
        [ArchiveMember(name="a.py", data=b"1"), ArchiveMember(name="a.py", link_target="b")],
        "two archive members are named 'a.py'",
    ),
    "file vs directory": (
        [ArchiveMember(name="a", data=b""), ArchiveMember(name="a/b/c", data=b"")],
        "'a' is a file or symlink, but 'a/b/c'",
    ),
    "symlink used as directory": (
        [ArchiveMember(name="d", link_target="e"), ArchiveMember(name="d/f", data=b"")],
        "'d' is a file",
    ),
    "escaping symlink": ([ArchiveMember(name="a/l", link_target="../../x")], "outside"),
    "absolute symlink": ([ArchiveMember(name="l", link_target="/etc/passwd")], "relative"),
    "empty symlink": ([ArchiveMember(name="l", link_target="")], "relative"),
    "escape through a link": (
        [ArchiveMember(name="x", link_target="."), ArchiveMember(name="y", link_target="x/..")],
        "outside",
    ),
    "symlink loop": (
        [ArchiveMember(name="a", link_target="b/c"), ArchiveMember(name="b", link_target="a")],
        "loop",
    ),
    "two kinds of content": ([ArchiveMember(name="a", data=b"", link_target="b")], "exactly one"),
    "no content": ([ArchiveMember(name="a")], "exactly one"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_members_are_rejected_before_writing(case: str, previous: Path) -> None:
    members, fragment = INVALID[case]
    members = [ArchiveMember(name="ok/first.py", data=b"fine"), *members]
    with pytest.raises(PackagingError) as caught:
        write_artifact(members, previous, mtime=MTIME)
    assert fragment in caught.value.message
    assert caught.value.hint
    assert previous.read_bytes() == PREVIOUS
    assert leftovers(previous.parent, keep=previous) == []


def test_validation_happens_before_creating_the_output_directory(tmp_path: Path) -> None:
    with pytest.raises(PackagingError):
        write_artifact([ArchiveMember(name="/abs", data=b"")], tmp_path / "new" / "a.tgz", mtime=0)
    assert not (tmp_path / "new").exists()


# --- failures while writing -----------------------------------------------------


def test_missing_source_file_fails_cleanly(tmp_path: Path, previous: Path) -> None:
    gone = tmp_path / "gone.py"
    members = [
        ArchiveMember(name="a.py", data=b"written before the failure"),
        ArchiveMember(name="z/gone.py", source=gone),
    ]
    with pytest.raises(PackagingError) as caught:
        write_artifact(members, previous, mtime=MTIME)
    assert str(gone) in caught.value.message and "z/gone.py" in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert previous.read_bytes() == PREVIOUS
    assert leftovers(previous.parent, keep=previous) == []


def test_source_that_is_not_a_regular_file_fails_cleanly(tmp_path: Path, previous: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def run() -> None:
        try:
            write_artifact([ArchiveMember(name="f", source=fifo)], previous, mtime=MTIME)
        except BaseException as exc:  # handed to the test thread
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # opening the FIFO blocked; unblock it, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("write_artifact hung on a FIFO source")
    assert len(result) == 1 and isinstance(result[0], PackagingError), result
    assert "not a regular file" in result[0].message
    assert previous.read_bytes() == PREVIOUS
    assert leftovers(previous.parent, keep=previous) == []


def test_interrupt_mid_write_leaves_no_trace(
    tmp_path: Path, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_entry = archive._write_entry
    calls = []

    def interrupted_write_entry(out, name, member, mtime):
        calls.append(name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_write_entry(out, name, member, mtime)

    monkeypatch.setattr(archive, "_write_entry", interrupted_write_entry)
    with pytest.raises(KeyboardInterrupt):
        write_artifact(sample_members(tmp_path / "src"), previous, mtime=MTIME)
    assert len(calls) == 3
    assert previous.read_bytes() == PREVIOUS
    assert leftovers(previous.parent, keep=previous) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_output_errors_become_packaging_errors(
    failing: str, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(PackagingError) as caught:
        write_artifact([ArchiveMember(name="a", data=b"x")], previous, mtime=MTIME)
    monkeypatch.undo()
    assert str(previous) in caught.value.message and "No space left" in caught.value.message
    assert previous.read_bytes() == PREVIOUS
    assert leftovers(previous.parent, keep=previous) == []


FULL_DISK_SCRIPT = """
import resource, signal, sys
from pathlib import Path
from flashbuild.errors import PackagingError
from flashbuild.artifact.members import ArchiveMember
from flashbuild.artifact.write import write_artifact

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, hard))
try:
    member = ArchiveMember(name="big.bin", source=Path(sys.argv[1]))
    write_artifact([member], Path(sys.argv[2]), mtime=0)
except PackagingError as error:
    print(error.message)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_full_disk_is_reported_as_a_write_error(tmp_path: Path, previous: Path) -> None:
    source = tmp_path / "random.bin"
    source.write_bytes(os.urandom(2 * 1024 * 1024))  # incompressible, so the output grows
    run = subprocess.run(
        [sys.executable, "-c", FULL_DISK_SCRIPT, str(source), str(previous)],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2], check=False,
    )
    assert run.returncode == 0, run.stderr
    # The failure happens while streaming the source, but it is the output that failed.
    assert run.stdout.startswith(f"cannot write {previous}"), run.stdout
    assert previous.read_bytes() == PREVIOUS
    assert leftovers(previous.parent, keep=previous) == []


def test_large_files_are_streamed(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    size = 32 * 1024 * 1024
    with big.open("wb") as stream:
        stream.truncate(size)  # sparse zeros: quick to write and to compress
    tracemalloc.start()
    try:
        member = ArchiveMember(name="big.bin", source=big)
        artifact = write_artifact([member], tmp_path / "a.tgz", mtime=0, compresslevel=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 4, f"peak Python allocation {peak} bytes: the file was read whole"
    with tarfile.open(artifact.path, "r:gz") as tar:
        assert tar.getmember("big.bin").size == size


def test_write_replaces_the_previous_artifact(previous: Path) -> None:
    artifact = write_artifact([ArchiveMember(name="a", data=b"new")], previous, mtime=MTIME)
    assert previous.read_bytes() != PREVIOUS
    with tarfile.open(artifact.path, "r:gz") as tar:
        assert tar.extractfile("a").read() == b"new"
    assert leftovers(previous.parent, keep=previous) == []


# --- atomic_write_bytes -----------------------------------------------------------


def test_atomic_write_bytes_creates_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "manifest.json"
    atomic_write_bytes(path, b"one")
    assert path.read_bytes() == b"one"
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert leftovers(path.parent, keep=path) == []


def test_atomic_write_bytes_keeps_old_content_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(b"old")

    def fail(_fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(PackagingError, match=r"manifest\.json"):
        atomic_write_bytes(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path, keep=path) == []


def test_temp_file_sits_beside_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        assert Path(src).parent == Path(dst).parent
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_bytes(tmp_path / "m.json", b"{}")
    assert len(seen) == 1 and seen[0].startswith(".m.json.tmp-") and len(seen[0]) > 12


# --- building member lists --------------------------------------------------------


def test_members_from_directory(tmp_path: Path) -> None:
    root = tmp_path / "site-packages"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "sub" / "mod.py").write_text("x = 1\n")
    (root / "tool").write_text("#!/bin/sh\n")
    (root / "tool").chmod(0o755)
    (root / "pkg" / "alias.py").symlink_to("sub/mod.py")
    (root / "pkg-link").symlink_to("pkg")
    members = members_from_directory(root, prefix="deps")
    assert [m.name for m in members] == [
        "deps/pkg/__init__.py", "deps/pkg/alias.py", "deps/pkg/sub/mod.py", "deps/pkg-link",
        "deps/tool",
    ]
    by_name = {m.name: m for m in members}
    assert by_name["deps/pkg/sub/mod.py"].source == root / "pkg" / "sub" / "mod.py"
    assert by_name["deps/tool"].executable and not by_name["deps/pkg/__init__.py"].executable
    assert by_name["deps/pkg/alias.py"].link_target == "sub/mod.py"
    assert by_name["deps/pkg-link"] == ArchiveMember(name="deps/pkg-link", link_target="pkg")
    assert members_from_directory(root)[0].name == "pkg/__init__.py"
    artifact = write_artifact(members, tmp_path / "deps.tgz", mtime=MTIME)
    with tarfile.open(artifact.path, "r:gz") as tar:
        assert "deps/pkg/sub" in tar.getnames() and "deps/empty" not in tar.getnames()


@pytest.mark.parametrize("target", ["../../outside.py", "/etc/passwd", "x/../../../y", "up/.."])
def test_members_from_directory_rejects_links_leaving_root(tmp_path: Path, target: str) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "up").symlink_to("..")  # fine by itself: it is the root
    (root / "sub" / "link").symlink_to(target)
    with pytest.raises(PackagingError) as caught:
        members_from_directory(root)
    assert str(root / "sub" / "link") in caught.value.message


def test_members_from_directory_keeps_links_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "up").symlink_to("..")
    (root / "sub" / "sibling").symlink_to("../other/x")
    members = members_from_directory(root)
    assert [(m.name, m.link_target) for m in members] == [
        ("sub/sibling", "../other/x"), ("sub/up", ".."),
    ]


def test_members_from_directory_missing_root(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="missing"):
        members_from_directory(tmp_path / "missing")


def test_members_from_project_files_and_rendered(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    project = [
        models.ProjectFile(path="app.py", source=source),
        models.ProjectFile(path="run.sh", source=tmp_path / "run.sh", executable=True),
        models.ProjectFile(path="alias.py", source=tmp_path / "alias.py", link_target="app.py"),
    ]
    assert members_from_project_files(project) == [
        ArchiveMember(name="app.py", source=source),
        ArchiveMember(name="run.sh", source=tmp_path / "run.sh", executable=True),
        ArchiveMember(name="alias.py", link_target="app.py"),
    ]
    rendered = [models.RenderedFile(path="handler.py", content=b"h", executable=True)]
    assert members_from_rendered(rendered) == [
        ArchiveMember(name="handler.py", data=b"h", executable=True)
    ]


def test_the_latest_source_date_epoch_gives_an_archive_tar_reads(tmp_path) -> None:
    """The bound is the largest mtime an ustar header holds: GNU tar and Python read it."""
    import subprocess
    import tarfile

    from flashbuild.config.environment import MAX_SOURCE_DATE_EPOCH

    path = tmp_path / "latest.tar.gz"
    member = ArchiveMember(name="a.txt", data=b"x")
    write_artifact([member], path, mtime=MAX_SOURCE_DATE_EPOCH)
    with tarfile.open(path, "r:gz") as archive:
        assert archive.getmember("a.txt").mtime == MAX_SOURCE_DATE_EPOCH
    listed = subprocess.run(["tar", "-tzvf", str(path)], capture_output=True, text=True,
                            check=False)
    assert listed.returncode == 0 and "a.txt" in listed.stdout


def test_a_packed_project_file_must_still_be_the_file_collected(tmp_path: Path) -> None:
    """Packing opens without following a link and compares device and inode."""
    source = tmp_path / "app.py"
    source.write_text("inside\n")
    status = source.stat()
    member = ArchiveMember(name="app.py", source=source,
                           identity=(status.st_dev, status.st_ino))
    write_artifact([member], tmp_path / "first.tar.gz", mtime=0)
    (tmp_path / "secret").write_text("outside\n")
    source.unlink()
    source.symlink_to(tmp_path / "secret")
    with pytest.raises(PackagingError, match="replaced by a symlink during the build"):
        write_artifact([member], tmp_path / "second.tar.gz", mtime=0)
    (tmp_path / "new").write_text("inside\n")  # same name and content, another file
    os.replace(tmp_path / "new", source)
    with pytest.raises(PackagingError, match="replaced by another file during the build"):
        write_artifact([member], tmp_path / "third.tar.gz", mtime=0)
    assert not (tmp_path / "second.tar.gz").exists() and not (tmp_path / "third.tar.gz").exists()


@settings(max_examples=60)
@given(length=st.integers(min_value=0, max_value=200_000), final=st.booleans())
def test_a_stored_member_has_the_size_its_formula_gives(length, final):
    data = bytes(range(256)) * (length // 256) + bytes(length % 256)
    member = stored_gzip(tar_entry("flash_manifest.json", data, mtime=0, final=final))
    assert len(member) == stored_member_size("flash_manifest.json", length, final=final)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(member))) as archive:
        extracted = archive.extractfile("flash_manifest.json")
        assert extracted is not None and extracted.read() == data
