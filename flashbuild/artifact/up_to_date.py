"""Skip writing an artifact that is already exactly what the build would write.

After each write, a stamp records a digest of everything the artifact's bytes
depend on (the manifest, which covers the project files' paths and contents
through ``source_fingerprint``; file modes and link targets; the generated
files; the dependency part's digest; mtime, the deflate engine, its version and
level, and the flashbuild version) and the artifact's size and sha256. The next build with
the same inputs uses the artifact on disk only after hashing it and finding
the recorded sha256: a stamp never vouches for bytes it has not checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from .. import __version__
from .._util.files import atomic_write_bytes, collected_sha256
from ..errors import FlashBuildError
from ..records import Artifact
from .deflate import engine_label
from .members import ArchiveMember
from .write import Part

STAMPS = "stamps"  # inside .flash/: never shipped, removed with it


def inputs_digest(members: Iterable[ArchiveMember], *, tail: Part | None, mtime: int,
                  level: int, engine: str, manifest: bytes,
                  named: dict[str, str] | None = None) -> str:
    """A digest of everything the artifact's bytes depend on (see the module's text);
    ``named`` names members not in ``members`` by a digest of their content."""
    described = []
    for member in members:
        content = (hashlib.sha256(member.data).hexdigest() if member.data is not None
                   else "source" if member.source is not None else "")
        described.append([member.name, member.executable, member.link_target, content])
    document = {"flashbuild": __version__, "members": described, "mtime": mtime,
                "level": level, "engine": engine_label(engine),
                "tail": tail.digest if tail is not None else None,
                "manifest": hashlib.sha256(manifest).hexdigest(), "named": named or {}}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def stamp_path(flash_dir: Path, output: Path) -> Path:
    """Where the stamp of the artifact at ``output`` lives."""
    name = hashlib.sha256(os.fsencode(output)).hexdigest()[:32]
    return flash_dir / STAMPS / f"{name}.json"


def existing_artifact(stamp: Path, output: Path, inputs: str, max_size: int) -> Artifact | None:
    """The artifact at ``output`` if its stamp has ``inputs`` and its bytes check out."""
    try:
        recorded = json.loads(stamp.read_bytes())
        if not isinstance(recorded, dict) or recorded.get("inputs") != inputs:
            return None
        size, sha256, entries = recorded["size"], recorded["sha256"], recorded["entries"]
        app_part, extras = recorded["app_part"], recorded["extras"]
        # A regular file (a link is not followed) of the recorded size and sha256.
        if not (isinstance(size, int) and isinstance(entries, int) and size <= max_size
                and isinstance(app_part, int) and isinstance(extras, dict)
                and output.stat().st_size == size and collected_sha256(output, None) == sha256):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Artifact(path=output, size=size, sha256=sha256, entries=entries, app_part=app_part)


def stamp_extras(stamp: Path) -> dict[str, str]:
    """What :func:`write_stamp` was told besides the artifact (``{}`` if unreadable)."""
    try:
        extras = json.loads(stamp.read_bytes())["extras"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return extras if isinstance(extras, dict) else {}


def write_stamp(stamp: Path, inputs: str, artifact: Artifact,
                extras: dict[str, str] | None = None) -> None:
    """Record what was written (best effort: without a stamp, the next build writes again);
    ``extras``: digests of outputs written beside the artifact, checked by the caller."""
    data = {"inputs": inputs, "size": artifact.size, "sha256": artifact.sha256,
            "entries": artifact.entries, "app_part": artifact.app_part,
            "extras": extras or {}}
    with contextlib.suppress(FlashBuildError):
        atomic_write_bytes(stamp, json.dumps(data, sort_keys=True).encode(), durable=False)
