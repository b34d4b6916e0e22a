"""Every fixture app builds to the recorded bytes (see tests/support/fixture_digests.py)."""

from __future__ import annotations

import json

import pytest

from flashbuild.artifact.deflate import engine_label
from flashbuild.config.compression import DEFAULT_ENGINE

from ..support.fixture_digests import APPS, RECORD, build_digests

RECORDED = json.loads(RECORD.read_text(encoding="utf-8"))


def test_every_buildable_fixture_app_is_recorded():
    assert sorted(RECORDED["apps"]) == sorted(APPS)


@pytest.mark.parametrize("app", APPS)
def test_artifact_and_manifest_bytes_are_unchanged(app, tmp_path):
    expected = RECORDED["apps"][app]
    actual = build_digests(app, tmp_path)
    assert actual["manifest_sha256"] == expected["manifest_sha256"]
    assert actual["tar_sha256"] == expected["tar_sha256"]
    if RECORDED["engine"] == engine_label(DEFAULT_ENGINE):
        assert actual["artifact_sha256"] == expected["artifact_sha256"]
