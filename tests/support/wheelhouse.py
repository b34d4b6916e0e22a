"""A local wheelhouse of tiny, real distributions, built with the standard library.

Tests point uv at it with ``--no-index --find-links <dir>`` so resolution and
installation run offline against names that look like PyPI's (``torch``,
``numpy``...) but hold a few bytes each. Wheels follow the binary distribution
format: ``{name}-{version}.dist-info/`` with METADATA, WHEEL and a RECORD of
sha256 hashes; shared objects are crafted ELF files from :mod:`tests.support.elf`.

Everything is deterministic: fixed timestamps and modes, sorted entries, so two
builds of the same :class:`Dist` give identical bytes.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import itertools
import os
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from uv import find_uv_bin

from flashbuild._util.processes import CommandResult, run_command
from flashbuild.records import Target

from .elf import EM_AARCH64, shared_object

CPYTHONS = ("310", "311", "312", "313")
MANYLINUX_2014 = "manylinux_2_17_x86_64.manylinux2014_x86_64"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_TAR_TIME = 315532800  # 1980-01-01, like the artifact

FileContents = Mapping[str, "bytes | str"]


@dataclass(frozen=True)
class Dist:
    """One distribution file: a wheel, or with ``sdist=True`` a source archive.

    ``tags`` is the (possibly compressed) tag triple of the wheel file name,
    e.g. ``"cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"``.
    ``files`` maps paths inside the wheel to contents; by default the wheel
    holds ``<module>/__init__.py`` only. ``scripts`` go to ``.data/scripts/``.
    ``legacy_filename`` keeps the name's case in the file and ``.dist-info``
    names, as older tools did (PyYAML's wheels still do); consumers must accept it.
    ``wheel_file_tags``, when given, are the ``Tag:`` lines of the ``WHEEL`` file
    instead of the file name's (vllm 0.21.0's wheel says ``linux_x86_64`` inside
    a ``manylinux_2_24`` file name). ``metadata`` adds core metadata fields
    (``License-Expression``, ``Classifier``...).
    """

    name: str
    version: str
    requires: Sequence[str] = ()
    tags: str = "py3-none-any"
    files: FileContents | None = None
    console_scripts: Sequence[str] = ()
    scripts: FileContents = field(default_factory=dict)
    sdist: bool = False
    legacy_filename: bool = False
    wheel_file_tags: str | None = None
    # more core metadata fields: ("License-Expression", "MIT"), ("Classifier", "...")
    metadata: Sequence[tuple[str, str]] = ()

    @property
    def module(self) -> str:
        """The default import name: ``sentence-transformers`` -> ``sentence_transformers``."""
        return re.sub(r"[-_.]+", "_", self.name).lower()

    @property
    def escaped_name(self) -> str:
        escaped = re.sub(r"[-_.]+", "_", self.name)
        return escaped if self.legacy_filename else escaped.lower()

    @property
    def filename(self) -> str:
        if self.sdist:
            return f"{self.escaped_name}-{self.version}.tar.gz"
        return f"{self.escaped_name}-{self.version}-{self.tags}.whl"

    @property
    def dist_info(self) -> str:
        return f"{self.escaped_name}-{self.version}.dist-info"

    @property
    def expanded_tags(self) -> tuple[str, ...]:
        """Every ``interpreter-abi-platform`` triple the compressed tag set stands for."""
        parts = [part.split(".") for part in self.tags.split("-")]
        return tuple("-".join(triple) for triple in itertools.product(*parts))

    @property
    def is_pure(self) -> bool:
        return all(tag.endswith("-any") for tag in self.expanded_tags)

    def contents(self) -> dict[str, bytes]:
        """The package files (not metadata) as bytes, keyed by archive path."""
        files = self.files if self.files is not None else {
            f"{self.module}/__init__.py": f'__version__ = "{self.version}"\n'
        }
        return {path: _as_bytes(data) for path, data in files.items()}


def metadata_text(dist: Dist, metadata_version: str = "2.1") -> str:
    """The core metadata file (METADATA in a wheel, PKG-INFO in an sdist)."""
    lines = [
        f"Metadata-Version: {metadata_version}",
        f"Name: {dist.name}",
        f"Version: {dist.version}",
        f"Summary: {dist.name} for offline tests",
    ]
    lines += [f"Requires-Dist: {requirement}" for requirement in dist.requires]
    lines += [f"{name}: {value}" for name, value in dist.metadata]
    return "\n".join(lines) + "\n\n"


def write_wheel(dist: Dist, directory: Path) -> Path:
    """Write ``dist`` as a wheel into ``directory`` and return its path."""
    entries: dict[str, tuple[bytes, int]] = {
        path: (data, 0o644) for path, data in sorted(dist.contents().items())
    }
    data_dir = f"{dist.escaped_name}-{dist.version}.data"
    for name, data in sorted(dist.scripts.items()):
        entries[f"{data_dir}/scripts/{name}"] = (_as_bytes(data), 0o755)

    wheel_lines = [
        "Wheel-Version: 1.0",
        "Generator: tests.support.wheelhouse",
        f"Root-Is-Purelib: {'true' if dist.is_pure else 'false'}",
    ]
    inside = dist.wheel_file_tags
    tags = dist.expanded_tags if inside is None else replace(dist, tags=inside).expanded_tags
    wheel_lines += [f"Tag: {tag}" for tag in tags]
    metadata = {
        "METADATA": metadata_text(dist),
        "WHEEL": "\n".join(wheel_lines) + "\n\n",
    }
    if dist.console_scripts:
        scripts = "".join(f"{line}\n" for line in dist.console_scripts)
        metadata["entry_points.txt"] = "[console_scripts]\n" + scripts
    for name, text in metadata.items():
        entries[f"{dist.dist_info}/{name}"] = (text.encode(), 0o644)

    record_path = f"{dist.dist_info}/RECORD"
    entries[record_path] = (_record(entries, record_path), 0o644)

    path = Path(directory) / dist.filename
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


# A PEP 517 backend that lives inside the sdist (``backend-path``), so building
# it needs no setuptools and no network: it zips the package into a pure wheel.
_IN_TREE_BACKEND = '''\
import base64, hashlib, os, zipfile

def _metadata():
    with open("PKG-INFO", encoding="utf-8") as handle:
        text = handle.read()
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return fields["Name"], fields["Version"], text

def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, metadata = _metadata()
    escaped = name.replace("-", "_").lower()
    dist_info = f"{escaped}-{version}.dist-info"
    files = {}
    for root, _, names in sorted(os.walk(escaped)):
        for file_name in sorted(names):
            path = os.path.join(root, file_name)
            with open(path, "rb") as handle:
                files[path.replace(os.sep, "/")] = handle.read()
    files[dist_info + "/METADATA"] = metadata.encode()
    files[dist_info + "/WHEEL"] = (
        b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n\\n"
    )
    record = [_record_line(path, data) for path, data in files.items()]
    files[dist_info + "/RECORD"] = ("\\n".join(record + [dist_info + "/RECORD,,"]) + "\\n").encode()
    wheel_name = f"{escaped}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel_name
'''


def write_sdist(dist: Dist, directory: Path) -> Path:
    """Write ``dist`` as a ``.tar.gz`` source distribution that builds offline."""
    root = f"{dist.escaped_name}-{dist.version}"
    pyproject = (
        "[build-system]\n"
        "requires = []\n"
        'build-backend = "in_tree_backend"\n'
        'backend-path = ["."]\n\n'
        "[project]\n"
        f'name = "{dist.name}"\n'
        f'version = "{dist.version}"\n'
        f"dependencies = {list(dist.requires)!r}\n"
    )
    members = {
        "PKG-INFO": metadata_text(dist, metadata_version="2.2").encode(),
        "pyproject.toml": pyproject.encode(),
        "in_tree_backend.py": _IN_TREE_BACKEND.encode(),
        **dist.contents(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size, info.mtime, info.mode = len(data), _TAR_TIME, 0o644
            archive.addfile(info, io.BytesIO(data))
    path = Path(directory) / dist.filename
    # mtime=0 and no file name in the gzip header keep the bytes reproducible.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz:
        gz.write(buffer.getvalue())
    return path


def write_dist(dist: Dist, directory: Path) -> Path:
    """Write ``dist`` (wheel or sdist) into ``directory``."""
    return write_sdist(dist, directory) if dist.sdist else write_wheel(dist, directory)


def cpython_wheels(
    name: str,
    version: str,
    platform: str,
    *,
    requires: Sequence[str] = (),
    files: Callable[[str], FileContents] | None = None,
) -> tuple[Dist, ...]:
    """One wheel per supported CPython (``cp310``...``cp313``), as numpy publishes them.

    ``files`` receives the version digits (``"312"``) and returns the wheel's files.
    """
    return tuple(
        Dist(
            name,
            version,
            requires=requires,
            tags=f"cp{py}-cp{py}-{platform}",
            files=files(py) if files else None,
        )
        for py in CPYTHONS
    )


def extension(module_path: str, py: str) -> str:
    """``fastmath/_core`` -> ``fastmath/_core.cpython-312-x86_64-linux-gnu.so``."""
    return f"{module_path}.cpython-{py}-x86_64-linux-gnu.so"


def _package(module: str, version: str, extra: FileContents | None = None) -> dict:
    return {f"{module}/__init__.py": f'__version__ = "{version}"\n', **(extra or {})}


_LINUX_X86_64 = "platform_system == 'Linux' and platform_machine == 'x86_64'"
_BASELINE = ("GLIBC_2.2.5", "GLIBC_2.14")
_GLIBC_2_17 = ("GLIBC_2.2.5", "GLIBC_2.17")


def default_dists() -> tuple[Dist, ...]:
    """The distributions :func:`build_wheelhouse` writes by default."""
    pure = (
        Dist("tinyutil", "1.0"),
        Dist("tinyutil", "2.0"),
        Dist("shared-helper", "1.0"),
        Dist("appdep", "1.0", requires=["shared-helper"]),
        # Dist name differs from the import name, and the file keeps its case.
        Dist("Py_Yaml_Lite", "1.0", files=_package("yaml_lite", "1.0"), legacy_filename=True),
        Dist("sympy", "1.13", requires=["mpmath>=1.1"]),
        Dist("mpmath", "1.3"),
        Dist("networkx", "3.4"),
        Dist("filelock", "3.16"),
        Dist("transformers-lite", "1.0", requires=["filelock"]),
        Dist(
            "sentence-transformers",
            "3.0",
            requires=["torch>=2.0", "transformers-lite", "tinyutil"],
        ),
        Dist(
            "withscript",
            "1.0",
            files=_package(
                "withscript", "1.0", {"withscript/cli.py": "def main():\n    return 0\n"}
            ),
            console_scripts=["withscript = withscript.cli:main"],
            scripts={"withscript-tool": "#!python\nprint('tool')\n"},
        ),
    )
    nvidia = (
        # The NVIDIA wheels share the ``nvidia`` namespace package, as on PyPI.
        Dist(
            "nvidia-cublas-cu12",
            "12.4",
            tags="py3-none-manylinux2014_x86_64",
            files={"nvidia/cublas/lib/libcublas.so.12": shared_object(_GLIBC_2_17)},
        ),
        Dist(
            "nvidia-cudnn-cu12",
            "9.1",
            tags="py3-none-manylinux2014_x86_64",
            requires=["nvidia-cublas-cu12"],
            files={"nvidia/cudnn/lib/libcudnn.so.9": shared_object(_GLIBC_2_17)},
        ),
    )
    compiled = (
        *cpython_wheels(
            "fastmath", "1.0", MANYLINUX_2014,
            files=lambda py: _package("fastmath", "1.0", {
                extension("fastmath/_core", py): shared_object(_BASELINE),
            }),
        ),
        *cpython_wheels(
            "numpy", "2.1.0", MANYLINUX_2014,
            files=lambda py: _package("numpy", "2.1.0", {
                extension("numpy/_core/_multiarray_umath", py): shared_object(_BASELINE),
            }),
        ),
        *cpython_wheels(
            "triton", "3.1.0", MANYLINUX_2014,
            requires=["filelock"],
            files=lambda _py: _package("triton", "3.1.0", {
                "triton/_C/libtriton.so": shared_object(_GLIBC_2_17),
            }),
        ),
        *cpython_wheels(
            # torch 2.5 really is tagged manylinux1 while needing glibc 2.17.
            "torch", "2.5.0", "manylinux1_x86_64",
            requires=[
                f"nvidia-cublas-cu12==12.4; {_LINUX_X86_64}",
                f"nvidia-cudnn-cu12==9.1; {_LINUX_X86_64}",
                f"triton==3.1.0; {_LINUX_X86_64}",
                "sympy==1.13",
                "networkx",
                "filelock",
                "numpy",
            ],
            files=lambda py: _package("torch", "2.5.0", {
                "torch/lib/libtorch_cpu.so": shared_object(
                    ("GLIBC_2.2.5", "GLIBC_2.17"), other_needed={"libm.so.6": ["GLIBC_2.2.5"]}
                ),
                extension("torch/_C", py): shared_object(_BASELINE),
            }),
        ),
        *cpython_wheels(
            "torchvision", "0.20.0", "manylinux1_x86_64",
            requires=["torch==2.5.0", "numpy", "pillow>=5.3.0,!=8.3.*"],
            files=lambda _py: _package("torchvision", "0.20.0", {
                "torchvision/_C.so": shared_object(_GLIBC_2_17),
            }),
        ),
        *cpython_wheels(
            "pillow", "11.0", "manylinux_2_28_x86_64",
            files=lambda py: {
                "PIL/__init__.py": '__version__ = "11.0"\n',
                extension("PIL/_imaging", py): shared_object(("GLIBC_2.2.5", "GLIBC_2.28")),
            },
        ),
    )
    misfits = (
        Dist("sdistonly", "1.0", sdist=True),
        Dist("maconly", "1.0", tags="py3-none-macosx_11_0_arm64"),
        Dist("oldpy", "1.0", tags="cp38-cp38-manylinux_2_17_x86_64"),
        Dist(
            "badso",
            "1.0",
            tags="py3-none-manylinux_2_17_x86_64",
            files=_package("badso", "1.0", {
                "badso/_core.so": shared_object(("GLIBC_2.2.5", "GLIBC_2.39")),
            }),
        ),
        Dist(
            "notelf",
            "1.0",
            tags="py3-none-manylinux_2_17_x86_64",
            # A Mach-O header: a macOS library renamed to .so.
            files=_package("notelf", "1.0", {"notelf/_core.so": b"\xcf\xfa\xed\xfe" + bytes(60)}),
        ),
        Dist(
            "liar",
            "1.0",
            tags="py3-none-manylinux_2_17_x86_64",
            files=_package("liar", "1.0", {
                "liar/_core.so": shared_object(("GLIBC_2.17",), machine=EM_AARCH64),
            }),
        ),
    )
    return (*pure, *nvidia, *compiled, *misfits)


def build_wheelhouse(directory: Path, dists: Iterable[Dist] | None = None) -> Path:
    """Write every distribution (default: :func:`default_dists`) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for dist in default_dists() if dists is None else dists:
        write_dist(dist, directory)
    return directory


def install_wheel(wheel: Path, target: Path) -> Path:
    """Unpack ``wheel`` into ``target`` roughly as ``uv pip install --target`` does.

    ``.data/purelib`` and ``platlib`` go to the root, ``.data/scripts`` and
    console scripts to ``bin/``; RECORD is rewritten to the installed paths.
    Returns the installed ``.dist-info`` directory.
    """
    installed: dict[str, tuple[bytes, int]] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            destination = _installed_path(name)
            if destination is not None and not name.endswith(".dist-info/RECORD"):
                installed[destination] = (archive.read(name), 0o644)
    dist_info = next(path.split("/")[0] for path in installed if ".dist-info/" in path)
    entry_points = installed.get(f"{dist_info}/entry_points.txt", (b"", 0))[0].decode()
    for line in entry_points.splitlines():
        if "=" in line:
            script, reference = (part.strip() for part in line.split("=", 1))
            module, function = reference.split(":")
            launcher = f"import sys\nfrom {module} import {function}\nsys.exit({function}())\n"
            installed[f"bin/{script}"] = (launcher.encode(), 0o755)
    installed[f"{dist_info}/INSTALLER"] = (b"tests\n", 0o644)
    record_path = f"{dist_info}/RECORD"
    installed[record_path] = (_record(installed, record_path), 0o644)
    for relative, (data, mode) in installed.items():
        path = Path(target) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if relative.startswith("bin/") else mode)
    return Path(target) / dist_info


def _installed_path(name: str) -> str | None:
    if name.endswith("/"):
        return None
    first, _, rest = name.partition("/")
    if not first.endswith(".data"):
        return name
    scheme, _, inner = rest.partition("/")
    if scheme in ("purelib", "platlib"):
        return inner
    if scheme == "scripts":
        return f"bin/{inner}"
    return None  # headers and data are not used by these wheels


def _record(entries: Mapping[str, tuple[bytes, int]], record_path: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for path, (data, _) in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([path, f"sha256={digest}", len(data)])
    writer.writerow([record_path, "", ""])
    return buffer.getvalue().encode()


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data


_DEFAULT_TARGET = Target()


def uv_pip(
    arguments: Sequence[str | Path],
    *,
    wheelhouse: Path,
    cache_dir: Path,
    target: Target = _DEFAULT_TARGET,
) -> CommandResult:
    """Run ``uv pip <arguments>`` offline against ``wheelhouse`` only, for ``target``.

    Inherited ``UV_*`` variables are dropped so a developer's index settings
    cannot leak in; uv may use the interpreters it finds but never downloads one.
    """
    command = [
        find_uv_bin(), "pip", *arguments,
        "--no-index", "--find-links", wheelhouse,
        "--python-platform", target.uv_platform,
        "--python-version", target.python_version,
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("UV_")}
    env.update(UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1", UV_CACHE_DIR=str(cache_dir))
    return run_command(command, env=env, timeout=120)
