"""Command-line options that several commands share."""

from __future__ import annotations

from collections.abc import Callable

import click


def index_options(command: Callable) -> Callable:
    """``--index-url``, ``--extra-index-url``, ``--find-links`` and ``--no-index``."""
    options = [
        click.option("--index-url", metavar="URL", default=None,
                     help="Package index to use instead of PyPI (env FLASH_INDEX_URL)."),
        click.option("--extra-index-url", "extra_index_urls", metavar="URL", multiple=True,
                     help="Another index to look in; repeatable (env FLASH_EXTRA_INDEX_URL)."),
        click.option("--find-links", metavar="PATH|URL", multiple=True,
                     help="A directory or page of wheels to look in; repeatable "
                     "(env FLASH_FIND_LINKS)."),
        click.option("--no-index", is_flag=True,
                     help="Use no index, only --find-links locations."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
