"""Property tests: random valid apps, written as source text and built for real.

Each example is a fresh project in a temporary directory (hypothesis does not
reset function-scoped fixtures between examples).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from flashbuild.render.manifest import manifest_schema
from flashbuild.source.files import collect_project_files
from flashbuild.source.plan import build_plan
from flashbuild.source.scan import scan_project

from .generated_apps import (
    AppSpec,
    EndpointSpec,
    apps,
    env_dicts,
    expected_resources,
    render_sources,
)
from .helpers import archive_names, build_project

PROJECT = "prop-app"  # the directory name is the project name (no pyproject.toml)


def write_sources(root: Path, sources: dict[str, str]) -> None:
    for relative, text in sources.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def config_hashes(app: AppSpec) -> dict[str, str]:
    """Scan and plan ``app``; endpoint name -> config_hash."""
    sources, _ = render_sources(app)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / PROJECT
        write_sources(root, sources)
        plan = build_plan(scan_project(collect_project_files(root)), project_name=PROJECT,
                          python_version="3.12")
    return {endpoint.name: endpoint.config_hash for endpoint in plan.endpoints}


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
        {*sources, *folders - {"."}, *handlers, "flash_manifest.json"})


def _bump_idle_timeout(endpoint: EndpointSpec) -> EndpointSpec:
    current = 60 if endpoint.idle_timeout is None else endpoint.idle_timeout
    return replace(endpoint, idle_timeout=current + 1)


def _raise_max_workers(endpoint: EndpointSpec) -> EndpointSpec:
    workers = endpoint.workers
    low, high = (0, workers) if isinstance(workers, int) else workers or (0, 1)
    return replace(endpoint, workers=(low, high + 1))


def _add_dependency(endpoint: EndpointSpec) -> EndpointSpec:
    if endpoint.form == "remote":  # function-level dependencies count for the endpoint
        first, *others = endpoint.functions
        extended = replace(first, dependencies=(*first.dependencies, "brand-new-package"))
        return replace(endpoint, functions=[extended, *others])
    return replace(endpoint, dependencies=(*endpoint.dependencies, "brand-new-package"))


@given(app=apps(), data=st.data())
def test_config_hash_ignores_env_and_nothing_else(app, data):
    original = config_hashes(app)
    assert sorted(original) == sorted(endpoint.name for endpoint in app.endpoints)

    new_envs = [data.draw(env_dicts, label="env") for _ in app.endpoints]
    assert config_hashes(app.with_env(new_envs)) == original

    index = data.draw(st.integers(0, len(app.endpoints) - 1), label="changed endpoint")
    change = data.draw(st.sampled_from([_bump_idle_timeout, _raise_max_workers, _add_dependency]),
                       label="change")
    changed = list(app.endpoints)
    changed[index] = change(changed[index])
    after = config_hashes(replace(app, endpoints=changed))
    name = app.endpoints[index].name
    assert after[name] != original[name]
    assert {k: v for k, v in after.items() if k != name} == {
        k: v for k, v in original.items() if k != name}
