"""``flash verify`` below the pipeline: the private rebuild's configuration and
directory, and the verdict. The pipeline's ``verify`` runs the rebuild between them.

The rebuild writes nothing of the project's: its state (lock, stamps, build
directory), artifact and manifest live in a temporary directory of its own,
removed afterwards whatever happens, and it neither reads nor writes the
dependency cache. With a ``flash.lock`` it is locked (a stale lock is an error,
as for ``flash build --locked``); without one it resolves as a build does, and
says that the result then depends on the index's state.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config.build_config import DEFAULT_OUTPUT, BuildConfig
from ..deps.records import LOCK_FILE
from ..errors import FlashBuildError, PackagingError
from ..records import Artifact, BuildWarning
from .compare import ArtifactComparison, check_artifact, compare_artifacts

if TYPE_CHECKING:
    from ..deps.records import InstalledDependencies

UNLOCKED = BuildWarning(
    message=f"there is no {LOCK_FILE}: the dependencies were resolved against the package "
    "index as it is today, so this verification depends on the index's state as well as on "
    f"the sources. Run `flash lock` and commit {LOCK_FILE} to verify against pinned versions.")


@dataclass(frozen=True, kw_only=True)
class Verification:
    """An artifact against what its sources make."""

    comparison: ArtifactComparison
    dependencies: str  # "locked" (from flash.lock), "resolved" (no lock) or "none"
    warnings: tuple[BuildWarning, ...]  # the rebuild's, then UNLOCKED when it applies

    @property
    def identical(self) -> bool:
        return self.comparison.identical


@contextmanager
def private_build(project_dir: Path, artifact: Path | None, options: Mapping[str, Any]
                  ) -> Iterator[tuple[BuildConfig, Path]]:
    """The rebuild's configuration (``options`` are those of :meth:`BuildConfig.create`)
    in a temporary directory of its own, and the artifact to compare (default: the
    project's), checked to be readable. The directory is removed when the block ends,
    also on errors and interrupts."""
    try:
        directory = Path(tempfile.mkdtemp(prefix="flash-verify-"))
    except OSError as exc:
        raise PackagingError(
            f"cannot make a temporary directory for the rebuild: {exc.strerror or exc}.",
            hint="Point TMPDIR at a writable directory with room for the artifact.") from None
    try:
        config = BuildConfig.create(
            project_dir=project_dir, state_dir=directory, no_cache=True,
            locked=(project_dir / LOCK_FILE).is_file(), **options)
        artifact = artifact or project_dir / DEFAULT_OUTPUT
        check_artifact(artifact)
        yield config, artifact
    except FlashBuildError as error:
        error.build_dir = None  # it goes with the rest of the directory: name none
        raise
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def verification(artifact: Path, rebuilt: Artifact, warnings: tuple[BuildWarning, ...],
                 dependencies: InstalledDependencies | None) -> Verification:
    """Compare ``artifact`` with the rebuild's; warn when no lock pinned the dependencies."""
    source = "none" if dependencies is None else (
        "locked" if dependencies.from_lock else "resolved")
    return Verification(comparison=compare_artifacts(artifact, rebuilt), dependencies=source,
                        warnings=(*warnings, *((UNLOCKED,) if source == "resolved" else ())))
