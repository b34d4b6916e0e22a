"""The deflate engines an artifact can be compressed with.

All three write standard deflate streams (any gzip reader takes the artifact);
they differ in speed and ratio. Measured on 162 MB of installed packages (a tar
stream), one core, in 1 MiB blocks primed with the previous 32 KiB:

============  =====  ========  =========
engine        level  MB/s      output MB
============  =====  ========  =========
zlib          6      33        48.5
zlib-ng       6      80        49.4
zlib-ng       9      28        48.0
isal          2      467       55.2
isal          3      265       54.3
============  =====  ========  =========

``zlib-ng`` at level 6 is the default: 2.4 times the speed of zlib at the same
level, 1.7 % larger. ``isal`` (ISA-L) is the fast mode: 14 times the speed,
14 % larger. ``zlib`` is the standard library's, for comparison. The bytes
depend on the engine's version, so the package pins each to a release series
and the version is part of every cache key and stamp.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config.compression import ENGINES


@dataclass(frozen=True)
class DeflateEngine:
    """A loaded engine: zlib's ``compressobj`` and ``crc32`` API, and its version."""

    name: str
    version: str
    compressobj: Callable[..., Any]
    crc32: Callable[..., int]
    deflated: int
    sync_flush: int
    finish: int


@functools.cache
def deflate_engine(name: str) -> DeflateEngine:
    """The engine called ``name`` (one of :data:`ENGINES`), loaded."""
    spec = ENGINES[name]
    module = importlib.import_module(spec.module)
    version = (importlib.metadata.version(spec.distribution) if spec.distribution
               else module.ZLIB_RUNTIME_VERSION)
    return DeflateEngine(name=name, version=version, compressobj=module.compressobj,
                         crc32=module.crc32, deflated=module.DEFLATED,
                         sync_flush=module.Z_SYNC_FLUSH, finish=module.Z_FINISH)


def engine_label(name: str) -> str:
    """``zlib-ng 1.1.0``: the engine and the version whose bytes it writes."""
    return f"{name} {deflate_engine(name).version}"
