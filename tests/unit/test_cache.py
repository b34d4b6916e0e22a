"""Cache keys and the scan-result cache, without a build."""

from __future__ import annotations

from flashbuild.cache import cache_key

from ..support.helpers import app, endpoint


def test_key_is_canonical():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})


def test_scan_results_are_reused_and_damage_is_ignored(write_project, tmp_path):
    from flashbuild.source.files import collect_project_files
    from flashbuild.source.scan import scan_project

    project = write_project(app(endpoint("cpu", ["appdep"], cpu=True), endpoint("gpu", [])))
    files = collect_project_files(project)
    fresh = scan_project(files)
    cache = tmp_path / "scan-cache"
    assert scan_project(files, cache_dir=cache) == fresh
    stored = list(cache.glob("scan/*/*.json"))
    assert len(stored) == 1
    assert scan_project(files, cache_dir=cache) == fresh  # from the cache
    stored[0].write_bytes(b"not a pickle")
    assert scan_project(files, cache_dir=cache) == fresh
    (project / "main.py").write_text((project / "main.py").read_text().replace('"gpu"', '"gpu2"'))
    changed = scan_project(collect_project_files(project), cache_dir=cache)
    assert {f.endpoint.config.name for f in changed.functions} == {"cpu", "gpu2"}
