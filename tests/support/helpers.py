"""Helpers shared by tests (imported explicitly, unlike fixtures)."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from flashbuild.cli.main import main
from flashbuild.config.build_config import BuildConfig
from flashbuild.config.environment import CACHE_ENV, PROFILES_ENV
from flashbuild.config.images import image_table
from flashbuild.pipeline import BuildResult, build

TEST_IMAGE_PROFILES = Path(__file__).resolve().parent / "image_profiles"


def build_project(project: Path, **options) -> BuildResult:
    """Run the pipeline on ``project`` with --no-deps semantics unless told otherwise."""
    options.setdefault("no_deps", True)
    config = BuildConfig.create(project_dir=project, environ=hermetic_environ(), **options)
    return build(config)


def hermetic_environ() -> dict[str, str]:
    """The environment a test build sees: the test session's cache and image profiles."""
    return {name: os.environ[name] for name in (CACHE_ENV, PROFILES_ENV) if name in os.environ}


def wheelhouse_images(overrides=None, *, release: str | None = None, python: str = "3.12"):
    """The image table of the tests' profiles (made for the wheelhouse), overrides applied."""
    return image_table(overrides, release=release, python=python,
                       profiles_dir=TEST_IMAGE_PROFILES)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``flash`` in-process; returns (exit code, stdout, stderr)."""
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def archive_names(path: Path) -> list[str]:
    with tarfile.open(path, "r:gz") as archive:
        return archive.getnames()


def archive_text(path: Path, name: str) -> str:
    with tarfile.open(path, "r:gz") as archive:
        member = archive.extractfile(name)
        assert member is not None, name
        return member.read().decode()


def endpoint(name: str, deps: list[str], *, cpu: bool = False, function: str | None = None) -> str:
    """Source of one ``@Endpoint`` function declaring ``deps``."""
    compute = ', cpu="cpu3c-2-4"' if cpu else ""
    function = function or name.replace("-", "_")
    return (
        f'@Endpoint(name="{name}"{compute}, dependencies={deps!r})\n'
        f"def {function}(x):\n    return x\n\n\n"
    )


def app(*endpoints: str, **extra: str) -> dict[str, str]:
    """A project (``{path: text}``) whose main.py holds the given endpoints."""
    return {"main.py": "from runpod_flash import Endpoint\n\n\n" + "".join(endpoints), **extra}


# An app whose one error has a place, and a message with a "%" and a hint (GitHub
# annotations and the job summary escape them).
INVALID_ENDPOINT_NAME = '''\
from runpod_flash import Endpoint


@Endpoint(name="100% sure", gpu=None)
def work():
    return 1
'''
