"""``flash build --dry-run``: what the artifact would hold, and what it would weigh.

Everything here comes from the resolution and the index's metadata: no
wheel is downloaded, nothing is installed or packed. Wheel sizes are the
best available estimate of the compressed artifact, since wheels are
themselves deflate-compressed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import BuildConfig
from .exclusion import endpoint_consumers
from .install import ResolvedDependencies, resolver_settings
from .models import BuildWarning, ProjectFiles
from .runner import CommandListener
from .sizes import chain, exclusion_savings, wheel_sizes


@dataclass(frozen=True, kw_only=True)
class PackageRow:
    name: str
    version: str
    wheel: int | None  # bytes of the wheel; None when the index does not say
    unpacked: int | None  # bytes installed, when a cached build knows it
    pulled_in_by: str  # "nvidia-cublas-cu12 ← torch ← endpoint cpu-torch"
    endpoints: tuple[str, ...]  # endpoints whose trees contain it
    shipped: bool
    reason: str | None  # why it is left out


@dataclass(frozen=True, kw_only=True)
class DryRunReport:
    rows: tuple[PackageRow, ...]  # largest wheel first
    project_bytes: int  # uncompressed size of the shipped project files
    projected: int  # shipped wheels + project files: the artifact's expected size
    limit: int
    savings: tuple[tuple[str, int, tuple[str, ...]], ...]  # (--exclude X, bytes, what goes)
    source: str  # "resolved", "flash.lock" or "none"
    warnings: tuple[BuildWarning, ...]

    @property
    def fits(self) -> bool:
        return self.projected <= self.limit


def dry_run_report(
    config: BuildConfig,
    files: ProjectFiles,
    resolved: ResolvedDependencies | None,
    listener: CommandListener | None = None,
) -> DryRunReport:
    """Sizes per package, what ships and why not, and what each exclusion would save."""
    project_bytes = sum(
        file.source.stat().st_size for file in files.files if file.link_target is None
    )
    if resolved is None:
        return DryRunReport(rows=(), project_bytes=project_bytes, projected=project_bytes,
                            limit=config.max_size, savings=(), source="none", warnings=())
    packages = resolved.resolution.packages
    sizes = wheel_sizes(packages, resolver_settings(config, listener))
    for name, cached in resolved.cached_sizes.items():
        if name not in sizes and cached.wheel is not None:
            sizes[name] = cached.wheel
    consumers = endpoint_consumers(resolved.resolution, resolved.inputs)
    shipped = {p.name for p in resolved.selection.shipped}
    reasons = {e.name: e.reason for e in resolved.selection.excluded}
    rows = [
        PackageRow(
            name=p.name,
            version=p.version,
            wheel=sizes.get(p.name),
            unpacked=(resolved.cached_sizes[p.name].unpacked
                      if p.name in resolved.cached_sizes else None),
            pulled_in_by=chain(p.name, resolved.resolution),
            endpoints=tuple(sorted(consumers.get(p.name, ()))),
            shipped=p.name in shipped,
            reason=reasons.get(p.name),
        )
        for p in packages
    ]
    rows.sort(key=lambda row: (-(row.wheel or 0), row.name))
    projected = project_bytes + sum(sizes.get(name, 0) for name in shipped)
    savings = exclusion_savings(resolved.resolution, resolved.inputs, config.images,
                                config.exclude, sizes)
    return DryRunReport(
        rows=tuple(rows),
        project_bytes=project_bytes,
        projected=projected,
        limit=config.max_size,
        savings=tuple(savings),
        source=resolved.source,
        warnings=resolved.warnings,
    )
