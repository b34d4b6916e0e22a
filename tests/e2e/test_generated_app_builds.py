"""Property test: random valid apps, written as source text and built for real.

Each example is a fresh project in a temporary directory (hypothesis does not
reset function-scoped fixtures between examples).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path, PurePosixPath

import jsonschema
from hypothesis import given

from flashbuild.render.manifest import manifest_schema

from ..support.generated_apps import apps, expected_resources, render_sources, write_sources
from ..support.helpers import archive_names, build_project

PROJECT = "prop-app"  # the directory name is the project name (no pyproject.toml)


@given(app=apps())
def test_manifest_describes_exactly_the_generated_app_and_builds_are_identical(app):
    sources, decorator_lines = render_sources(app)
    with tempfile.TemporaryDirectory() as temporary:
        project = Path(temporary) / PROJECT
        write_sources(project, sources)
        first = build_project(project)
        artifact, manifest = first.artifact.path.read_bytes(), first.manifest_path.read_bytes()
        members = archive_names(first.artifact.path)
        second = build_project(project)
        assert second.artifact.path.read_bytes() == artifact
        assert second.manifest_path.read_bytes() == manifest

    data = json.loads(manifest)
    assert data == first.manifest
    jsonschema.validate(data, manifest_schema())
    assert (data["version"], data["project_name"], data["python_version"]) == (
        "1.0", PROJECT, "3.12")
    assert data["resources"] == expected_resources(app, decorator_lines)
    assert data["function_registry"] == {
        function.name: endpoint.name for endpoint in app.endpoints
        for function in endpoint.functions
    }
    assert data["routes"] == {
        endpoint.name: {f"{f.route[0].upper()} {f.route[1]}": f.name for f in endpoint.functions}
        for endpoint in app.endpoints if endpoint.load_balanced
    }
    folders = {str(parent) for path in sources for parent in PurePosixPath(path).parents}
    handlers = {f"handler_{endpoint.name}.py" for endpoint in app.endpoints}
    assert sorted(members) == sorted(
        {*sources, *folders - {"."}, *handlers, "flash_manifest.json", "sbom.cdx.json"})
