"""Cached records as JSON: exact round trips, and hostile entries refused, never run."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flashbuild._util.records_json import from_data, to_data
from flashbuild.cache import cached_tuple
from flashbuild.checks.findings import Finding, LoadImport, SourceReport
from flashbuild.errors import SourceLocation
from flashbuild.records import FunctionDecl
from flashbuild.source.files import collect_project_files
from flashbuild.source.scan import scan_project

from ..conftest import FIXTURES

HERE = SourceLocation(path="app.py", line=3, column=1)
REPORT = SourceReport(
    findings=(Finding(code="scope", message="m", location=HERE, severity="warning"),),
    load_imports=(LoadImport(endpoint="e", module="numpy", location=HERE,
                             chain=("app.py", "lib.py")),),
)


@pytest.mark.parametrize("app", ["forms-app", "example-app", "preview-app"])
def test_scanned_functions_round_trip_exactly(app):
    functions = scan_project(collect_project_files(FIXTURES / app)).functions
    data = json.loads(json.dumps([to_data(f) for f in functions]))
    assert tuple(from_data(FunctionDecl, item) for item in data) == functions


def test_a_source_report_round_trips():
    assert from_data(SourceReport, json.loads(json.dumps(to_data(REPORT)))) == REPORT


@pytest.mark.parametrize("change", [
    lambda d: d["findings"][0].update(severity="fatal"),  # not one of the Literal's values
    lambda d: d["findings"][0]["location"].update(line="3"),  # a str for an int
    lambda d: d["findings"][0].update(extra=1),  # a field the record does not have
    lambda d: d["load_imports"][0].pop("chain"),  # a missing field
    lambda d: d.update(findings={"py/reduce": ["os.system", ["id"]]}),  # not a list
    lambda d: d["load_imports"][0].update(chain=[True]),  # a bool for a str
])
def test_data_of_another_shape_is_refused(change):
    data = to_data(REPORT)
    change(data)
    with pytest.raises(ValueError):
        from_data(SourceReport, data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_any_json_is_a_record_or_a_value_error(data):
    try:
        decoded = from_data(SourceReport, data)
    except ValueError:
        return
    assert isinstance(decoded, SourceReport)


def test_a_cache_entry_is_read_as_data_and_a_bad_one_recomputed(tmp_path):
    entry = tmp_path / "entry.json"
    calls = []

    def compute():
        calls.append(1)
        return (REPORT,)

    assert cached_tuple(entry, SourceReport, compute) == (REPORT,)
    stored = json.loads(entry.read_text())
    assert stored["type"] == "flashbuild.checks.findings.SourceReport" and len(calls) == 1
    stored["items"][0]["findings"][0]["message"] = "from the cache"
    entry.write_text(json.dumps(stored))
    (cached,) = cached_tuple(entry, SourceReport, compute)
    assert cached.findings[0].message == "from the cache" and len(calls) == 1  # read, not run
    for damage in (b"\x80\x04not json", b'{"type": "other", "items": []}', b"[]"):
        entry.write_bytes(damage)
        assert cached_tuple(entry, SourceReport, compute) == (REPORT,)
    assert len(calls) == 4
    assert json.loads(entry.read_text())["type"].endswith("SourceReport")


class _Payload:
    """Unpickling this runs a command: what a hostile cache entry would hold."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickled_payload_in_the_scan_cache_is_never_run(write_project, tmp_path):
    import pickle

    from flashbuild.source.files import collect_project_files
    from flashbuild.source.scan import scan_project

    from ..support.helpers import app, endpoint

    project = write_project(app(endpoint("cpu", [], cpu=True)))
    files = collect_project_files(project)
    cache = tmp_path / "cache"
    fresh = scan_project(files, cache_dir=cache)
    marker = tmp_path / "ran"
    for entry in (cache / "scan").rglob("*"):
        if entry.is_file():
            entry.write_bytes(pickle.dumps(("x", (_Payload(marker),))))
            (entry.with_suffix(".pickle")).write_bytes(pickle.dumps(_Payload(marker)))
    assert scan_project(files, cache_dir=cache) == fresh
    assert not marker.exists()
