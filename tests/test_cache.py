"""The dependency cache: hits are byte-identical to misses, keys cover every input."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flashbuild.cache
from flashbuild.cache import DependencyCache, cache_key

from .helpers import app, build_project, endpoint, run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "flashbuild-cache"
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(directory))
    return directory


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


def test_thread_count_does_not_change_the_artifact(project, wheelhouse, cache_dir):
    _, one, _ = built(project, wheelhouse, threads=1, no_cache=True)
    _, four, _ = built(project, wheelhouse, threads=4, no_cache=True)
    assert one == four


def test_code_change_reuses_the_dependency_part(project, wheelhouse, cache_dir):
    _, before, _ = built(project, wheelhouse)
    (project / "main.py").write_text((project / "main.py").read_text() + "# changed\n")
    result, after, _ = built(project, wheelhouse)
    assert result.dependencies.from_cache is True and after != before
    # The dependency part is the artifact's tail, unchanged byte for byte.
    part = result.dependencies.part.path.read_bytes()
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
        (project / "pyproject.toml").write_text('[tool.flash.images.cpu]\nprovides = ["fastmath"]\n')
    elif change == "glibc":
        options["glibc"] = "2.31"
    elif change == "lock":
        code, _, err = run_cli(["lock", "--no-index", "--find-links", str(wheelhouse), str(project)], capsys)
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


def test_key_is_canonical():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_corrupt_entry_is_rebuilt_not_shipped(project, wheelhouse, cache_dir):
    _, artifact, _ = built(project, wheelhouse)
    part = next(cache_dir.glob("entries/*/*/deps.tar.gz"))
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    result, again, _ = built(project, wheelhouse)
    assert result.dependencies.from_cache is False
    assert again == artifact
    assert any("damaged" in str(w) for w in result.warnings)
    (next(cache_dir.glob("entries/*/*")) / "entry.json").write_text("{not json")
    result, again, _ = built(project, wheelhouse)
    assert result.dependencies.from_cache is False and again == artifact


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
    result, artifact, _ = built(project, wheelhouse)
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


def test_scan_results_are_reused_and_damage_is_ignored(write_project, tmp_path):
    from flashbuild.source.files import collect_project_files
    from flashbuild.source.scan import scan_project

    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True), endpoint("gpu", [])))
    files = collect_project_files(project)
    fresh = scan_project(files)
    cache = tmp_path / "scan-cache"
    assert scan_project(files, cache_dir=cache) == fresh
    stored = list(cache.glob("scan/*/*.pickle"))
    assert len(stored) == 1
    assert scan_project(files, cache_dir=cache) == fresh  # from the cache
    stored[0].write_bytes(b"not a pickle")
    assert scan_project(files, cache_dir=cache) == fresh
    (project / "main.py").write_text((project / "main.py").read_text().replace('"gpu"', '"gpu2"'))
    changed = scan_project(collect_project_files(project), cache_dir=cache)
    assert {f.endpoint.config.name for f in changed.functions} == {"cpu", "gpu2"}


def test_two_part_artifact_extracts_with_every_reader(project, wheelhouse, cache_dir, tmp_path):
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
