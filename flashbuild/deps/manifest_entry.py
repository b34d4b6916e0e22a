"""The manifest's ``dependencies`` object.

Kept apart from the dependency stage so that a build without dependencies does
not load the resolver, the installer and the audit to write it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..records import SbomComponent

if TYPE_CHECKING:
    from ..config.build_config import BuildConfig
    from .records import InstalledDependencies


def dependencies_entry(config: BuildConfig, installed: InstalledDependencies | None
                       ) -> dict[str, Any]:
    """The manifest's ``dependencies`` object."""
    entry: dict[str, Any] = {
        "installed": installed is not None,
        "exclude": list(config.exclude),
        "lock": [],
        "excluded": [],
        "source": "none",
        "platform": config.target.uv_platform,
        "images": config.images.manifest_data(),
    }
    if installed is not None:
        selection = installed.selection
        sizes = {size.name: size for size in installed.sizes}
        licenses = {origin.name: origin.license for origin in installed.origins}
        entry.update(
            lock=[{"name": p.name, "version": p.version,
                   "installed_bytes": sizes[p.name].unpacked or 0,
                   "compressed_bytes": sizes[p.name].compressed or 0,
                   "license": licenses[p.name].as_data() if p.name in licenses else None}
                  for p in selection.shipped],
            excluded=[
                {"name": e.name, "version": e.version, "reason": e.reason,
                 "version_checked": e.version_checked}
                for e in selection.excluded
            ],
            source=installed.source,
            inputs_sha256=installed.header.inputs_sha256,
        )
    return entry


def sbom_components(installed: InstalledDependencies | None) -> tuple[SbomComponent, ...]:
    """What the SBOM lists: every shipped distribution, then every one the resolution uses
    that the worker image provides instead (each sorted by name)."""
    if installed is None:
        return ()
    shipped = tuple(SbomComponent(name=origin.name, version=origin.version,
                                  wheel_sha256=origin.wheel_sha256,
                                  license_expression=origin.license.expression,
                                  license_names=origin.license.names)
                    for origin in installed.origins)
    provided = tuple(SbomComponent(name=excluded.name, version=excluded.version,
                                   provided_by=excluded.provided_by)
                     for excluded in installed.selection.excluded
                     if excluded.provided_by is not None)
    return shipped + provided
