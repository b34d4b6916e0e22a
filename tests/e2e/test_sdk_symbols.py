"""The SDK table is what the pinned runpod-flash really exports (marked ``network``)."""

from __future__ import annotations

import importlib.util

import pytest

from flashbuild.source import symbols

from ..conftest import REPO_ROOT

pytestmark = pytest.mark.network


def test_the_checked_in_table_is_what_the_pinned_sdk_gives():
    path = REPO_ROOT / "tools" / "sdk_symbols" / "generate.py"
    spec = importlib.util.spec_from_file_location("sdk_symbols_generate", path)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.SDK_VERSION == symbols.SDK_VERSION
    assert generator.generated() == symbols.TABLE_FILE.read_text(encoding="utf-8")
