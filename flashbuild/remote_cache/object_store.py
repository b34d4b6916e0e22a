"""The S3 client: the one module that imports ``obstore`` (``pip install 'flashbuild[remote]'``).

obstore was chosen over boto3 by measurement (README, "Remote cache"): it
imports in about a tenth of the time and is a third of the download; boto3
moves large objects about a quarter faster, obstore small ones faster. It is
imported only when a build first needs the remote (a local hit never does).
Credentials, region and endpoint come from the standard ``AWS_*`` environment,
read by the client itself; an ``http://`` endpoint (a local MinIO or moto) is
allowed. Every failure of the store is a :class:`RemoteError` whose message has
no credential in it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..config.remote_cache import RemoteCacheSettings

INSTALL_HINT = "pip install 'flashbuild[remote]'"
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
# Values never repeated in a message, whatever the client's error text holds.
_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
_RETRIES = 2
_CHUNK = 1 << 20


class ClientMissingError(Exception):
    """The client library is not installed."""


class RemoteError(Exception):
    """The store failed (after its retries) or refused; the message is safe to show."""

    def __init__(self, message: str, *, denied: bool = False) -> None:
        super().__init__(message)
        self.denied = denied  # permission or authentication: retrying will not help


class ObjectStore:
    """Objects under ``s3://bucket/prefix``, by name relative to the prefix."""

    def __init__(self, settings: RemoteCacheSettings) -> None:
        try:
            import obstore
            from obstore.store import S3Store
        except ImportError:
            raise ClientMissingError(INSTALL_HINT) from None
        self._obstore = obstore
        endpoint = next((os.environ[v] for v in _ENDPOINT_VARIABLES if os.environ.get(v)), "")
        timeout = timedelta(seconds=settings.timeout)
        try:
            self._store = S3Store(
                settings.bucket, prefix=settings.prefix or None,
                client_options={"connect_timeout": timeout, "read_timeout": timeout,
                                "timeout": timedelta(hours=1),  # large segments stream long
                                "allow_http": endpoint.startswith("http://")},
                retry_config={"max_retries": _RETRIES, "retry_timeout": 3 * timeout,
                              "backoff": {"init_backoff": timedelta(milliseconds=100),
                                          "max_backoff": timedelta(seconds=1), "base": 2.0}})
        except Exception as exc:  # a bad AWS_* value: the store cannot be used at all
            raise RemoteError(_describe(exc)) from None

    def download(self, name: str, write: Callable[[memoryview], Any]) -> int | None:
        """Stream the object ``name`` to ``write``; its size as the store gives it, or None
        if there is none. What ``write`` raises (to stop reading) passes through."""
        try:
            result = self._obstore.get(self._store, name)
            size = int(result.meta["size"])
            stream = iter(result.stream(min_chunk_size=_CHUNK))
        except FileNotFoundError:
            return None
        except Exception as exc:  # the client's errors: transport, permissions
            raise _remote_error(exc) from None
        while True:
            try:
                chunk = next(stream)
            except StopIteration:
                return size
            except Exception as exc:  # a dropped connection, a timeout
                raise _remote_error(exc) from None
            write(memoryview(chunk))

    def size(self, name: str) -> int | None:
        """The size of the object ``name``, or None if there is none."""
        try:
            return int(self._obstore.head(self._store, name)["size"])
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise _remote_error(exc) from None

    def put(self, name: str, content: Path | bytes) -> None:
        """Store ``content`` (a file's bytes, streamed in parts when large) as ``name``.

        S3 makes an object visible only once it is complete, so a reader never
        sees part of one.
        """
        try:
            self._obstore.put(self._store, name, content)
        except FileNotFoundError:
            raise RemoteError("the bucket does not exist") from None
        except Exception as exc:
            raise _remote_error(exc) from None


def _remote_error(exc: Exception) -> RemoteError:
    denied = type(exc).__name__ in ("PermissionDeniedError", "UnauthenticatedError")
    return RemoteError(_describe(exc), denied=denied)


def _describe(exc: Exception) -> str:
    """The first line of the client's message, without any credential in it."""
    text = str(exc).split("\n", 1)[0].split("Debug source", 1)[0].strip() or type(exc).__name__
    for variable in _SECRET_VARIABLES:
        secret = os.environ.get(variable)
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text[:300]
