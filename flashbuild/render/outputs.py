"""The files written beside the artifact: the manifest, as the artifact holds it.

The manifest records the artifact's sizes, so its bytes are known only once
the app part is compressed (:func:`~flashbuild.render.manifest.sized_manifest`):
the artifact's writer asks for them then. They are staged beside their
destination and moved in once the artifact is complete, so that both outputs
change or neither.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from .._util.files import commit_staged, stage_bytes
from ..artifact.write import Part
from .manifest import sized_manifest


class ManifestOutput:
    """``.flash/flash_manifest.json``: sized, staged, then moved in (or discarded)."""

    def __init__(self, path: Path, manifest: dict[str, Any], tail: Part | None) -> None:
        self.path, self.manifest, self.tail = path, manifest, tail
        self.data = b""
        self._staged: Path | None = None

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
