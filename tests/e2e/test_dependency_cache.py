"""Builds with the dependency cache: hits are byte-identical to misses, keys cover every
input, and killed or concurrent builds leave it usable."""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flashbuild.cache
from flashbuild.artifact.parallel_gzip import DEFAULT_BLOCK_SIZE
from flashbuild.cache import DependencyCache

from ..support.helpers import app, build_project, endpoint, run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(write_project):
    return write_project(app(endpoint("gpu", ["sentence-transformers"]),
                             endpoint("cpu", ["appdep", "fastmath"], cpu=True)))


def built(project: Path, wheelhouse: Path, **options):
    options = {"no_deps": False, "no_index": True, "find_links": [str(wheelhouse)], **options}
    result = build_project(project, **options)
    artifact = result.artifact.path.read_bytes()
    manifest = result.manifest_path.read_bytes()
    return result, artifact, manifest


def entries(cache_dir: Path) -> int:
    return DependencyCache(cache_dir).info().entries


def test_hit_and_miss_give_identical_bytes(project, wheelhouse, cache_dir):
    first, artifact, manifest = built(project, wheelhouse)
    assert first.dependencies.from_cache is False and entries(cache_dir) == 1
    second, artifact_again, manifest_again = built(project, wheelhouse)
    assert second.dependencies.from_cache is True
    assert (artifact_again, manifest_again) == (artifact, manifest)
    uncached, artifact_uncached, manifest_uncached = built(project, wheelhouse, no_cache=True)
    assert uncached.dependencies.from_cache is False
    assert (artifact_uncached, manifest_uncached) == (artifact, manifest)
    assert entries(cache_dir) == 1


@pytest.mark.usefixtures("cache_dir")
def test_thread_count_does_not_change_the_artifact(project, wheelhouse):
    # Several compression blocks, or the threads would have nothing to share.
    words = random.Random(7).choices(["flash", "build", "worker", "gpu", "cpu", "endpoint"],
                                     k=700_000)
    (project / "data.txt").write_text(" ".join(words))
    _, one, _ = built(project, wheelhouse, threads=1, no_cache=True)
    _, four, _ = built(project, wheelhouse, threads=4, no_cache=True)
    assert len(gzip.decompress(one)) > 3 * DEFAULT_BLOCK_SIZE
    assert one == four


@pytest.mark.usefixtures("cache_dir")
def test_code_change_reuses_the_dependency_part(project, wheelhouse):
    _, before, _ = built(project, wheelhouse)
    (project / "main.py").write_text((project / "main.py").read_text() + "# changed\n")
    result, after, _ = built(project, wheelhouse)
    assert result.dependencies.from_cache is True and after != before
    # The dependency part is the artifact's tail, unchanged byte for byte.
    part = b"".join(piece.path.read_bytes() for piece in result.dependencies.part.pieces)
    assert before.endswith(part) and after.endswith(part)


@pytest.mark.parametrize(
    "change",
    ["python_version", "exclude", "images", "glibc", "lock", "tool_version", "level", "index"],
)
def test_every_key_part_invalidates(
    project, wheelhouse, cache_dir, change, monkeypatch, capsys, tmp_path
):
    built(project, wheelhouse)
    options: dict = {}
    if change == "python_version":
        options["python_version"] = "3.11"
    elif change == "exclude":
        options["exclude"] = ["tinyutil"]
    elif change == "images":
        (project / "pyproject.toml").write_text(
            '[tool.flash.images.cpu]\nprovides = ["fastmath"]\n'
        )
    elif change == "glibc":
        options["glibc"] = "2.31"
    elif change == "lock":
        code, _, err = run_cli(
            ["lock", "--no-index", "--find-links", str(wheelhouse), str(project)], capsys
        )
        assert code == 0, err
    elif change == "tool_version":
        monkeypatch.setattr(flashbuild.cache, "__version__", "999.0")
    elif change == "level":
        options["compression_level"] = 1
    elif change == "index":
        (tmp_path / "more-wheels").mkdir()
        options["find_links"] = [str(wheelhouse), str(tmp_path / "more-wheels")]
    result, _, _ = built(project, wheelhouse, **options)
    assert result.dependencies.from_cache is False
    assert entries(cache_dir) == 2


def test_corrupt_entry_is_rebuilt_not_shipped(project, wheelhouse, cache_dir):
    _, artifact, _ = built(project, wheelhouse)
    part = max(cache_dir.glob("segments/*/*.gz"), key=lambda path: path.stat().st_size)
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    # The artifact on disk is still right, so a rebuild would not read the cache: remove it.
    (project / ".flash" / "artifact.tar.gz").unlink()
    result, again, _ = built(project, wheelhouse)
    assert result.dependencies.from_cache is False
    assert again == artifact
    assert any("damaged" in str(w) for w in result.warnings)
    (next(cache_dir.glob("entries/*/*")) / "entry.json").write_text("{not json")
    result, again, _ = built(project, wheelhouse)
    assert result.dependencies.from_cache is False and again == artifact


@pytest.mark.parametrize("damage", [
    lambda data: data.pop("sizes"),
    lambda data: data.update(removed=7),
    lambda data: data.update(lock="# flash.lock\nnot a pin\n"),
    lambda data: data.update(import_names=["x"]),
    lambda data: data["part"].update(top_levels=None),
])
def test_an_entry_json_with_a_bad_field_is_a_miss(project, wheelhouse, cache_dir, damage):
    import json

    _, artifact, _ = built(project, wheelhouse)
    entry = next(cache_dir.glob("entries/*/*")) / "entry.json"
    data = json.loads(entry.read_text())
    damage(data)
    entry.write_text(json.dumps(data))
    result, again, _ = built(project, wheelhouse)
    assert result.dependencies.from_cache is False and again == artifact
    assert any("damaged; it was removed and built again" in str(w) for w in result.warnings)
    result, _, _ = built(project, wheelhouse)
    assert result.dependencies.from_cache is True


def cli_build(project: Path, wheelhouse: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flashbuild", "build", "-q", "--no-index", "--find-links",
         str(wheelhouse), str(project)],
        cwd=REPO, env=os.environ.copy(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def test_killed_build_leaves_the_cache_usable(project, wheelhouse, cache_dir):
    _, reference, _ = built(project, wheelhouse, no_cache=True)
    for delay in (0.3, 0.8, 1.5):
        process = cli_build(project, wheelhouse)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
    _, artifact, _ = built(project, wheelhouse)
    assert artifact == reference
    assert entries(cache_dir) == 1


def test_concurrent_builds_share_one_entry(write_project, wheelhouse, cache_dir):
    same_app = app(endpoint("cpu", ["appdep", "fastmath"], cpu=True),
                   **{"pyproject.toml": '[project]\nname = "same"\n'})
    projects = [write_project(same_app, name=f"p{i}") for i in range(3)]
    processes = [cli_build(p, wheelhouse) for p in projects]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
    digests = {hashlib.sha256((p / ".flash" / "artifact.tar.gz").read_bytes()).hexdigest()
               for p in projects}
    assert len(digests) == 1
    assert entries(cache_dir) == 1


def test_cache_commands(project, wheelhouse, cache_dir, capsys):
    built(project, wheelhouse)
    code, out, _ = run_cli(["cache", "info"], capsys)
    assert code == 0 and f"cache directory: {cache_dir}" in out and "entries: 1" in out
    code, _, err = run_cli(["cache", "clear"], capsys)
    assert code == 0 and "Removed 1 entries" in err
    assert entries(cache_dir) == 0


@pytest.mark.usefixtures("cache_dir")
def test_two_part_artifact_extracts_with_every_reader(project, wheelhouse, tmp_path):
    import tarfile

    result, _, _ = built(project, wheelhouse)
    artifact = result.artifact.path
    contents = {}
    for mode in ("r:gz", "r:*"):
        with tarfile.open(artifact, mode) as archive:
            names = archive.getnames()
            contents[mode] = {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}
        assert len(names) == len(set(names)) == result.artifact.entries
    assert contents["r:gz"] == contents["r:*"]
    assert "handler_cpu.py" in contents["r:gz"] and "fastmath/__init__.py" in contents["r:gz"]
    out = tmp_path / "extracted"
    out.mkdir()
    subprocess.run(["tar", "xzf", str(artifact), "-C", str(out)], check=True)
    extracted = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert extracted == contents["r:gz"]


def test_cache_clear_refuses_a_folder_that_is_not_a_flashbuild_cache(
    project, capsys, tmp_path, monkeypatch
):
    precious = tmp_path / "home-of-the-user"
    for name in ("scan", "preview", "entries"):
        (precious / name).mkdir(parents=True)
        (precious / name / "keep.txt").write_text("mine")
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(precious))
    code, _, err = run_cli(["cache", "clear"], capsys)
    assert code == 2 and "is not a flashbuild cache" in err
    assert all((precious / name / "keep.txt").is_file() for name in ("scan", "preview", "entries"))
    tagged = tmp_path / "tagged"
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(tagged))
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err
    assert (tagged / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172")
    code, _, err = run_cli(["cache", "clear"], capsys)
    assert code == 0 and "Removed" in err


def segments(cache_dir: Path) -> set[str]:
    return {path.name for path in (cache_dir / "segments").rglob("*.gz")}


def test_adding_a_dependency_compresses_only_its_own_segment(
    write_project, wheelhouse, cache_dir, tmp_path, monkeypatch
):
    import tarfile

    from flashbuild.deps import segments as segments_module

    project = write_project(app(endpoint("cpu", ["appdep", "fastmath"], cpu=True)))
    built(project, wheelhouse)
    before = segments(cache_dir)
    assert len(before) >= 3  # directories, appdep, fastmath, shared-helper
    compressed = []
    original = segments_module._compress
    monkeypatch.setattr(segments_module, "_compress",
                        lambda group, *a, **k: (compressed.append([n for n, _ in group]),
                                                original(group, *a, **k))[1])
    source = project / "main.py"
    source.write_text(source.read_text().replace("['appdep', 'fastmath']",
                                                 "['appdep', 'fastmath', 'tinyutil']"))
    second, artifact, _ = built(project, wheelhouse)
    new = segments(cache_dir) - before
    assert len(new) == 2  # tinyutil's files, and the directories (tinyutil/ is new)
    assert any(any(name.startswith("tinyutil/") for name in group) for group in compressed)
    assert not any(any(name.startswith("fastmath/") for name in group) for group in compressed)
    # The same bytes as a build that compresses everything afresh.
    monkeypatch.undo()
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(cache_dir))
    _, fresh, _ = built(project, wheelhouse, no_cache=True)
    assert artifact == fresh
    out = tmp_path / "extracted"
    out.mkdir()
    subprocess.run(["tar", "xzf", str(second.artifact.path), "-C", str(out)], check=True)
    assert (out / "tinyutil").is_dir() and (out / "fastmath" / "__init__.py").is_file()
    with tarfile.open(second.artifact.path) as archive:
        names = archive.getnames()
    assert len(names) == len(set(names))


def test_a_damaged_segment_is_compressed_again(write_project, wheelhouse, cache_dir):
    project = write_project(app(endpoint("cpu", ["fastmath"], cpu=True)))
    _, artifact, _ = built(project, wheelhouse)
    for segment in (cache_dir / "segments").rglob("*.gz"):
        segment.write_bytes(b"not what was recorded")
    for entry in (cache_dir / "entries").glob("*/*"):
        shutil.rmtree(entry)  # so that the part is made from the segments again
    _, again, _ = built(project, wheelhouse)
    assert again == artifact
    assert all(segment.read_bytes() != b"not what was recorded"
               for segment in (cache_dir / "segments").rglob("*.gz"))


@pytest.mark.usefixtures("cache_dir")
def test_a_kept_build_of_a_cache_hit_holds_the_installed_files(project, wheelhouse):
    built(project, wheelhouse)
    result, artifact, _ = built(project, wheelhouse, keep_build=True)
    assert result.dependencies.from_cache is True
    deps = project / ".flash" / ".build" / "deps"
    assert (deps / "fastmath" / "__init__.py").is_file()
    assert (deps / "appdep-1.0.dist-info" / "RECORD").is_file()
    assert artifact == built(project, wheelhouse, no_cache=True)[1]
