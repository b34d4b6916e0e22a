"""``flash cache info|clear``: the cache under ``FLASHBUILD_CACHE_DIR``.

``info`` is the command's result, so it goes to stdout; ``clear`` reports on stderr.
"""

from __future__ import annotations

import os

import click

from .._util.units import human
from ..cache import DependencyCache
from ..config.environment import default_cache_dir


@click.group()
def cache() -> None:
    """Inspect or clear the dependency cache (FLASHBUILD_CACHE_DIR)."""


@cache.command("info")
def cache_info() -> int:
    """Show where the cache is and how much it holds."""
    info = DependencyCache(default_cache_dir(os.environ)).info()
    click.echo(f"cache directory: {info.root}")
    click.echo(f"entries: {info.entries}")
    click.echo(f"size: {info.size:,} bytes ({human(info.size)})")
    return 0


@cache.command("clear")
@click.option("--wait", is_flag=True,
              help="If a build or preview is using the cache, wait for it instead of refusing.")
def cache_clear(wait: bool) -> int:
    """Remove every cache entry."""
    before = DependencyCache(default_cache_dir(os.environ)).clear(wait=wait)
    click.echo(f"Removed {before.entries} entries ({human(before.size)}) from {before.root}",
               err=True)
    return 0
