"""``flash images list|show``: the worker images' profiles, what each release provides.

The reports are the commands' output, so they go to stdout.
"""

from __future__ import annotations

import json
import os

import click

from ..config.environment import image_profiles_dir
from ..config.images import KINDS, ImageTable, available_releases, image_table, load_profile
from ..records import DEFAULT_PYTHON_VERSION, PYTHON_VERSIONS
from .json_documents import versioned


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def images() -> None:
    """List the known releases of the worker images, or show what one provides."""


@images.command("list")
def images_list() -> int:
    """The releases that have a profile, newest first, with their images' Pythons."""
    directory = image_profiles_dir(os.environ)
    for release in reversed(available_releases(directory)):
        profile = load_profile(release, directory)
        kinds = "; ".join(f"{kind} {', '.join(sorted(pythons))}"
                          for kind, pythons in sorted(profile.get("images", {}).items()))
        click.echo(f"{release}  ({profile.get('date', '?')})  {kinds}")
    return 0


@images.command("show")
@click.argument("release", required=False)
@click.option("--python", "python_version", type=click.Choice(PYTHON_VERSIONS),
              default=DEFAULT_PYTHON_VERSION, show_default=True,
              help="Python version of the images.")
@click.option("--kind", "kinds", type=click.Choice(KINDS), multiple=True,
              help="Only this kind of image; repeatable.  [default: every kind]")
@click.option("--json", "as_json", is_flag=True,
              help="Print kind -> package -> version, source and how it was found.")
def images_show(release: str | None, python_version: str, kinds: tuple[str, ...],
                as_json: bool) -> int:
    """What the images of RELEASE (default: the newest) provide, per kind."""
    directory = image_profiles_dir(os.environ)
    table = image_table(release=release, python=python_version, profiles_dir=directory)
    shown = kinds or KINDS
    if as_json:
        click.echo(json.dumps(_document(table, shown, load_profile(table.release, directory)),
                              indent=2, sort_keys=True))
    else:
        click.echo(_text(table, shown))
    return 0


def _document(table: ImageTable, kinds: tuple[str, ...], profile: dict) -> dict:
    images = profile.get("images", {})
    return versioned({"release": table.release, "python": table.python,
                      "images": {kind: images.get(kind, {}).get(table.python) for kind in kinds}})


def _text(table: ImageTable, kinds: tuple[str, ...]) -> str:
    lines = [f"release {table.release}, Python {table.python}"]
    for kind in kinds:
        image = table.for_kind(kind)
        if not image.available:
            lines += ["", f"{kind}: no image for Python {table.python}"]
            continue
        lines += ["", f"{kind}: {len(image.provides)} packages"]
        width = max(len(p.name) for p in image.provides)
        lines += [f"  {p.name:<{width}}  {p.version or '?':<14}  {p.source}"
                  for p in image.provides]
    return "\n".join(lines)
