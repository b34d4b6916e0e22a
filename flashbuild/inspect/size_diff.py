"""Size changes between two manifests: per shipped package and of the whole artifact.

Sizes are the compressed bytes the manifest records (``artifact.compressed_bytes``
and each ``dependencies.lock`` entry's ``compressed_bytes``): what counts
against the size cap and what a worker downloads. ``size_changes`` returns::

    {
      "total": {"old": 9212, "new": 9235, "change": 23},   # null where not recorded
      "packages": [{"name": "numpy", "status": "grown",    # added, removed, grown, shrunk
                    "old_version": "2.1.0", "new_version": "2.2.0",
                    "old_bytes": 100, "new_bytes": 120, "change": 20}, ...]
    }

packages largest change first (by its absolute value), then by name; a
package whose size did not change is not listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .._util.units import human, parse_size
from ..errors import UsageError
from .load import packages_of

Json = dict[str, Any]
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def recorded_total(manifest: Json) -> int | None:
    """``artifact.compressed_bytes``, or None in a manifest written before it existed."""
    sizes = manifest.get("artifact")
    total = sizes.get("compressed_bytes") if isinstance(sizes, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def size_changes(old: Json, new: Json) -> Json:
    """What grew, shrank, came and went (the document in the module docstring)."""
    before, after = _package_sizes(old), _package_sizes(new)
    packages: list[Json] = []
    for name in sorted(before.keys() | after.keys()):
        old_version, old_bytes = before.get(name, (None, None))
        new_version, new_bytes = after.get(name, (None, None))
        change = (new_bytes or 0) - (old_bytes or 0)
        if name not in before:
            status = "added"
        elif name not in after:
            status = "removed"
        elif change:
            status = "grown" if change > 0 else "shrunk"
        else:
            continue
        packages.append({"name": name, "status": status, "old_version": old_version,
                         "new_version": new_version, "old_bytes": old_bytes,
                         "new_bytes": new_bytes, "change": change})
    packages.sort(key=lambda entry: (-abs(entry["change"]), entry["name"]))
    old_total, new_total = recorded_total(old), recorded_total(new)
    total_change = (new_total - old_total if old_total is not None and new_total is not None
                    else None)
    return {"total": {"old": old_total, "new": new_total, "change": total_change},
            "packages": packages}


def _package_sizes(manifest: Json) -> dict[str, tuple[str | None, int | None]]:
    """Shipped package -> (version, compressed bytes; None when not recorded)."""
    sized = {}
    for name, entry in packages_of(manifest, "lock").items():
        size = entry.get("compressed_bytes")
        version = entry.get("version")
        sized[name] = (version if isinstance(version, str) else None,
                       size if isinstance(size, int) and not isinstance(size, bool) else None)
    return sized


@dataclass(frozen=True)
class GrowthLimit:
    """``--max-growth``: a share of the old total (``10%``) or bytes (``50MB``, ``1000``)."""

    text: str
    percent: float | None = None
    size: int | None = None

    @classmethod
    def parse(cls, text: str) -> GrowthLimit:
        match = _PERCENT.match(text)
        if match:
            return cls(text=text.strip(), percent=float(match[1]))
        if text.strip() == "0":  # no growth at all
            return cls(text="0", size=0)
        try:
            return cls(text=text.strip(), size=parse_size(text, option="--max-growth"))
        except UsageError:
            raise UsageError(
                f"--max-growth {text!r} is neither a share nor a size.",
                hint="Give a share of the old artifact's size (10%) or bytes (50MB, 1.5GB, "
                "1000); 0 allows no growth.") from None

    def exceeded(self, total: Json) -> str | None:
        """Why the growth of ``total`` (``size_changes()["total"]``) is too much, or None.

        A manifest without recorded sizes cannot be judged: :class:`UsageError`.
        """
        old, new = total["old"], total["new"]
        if old is None or new is None:
            which = " and ".join(side for side, value in (("OLD", old), ("NEW", new))
                                 if value is None)
            raise UsageError(
                f"--max-growth needs the artifact's size, which the manifest of {which} "
                "does not record (it was built before manifests recorded sizes).",
                hint="Rebuild it with this flashbuild (`flash build`), or drop --max-growth.")
        growth = new - old
        if self.percent is not None:
            allowed = old * self.percent / 100
            kind = f"{self.percent:g}% of {human(old)}"
        else:
            allowed, kind = self.size or 0, f"{human(self.size)}"
        if growth <= allowed:
            return None
        return (f"the artifact grows by {human(growth)} ({growth:,} bytes, "
                f"{percent_text(growth, old)}), more than --max-growth {self.text} "
                f"({kind}) allows.")


def percent_text(change: int, old: int) -> str:
    """``+12.5%``; ``new`` when there was nothing before."""
    return f"{change / old * 100:+.2f}%" if old else "new"


def signed(change: int) -> str:
    """``+1.20 MB``, ``-300 B``, ``0 B``."""
    return f"{'+' if change > 0 else '-' if change < 0 else ''}{human(abs(change))}"


def package_label(entry: Json) -> str:
    """``numpy 2.1.0 -> 2.2.0``, ``numpy 2.2.0`` (one version or the same twice)."""
    old, new = entry["old_version"], entry["new_version"]
    if old and new and old != new:
        return f"{entry['name']} {old} -> {new}"
    return f"{entry['name']} {new or old or '?'}"


def bytes_label(entry: Json) -> str:
    """``11.48 MB -> 11.60 MB``, or the one side there is."""
    old, new = entry["old_bytes"], entry["new_bytes"]
    if entry["status"] == "added":
        return human(new)
    if entry["status"] == "removed":
        return human(old)
    return f"{human(old)} -> {human(new)}"


def total_label(total: Json) -> str:
    """``42.96 MB -> 43.10 MB (+140.23 kB, +0.33%)``, or what is missing."""
    old, new, change = total["old"], total["new"], total["change"]
    if change is None:
        missing = " and ".join(side for side, value in (("OLD", old), ("NEW", new))
                               if value is None)
        return f"not recorded in {missing}"
    return f"{human(old)} -> {human(new)} ({signed(change)}, {percent_text(change, old)})"


def format_sizes(sizes: Json) -> list[str]:
    """The text report's lines on sizes."""
    lines = [f"size: {total_label(sizes['total'])}"]
    rows = [(entry["status"], package_label(entry), bytes_label(entry), signed(entry["change"]))
            for entry in sizes["packages"]]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    lines += [f"  {status:<{widths[0]}}  {label:<{widths[1]}}  {size:<{widths[2]}}  ({change})"
              for status, label, size, change in rows]
    return lines
