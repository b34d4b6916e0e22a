"""The shared remote cache against a real S3-protocol server (moto's, on 127.0.0.1): runners
with separate local caches share entries, every object is verified, and a damaged, missing
or unreachable remote only costs a warning and a local build."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import jsonschema
import pytest

from flashbuild.cli.json_documents import document_schema

from ..support.helpers import app, endpoint, run_cli
from ..support.s3_server import ACCESS_KEY, SECRET_KEY, S3Server, free_port, start_s3_server

pytestmark = pytest.mark.usefixtures("private_uv_cache")

REPO = Path(__file__).resolve().parents[2]
LAYOUT = "ci/flashbuild-v1"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def bucket(s3: S3Server, monkeypatch) -> str:
    """An empty bucket of this test's own, configured as the remote cache (read-write)."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(name)
    for variable, value in s3.environ().items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("FLASHBUILD_REMOTE_CACHE", f"s3://{name}/ci")
    monkeypatch.delenv("FLASHBUILD_REMOTE_CACHE_MODE", raising=False)
    return name


@pytest.fixture
def project(write_project):
    return write_project(app(endpoint("gpu", ["sentence-transformers"]),
                             endpoint("cpu", ["appdep", "fastmath"], cpu=True)))


class Runner:
    """A CI runner: its own local cache, the shared remote."""

    def __init__(self, name: str, tmp_path: Path, wheelhouse: Path, monkeypatch, capsys):
        self.cache = tmp_path / f"cache-{name}"
        self.wheelhouse, self.monkeypatch, self.capsys = wheelhouse, monkeypatch, capsys

    def build(self, project: Path, *options: str) -> tuple[dict, str]:
        """``flash build --json``: the document and stderr; the build must succeed."""
        self.monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(self.cache))
        code, out, err = run_cli(["build", "--json", "--no-index", "--find-links",
                                  str(self.wheelhouse), *options, str(project)], self.capsys)
        assert code == 0, err
        document = json.loads(out)
        jsonschema.validate(document, document_schema("build"))
        return document, err

    def info(self) -> dict:
        self.monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(self.cache))
        code, out, err = run_cli(["cache", "info", "--json"], self.capsys)
        assert code == 0, err
        document = json.loads(out)
        jsonschema.validate(document, document_schema("cache-info"))
        return document


@pytest.fixture
def runner(tmp_path, wheelhouse, monkeypatch, capsys):
    return lambda name: Runner(name, tmp_path, wheelhouse, monkeypatch, capsys)


def artifact_of(project: Path) -> bytes:
    return (project / ".flash" / "artifact.tar.gz").read_bytes()


def entry_record(s3: S3Server, bucket: str) -> tuple[str, dict]:
    [name] = [k for k in s3.keys(bucket) if k.startswith(f"{LAYOUT}/entries/")]
    body = s3.client().get_object(Bucket=bucket, Key=name)["Body"].read()
    return name, json.loads(body)


def test_a_runner_hits_what_another_built_with_identical_bytes(s3, bucket, project, runner):
    built, _ = runner("a").build(project)
    assert built["dependencies"]["from_cache"] is False
    first = artifact_of(project)
    uploaded = runner("a").info()["remote"]
    assert uploaded["entries"] == {"hits": 0, "misses": 1} and uploaded["bytes_up"] > 0
    assert built["dependencies"]["remote_cache"] == uploaded  # the build says so too
    _, record = entry_record(s3, bucket)
    objects = s3.keys(bucket)
    # every segment the entry names was uploaded (before the record, which names them)
    for key, _, size in record["part"]["pieces"]:
        assert objects[f"{LAYOUT}/segments/{key[:2]}/{key}.gz"] == size
    hit, err = runner("b").build(project)
    assert hit["dependencies"]["from_cache"] is True and "warning" not in err
    assert hit["dependencies"]["remote_cache"]["entries"] == {"hits": 1, "misses": 0}
    assert artifact_of(project) == first
    assert hit["artifact"]["sha256"] == built["artifact"]["sha256"]
    fetched = runner("b").info()
    assert fetched["entries"] == 1
    assert fetched["remote"]["entries"] == {"hits": 1, "misses": 0}
    assert fetched["remote"]["bytes_down"] > 0 and fetched["remote"]["bytes_up"] == 0
    runner("b").build(project)  # now a local hit: the remote is not asked
    assert runner("b").info()["remote"]["local_hit"] is True
    local, _ = runner("c").build(project, "--remote-cache-mode", "off")
    assert local["dependencies"]["from_cache"] is False and artifact_of(project) == first
    assert local["dependencies"]["remote_cache"] is None


@pytest.mark.usefixtures("bucket")
def test_units_are_shared_between_apps(project, runner, write_project):
    runner("a").build(project)
    other = write_project(app(endpoint("cpu", ["appdep", "fastmath"], cpu=True)), name="other")
    built, _ = runner("b").build(other)
    remote = runner("b").info()["remote"]
    assert remote["entries"]["misses"] == 1  # another app: another entry, built ...
    assert remote["units"]["hits"] >= 2 and remote["units"]["misses"] == 0  # ... from units
    reference, _ = runner("c").build(other, "--remote-cache-mode", "off")
    assert built["artifact"]["sha256"] == reference["artifact"]["sha256"]


def test_read_mode_uploads_nothing(s3, bucket, project, runner, monkeypatch):
    monkeypatch.setenv("FLASHBUILD_REMOTE_CACHE_MODE", "read")
    runner("pr").build(project)
    assert s3.keys(bucket) == {}
    assert runner("pr").info()["remote"]["entries"] == {"hits": 0, "misses": 1}
    runner("main").build(project, "--remote-cache-mode", "read-write")
    assert s3.keys(bucket)
    hit, _ = runner("pr2").build(project)
    assert hit["dependencies"]["from_cache"] is True


def _damage(s3: S3Server, bucket: str, how: str) -> tuple[str, bytes]:
    """Damage one object of the entry the first build uploaded; its name and good bytes."""
    client = s3.client()
    entry, record = entry_record(s3, bucket)
    key = max(record["part"]["pieces"], key=lambda piece: piece[2])[0]  # the largest segment
    name = entry if how == "record" else f"{LAYOUT}/segments/{key[:2]}/{key}.gz"
    good = client.get_object(Bucket=bucket, Key=name)["Body"].read()
    if how == "missing":
        client.delete_object(Bucket=bucket, Key=name)
    else:
        bad = {"flipped": bytes([good[0] ^ 1]) + good[1:], "truncated": good[: len(good) // 2],
               "record": b'{"format": 5, "key": "not json'}[how]
        client.put_object(Bucket=bucket, Key=name, Body=bad)
    return name, good


@pytest.mark.parametrize("how", ["flipped", "truncated", "missing", "record"])
def test_damaged_or_missing_objects_are_misses_and_replaced(s3, bucket, project, runner, how):
    runner("a").build(project)
    first = artifact_of(project)
    name, good = _damage(s3, bucket, how)
    built, err = runner("b").build(project)
    assert built["dependencies"]["from_cache"] is False and artifact_of(project) == first
    warned = [w for w in built["warnings"] if "remote cache object" in w]
    if how == "missing":
        assert warned == []  # a miss, not damage
    else:
        assert len(warned) == 1 and name in warned[0] and "this build replaces it" in warned[0]
        assert err.count(name) == 1
        assert runner("b").info()["remote"]["damaged"] == 1
    replaced = s3.client().get_object(Bucket=bucket, Key=name)["Body"].read()
    if how == "record":  # a record of the same part (what the audit removed may differ)
        assert json.loads(replaced)["part"] == json.loads(good)["part"]
    else:
        assert replaced == good
    hit, err = runner("c").build(project)
    assert hit["dependencies"]["from_cache"] is True and "warning" not in err
    assert hit["dependencies"]["remote_cache"]["entries"] == {"hits": 1, "misses": 0}
    assert artifact_of(project) == first


def test_read_mode_reports_damage_and_leaves_it(s3, bucket, project, runner, monkeypatch):
    runner("a").build(project)
    name, _ = _damage(s3, bucket, "flipped")
    monkeypatch.setenv("FLASHBUILD_REMOTE_CACHE_MODE", "read")
    built, _ = runner("pr").build(project)
    [warning] = [w for w in built["warnings"] if "remote cache object" in w]
    assert "a build with write access replaces it" in warning
    assert s3.client().get_object(Bucket=bucket, Key=name)["Body"].read()[0:1] != b"\x1f"


def test_a_server_stopped_mid_build_costs_a_warning(tmp_path, project, wheelhouse, monkeypatch):
    from flashbuild.config.build_config import BuildConfig
    from flashbuild.pipeline import build

    server = start_s3_server(tmp_path / "moto.log")
    try:
        server.create_bucket("team")
        for variable, value in server.environ().items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("FLASHBUILD_REMOTE_CACHE_TIMEOUT", "2")
        config = BuildConfig.create(
            project_dir=project, remote_cache="s3://team/ci", no_index=True,
            find_links=[str(wheelhouse)], environ={**os.environ,
                                                   "FLASHBUILD_CACHE_DIR": str(tmp_path / "c")})
        started = time.monotonic()
        # The remote answers the lookups (all misses); it is gone when uv installs.
        result = build(config, on_command=lambda *_: server.stop())
    finally:
        server.stop()
    assert time.monotonic() - started < 30
    [warning] = [str(w) for w in result.warnings if "remote cache" in str(w)]
    assert "s3://team/ci could not be used" in warning and "local cache only" in warning
    assert result.dependencies is not None and result.dependencies.from_cache is False


@pytest.fixture
def black_hole():
    """A TCP server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", free_port()))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in [*held, listener]:
        connection.close()


@pytest.mark.parametrize("where", ["closed-port", "silent-server"])
def test_an_unreachable_remote_costs_one_warning_in_bounded_time(
        where, black_hole, project, runner, monkeypatch):
    port = black_hole if where == "silent-server" else free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("FLASHBUILD_REMOTE_CACHE", "s3://team/ci")
    monkeypatch.setenv("FLASHBUILD_REMOTE_CACHE_TIMEOUT", "1")
    started = time.monotonic()
    built, err = runner("a").build(project)
    assert time.monotonic() - started < 20
    [warning] = [w for w in built["warnings"] if "remote cache" in w]
    assert "could not be used" in warning and err.count("could not be used") == 1
    assert runner("a").info()["remote"]["state"] == "unreachable"


def _flash(cache: Path, project: Path, wheelhouse: Path, *options: str,
           prelude: str = "") -> subprocess.Popen:
    code = (f"import sys\n{prelude}\nfrom flashbuild.cli.main import main\n"
            "code = main(sys.argv[1:])\n"
            "print('obstore loaded' if 'obstore' in sys.modules else 'obstore not loaded', "
            "file=sys.stderr)\nsys.exit(code)")
    return subprocess.Popen(
        [sys.executable, "-c", code, "build", "--no-index", "--find-links", str(wheelhouse),
         *options, str(project)],
        cwd=REPO, env={**os.environ, "FLASHBUILD_CACHE_DIR": str(cache)},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.usefixtures("bucket")
def test_concurrent_uploads_of_one_key(write_project, wheelhouse, tmp_path, runner):
    # one app checked out twice (one .flash folder each), built at once by two runners
    files = app(endpoint("cpu", ["appdep", "fastmath"], cpu=True),
                **{"pyproject.toml": '[project]\nname = "app"\n'})
    projects = [write_project(files, name=f"checkout{i}") for i in range(2)]
    builds = [_flash(tmp_path / f"cache{i}", p, wheelhouse) for i, p in enumerate(projects)]
    for build in builds:
        _, err = build.communicate(timeout=120)
        assert build.returncode == 0 and "warning" not in err, err
    assert artifact_of(projects[0]) == artifact_of(projects[1])
    hit, err = runner("c").build(projects[0])
    assert hit["dependencies"]["from_cache"] is True and "warning" not in err
    assert hit["dependencies"]["remote_cache"]["entries"] == {"hits": 1, "misses": 0}
    assert artifact_of(projects[0]) == artifact_of(projects[1])


def test_the_client_is_imported_only_when_the_remote_is_needed(
        bucket, project, wheelhouse, tmp_path, monkeypatch):
    monkeypatch.delenv("FLASHBUILD_REMOTE_CACHE")
    _, err = _flash(tmp_path / "cache", project, wheelhouse).communicate(timeout=120)
    assert "obstore not loaded" in err  # no remote configured
    monkeypatch.setenv("FLASHBUILD_REMOTE_CACHE", f"s3://{bucket}/ci")
    _, err = _flash(tmp_path / "cache", project, wheelhouse).communicate(timeout=120)
    assert "obstore not loaded" in err  # a local hit never asks the remote
    _, err = _flash(tmp_path / "fresh", project, wheelhouse).communicate(timeout=120)
    assert "obstore loaded" in err


@pytest.mark.usefixtures("bucket")
def test_a_missing_client_library_warns_with_the_install_command(project, wheelhouse, tmp_path):
    build = _flash(tmp_path / "cache", project, wheelhouse,
                   prelude="sys.modules['obstore'] = None  # as if not installed")
    _, err = build.communicate(timeout=120)
    assert build.returncode == 0, err
    assert "its client library is not installed" in err
    assert "pip install 'flashbuild[remote]'" in err


@pytest.mark.usefixtures("bucket")
def test_credentials_never_show(project, runner, monkeypatch, capsys, tmp_path):
    shown = []
    built, err = runner("a").build(project, "-v")
    shown += [json.dumps(built), err, json.dumps(runner("a").info())]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # unreachable
    built, err = runner("b").build(project, "-v")
    assert any("could not be used" in w for w in built["warnings"])
    shown += [json.dumps(built), err]
    code, out, err = run_cli(["build", "--remote-cache", f"s3://{ACCESS_KEY}:{SECRET_KEY}@team",
                              str(project)], capsys)
    assert code == 2 and "carries credentials" in err
    shown += [out, err]
    for cache in tmp_path.glob("cache-*"):
        shown += [p.read_text(errors="replace") for p in cache.rglob("*.json")]
    shown.append((project / ".flash" / "flash_manifest.json").read_text())
    for text in shown:
        assert SECRET_KEY not in text and ACCESS_KEY not in text


def test_cache_info_without_a_remote(runner, capsys):
    document = runner("empty").info()
    assert document["remote"] is None and document["entries"] == 0
    code, out, _ = run_cli(["cache", "info"], capsys)
    assert code == 0 and "remote cache: not used by any build yet" in out
    broken = {**document, "remote": {"url": "s3://x"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, document_schema("cache-info"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in document.items() if k != "schema_version"},
                            document_schema("cache-info"))
