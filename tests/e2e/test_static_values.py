"""Values a build reads beyond the decorated file: other project modules and the build's
environment (fixtures/shared-config-app)."""

from __future__ import annotations

import json

from flashbuild.errors import SourceCodeError

from ..support.helpers import run_cli


def build(project, capsys, monkeypatch, environment, *options):
    for name in ("EMBED_MODEL", "FLASH_DATACENTER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return run_cli(["build", "--no-deps", *options, str(project)], capsys)


def test_the_manifest_takes_values_from_modules_and_the_environment_and_names_what_it_read(
    copy_fixture, capsys, monkeypatch
):
    project = copy_fixture("shared-config-app")
    environment = {"EMBED_MODEL": "large-v2", "FLASH_DATACENTER": "US_CA_2"}
    code, out, err = build(project, capsys, monkeypatch, environment, "--json")
    assert code == 0, err
    assert "large-v2" not in err  # values never reach the human output
    document = json.loads(out)
    assert document["build_environment"] == ["EMBED_MODEL", "FLASH_DATACENTER"]
    manifest_path = project / ".flash" / "flash_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["build_environment"] == ["EMBED_MODEL", "FLASH_DATACENTER"]
    embed, tokens = manifest["resources"]["embed"], manifest["resources"]["tokens"]
    assert embed["env"] == {"MODEL": "large-v2"} and embed["locations"] == "US-CA-2"
    assert tokens["env"] == {"HF_TOKEN": "{{ RUNPOD_SECRET_HF_TOKEN }}"}
    assert (embed["workersMax"], embed["idleTimeout"], embed["dependencies"]) == (
        2, 60, ["numpy"])
    assert embed["networkVolumes"][0]["name"] == "models"

    artifact = (project / ".flash" / "artifact.tar.gz").read_bytes()
    code, _, err = build(project, capsys, monkeypatch, environment)
    assert code == 0, err
    assert (project / ".flash" / "artifact.tar.gz").read_bytes() == artifact
    code, _, err = build(project, capsys, monkeypatch, {})
    assert code == 0, err
    defaults = json.loads(manifest_path.read_text())["resources"]["embed"]
    assert defaults["env"] == {"MODEL": "small"} and defaults["locations"] == "EU-RO-1"


def test_an_unset_variable_without_a_default_fails_the_build_naming_it(
    copy_fixture, capsys, monkeypatch
):
    project = copy_fixture("shared-config-app")
    endpoints = project / "app" / "endpoints.py"
    endpoints.write_text(endpoints.read_text().replace(
        'os.getenv("EMBED_MODEL", "small")', 'os.environ["EMBED_MODEL"]'))
    code, _, err = build(project, capsys, monkeypatch, {})
    assert code == SourceCodeError.exit_code
    assert ("flash: source error: app/endpoints.py:15:44: the environment variable EMBED_MODEL "
            "is not set for `flash build`") in err
    assert "{{ RUNPOD_SECRET_" in err and "Traceback" not in err


def test_a_non_static_value_in_another_module_is_reported_there(
    copy_fixture, capsys, monkeypatch
):
    project = copy_fixture("shared-config-app")
    (project / "settings.py").write_text(
        (project / "settings.py").read_text().replace("idle_timeout=60",
                                                      "idle_timeout=int('60')"))
    code, _, err = build(project, capsys, monkeypatch, {})
    assert code == SourceCodeError.exit_code
    assert "flash: source error: settings.py:6:44: the value of `idle_timeout` must be " in err
    assert "see also: app/endpoints.py:15" in err
