"""Every ``--json`` document carries ``schema_version`` and matches the schema shipped for it."""

from __future__ import annotations

import json

import jsonschema
import pytest

from flashbuild.cli.json_documents import SCHEMA_VERSION, SCHEMAS_DIR, document_schema

from ..support.helpers import app, endpoint, run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")

# The documents whose schemas this module checks against real output; other modules check
# the rest (manifest diff, verify, preview) the same way.
CHECKED_HERE = {"build", "dry-run", "error", "images"}


def _valid(document: dict, name: str) -> dict:
    assert document["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(document, document_schema(name),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return document


@pytest.mark.parametrize("path", sorted(SCHEMAS_DIR.glob("*.schema.json")), ids=lambda p: p.name)
def test_every_shipped_schema_is_a_valid_schema_of_a_versioned_document(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"].endswith("/" + path.name)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert "schema_version" in schema["required"] and schema["additionalProperties"] is False


def test_build_and_dry_run_documents_match_their_schemas(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True), endpoint("gpu", [])))
    index = ["--no-index", "--find-links", str(wheelhouse)]
    code, out, err = run_cli(["build", "--json", *index, str(project)], capsys)
    assert code == 0, err
    built = _valid(json.loads(out), "build")
    assert built["dependencies"]["installed"][0]["name"] == "appdep"
    code, out, err = run_cli(["build", "--dry-run", "--json", *index, str(project)], capsys)
    assert code == 0, err
    assert _valid(json.loads(out), "dry-run")["fits"] is True
    code, out, _ = run_cli(["build", "--json", "--no-deps", str(project)], capsys)
    assert code == 0
    assert _valid(json.loads(out), "build")["dependencies"] is None


@pytest.mark.parametrize("args", [
    ["build", "--json", "{missing}"],  # a configuration error
    ["build", "--json", "--max-size", "lots", "{project}"],  # click's own usage error
    ["manifest", "diff", "--json", "{missing}", "{missing}"],
], ids=["build", "usage", "manifest-diff"])
def test_failures_print_the_error_document(args, write_project, tmp_path, capsys):
    project = write_project(app(endpoint("cpu", [], cpu=True)))
    words = [a.format(missing=tmp_path / "missing", project=project) for a in args]
    code, out, _ = run_cli(words, capsys)
    document = _valid(json.loads(out), "error")
    assert code == document["error"]["exit_code"] == 2


def test_images_document_matches_its_schema(capsys, monkeypatch):
    monkeypatch.delenv("FLASHBUILD_IMAGE_PROFILES")
    code, out, _ = run_cli(["images", "show", "--json"], capsys)
    assert code == 0
    document = _valid(json.loads(out), "images")
    assert document["images"]["gpu"]["torch"]["source"] == "base"


@pytest.mark.parametrize("name", sorted(CHECKED_HERE))
def test_schemas_reject_a_document_without_its_version_or_with_unknown_fields(name):
    schema = document_schema(name)
    required = dict.fromkeys(schema["required"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in required.items() if k != "schema_version"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**required, "schema_version": SCHEMA_VERSION, "surprise": 1}, schema)
