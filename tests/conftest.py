"""Shared fixtures: fixture apps copied into tmp_path, hypothesis profiles, the ``e2e`` mark."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"
TEST_IMAGE_PROFILES = REPO_ROOT / "tests" / "support" / "image_profiles"
E2E_TESTS = REPO_ROOT / "tests" / "e2e"

settings.register_profile("dev", max_examples=20, deadline=None)
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_collection_modifyitems(items):
    """Mark every test under tests/e2e with ``e2e``, so ``-m 'not e2e'`` selects the unit tests."""
    for item in items:
        if item.path.resolve().is_relative_to(E2E_TESTS):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A directory of tiny real wheels and sdists (see tests/support/wheelhouse.py)."""
    from .support.wheelhouse import build_wheelhouse

    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory) -> Path:
    """uv's cache for the test session (the one ``private_uv_cache`` points uv at)."""
    return tmp_path_factory.getbasetemp() / "uv-cache"


@pytest.fixture
def private_uv_cache(tmp_path_factory, monkeypatch):
    """Keep uv's cache out of the user's home; ignore FLASH_* index settings of the host."""
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "uv-cache"))
    for name in ("FLASH_INDEX_URL", "FLASH_EXTRA_INDEX_URL", "FLASH_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def private_flashbuild_cache(tmp_path_factory):
    """Builds share one cache per test session, never the user's ~/.cache/flashbuild, and
    assume the worker images of ``tests/support/image_profiles`` (made for the wheelhouse).

    Session-scoped, so that module-scoped fixtures that build see it too; a test
    that needs a cache of its own sets FLASHBUILD_CACHE_DIR with monkeypatch.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLASHBUILD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fb-cache"))
        patch.setenv("FLASHBUILD_IMAGE_PROFILES", str(TEST_IMAGE_PROFILES))
        yield


# What a GitHub Actions runner sets: a test suite run there must neither annotate nor
# append to the job's summary; the tests that want them set them with monkeypatch.
GITHUB_ACTIONS_ENV = ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE")


@pytest.fixture(scope="session", autouse=True)
def not_on_github_actions():
    """Builds in tests behave as off GitHub Actions, wherever the suite runs."""
    with pytest.MonkeyPatch.context() as patch:
        for name in GITHUB_ACTIONS_ENV:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture
def copy_fixture(tmp_path):
    """Copy ``fixtures/<name>`` into ``tmp_path`` and return the copy's path."""

    def copy(name: str) -> Path:
        destination = tmp_path / Path(name).name
        # `make example` leaves a .flash/ output inside the fixture; never copy it.
        shutil.copytree(
            FIXTURES / name,
            destination,
            symlinks=True,
            ignore=shutil.ignore_patterns(".flash", "__pycache__"),
        )
        return destination

    return copy


@pytest.fixture
def write_project(tmp_path):
    """Create a project from ``{relative path: text}`` and return its root."""

    def write(files: dict[str, str], name: str = "app") -> Path:
        root = tmp_path / name
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        root.mkdir(exist_ok=True)
        return root

    return write


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A private flashbuild cache for one test (FLASHBUILD_CACHE_DIR points at it)."""
    directory = tmp_path / "flashbuild-cache"
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def installs(monkeypatch) -> list[list[str]]:
    """The names each ``uv pip install`` of the builds was asked for."""
    from flashbuild.deps import part_builder

    calls: list[list[str]] = []
    original = part_builder.install_pins

    def spy(packages, settings, target_dir, **options):
        calls.append([package.name for package in packages])
        return original(packages, settings, target_dir, **options)

    monkeypatch.setattr(part_builder, "install_pins", spy)
    return calls
