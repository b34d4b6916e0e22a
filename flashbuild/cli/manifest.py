"""``flash manifest show|diff``: inspect and compare manifests and artifacts.

Click only: the reports are made by :mod:`flashbuild.inspect`. They are the
commands' output, so they go to stdout. Errors are raised as
:class:`~flashbuild.errors.UsageError` for the top-level ``main()`` to report.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UsageError
from ..inspect.diff import diff_manifests, format_diff, format_markdown
from ..inspect.load import load_manifest
from ..inspect.show import format_licenses, format_show
from ..inspect.size_diff import GrowthLimit
from ..render.manifest import manifest_bytes
from .json_documents import versioned
from .program import current_program

_PATH = click.Path(path_type=Path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def manifest() -> None:
    """Show or compare manifests (flash_manifest.json files or artifacts)."""


@manifest.command()
@click.argument("path", required=False, type=_PATH)
@click.option("--json", "as_json", is_flag=True,
              help="Print the manifest itself, normalised (sorted keys, 2-space indent).")
@click.option("--licenses", is_flag=True,
              help="List the licence of every shipped package; unknown ones are called out.")
def show(path: Path | None, as_json: bool, licenses: bool) -> int:
    """Show the endpoints, functions and dependencies of a manifest.

    PATH is a flash_manifest.json, an artifact (.tar.gz) or a project directory
    (its .flash/flash_manifest.json); default: .flash/flash_manifest.json.
    """
    if as_json and licenses:
        raise UsageError("--json and --licenses ask for different outputs.",
                         hint="Give one of them (the manifest's JSON holds the licences).")
    data = load_manifest(path)
    if licenses:
        click.echo(format_licenses(data), nl=False)
    elif as_json:
        click.echo(manifest_bytes(data), nl=False)
    else:
        click.echo(format_show(data), nl=False)
    return 0


@manifest.command()
@click.argument("old", type=_PATH)
@click.argument("new", type=_PATH)
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]),
              default=None, help="text (default), markdown (tables for a pull request comment "
              "or a job summary) or json.")
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option("--exit-code", is_flag=True,
              help="Exit with 1 when an endpoint would be created, removed or updated, else 0.")
@click.option("--max-growth", metavar="LIMIT",
              help="Exit with 1 when the artifact's compressed size grows by more than LIMIT: "
              "a share of OLD's size (10%) or bytes (50MB, 2GiB, 1000000).")
@click.pass_context
def diff(ctx: click.Context, old: Path, new: Path, output_format: str | None, as_json: bool,
         exit_code: bool, max_growth: str | None) -> int:
    """Show what deploying NEW over OLD changes, endpoint by endpoint, and what grew.

    OLD and NEW are each a flash_manifest.json, an artifact (.tar.gz) or a
    project directory. Environment variable values are never shown.
    """
    if as_json and output_format not in (None, "json"):
        raise UsageError(f"--json and --format {output_format} ask for different outputs.",
                         hint="Give one of them.")
    output_format = "json" if as_json else output_format or "text"
    limit = GrowthLimit.parse(max_growth) if max_growth is not None else None
    differences = diff_manifests(load_manifest(old), load_manifest(new))
    exceeded = limit.exceeded(differences["sizes"]["total"]) if limit is not None else None
    if output_format == "json":
        extra = {} if limit is None else {
            "max_growth": {"limit": limit.text, "exceeded": exceeded is not None}}
        click.echo(json.dumps(versioned({**differences, **extra}), indent=2, sort_keys=True))
    elif output_format == "markdown":
        click.echo(format_markdown(differences), nl=False)
    else:
        click.echo(format_diff(differences), nl=False)
    if exceeded is not None:
        click.echo(f"{current_program()}: size limit exceeded: {exceeded}", err=True)
    if exceeded is not None or (exit_code and differences["changes"]):
        ctx.exit(1)  # an exit status, not an error: works in main() and standalone alike
    return 0
