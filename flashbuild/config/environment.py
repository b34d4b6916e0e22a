"""What a build reads from the process environment.

``SOURCE_DATE_EPOCH`` (the archive timestamp), the cache directory
(``FLASHBUILD_CACHE_DIR``, ``XDG_CACHE_HOME``), the folder of image profiles
(``FLASHBUILD_IMAGE_PROFILES``) and the package index variables
``FLASH_INDEX_URL``, ``FLASH_EXTRA_INDEX_URL`` and ``FLASH_FIND_LINKS``.
Command-line options win over these, and these over ``[tool.flash]``.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from ..errors import UsageError
from ..records import IndexOptions
from .images import PROFILES_DIR
from .pyproject import ToolSettings

CACHE_ENV = "FLASHBUILD_CACHE_DIR"
PROFILES_ENV = "FLASHBUILD_IMAGE_PROFILES"
DEFAULT_SOURCE_DATE_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the zip/wheel epoch
# The largest mtime an ustar header's 11 octal digits hold; every tar reader reads it.
MAX_SOURCE_DATE_EPOCH = 8**11 - 1


def source_date_epoch(environ: Mapping[str, str]) -> int:
    """The archive timestamp: ``SOURCE_DATE_EPOCH`` if set, else 1980-01-01."""
    raw = environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return DEFAULT_SOURCE_DATE_EPOCH
    # isdigit() alone would accept non-ASCII digits such as ARABIC-INDIC DIGIT ONE.
    if raw.isascii() and raw.isdigit():
        with contextlib.suppress(ValueError):  # int() refuses absurdly long digit strings
            value = int(raw)
            if value <= MAX_SOURCE_DATE_EPOCH:
                return value
    raise UsageError(
        f"SOURCE_DATE_EPOCH must be a non-negative integer (seconds since 1970-01-01 UTC) "
        f"of at most {MAX_SOURCE_DATE_EPOCH} (the year 2242, the last a tar header holds), "
        f"got {raw!r}.",
        hint="Set it to a Unix timestamp, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), "
        "or unset it to use 1980-01-01.",
    )


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``FLASHBUILD_CACHE_DIR``, else ``$XDG_CACHE_HOME/flashbuild``, else
    ``~/.cache/flashbuild``."""
    if environ.get(CACHE_ENV):
        return Path(environ[CACHE_ENV]).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "flashbuild"


def image_profiles_dir(environ: Mapping[str, str]) -> Path:
    """``FLASHBUILD_IMAGE_PROFILES`` (profiles of images of your own), else flashbuild's."""
    if environ.get(PROFILES_ENV):
        return Path(environ[PROFILES_ENV]).expanduser()
    return PROFILES_DIR


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(value.split()) if value else ()


def index_options(
    project: Path,
    settings: ToolSettings,
    environ: Mapping[str, str],
    *,
    index_url: str | None,
    extra_index_urls: tuple[str, ...],
    find_links: tuple[str, ...],
    no_index: bool,
) -> IndexOptions:
    """Command line first, then FLASH_INDEX_URL/FLASH_EXTRA_INDEX_URL/FLASH_FIND_LINKS,
    then ``[tool.flash]``."""

    def local(location: str) -> str:
        # Relative find-links in pyproject.toml are relative to the project.
        if "://" in location or Path(location).is_absolute():
            return location
        return str(project / location)

    options = IndexOptions(
        index_url=index_url or environ.get("FLASH_INDEX_URL") or settings.get("index-url"),
        extra_index_urls=extra_index_urls
        or _split(environ.get("FLASH_EXTRA_INDEX_URL"))
        or tuple(settings.get("extra-index-url", ())),
        find_links=tuple(str(Path(f).resolve()) if "://" not in f else f for f in find_links)
        or _split(environ.get("FLASH_FIND_LINKS"))
        or tuple(local(f) for f in settings.get("find-links", ())),
        no_index=no_index,
    )
    for url in (options.index_url, *options.extra_index_urls):
        if url is not None:
            _check_index_url(url)
    return options


def _check_index_url(url: str) -> None:
    """An index is an http(s) URL with a host, or a file: URL (as uv takes them)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises for a port that is not a number
    except ValueError:  # also a bracket left open
        parts, port = None, None
    if parts is not None and port != 0 and (
            (parts.scheme in ("http", "https") and parts.hostname
             and not any(c.isspace() for c in url))
            or (parts.scheme == "file" and parts.path)):
        return
    raise UsageError(
        f"{url!r} is not a package index URL.",
        hint="Give an http(s) URL of a PEP 503 simple index, e.g. --index-url "
        "https://pypi.org/simple (also FLASH_INDEX_URL, FLASH_EXTRA_INDEX_URL, [tool.flash]); "
        "a folder of wheels goes in --find-links.")
