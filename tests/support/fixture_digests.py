"""The digests of every fixture app's artifact and manifest, built with ``--no-deps``.

``tests/support/fixture_digests.json`` records them; a test rebuilds every app and
compares, so any change to what flashbuild writes for the same sources shows up as a
failing test that names the app. When a change of output is intended, regenerate the
file and review its diff::

    python -m tests.support.fixture_digests > tests/support/fixture_digests.json

The compressed bytes also depend on the deflate engine's version, so the artifact's
own sha256 is compared only where the default engine is the recorded version; the
sha256 of the uncompressed tar stream and of the manifest are compared everywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

from flashbuild.artifact.deflate import engine_label
from flashbuild.config.build_config import BuildConfig
from flashbuild.config.compression import DEFAULT_ENGINE
from flashbuild.pipeline import build

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"
RECORD = Path(__file__).resolve().parent / "fixture_digests.json"
# Every fixture app that builds (the bad/ apps and checks/unshipped-import are refused).
APPS = ("example-app", "embeddings-app", "forms-app", "preview-app", "sdk-app",
        "shared-config-app", "checks/clean-app",
        "checks/scope", "checks/module-level-import", "checks/not-awaited",
        "checks/undeclared-import")


def build_digests(app: str, workdir: Path) -> dict[str, str]:
    """Build a copy of ``fixtures/<app>`` without dependencies; the digests of what it wrote."""
    project = workdir / app.replace("/", "-") / Path(app).name
    shutil.copytree(FIXTURES / app, project, symlinks=True,
                    ignore=shutil.ignore_patterns(".flash", "__pycache__"))
    config = BuildConfig.create(project_dir=project, environ={}, no_deps=True, no_cache=True)
    result = build(config)
    artifact = result.artifact.path.read_bytes()
    return {
        "artifact_sha256": hashlib.sha256(artifact).hexdigest(),
        "tar_sha256": hashlib.sha256(gzip.decompress(artifact)).hexdigest(),
        "manifest_sha256": hashlib.sha256(result.manifest_path.read_bytes()).hexdigest(),
    }


def all_digests() -> dict[str, object]:
    """The document recorded in ``fixture_digests.json``, for this flashbuild and engine."""
    with tempfile.TemporaryDirectory(prefix="flashbuild-digests-") as workdir:
        apps = {app: build_digests(app, Path(workdir)) for app in APPS}
    return {"engine": engine_label(DEFAULT_ENGINE), "apps": apps}


if __name__ == "__main__":
    json.dump(all_digests(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
