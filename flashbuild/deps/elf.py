"""Just enough of the ELF format to audit shared objects, in pure Python.

Reads the ELF header (class, byte order, machine) and the symbol versions a
file requires from other libraries (``GLIBC_2.17``...), from the
``.gnu.version_r`` sections or, when section headers were stripped, from the
dynamic segment. Files are read with seeks, never whole: a CUDA library can be
a gigabyte.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

EM_X86_64 = 62
MACHINE_NAMES = {3: "x86 (32-bit)", 40: "ARM", 62: "x86-64", 183: "AArch64", 243: "RISC-V"}
_GLIBC_VERSION = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.\d+)?$")


@dataclass(frozen=True, kw_only=True)
class ElfInfo:
    """What the audit needs from an ELF header and its version requirements."""

    bits: int  # 32 or 64
    little_endian: bool
    machine: int  # e_machine: 62 is x86-64
    required_versions: tuple[str, ...]  # ``GLIBC_2.17``, ``GLIBCXX_3.4.21``...

    @property
    def glibc(self) -> tuple[int, int] | None:
        """The highest ``GLIBC_x.y`` required, or None when none is."""
        found = [glibc_version(name) for name in self.required_versions]
        return max((version for version in found if version), default=None)


class ElfFormatError(ValueError):
    """A file is not an ELF file, or its headers cannot be read."""


def read_elf(path: Path) -> ElfInfo:
    """Read an ELF file's class, byte order, machine and required symbol versions.

    Versions come from the ``.gnu.version_r`` sections; a file without section
    headers is read through its dynamic segment instead. Raises
    :class:`ElfFormatError` for files that are not ELF or are truncated.
    """
    with open(path, "rb") as file:
        ident = file.read(16)
        if len(ident) < 16 or ident[:4] != b"\x7fELF":
            raise ElfFormatError("not an ELF file")
        bits = {1: 32, 2: 64}.get(ident[4])
        little_endian = {1: True, 2: False}.get(ident[5])
        if bits is None or little_endian is None:
            raise ElfFormatError("unknown ELF class or byte order")
        order = "<" if little_endian else ">"
        (machine,) = struct.unpack(order + "H", _read_at(file, 18, 2))
        versions: tuple[str, ...] = ()
        if bits == 64 and little_endian:
            versions = tuple(_required_versions(file))
    return ElfInfo(
        bits=bits, little_endian=little_endian, machine=machine, required_versions=versions
    )


def glibc_version(name: str) -> tuple[int, int] | None:
    """``GLIBC_2.17`` -> (2, 17); other version names -> None."""
    match = _GLIBC_VERSION.match(name)
    return (int(match.group(1)), int(match.group(2))) if match else None


_EHDR64 = struct.Struct("<HHIQQQIHHHHHH")  # from e_type, after e_ident
_SHDR64 = struct.Struct("<IIQQQQIIQQ")
_PHDR64 = struct.Struct("<IIQQQQQQ")
_DYN64 = struct.Struct("<qQ")
_VERNEED = struct.Struct("<HHIII")
_VERNAUX = struct.Struct("<IHHII")
_SHT_GNU_VERNEED, _PT_LOAD, _PT_DYNAMIC = 0x6FFFFFFE, 1, 2
_DT_NULL, _DT_STRTAB, _DT_STRSZ, _DT_VERNEED, _DT_VERNEEDNUM = 0, 5, 10, 0x6FFFFFFE, 0x6FFFFFFF
_MAX_ENTRIES = 100_000  # bounds every walk, so a corrupt chain cannot loop forever


def _read_at(file: BinaryIO, offset: int, size: int) -> bytes:
    file.seek(offset)
    data = file.read(size)
    if len(data) != size:
        raise ElfFormatError("truncated ELF file")
    return data


def _required_versions(file: BinaryIO) -> Iterator[str]:
    header = _EHDR64.unpack(_read_at(file, 16, _EHDR64.size))
    phoff, shoff, phentsize, phnum, shentsize, shnum = (
        header[4], header[5], header[8], header[9], header[10], header[11]
    )
    if shoff and shentsize >= _SHDR64.size:
        if shnum == 0:  # extended numbering: the real count is in section 0
            shnum = _SHDR64.unpack(_read_at(file, shoff, _SHDR64.size))[5]
        sections = [
            _SHDR64.unpack(_read_at(file, shoff + i * shentsize, _SHDR64.size))
            for i in range(min(shnum, _MAX_ENTRIES))
        ]
        verneeds = [s for s in sections if s[1] == _SHT_GNU_VERNEED]
        for section in verneeds:
            if section[6] >= len(sections):
                raise ElfFormatError("version section links to a missing string table")
            strtab = sections[section[6]]
            yield from _walk_verneed(file, section[4], section[7], strtab[4], strtab[5])
        if verneeds:
            return
    yield from _versions_from_dynamic(file, phoff, phentsize, phnum)


def _versions_from_dynamic(file: BinaryIO, phoff: int, phentsize: int, phnum: int) -> Iterator[str]:
    if not phoff or phentsize < _PHDR64.size:
        return
    segments = [
        _PHDR64.unpack(_read_at(file, phoff + i * phentsize, _PHDR64.size))
        for i in range(min(phnum, _MAX_ENTRIES))
    ]
    loads = [s for s in segments if s[0] == _PT_LOAD]

    def file_offset(address: int) -> int:
        for _, _, offset, vaddr, _, filesz, _, _ in loads:
            if vaddr <= address < vaddr + filesz:
                return address - vaddr + offset
        raise ElfFormatError("dynamic entry points outside every loaded segment")

    for segment in (s for s in segments if s[0] == _PT_DYNAMIC):
        values: dict[int, int] = {}
        for index in range(min(segment[5] // _DYN64.size, _MAX_ENTRIES)):
            entry = _read_at(file, segment[2] + index * _DYN64.size, _DYN64.size)
            tag, value = _DYN64.unpack(entry)
            if tag == _DT_NULL:
                break
            values.setdefault(tag, value)
        if _DT_VERNEED in values and _DT_STRTAB in values:
            yield from _walk_verneed(
                file,
                file_offset(values[_DT_VERNEED]),
                values.get(_DT_VERNEEDNUM, _MAX_ENTRIES),
                file_offset(values[_DT_STRTAB]),
                values.get(_DT_STRSZ, 0),
            )


def _walk_verneed(
    file: BinaryIO, offset: int, count: int, strtab: int, strsz: int
) -> Iterator[str]:
    for _ in range(min(count, _MAX_ENTRIES)):
        _, aux_count, _, aux, next_entry = _VERNEED.unpack(_read_at(file, offset, _VERNEED.size))
        aux_offset = offset + aux
        for _ in range(min(aux_count, _MAX_ENTRIES)):
            _, _, _, name, next_aux = _VERNAUX.unpack(_read_at(file, aux_offset, _VERNAUX.size))
            yield _string_at(file, strtab, strsz, name)
            if not next_aux:
                break
            aux_offset += next_aux
        if not next_entry:
            break
        offset += next_entry


def _string_at(file: BinaryIO, strtab: int, strsz: int, index: int) -> str:
    if strsz and index >= strsz:
        raise ElfFormatError("version name outside its string table")
    file.seek(strtab + index)
    data = file.read(256)  # version names are short; one read is enough
    end = data.find(b"\0")
    if end < 0:
        raise ElfFormatError("unterminated version name")
    return data[:end].decode("ascii", errors="replace")
