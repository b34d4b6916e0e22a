"""``flash cache info|clear``: the cache under ``FLASHBUILD_CACHE_DIR``.

``info`` is the command's result, so it goes to stdout; ``clear`` reports on stderr.
``info`` also shows what the last build that used a remote cache did with it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from .._util.units import human
from ..cache import CacheInfo, DependencyCache
from ..config.environment import default_cache_dir
from ..remote_cache.stats import RemoteStats, read_stats
from .json_documents import versioned

_STATES = {
    "unreachable": "the remote could not be used; that build went on with the local cache only",
    "client-missing": "its client library was not installed (pip install 'flashbuild[remote]')",
}


@click.group()
def cache() -> None:
    """Inspect or clear the dependency cache (FLASHBUILD_CACHE_DIR)."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document on stdout (schema cache-info.schema.json).")
@click.pass_context
def cache_info(ctx: click.Context, as_json: bool) -> int:
    """Show where the cache is, how much it holds, and the last build's use of the
    remote cache."""
    ctx.obj.update(json=as_json)
    root = default_cache_dir(os.environ)
    info = DependencyCache(root).info()
    stats = read_stats(root)
    if as_json:
        click.echo(json.dumps(cache_info_document(info, stats), indent=2, sort_keys=True))
        return 0
    click.echo(f"cache directory: {info.root}")
    click.echo(f"entries: {info.entries}")
    click.echo(f"size: {info.size:,} bytes ({human(info.size)})")
    for line in _remote_lines(stats):
        click.echo(line)
    return 0


def cache_info_document(info: CacheInfo, stats: RemoteStats | None) -> dict[str, Any]:
    """The ``flash cache info --json`` document."""
    return versioned({"cache_dir": str(info.root), "entries": info.entries,
                      "size_bytes": info.size,
                      "remote": None if stats is None else remote_stats_data(stats)})


def remote_stats_data(stats: RemoteStats) -> dict[str, Any]:
    """What a build did with the remote cache, as ``cache info --json`` and ``build
    --json`` show it."""
    return {
        "url": stats.url, "mode": stats.mode, "state": stats.state,
        "finished": stats.finished, "local_hit": stats.local_hit,
        "hits": stats.hits, "misses": stats.misses,
        "entries": {"hits": stats.entry_hits, "misses": stats.entry_misses},
        "units": {"hits": stats.unit_hits, "misses": stats.unit_misses},
        "damaged": stats.damaged, "objects_down": stats.objects_down,
        "bytes_down": stats.bytes_down, "objects_up": stats.objects_up,
        "bytes_up": stats.bytes_up, "seconds": round(stats.seconds, 3),
    }


def _remote_lines(stats: RemoteStats | None) -> list[str]:
    if stats is None:
        return ["remote cache: not used by any build yet"]
    lines = [f"remote cache: {stats.url} ({stats.mode}), last build {stats.finished}"]
    if stats.local_hit:
        lines.append("  the local cache had its dependencies; the remote was not asked")
    if stats.state in _STATES:
        lines.append(f"  {_STATES[stats.state]}")
    lines += [
        f"  hits: {stats.hits} (entries {stats.entry_hits}, units {stats.unit_hits}); misses: "
        f"{stats.misses} (entries {stats.entry_misses}, units {stats.unit_misses}); damaged "
        f"objects: {stats.damaged}",
        f"  down: {stats.objects_down} objects, {human(stats.bytes_down)}; up: "
        f"{stats.objects_up} objects, {human(stats.bytes_up)}; {stats.seconds:.2f} s "
        "talking to the remote",
    ]
    return lines


@cache.command("clear")
@click.option("--wait", is_flag=True,
              help="If a build or preview is using the cache, wait for it instead of refusing.")
def cache_clear(wait: bool) -> int:
    """Remove every cache entry."""
    before = DependencyCache(default_cache_dir(os.environ)).clear(wait=wait)
    click.echo(f"Removed {before.entries} entries ({human(before.size)}) from {before.root}",
               err=True)
    return 0
