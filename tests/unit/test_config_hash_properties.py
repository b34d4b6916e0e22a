"""Property test: an endpoint's ``config_hash`` follows every setting except ``env``.

Random valid apps are written as source text into a fresh temporary directory each time,
then scanned and planned (hypothesis does not reset function-scoped fixtures between examples).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from flashbuild.source.files import collect_project_files
from flashbuild.source.plan import build_plan
from flashbuild.source.scan import scan_project

from ..support.generated_apps import (
    AppSpec,
    EndpointSpec,
    apps,
    env_dicts,
    render_sources,
    write_sources,
)

PROJECT = "prop-app"  # the directory name is the project name (no pyproject.toml)


def config_hashes(app: AppSpec) -> dict[str, str]:
    """Scan and plan ``app``; endpoint name -> config_hash."""
    sources, _ = render_sources(app)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / PROJECT
        write_sources(root, sources)
        plan = build_plan(scan_project(collect_project_files(root)), project_name=PROJECT,
                          python_version="3.12")
    return {endpoint.name: endpoint.config_hash for endpoint in plan.endpoints}


def _bump_idle_timeout(endpoint: EndpointSpec) -> EndpointSpec:
    current = 60 if endpoint.idle_timeout is None else endpoint.idle_timeout
    return replace(endpoint, idle_timeout=current + 1 if current < 3600 else current - 1)


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
