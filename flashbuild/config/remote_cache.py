"""Where the shared remote cache is and how a build may use it.

``--remote-cache URL`` wins over ``FLASHBUILD_REMOTE_CACHE``, which wins over
``[tool.flash] remote-cache``; the mode (``read-write``, the default;
``read``; ``off``) is chosen the same way. The URL names a bucket and a
prefix (``s3://bucket/prefix``) and nothing else: credentials, the endpoint
and the region come from the client library's standard ``AWS_*`` environment
and are never part of the settings, so they cannot be shown.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import SourceLocation, UsageError
from .pyproject import PYPROJECT, ToolSettings

REMOTE_CACHE_ENV = "FLASHBUILD_REMOTE_CACHE"
REMOTE_CACHE_MODE_ENV = "FLASHBUILD_REMOTE_CACHE_MODE"
REMOTE_CACHE_TIMEOUT_ENV = "FLASHBUILD_REMOTE_CACHE_TIMEOUT"
MODES = ("read-write", "read", "off")
DEFAULT_TIMEOUT = 10.0  # seconds: to connect, and between two reads of an answer
_MAX_TIMEOUT = 3600.0
# S3's rules for bucket names (lower case, digits, dots and hyphens; 3 to 63 characters).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_PART = re.compile(r"[A-Za-z0-9!_.*'()=+,;:@-]+")


@dataclass(frozen=True, kw_only=True)
class RemoteCacheSettings:
    """A remote cache to use: ``s3://bucket/prefix`` and the mode."""

    bucket: str
    prefix: str  # "" or "team/flash", no leading or trailing slash
    mode: str  # "read-write" or "read"
    timeout: float = DEFAULT_TIMEOUT

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def writable(self) -> bool:
        return self.mode == "read-write"


def remote_cache_settings(
    settings: ToolSettings, environ: Mapping[str, str], *, url: str | None = None,
    mode: str | None = None,
) -> RemoteCacheSettings | None:
    """The remote cache of a build, or None when none is configured or the mode is ``off``."""
    chosen_mode = mode or environ.get(REMOTE_CACHE_MODE_ENV) or settings.get("remote-cache-mode")
    mode_from_file = not (mode or environ.get(REMOTE_CACHE_MODE_ENV))
    chosen_mode = chosen_mode or MODES[0]
    if chosen_mode not in MODES:
        raise UsageError(
            f"remote cache mode {chosen_mode!r} is not one of {', '.join(MODES)}.",
            location=SourceLocation(path=PYPROJECT) if mode_from_file else None,
            hint="Use read-write (the default), read (for jobs that must not write, such "
                 "as pull requests) or off (--remote-cache-mode, "
                 f"{REMOTE_CACHE_MODE_ENV}, [tool.flash] remote-cache-mode).")
    chosen_url = url or environ.get(REMOTE_CACHE_ENV) or settings.get("remote-cache")
    if chosen_mode == "off" or not chosen_url:
        return None
    url_from_file = not (url or environ.get(REMOTE_CACHE_ENV))
    bucket, prefix = parse_remote_url(
        chosen_url, location=SourceLocation(path=PYPROJECT) if url_from_file else None)
    return RemoteCacheSettings(bucket=bucket, prefix=prefix, mode=chosen_mode,
                               timeout=_timeout(environ))


def parse_remote_url(url: str, *, location: SourceLocation | None = None) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``; anything else is exit 2.

    A URL that carries credentials is refused without being repeated.
    """
    parts = urllib.parse.urlsplit(url.strip())
    if "@" in parts.netloc:
        raise UsageError(
            "the remote cache URL carries credentials (user:secret@); it was not used and is "
            "not shown.",
            location=location,
            hint="Give s3://bucket/prefix only, and the credentials in the environment "
                 "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or the runner's role).")
    segments = [s for s in parts.path.split("/") if s]
    valid = (parts.scheme == "s3" and _BUCKET.fullmatch(parts.netloc) is not None
             and ".." not in parts.netloc and not parts.query and not parts.fragment
             and all(_PREFIX_PART.fullmatch(s) and s not in (".", "..") for s in segments))
    if not valid:
        raise UsageError(
            f"{url!r} is not a remote cache URL.",
            location=location,
            hint="Give s3://bucket or s3://bucket/prefix (a bucket name of 3 to 63 lower-case "
                 "letters, digits, dots and hyphens); the endpoint of an S3-compatible store "
                 "goes in AWS_ENDPOINT_URL.")
    return parts.netloc, "/".join(segments)


def _timeout(environ: Mapping[str, str]) -> float:
    raw = environ.get(REMOTE_CACHE_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= _MAX_TIMEOUT:
        raise UsageError(
            f"{REMOTE_CACHE_TIMEOUT_ENV} must be a number of seconds above 0 and at most "
            f"{_MAX_TIMEOUT:.0f}, got {raw!r}.",
            hint=f"e.g. {REMOTE_CACHE_TIMEOUT_ENV}=10 (the default), or unset it.")
    return value
