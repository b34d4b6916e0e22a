"""``flash verify``: is the artifact what the sources make?

The report is the command's result, so it goes to stdout (the ``--json``
document or the text); progress and warnings go to stderr. Exit 0 when the
artifact is byte-identical to the private rebuild, 1 when it is not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .. import __version__, pipeline
from .._util.files import is_sha256_hex
from ..inspect.compare import ENCODING, MEMBER_ORDER, PRESENCE, MemberDifference
from ..inspect.show import terminal_safe
from ..inspect.verify import Verification
from ..render.manifest import MANIFEST_FILE
from .json_documents import versioned
from .options import artifact_options, dependency_options
from .progress import Progress, command_echo
from .report import display_path, report_warnings

DIFFERS = 1  # the exit code when the artifact is not what the sources make
SHOWN_DIFFERENCES = 50  # in the text report; --json lists every one

_ARCHIVE_REASONS = {
    MEMBER_ORDER: "every member is equal, but they are in another order",
    ENCODING: "every member is equal, but the archive's bytes differ (tar headers, gzip "
    "framing or compression): was it built with the same --compression-engine and "
    "--compression-level?",
}
# The manifest records the artifact's compressed sizes: other compression options change it.
_MANIFEST_ONLY = (", only the manifest, whose recorded sizes depend on the compression: was it "
                  "built with the same --compression-engine and --compression-level?")
_QUOTED = {"link_target", "uname", "gname"}  # strings that may be empty or hold blanks
_DEPENDENCIES = {"locked": "dependencies from flash.lock",
                 "resolved": "dependencies resolved without a lock",
                 "none": "no dependencies installed"}


@click.command()
@dependency_options
@artifact_options
@click.option("--artifact", "artifact_path", metavar="PATH",
              type=click.Path(path_type=Path), default=None,
              help="The artifact to check.  [default: PROJECT_DIR/.flash/artifact.tar.gz]")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document on stdout (progress stays on stderr).")
@click.pass_context
def verify(ctx: click.Context, project_dir: Path, verbose: int, quiet: bool, as_json: bool,
           artifact_path: Path | None, **options: Any) -> int:
    """Rebuild PROJECT_DIR in private and check the artifact is byte for byte what its
    sources and flash.lock make (exit 0), else list the members that differ (exit 1).

    Give the options the artifact was built with. Neither the project's .flash nor
    the dependency cache is touched.
    """
    ctx.obj.update(verbose=verbose, json=as_json, project_dir=project_dir)
    progress = Progress(sys.stderr, enabled=not quiet)
    try:
        result = pipeline.verify(project_dir, artifact_path, on_stage=progress.stage,
                                 on_command=command_echo(verbose, quiet), **options)
    finally:
        progress.close()
    report_warnings(result.warnings, quiet=quiet)
    if as_json:
        click.echo(json.dumps(verify_document(result), indent=2, sort_keys=True))
    else:
        click.echo(verify_text(result), nl=False)
    return 0 if result.identical else DIFFERS


def verify_document(result: Verification) -> dict[str, Any]:
    """The ``--json`` document (``flashbuild/cli/schemas/verify.schema.json``)."""
    comparison = result.comparison
    rebuilt = comparison.rebuilt
    return versioned({
        "ok": True,
        "flashbuild": __version__,
        "identical": comparison.identical,
        "artifact": {"path": str(comparison.artifact), "sha256": comparison.artifact_sha256,
                     "bytes": comparison.artifact_bytes},
        "rebuilt": {"sha256": rebuilt.sha256, "bytes": rebuilt.size,
                    "entries": rebuilt.entries},
        "dependencies": result.dependencies,
        "members_compared": comparison.members,
        "differing_members": [
            {"name": d.name, "attribute": d.attribute, "artifact": d.artifact,
             "rebuilt": d.rebuilt} for d in comparison.differences],
        "archive_difference": comparison.archive_difference,
        "warnings": [str(warning) for warning in result.warnings],
    })


def verify_text(result: Verification) -> str:
    """The human report: the verdict, what differs, both sha256s."""
    comparison = result.comparison
    shown = display_path(comparison.artifact)
    how = _DEPENDENCIES[result.dependencies]
    if comparison.identical:
        return (f"identical: {shown} is byte for byte what the sources make ({how})\n"
                f"  sha256 {comparison.artifact_sha256}\n")
    differences = comparison.differences
    if differences:
        verdict = f"{len(differences)} of {comparison.members} members differ"
        if {d.name for d in differences} == {MANIFEST_FILE}:
            verdict += _MANIFEST_ONLY
    else:
        verdict = _ARCHIVE_REASONS[comparison.archive_difference or ENCODING]
    lines = [f"differs: {shown} is not what the sources make ({how}): {verdict}",
             *(f"  {_difference_text(d)}" for d in differences[:SHOWN_DIFFERENCES])]
    if len(differences) > SHOWN_DIFFERENCES:
        lines.append(f"  ... and {len(differences) - SHOWN_DIFFERENCES} more (--json lists "
                     "every one)")
    lines += [f"  artifact sha256 {comparison.artifact_sha256} ({comparison.artifact_bytes:,} "
              "bytes)",
              f"  rebuilt  sha256 {comparison.rebuilt.sha256} ({comparison.rebuilt.size:,} "
              "bytes)"]
    return terminal_safe("\n".join(lines) + "\n")


def _difference_text(difference: MemberDifference) -> str:
    """``main.py: content_sha256 3f2a91c0d4e1 in the artifact, 9bc02c1d7a3e rebuilt``."""
    name = difference.name
    if difference.attribute == PRESENCE:
        if difference.rebuilt is None:
            return f"{name}: only in the artifact ({difference.artifact})"
        return f"{name}: missing from the artifact (the rebuild has a {difference.rebuilt})"
    attribute = difference.attribute
    return (f"{name}: {attribute} {_value(attribute, difference.artifact)} in the artifact, "
            f"{_value(attribute, difference.rebuilt)} rebuilt")


def _value(attribute: str, value: object) -> str:
    if value is None:
        return "(none)"
    if is_sha256_hex(value):
        return value[:12]  # as git shows them
    if attribute in _QUOTED:
        return json.dumps(value, ensure_ascii=False)
    return str(value)
