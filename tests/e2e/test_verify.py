"""``flash verify``: a private rebuild proves an artifact is what its sources make, names
what differs otherwise, and leaves the project's ``.flash`` and the cache alone."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

import flashbuild.pipeline
from flashbuild.cli.build import build as build_command
from flashbuild.cli.json_documents import SCHEMA_VERSION, document_schema
from flashbuild.cli.verify import verify as verify_command
from flashbuild.errors import UsageError

from ..support.helpers import app, endpoint, run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")

Members = list[tuple[tarfile.TarInfo, bytes | None]]


def valid(document: dict, name: str = "verify") -> dict:
    """``document``, checked against the schema shipped for it."""
    assert document["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(document, document_schema(name),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return document


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Where the rebuild's temporary directory goes, to see that it is removed."""
    directory = tmp_path / "private-tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def project(copy_fixture, capsys) -> Path:
    """sdk-app (six endpoints, no dependencies), built with --no-deps."""
    project = copy_fixture("sdk-app")
    code, _, err = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == 0, err
    return project


def artifact_of(project: Path) -> Path:
    return project / ".flash" / "artifact.tar.gz"


def verify(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(["verify", *args], capsys)


def rewrite(path: Path, change: Callable[[Members], Members]) -> None:
    """Write ``path`` again as a tar.gz of its members, ``change``d."""
    with tarfile.open(path, "r:gz") as archive:
        members: Members = []
        for info in archive.getmembers():
            handle = archive.extractfile(info) if info.isreg() else None
            members.append((info, handle.read() if handle else None))
    members = change(members)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(buffer.getvalue())


def changed(name: str, **attributes) -> Callable[[Members], Members]:
    """A change of member ``name``: new ``data`` and/or TarInfo attributes."""

    def change(members: Members) -> Members:
        result = []
        for info, data in members:
            content = data
            if info.name == name:
                content = attributes.pop("data", data)
                for key, value in attributes.items():
                    setattr(info, key, value)
                info.size = len(content) if content is not None else 0
            result.append((info, content))
        return result

    return change


def same_size_edit(data: bytes) -> bytes:
    return data[:-1] + (b"#" if data[-1:] != b"#" else b"!")


def member_data(path: Path, name: str) -> bytes:
    with tarfile.open(path, "r:gz") as archive:
        handle = archive.extractfile(name)
        assert handle is not None
        return handle.read()


def snapshot(directory: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under ``directory`` with its mtime and, for files, its bytes."""
    return {str(path.relative_to(directory)): (path.lstat().st_mtime_ns,
                                               path.read_bytes() if path.is_file() else None)
            for path in sorted(directory.rglob("*"))}


def test_a_fresh_build_verifies(project, capsys, private_tmp):
    code, out, err = verify(capsys, "--no-deps", str(project))
    assert code == 0, err
    assert out.startswith("identical: ") and "byte for byte" in out
    assert "compare" in err  # progress, on stderr
    assert list(private_tmp.iterdir()) == []  # the rebuild is gone


def test_verify_leaves_the_project_and_the_cache_untouched(project, capsys, tmp_path,
                                                          monkeypatch):
    empty_cache = tmp_path / "empty-cache"
    empty_cache.mkdir()
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(empty_cache))
    before = snapshot(project)
    code, _, err = verify(capsys, "--no-deps", str(project))
    assert code == 0, err
    assert snapshot(project) == before  # artifact bytes and mtime, manifest, stamps, no lock
    assert list(empty_cache.iterdir()) == []  # no scan results, no dependency entries


def test_tampered_content_of_the_same_size_is_named(project, capsys, private_tmp):
    artifact = artifact_of(project)
    original = member_data(artifact, "routes.py")
    rewrite(artifact, changed("routes.py", data=same_size_edit(original)))
    code, out, _ = verify(capsys, "--no-deps", str(project))
    assert code == 1
    assert "1 of 11 members differ" in out
    assert "  routes.py: content_sha256 " in out
    assert list(private_tmp.iterdir()) == []


def test_a_changed_mode_is_the_first_difference(project, capsys):
    rewrite(artifact_of(project), changed("routes.py", mode=0o755))
    code, out, _ = verify(capsys, "--no-deps", str(project))
    assert code == 1
    assert "routes.py: mode 0755 in the artifact, 0644 rebuilt" in out


def test_added_and_removed_members_are_named(project, capsys):
    extra = tarfile.TarInfo("backdoor.py")
    rewrite(artifact_of(project), lambda members: [
        *[(info, data) for info, data in members if info.name != "routes.py"],
        (extra, b"import os\n")])
    code, out, _ = verify(capsys, "--no-deps", str(project))
    assert code == 1
    assert "2 of 12 members differ" in out
    assert "backdoor.py: only in the artifact (file)" in out
    assert "routes.py: missing from the artifact (the rebuild has a file)" in out


@pytest.mark.parametrize(("change", "reason"), [
    (lambda members: members, "the archive's bytes differ"),  # recompressed by tarfile
    (lambda members: [members[0], *reversed(members[1:])], "in another order"),
])
def test_equal_members_in_other_bytes_do_not_verify(project, capsys, change, reason):
    rewrite(artifact_of(project), change)
    code, out, _ = verify(capsys, "--no-deps", str(project))
    assert code == 1
    assert "every member is equal" in out and reason in out


def test_the_options_the_artifact_was_built_with_are_given_to_verify(project, capsys):
    code, _, err = run_cli(["build", "--no-deps", "--compression-level", "9", str(project)],
                           capsys)
    assert code == 0, err
    code, out, _ = verify(capsys, "--no-deps", str(project))
    assert code == 1 and "1 of 11 members differ, only the manifest" in out
    assert "--compression-level" in out
    code, out, err = verify(capsys, "--no-deps", "--compression-level", "9", str(project))
    assert code == 0, err


def test_verify_takes_every_build_option_that_decides_the_bytes():
    """Shared with `flash build`, not copied: a new build option must be judged here."""
    not_the_bytes = {"locked", "keep_build", "output", "no_cache", "strict", "then_preview",
                     "dry_run", "annotations", "remote_cache", "remote_cache_mode"}
    build_options = {param.name for param in build_command.params} - not_the_bytes
    verify_options = {param.name for param in verify_command.params}
    assert build_options <= verify_options
    assert {"python_version", "glibc", "index_url", "exclude", "compression_engine",
            "compression_level", "no_deps", "allow_build", "image_release"} <= verify_options


def test_an_artifact_elsewhere(project, capsys, tmp_path, copy_fixture):
    deployed = tmp_path / "deployed" / "app.tar.gz"
    deployed.parent.mkdir()
    shutil.copyfile(artifact_of(project), deployed)
    code, out, err = verify(capsys, "--no-deps", "--artifact", str(deployed), str(project))
    assert code == 0, err
    assert "app.tar.gz is byte for byte" in out
    other = copy_fixture("forms-app")
    code, _, err = run_cli(["build", "--no-deps", str(other)], capsys)
    assert code == 0, err
    code, out, _ = verify(capsys, "--no-deps", "--artifact", str(artifact_of(other)),
                          str(project))
    assert code == 1
    assert "queue_workers.py: missing from the artifact" in out


def test_json_follows_the_schema(project, capsys):
    code, out, _ = verify(capsys, "--no-deps", "--json", str(project))
    assert code == 0
    document = json.loads(out)
    valid(document)
    assert document["identical"] is True and document["schema_version"] == 1
    assert document["artifact"]["sha256"] == document["rebuilt"]["sha256"]
    assert document["dependencies"] == "none" and document["warnings"] == []

    rewrite(artifact_of(project), changed("routes.py", mode=0o700))
    code, out, _ = verify(capsys, "--no-deps", "--json", str(project))
    assert code == 1
    document = json.loads(out)
    valid(document)
    assert document["identical"] is False
    assert document["artifact"]["sha256"] != document["rebuilt"]["sha256"]
    assert document["differing_members"] == [
        {"name": "routes.py", "attribute": "mode", "artifact": "0700", "rebuilt": "0644"}]

    broken = {**document, "identical": True}  # identical, yet a member differs
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, document_schema("verify"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({key: value for key, value in document.items()
                             if key != "schema_version"}, document_schema("verify"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "surprise": 1}, document_schema("verify"))


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _corrupted(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 2, len(data) // 2 + 16):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("damage", "message"), [
    (lambda path: path.unlink(), "no artifact at"),
    (lambda path: (path.unlink(), path.mkdir()), "is not a regular file"),
    (lambda path: path.write_text("hello"), "is not a gzip-compressed tar"),
    (lambda path: path.write_bytes(b"\x1f\x8bnot really"), "cannot read the artifact"),
    (_truncated, "cannot read the artifact"),
    (_corrupted, "cannot read the artifact"),
])
def test_a_bad_artifact_is_a_clean_error(project, capsys, private_tmp, damage, message):
    damage(artifact_of(project))
    code, out, err = verify(capsys, "--no-deps", "--json", str(project))
    assert code == UsageError.exit_code == 2
    assert message in err and "hint:" in err and "Traceback" not in err
    document = valid(json.loads(out), "error")
    assert document["ok"] is False and document["error"]["exit_code"] == 2
    assert list(private_tmp.iterdir()) == []


def test_an_interrupted_verify_removes_its_rebuild(project, capsys, private_tmp, monkeypatch):
    real_build = flashbuild.pipeline.build

    def interrupted(config, **kwargs):
        real_build(config, **kwargs)
        assert config.output.is_file() and config.output.is_relative_to(private_tmp)
        raise KeyboardInterrupt

    monkeypatch.setattr(flashbuild.pipeline, "build", interrupted)
    code, _, err = verify(capsys, "--no-deps", str(project))
    assert code == 130 and "interrupted" in err
    assert list(private_tmp.iterdir()) == []


# --- with dependencies, from the tests' wheelhouse -------------------------------------


@pytest.fixture
def deps_project(write_project, wheelhouse) -> tuple[Path, list[str]]:
    """A project with dependencies, and the index options that find them offline."""
    project = write_project(app(endpoint("worker", ["appdep"], cpu=True)))
    index = ["--no-index", "--find-links", str(wheelhouse)]
    return project, index


def test_a_locked_build_verifies_without_the_cache(deps_project, capsys, tmp_path,
                                                   monkeypatch, private_tmp):
    project, index = deps_project
    for command in ("lock", "build"):
        code, _, err = run_cli([command, *index, str(project)], capsys)
        assert code == 0, err
    empty_cache = tmp_path / "empty-cache"
    empty_cache.mkdir()
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(empty_cache))
    before = snapshot(project)
    code, out, err = verify(capsys, *index, "--json", str(project))
    assert code == 0, err
    document = json.loads(out)
    valid(document)
    assert (document["dependencies"], document["warnings"]) == ("locked", [])
    assert "warning" not in err
    assert snapshot(project) == before
    assert list(empty_cache.iterdir()) == [] and list(private_tmp.iterdir()) == []


def test_a_stale_lock_is_an_error(deps_project, capsys, private_tmp):
    project, index = deps_project
    for command in ("lock", "build"):
        code, _, err = run_cli([command, *index, str(project)], capsys)
        assert code == 0, err
    (project / "main.py").write_text(app(endpoint("worker", ["appdep", "tinyutil"],
                                                  cpu=True))["main.py"])
    code, _, err = verify(capsys, *index, str(project))
    assert code == UsageError.exit_code
    assert "flash.lock is out of date" in err and "endpoint worker added tinyutil" in err
    assert "kept for inspection" not in err  # the rebuild's directory is gone
    assert list(private_tmp.iterdir()) == []


def test_without_a_lock_the_index_state_is_a_warning(deps_project, capsys):
    project, index = deps_project
    code, _, err = run_cli(["build", *index, str(project)], capsys)
    assert code == 0, err
    code, out, err = verify(capsys, *index, "--json", str(project))
    assert code == 0, err
    document = json.loads(out)
    valid(document)
    assert document["dependencies"] == "resolved"
    assert len(document["warnings"]) == 1 and "no flash.lock" in document["warnings"][0]
    assert "flash: warning: there is no flash.lock" in err
    assert "index's state" in err
