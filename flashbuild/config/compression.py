"""The deflate engines an artifact can be compressed with, and their levels.

Plain data, so that the configuration can check ``--compression-engine`` and
``--compression-level`` without loading an engine; the engines themselves are
loaded by :mod:`flashbuild.artifact.deflate`, whose text has the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ENGINE = "zlib-ng"


@dataclass(frozen=True)
class EngineSpec:
    """What an engine is called, where it comes from and which levels it has."""

    name: str
    module: str  # the zlib-compatible module of the package
    distribution: str  # the package that provides it ("" for the standard library)
    levels: range
    default_level: int
    summary: str


ENGINES = {
    "zlib-ng": EngineSpec("zlib-ng", "zlib_ng.zlib_ng", "zlib-ng", range(10), 6,
                          "the default: 2.4x zlib's speed, about 2% larger"),
    "isal": EngineSpec("isal", "isal.isal_zlib", "isal", range(4), 2,
                       "the fast mode (ISA-L): about 14x zlib's speed, about 14% larger"),
    "zlib": EngineSpec("zlib", "zlib", "", range(10), 6,
                       "the standard library's, for comparison"),
}
