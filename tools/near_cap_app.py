"""A Flash app whose artifact is near the 1.5 GB cap, with its wheels generated offline.

An LLM serving stack ships mostly weights and kernels that deflate hardly at
all, beside a smaller share of Python and data files that deflate well. The
generated wheels mimic that: random "shards" (incompressible) and source-like
text (about 2:1), about 1.4 GB installed, 1.2 GB in the artifact, in packages
of very different sizes. The wheels are written streaming (nothing large is
held in memory) and served as a package index on 127.0.0.1 (PEP 503 pages
whose links carry each file's sha256, as PyPI's do); the app's GPU endpoint
depends on all of them, and ``EXTRA`` is a small one the benchmark adds later.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import os
import random
import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MB = 1 << 20
_SHARD = 32 * MB  # random data per file, at most
_SOURCE_FILE = 256 * 1024  # text per file, at most
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Package:
    name: str
    random_mb: int  # incompressible bytes, in shards
    text_mb: int  # source-like bytes, in files of up to 256 KiB


PACKAGES = (
    Package("llm-kernels", 400, 40),
    Package("llm-runtime", 300, 80),
    Package("llm-quant", 100, 40),
    Package("llm-tokenizers", 80, 40),
    Package("llm-server", 50, 60),
    *(Package(f"llm-util{index}", 10, 20) for index in range(1, 6)),
)
EXTRA = Package("llm-extra", 0, 1)
VERSION = "1.0"


def _corpus(seed: int) -> bytes:
    """4 MiB of source-like text: lines of words from a small vocabulary."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 12)))
             for _ in range(3000)]
    lines = []
    size = 0
    while size < 4 * MB:
        line = "    " * rng.randint(0, 3) + " ".join(rng.choices(words, k=rng.randint(3, 12)))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines).encode()


def _chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size


def write_wheel(package: Package, directory: Path, corpus: bytes, seed: int) -> Path:
    """Write one wheel of ``package`` into ``directory``, streaming its contents."""
    rng = random.Random(seed)
    module = package.name.replace("-", "_")
    dist_info = f"{module}-{VERSION}.dist-info"
    path = directory / f"{module}-{VERSION}-py3-none-any.whl"
    record: list[str] = []
    with zipfile.ZipFile(path, "w") as archive:

        def add(name: str, data: bytes, method: int) -> None:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o100644 << 16
            info.compress_type = method
            with archive.open(info, "w") as handle:
                handle.write(data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")

        add(f"{module}/__init__.py", f'__version__ = "{VERSION}"\n'.encode(), zipfile.ZIP_DEFLATED)
        for index, size in enumerate(_chunks(package.random_mb * MB, _SHARD)):
            add(f"{module}/weights/shard-{index:04d}.bin", os.urandom(size), zipfile.ZIP_STORED)
        for index, size in enumerate(_chunks(package.text_mb * MB, _SOURCE_FILE)):
            start = rng.randrange(len(corpus) - size)
            add(f"{module}/src/part{index // 50}/module_{index:05d}.py",
                corpus[start:start + size], zipfile.ZIP_DEFLATED)
        add(f"{dist_info}/METADATA",
            f"Metadata-Version: 2.1\nName: {package.name}\nVersion: {VERSION}\n".encode(),
            zipfile.ZIP_DEFLATED)
        add(f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: near_cap_app\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n", zipfile.ZIP_DEFLATED)
        record.append(f"{dist_info}/RECORD,,")
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=_ZIP_TIME)
        info.external_attr = 0o100644 << 16
        archive.writestr(info, "\n".join(record) + "\n", zipfile.ZIP_DEFLATED)
    return path


def write_index(root: Path, packages: Sequence[Package] = (*PACKAGES, EXTRA)) -> None:
    """Every wheel of ``packages`` in ``root/files`` and an index page per project in
    ``root/simple``."""
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    corpus = _corpus(seed=0)
    for seed, package in enumerate(packages):
        wheel = write_wheel(package, files, corpus, seed)
        with wheel.open("rb") as stream:
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
        page = root / "simple" / package.name / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        link = html.escape(f"../../files/{wheel.name}#sha256={digest}")
        page.write_text(f'<!DOCTYPE html>\n<html><body><a href="{link}">{wheel.name}</a>'
                        "</body></html>\n")


def serve_index(root: Path) -> tuple[str, ThreadingHTTPServer]:
    """Serve ``root`` on 127.0.0.1 from a daemon thread; the index URL and the server."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/simple/", server


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def write_near_cap_app(project: Path) -> None:
    """The app, in ``project``: one GPU endpoint that needs every package but ``EXTRA``."""
    project.mkdir(parents=True, exist_ok=True)
    names = ", ".join(f'"{package.name}"' for package in PACKAGES)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "near-cap-app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n')
    (project / "serve.py").write_text(
        '"""An LLM server on a GPU worker: runtime, kernels and weights ship in the artifact."""'
        "\n\nfrom runpod_flash import Endpoint, GpuGroup\n\n\n"
        f'@Endpoint(name="llm", gpu=GpuGroup.ADA_24, dependencies=[{names}])\n'
        "def generate(prompt: str) -> str:\n"
        "    import llm_runtime\n\n"
        "    return f\"{llm_runtime.__version__}: {prompt}\"\n")
