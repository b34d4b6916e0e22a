"""The top-level modules a distribution installs, read from its wheel on PyPI.

Only the wheel's zip central directory is fetched (two or three HTTP range
requests), so listing torch costs a few hundred kilobytes, not a gigabyte.
"""

from __future__ import annotations

import json
import struct
import urllib.request
from collections.abc import Iterable

from packaging.utils import canonicalize_name, parse_wheel_filename

SIMPLE = "https://pypi.org/simple"
_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_DIRECTORY_ENTRY = b"PK\x01\x02"
_TIMEOUT = 60


def top_level_modules(name: str, version: str, python: str) -> tuple[str, ...]:
    """Importable top-level names of ``name==version``'s Linux x86_64 wheel for ``python``."""
    url = _wheel_url(name, version, python)
    return modules_of(_zip_names(url))


def modules_of(paths: Iterable[str]) -> tuple[str, ...]:
    """Top-level import names of a wheel with these member paths."""
    modules = set()
    for path in paths:
        head, _, rest = path.partition("/")
        if head.endswith(".data"):  # {name}.data/purelib/x/..., {name}.data/platlib/x/...
            scheme, _, inner = rest.partition("/")
            if scheme not in ("purelib", "platlib"):
                continue
            head, _, rest = inner.partition("/")
        if head.endswith(".dist-info"):
            continue
        module = head if rest else _module_file(head)
        if module and module.isidentifier():
            modules.add(module)
    return tuple(sorted(modules))


def _module_file(file_name: str) -> str | None:
    """``six.py`` -> six; ``_cffi_backend.cpython-312-x86_64-linux-gnu.so`` -> _cffi_backend."""
    if file_name.endswith(".py"):
        return file_name[: -len(".py")]
    if file_name.endswith(".so"):
        return file_name.split(".", 1)[0]
    return None  # .pth files, licences, ...


def _wheel_url(name: str, version: str, python: str) -> str:
    request = urllib.request.Request(
        f"{SIMPLE}/{canonicalize_name(name)}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
        files = json.load(response)["files"]
    interpreter = f"cp{python.replace('.', '')}"
    best: tuple[int, str] | None = None
    for file in files:
        if not file["filename"].endswith(".whl"):
            continue
        _, wheel_version, _, tags = parse_wheel_filename(file["filename"])
        if str(wheel_version) != version:
            continue
        rank = min(_rank(tag.interpreter, tag.platform, interpreter) for tag in tags)
        if best is None or rank < best[0]:
            best = (rank, file["url"])
    if best is None:
        raise LookupError(f"{name}=={version} has no wheel on {SIMPLE}")
    return best[1]


def _rank(tag_interpreter: str, platform: str, interpreter: str) -> int:
    """Lower is better: this Python on Linux x86_64, then any Linux x86_64, then anything."""
    linux = platform.endswith("x86_64") and "linux" in platform
    return (0 if tag_interpreter == interpreter else 1) + (0 if linux or platform == "any"
                                                          else 2)


def _range(url: str, spec: str) -> bytes:
    request = urllib.request.Request(url, headers={"Range": f"bytes={spec}"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
        return bytes(response.read())


def _zip_names(url: str) -> list[str]:
    """Member names of the zip at ``url``, from its central directory."""
    tail = _range(url, "-65558")  # the end record plus the longest possible comment
    at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0:
        raise ValueError(f"{url} does not end like a zip file")
    count, size, offset = struct.unpack("<10xHII", tail[at : at + 20])
    if offset == 0xFFFFFFFF or count == 0xFFFF:
        locator = tail.rfind(_ZIP64_LOCATOR)
        (record_at,) = struct.unpack("<8xQ", tail[locator : locator + 16])
        record = _range(url, f"{record_at}-{record_at + 55}")
        count, size, offset = struct.unpack("<32xQQQ", record[:56])
    directory = _range(url, f"{offset}-{offset + size - 1}")
    names, position = [], 0
    while position < len(directory):
        if directory[position : position + 4] != _DIRECTORY_ENTRY:
            raise ValueError(f"{url}: bad central directory entry at {position}")
        name_length, extra_length, comment_length = struct.unpack(
            "<HHH", directory[position + 28 : position + 34])
        names.append(directory[position + 46 : position + 46 + name_length].decode())
        position += 46 + name_length + extra_length + comment_length
    return names
