"""``sbom.cdx.json``: a CycloneDX SBOM of what the artifact ships, written with the
CycloneDX library.

The project is ``metadata.component``; each shipped distribution a library
with its PyPI purl, the sha256 of the wheel that was installed and the licence
its metadata declares (an SPDX expression, else licence names); each one the
worker image provides instead has ``scope: excluded`` and the property
``flashbuild:provided-by`` naming the image. There is no timestamp, and the
serial number is a UUID derived from the content, so the same build gives the
same bytes. The library takes a tenth of a second to import: it is loaded
only when an SBOM is written, and :func:`sbom_digest` names an SBOM's content
without it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

from .. import __version__
from ..records import SbomComponent

if TYPE_CHECKING:
    from cyclonedx.model.component import Component

SBOM_FILE = "sbom.cdx.json"
PROVIDED_BY = "flashbuild:provided-by"
_SERIAL_NAMESPACE = uuid.UUID("6f1c2b1e-52a3-4c55-9a57-6a0e3f0c2d10")  # flashbuild SBOMs


def _library_version() -> str:
    import cyclonedx  # the package alone: its modules are what takes time

    return str(cyclonedx.__version__)


def sbom_digest(project_name: str, components: Sequence[SbomComponent]) -> str:
    """sha256 of everything the SBOM says, and of the versions of flashbuild and of the
    library that write it."""
    document = {"flashbuild": __version__, "library": _library_version(),
                "project": project_name,
                "components": [asdict(component) for component in components]}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def render_sbom(project_name: str, components: Sequence[SbomComponent]) -> bytes:
    """The SBOM as CycloneDX 1.6 JSON: sorted keys, two-space indent, trailing newline."""
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.tool import ToolRepository
    from cyclonedx.output.json import JsonV1Dot6

    project = Component(name=project_name, type=ComponentType.APPLICATION,
                        bom_ref=f"project:{project_name}")
    tools = ToolRepository(components=[Component(
        name="flashbuild", version=__version__, type=ComponentType.APPLICATION)])
    serial = uuid.uuid5(_SERIAL_NAMESPACE, sbom_digest(project_name, components))
    listed = [_component(c) for c in components]
    bom = Bom(serial_number=serial, metadata=BomMetaData(component=project, tools=tools),
              components=listed)
    bom.register_dependency(project, listed)  # what the app's resolution uses
    bom.metadata.timestamp = None  # type: ignore[assignment]  # the same bytes every time
    with warnings.catch_warnings():  # the library's advice is not the build's to print
        warnings.simplefilter("ignore")
        text = JsonV1Dot6(bom).output_as_string()
    return (json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n").encode()


def _component(component: SbomComponent) -> Component:
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component, ComponentScope
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression
    from packageurl import PackageURL

    purl = PackageURL(type="pypi", name=component.name, version=component.version)
    licenses: list[LicenseExpression | DisjunctiveLicense] = (
        [LicenseExpression(component.license_expression)] if component.license_expression
        else [DisjunctiveLicense(name=name) for name in component.license_names])
    provided = component.provided_by is not None
    return Component(
        name=component.name, version=component.version, purl=purl, bom_ref=purl.to_string(),
        scope=ComponentScope.EXCLUDED if provided else ComponentScope.REQUIRED,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=component.wheel_sha256)]
        if component.wheel_sha256 else [],
        licenses=licenses,
        properties=[Property(name=PROVIDED_BY, value=component.provided_by or "")]
        if provided else [])
