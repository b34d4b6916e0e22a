"""A project file swapped during the build (for a symlink out of the project, or
another file) is refused wherever it is read, never followed."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from flashbuild import pipeline
from flashbuild.errors import SourceCodeError

from ..support.helpers import run_cli

ENDPOINT = ("from runpod_flash import Endpoint\n\n\n"
            "@Endpoint(name='worker', cpu='cpu3c-1-2')\ndef work(x):\n    return x\n")
OUTSIDE = "OUTSIDE-THE-PROJECT\n"


def _link_to_outside(path: Path, outside: Path) -> None:
    target = outside / path.name
    if path.is_dir():
        os.rename(path, path.with_name(path.name + ".old"))
        (outside / path.name).mkdir()
        (outside / path.name / "notes.txt").write_text(OUTSIDE)
        path.symlink_to(outside / path.name, target_is_directory=True)
        return
    target.write_text(ENDPOINT if path.suffix == ".py" else OUTSIDE)
    path.unlink()
    path.symlink_to(target)


def _replace_with_new_file(path: Path, _outside: Path) -> None:
    replacement = path.with_name(path.name + ".new")
    replacement.write_text(path.read_text())
    os.replace(replacement, path)


@pytest.mark.parametrize(("swapped", "swap", "why"), [
    ("app.py", _link_to_outside, "app.py: it was replaced by a symlink during the build"),
    ("data/notes.txt", _link_to_outside,
     "data/notes.txt: it was replaced by a symlink during the build"),
    ("data", _link_to_outside,
     "data/notes.txt: it was replaced by another file during the build"),
    ("data/notes.txt", _replace_with_new_file,
     "data/notes.txt: it was replaced by another file during the build"),
])
def test_a_file_swapped_after_collection_is_refused_not_followed(
    write_project, tmp_path, monkeypatch, capsys, swapped, swap, why
):
    project = write_project({"app.py": ENDPOINT, "data/notes.txt": "inside\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err
    artifact = project / ".flash" / "artifact.tar.gz"
    before = artifact.read_bytes(), (project / ".flash" / "flash_manifest.json").read_bytes()

    collect = pipeline.collect_project_files

    def collect_then_swap(*args, **kwargs):
        collected = collect(*args, **kwargs)
        swap(project / swapped, outside)
        return collected

    monkeypatch.setattr(pipeline, "collect_project_files", collect_then_swap)
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == SourceCodeError.exit_code, err
    path, reason = why.split(": ")
    assert f"flash: source error: {path}: cannot read the file: {reason}." in err
    assert "Traceback" not in err
    assert (artifact.read_bytes(),
            (project / ".flash" / "flash_manifest.json").read_bytes()) == before
    with tarfile.open(artifact) as archive:
        for member in archive.getmembers():
            if member.isfile():
                assert OUTSIDE.encode() not in archive.extractfile(member).read()
