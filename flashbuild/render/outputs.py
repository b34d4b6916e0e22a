"""The files written beside the artifact, as the artifact holds them: the manifest and
the SBOM.

The manifest records the artifact's sizes, so its bytes are known only once
the app part is compressed (:func:`~flashbuild.render.manifest.sized_manifest`):
the artifact's writer asks for them then. Both are staged beside their
destination and moved in once the artifact is complete, so that the outputs
change together or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

from .._util.files import collected_sha256, commit_staged, stage_bytes
from ..artifact.write import Part
from ..records import SbomComponent
from .manifest import sized_manifest
from .sbom import SBOM_FILE, render_sbom, sbom_digest

SBOM_KEY = "sbom-key"  # the stamp's record of the content key the SBOM was rendered for


class StagedOutput:
    """A file beside the artifact: staged, then moved in (or discarded)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = b""
        self._staged: Path | None = None

    def on_disk(self) -> bool:
        """Whether the destination is a regular file holding exactly these bytes."""
        try:
            return (self.path.is_file() and self.path.stat().st_size == len(self.data)
                    and self.path.read_bytes() == self.data)
        except OSError:
            return False

    def stage(self) -> None:
        self._staged = stage_bytes(self.path, self.data)

    def commit(self) -> None:
        """Move the staged bytes into place."""
        if self._staged is not None:
            commit_staged(self._staged, self.path)
            self._staged = None

    def discard(self) -> None:
        """Remove the staged bytes (the artifact was not written)."""
        if self._staged is not None:
            with contextlib.suppress(OSError):
                self._staged.unlink()
            self._staged = None


class SbomOutput(StagedOutput):
    """``sbom.cdx.json`` beside the manifest. Rendering loads the CycloneDX library, so a
    build whose artifact is up to date only checks the file's sha256 (``recorded``)."""

    def __init__(self, manifest_path: Path, project_name: str,
                 components: tuple[SbomComponent, ...]) -> None:
        super().__init__(manifest_path.parent / SBOM_FILE)
        self.project_name, self.components = project_name, components
        self.key = sbom_digest(project_name, components)  # names the content

    def render(self) -> bytes:
        self.data = render_sbom(self.project_name, self.components)
        return self.data

    def reuse_or_render(self, recorded: dict[str, str]) -> bytes:
        """The bytes of the SBOM on disk when the last build recorded this content key and
        the file's sha256 (a code change leaves the SBOM as it was), else rendered."""
        if recorded.get(SBOM_KEY) == self.key and SBOM_FILE in recorded:
            with contextlib.suppress(OSError):
                data = self.path.read_bytes()
                if hashlib.sha256(data).hexdigest() == recorded[SBOM_FILE]:
                    self.data = data
                    return data
        return self.render()

    def recorded(self) -> dict[str, str]:
        """What the stamp records of it, for :meth:`restore` and :meth:`reuse_or_render`."""
        return {SBOM_FILE: hashlib.sha256(self.data).hexdigest(), SBOM_KEY: self.key}

    def restore(self, recorded: str | None) -> None:
        """Write the SBOM again unless the file has the ``recorded`` sha256."""
        try:
            if recorded is not None and collected_sha256(self.path, None) == recorded:
                return
        except OSError:
            pass
        self.render()
        self.stage()
        self.commit()


class ManifestOutput(StagedOutput):
    """``.flash/flash_manifest.json``: sized once the app part is written."""

    def __init__(self, path: Path, manifest: dict[str, Any], tail: Part | None) -> None:
        super().__init__(path)
        self.manifest, self.tail = manifest, tail

    def sized(self, app_part: int) -> bytes:
        """The manifest's bytes for an app part of ``app_part`` compressed bytes."""
        self.manifest, self.data = sized_manifest(
            self.manifest, app_part=app_part,
            dependency_part=self.tail.size if self.tail is not None else None)
        return self.data

    def staged(self, app_part: int) -> bytes:
        """:meth:`sized`, staged beside the destination (the artifact's writer calls it)."""
        self.sized(app_part)
        self.stage()
        return self.data
