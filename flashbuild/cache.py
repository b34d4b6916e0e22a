"""A content-addressed cache of installed dependencies, as compressed archive parts.

An entry is keyed by everything that decides the dependency part of an
artifact: the declared requirements (or the lock), target Python and
platform, exclusions, the image table, index options, archive settings and
the flashbuild version. It holds ``entry.json``: what was installed and left
out, sizes, and the pieces of the compressed part (segments in ``segments/``,
each with its sha256). A hit skips resolution, download, install and
compression.

Safety: entries are built in a private staging directory and renamed into
place whole, so a killed build leaves no partial entry; builders of the same
key take a file lock, so the second waits and then reuses the first's entry;
every piece must have its recorded size, its bytes are checked against its
recorded sha256 as they are copied into an artifact, and a damaged piece is
removed and the entry rebuilt, never shipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import __version__
from ._util.files import atomic_write_bytes, file_lock, staging_directory
from ._util.records_json import from_data, to_data
from .config.environment import CACHE_ENV
from .errors import FlashBuildError, PackagingError, UsageError

ENTRY_FORMAT = 6  # 6: per-package compressed sizes, licences and wheel sha256s
ENTRY_FILE = "entry.json"
IN_USE_LOCK = "locks/in-use.lock"
# The folders of cached results: what `flash cache info` counts and `clear` removes.
_CONTENTS = ("entries", "segments", "units", "scan", "checks", "preview")

Item = TypeVar("Item")


def cached_tuple(
    entry: Path | None, item_type: type[Item], compute: Callable[[], tuple[Item, ...]], *,
    still_valid: Callable[[tuple[Item, ...]], bool] = lambda _: True,
    keep: Callable[[tuple[Item, ...]], bool] = lambda _: True,
) -> tuple[Item, ...]:
    """``compute()``, a tuple of ``item_type`` records, kept as JSON at ``entry``.

    Used for per-file results (scan, static checks) whose key is a digest of
    their inputs. An entry is data checked field by field against the record
    types (:mod:`flashbuild._util.records_json`), never code; one that is
    missing, unreadable or of another shape is computed again, and one that
    cannot be written only costs the next build the work. Results that JSON
    cannot carry exactly are not kept. ``entry=None`` disables the cache.
    A stored result is used only if ``still_valid`` says so (it may depend on more
    than the key), and a computed one is stored only if ``keep`` says so.
    """
    if entry is None:
        return compute()
    tag = f"{item_type.__module__}.{item_type.__qualname__}"
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        stored = json.loads(entry.read_bytes())
        if isinstance(stored, dict) and stored.get("type") == tag:
            loaded = tuple(from_data(item_type, item) for item in stored["items"])
            if still_valid(loaded):
                return loaded
    found = compute()
    if not keep(found):
        return found
    with contextlib.suppress(PackagingError, TypeError, ValueError):
        items = [to_data(item) for item in found]
        if tuple(from_data(item_type, item) for item in items) == found:
            text = json.dumps({"type": tag, "items": items}, sort_keys=True)
            atomic_write_bytes(entry, text.encode(), durable=False)
    return found


# The cache directory tag (https://bford.info/cachedir/): backup tools skip the folder,
# and `flash cache clear` only ever clears a folder that carries it.
TAG_FILE = "CACHEDIR.TAG"
TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
       "# This file is a cache directory tag created by flashbuild.\n"
       "# For information about cache directory tags, see https://bford.info/cachedir/\n")


def mark_cache_dir(root: Path) -> None:
    """Create ``root`` if needed and tag it as flashbuild's cache (best effort)."""
    with contextlib.suppress(OSError):
        root.mkdir(parents=True, exist_ok=True)
        tag = root / TAG_FILE
        if not tag.is_file():
            atomic_write_bytes(tag, TAG.encode(), durable=False)


@contextlib.contextmanager
def cache_in_use(root: Path | None) -> Iterator[None]:
    """Tag ``root`` as the cache and hold its in-use lock, shared with other builds
    and previews, for the block: :meth:`DependencyCache.clear` needs it alone.

    A cache whose lock cannot be created (a read-only folder) is used unlocked.
    """
    if root is None:
        yield
        return
    mark_cache_dir(root)
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(PackagingError):
            stack.enter_context(file_lock(root / IN_USE_LOCK, shared=True))
        yield


def is_flashbuild_cache(root: Path) -> bool:
    """Whether ``root`` carries flashbuild's cache directory tag."""
    try:
        return (root / TAG_FILE).read_text(encoding="utf-8") == TAG
    except (OSError, UnicodeDecodeError):
        return False


def cache_key(parts: Mapping[str, object]) -> str:
    """sha256 of the canonical JSON of the key parts plus the format and tool version."""
    payload = {"format": ENTRY_FORMAT, "flashbuild": __version__, **parts}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class CacheEntry:
    key: str
    directory: Path
    data: dict[str, Any]  # entry.json


@dataclass(frozen=True, kw_only=True)
class CacheInfo:
    root: Path
    entries: int
    size: int  # bytes


class DependencyCache:
    """The cache under ``root``: ``entries/<key>/``, ``staging/``, ``locks/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rebuilt_corrupt: list[str] = []  # keys of entries found damaged

    def _entry_dir(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / key

    def lookup(self, key: str, check: Callable[[dict[str, Any]], object] | None = None
               ) -> CacheEntry | None:
        """The entry for ``key`` if present and intact; a damaged one is removed.

        ``check(data)`` reads the entry as its user will, and checks what it names;
        if it raises, the entry is damaged: a miss, removed, and reported in
        ``rebuilt_corrupt``.
        """
        directory = self._entry_dir(key)
        if not directory.is_dir():
            return None
        try:
            data = json.loads((directory / ENTRY_FILE).read_text(encoding="utf-8"))
            intact = (
                isinstance(data, dict)
                and data.get("format") == ENTRY_FORMAT
                and data.get("key") == key
            )
            if intact and check is not None:
                check(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, FlashBuildError):
            intact = False
        if not intact:
            self.rebuilt_corrupt.append(key)
            self._discard(directory)
            return None
        with contextlib.suppress(OSError):  # recency, for whoever prunes by age
            os.utime(directory / ENTRY_FILE)
        return CacheEntry(key=key, directory=directory, data=data)

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the builder's lock for ``key`` (released by the OS if the process dies)."""
        lock = self.root / "locks" / f"{key}.lock"
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            lock.touch()
        except OSError as exc:
            raise _cache_error(self.root, exc) from None
        with file_lock(lock):
            yield

    def staging_dir(self) -> Path:
        """A fresh private directory to build an entry in; old leftovers are swept."""
        try:
            return staging_directory(self.root / "staging")
        except OSError as exc:
            raise _cache_error(self.root, exc) from None

    def store(self, key: str, staging: Path, data: dict[str, Any]) -> CacheEntry:
        """Write ``entry.json`` into ``staging`` and move it into place as the entry."""
        data = {**data, "format": ENTRY_FORMAT, "key": key}
        target = self._entry_dir(key)
        try:
            (staging / ENTRY_FILE).write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():  # damaged leftovers: lookup() refused it already
                self._discard(target)
            os.replace(staging, target)
        except OSError as exc:
            raise _cache_error(self.root, exc) from None
        return CacheEntry(key=key, directory=target, data=data)

    def info(self) -> CacheInfo:
        """Dependency entries, and the bytes of everything cached (scan results too)."""
        entries = list((self.root / "entries").glob("*/*")) if self.root.is_dir() else []
        size = 0
        for name in _CONTENTS:
            for path in (self.root / name).rglob("*"):
                with contextlib.suppress(OSError):
                    size += path.stat().st_size if path.is_file() else 0
        return CacheInfo(root=self.root, entries=len(entries), size=size)

    def clear(self, *, wait: bool = False) -> CacheInfo:
        """Remove every entry, scan and check result and preview runtime; return what there was.

        Refuses a folder that holds something but is not tagged as flashbuild's
        cache: FLASHBUILD_CACHE_DIR may name any folder. A cache in use by a
        build or preview (:func:`cache_in_use`) is refused too, or with ``wait``
        cleared once they have finished.
        """
        if (self.root.is_dir() and any(self.root.iterdir())
                and not is_flashbuild_cache(self.root)):
            raise UsageError(
                f"{self.root} is not a flashbuild cache (it has no {TAG_FILE} written by "
                "flashbuild), so nothing in it was removed.",
                hint="Check FLASHBUILD_CACHE_DIR; delete the folder yourself if it is one.")
        if not self.root.is_dir():
            return self.info()
        try:
            with file_lock(self.root / IN_USE_LOCK, wait=wait):
                before = self.info()
                for name in (*_CONTENTS, "staging"):
                    shutil.rmtree(self.root / name, ignore_errors=True)
                return before
        except BlockingIOError:
            raise PackagingError(
                f"the cache at {self.root} is in use by a running `flash build` or "
                "`flash preview`, so nothing in it was removed.",
                hint="Run `flash cache clear` again once it has finished, or add --wait "
                     "to wait for it.") from None

    def _discard(self, directory: Path) -> None:
        # Rename first so a reader never sees a half-deleted entry.
        trash = self.root / "staging" / f"trash-{secrets.token_hex(6)}"
        with contextlib.suppress(OSError):
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.replace(directory, trash)
            directory = trash
        shutil.rmtree(directory, ignore_errors=True)


def _cache_error(root: Path, exc: OSError) -> PackagingError:
    return PackagingError(
        f"cannot use the cache at {root}: {exc.strerror or exc}.",
        hint=f"Check its permissions and free space, set {CACHE_ENV} to another directory, "
        "or build with --no-cache.",
    )
