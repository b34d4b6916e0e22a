"""Sizes in bytes: parsed from what users write, and shown in one unit system.

Every size flashbuild prints uses decimal units (``1.50 GB``), the units the
size cap is counted in, so the build summary, the dry run, the size-cap error
and ``flash cache info`` can be compared at a glance.
"""

from __future__ import annotations

import re

from ..errors import UsageError

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int, *, option: str = "--max-size") -> int:
    """``"500MB"`` -> 500000000; ``"1.5GB"``; ``"2GiB"``; a plain number is bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = _SIZE.match(str(text))
        if match is None or match[2].lower() not in _UNITS:
            raise UsageError(
                f"{option} {text!r} is not a size.",
                hint="Give bytes or a number with a unit: 500MB, 1.5GB, 2GiB.",
            )
        value, unit = float(match[1]), match[2].lower()
    size = int(value * _UNITS[unit])
    if size <= 0:
        raise UsageError(f"{option} must be more than 0 bytes.", hint="e.g. --max-size 1.5GB")
    return size


def human(size: int | None) -> str:
    """Decimal units, as the cap is counted: ``1.50 GB``; ``?`` when unknown."""
    if size is None:
        return "?"
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{size / factor:.2f} {unit}"
    return f"{size} B"
