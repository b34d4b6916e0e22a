"""``flash build --dry-run``: what the artifact would hold, and what it would weigh.

Everything here comes from the resolution and the index's metadata: no
wheel is downloaded, nothing is installed or packed. Wheel sizes are the
best available estimate of the compressed artifact, since wheels are
themselves deflate-compressed.
"""

from __future__ import annotations

from .._util.processes import CommandListener
from ..config.build_config import BuildConfig
from ..records import ProjectFiles
from .exclusion import endpoint_consumers
from .records import DryRunReport, PackageRow, ResolvedDependencies
from .sizes import chain, distribution_files, exclusion_savings, known_sizes
from .uv import resolver_settings


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
    sizes = known_sizes(distribution_files(packages, resolver_settings(config, listener)))
    cached_sizes = {cached.name: cached for cached in resolved.cached_sizes}
    for name, cached in cached_sizes.items():
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
            unpacked=cached_sizes[p.name].unpacked if p.name in cached_sizes else None,
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
