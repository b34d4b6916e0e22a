"""Builds that are cancelled, killed or run side by side leave correct outputs behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from ..support.helpers import app, endpoint

pytestmark = pytest.mark.usefixtures("private_uv_cache")

REPO = Path(__file__).resolve().parents[2]


def start_build(project: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flashbuild", "build", "-q", *options, str(project)],
        cwd=REPO, env=os.environ.copy(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_sigterm_cleans_up_and_leaves_the_previous_artifact(write_project):
    project = write_project(app(endpoint("cpu", [], cpu=True)))
    (project / "data").mkdir()
    (project / "data" / "noise.bin").write_bytes(os.urandom(200 << 20))  # slow to compress
    flash = project / ".flash"
    flash.mkdir()
    (flash / "artifact.tar.gz").write_bytes(b"previous")
    build = start_build(project, "--no-deps", "--no-cache", "--compression-level", "9",
                        "--threads", "1")
    deadline = time.monotonic() + 120
    while not temps(flash) and build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert build.poll() is None, build.communicate()
    build.send_signal(signal.SIGTERM)
    _, err = build.communicate(timeout=120)
    assert build.returncode == 130, err
    assert b"flash: interrupted" in err
    assert temps(flash) == []
    assert (flash / "artifact.tar.gz").read_bytes() == b"previous"


def test_temp_files_of_killed_builds_are_swept(write_project):
    project = write_project(app(endpoint("cpu", [], cpu=True)))
    flash = project / ".flash"
    flash.mkdir()
    (flash / ".artifact.tar.gz.tmp-0123456789abcdef").write_bytes(b"x" * 1000)
    (flash / ".flash_manifest.json.tmp-0123456789abcdef").write_bytes(b"{")
    build = start_build(project, "--no-deps")
    _, err = build.communicate(timeout=120)
    assert build.returncode == 0, err
    assert temps(flash) == []


def test_builds_of_one_project_for_different_pythons_do_not_mix(write_project, wheelhouse,
                                                                tmp_path):
    project = write_project(app(endpoint("cpu", ["fastmath"], cpu=True)))
    builds = {
        version: start_build(project, "--no-index", "--find-links", str(wheelhouse),
                             "--python-version", version, "-o",
                             str(tmp_path / f"py{version}.tar.gz"))
        for version in ("3.11", "3.12", "3.13")
    }
    for version, build in builds.items():
        _, err = build.communicate(timeout=300)
        assert build.returncode == 0, (version, err)
    for version in builds:
        with tarfile.open(tmp_path / f"py{version}.tar.gz") as archive:
            extensions = [n for n in archive.getnames() if n.endswith(".so")]
        tag = f"cpython-{version.replace('.', '')}-"
        assert extensions and all(tag in name for name in extensions), (version, extensions)


def test_cache_clear_leaves_a_cache_in_use_alone_or_waits_for_it(
    write_project, wheelhouse, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(cache))
    project = write_project(app(endpoint("cpu", ["fastmath"], cpu=True)))
    (project / "data").mkdir()
    (project / "data" / "noise.bin").write_bytes(os.urandom(100 << 20))  # slow to compress
    build = start_build(project, "--no-index", "--find-links", str(wheelhouse),
                        "--compression-level", "9", "--threads", "1")
    flash = project / ".flash"
    deadline = time.monotonic() + 120
    while not (flash.is_dir() and temps(flash)) and build.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert build.poll() is None, build.communicate()
    entries = sorted((cache / "entries").rglob("entry.json"))
    assert entries
    clear = [sys.executable, "-m", "flashbuild", "cache", "clear"]
    refused = subprocess.run(clear, cwd=REPO, capture_output=True, text=True, check=False,
                             stdin=subprocess.DEVNULL)
    assert refused.returncode == 6, refused.stderr
    assert "is in use by a running `flash build` or `flash preview`" in refused.stderr
    assert "--wait" in refused.stderr and "Traceback" not in refused.stderr
    waiting = subprocess.Popen([*clear, "--wait"], cwd=REPO, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = build.communicate(timeout=300)
    assert build.returncode == 0, err
    _, cleared = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and "Removed 1 entries" in cleared, cleared
    assert not (cache / "entries").exists()
