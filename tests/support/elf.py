"""Minimal ELF64 shared objects written in pure Python, so tests need no compiler.

The objects are not loadable, but they are valid enough for ``readelf -V`` and
for any reader that follows the format: an ELF header, a PT_LOAD and a
PT_DYNAMIC segment, and ``.dynstr``, ``.gnu.version_r``, ``.dynamic`` and
``.shstrtab`` sections. Each needed library gets one ``Elf64_Verneed`` entry
with one ``Elf64_Vernaux`` per required version (``GLIBC_2.17``...).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

EM_X86_64 = 62
EM_AARCH64 = 183

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_DYN = struct.Struct("<qQ")
_VERNEED = struct.Struct("<HHIII")
_VERNAUX = struct.Struct("<IHHII")

_PT_LOAD, _PT_DYNAMIC = 1, 2
_SHT_STRTAB, _SHT_DYNAMIC, _SHT_GNU_VERNEED = 3, 6, 0x6FFFFFFE
_SHF_WRITE, _SHF_ALLOC = 1, 2
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_STRSZ, _DT_SONAME = 0, 1, 5, 10, 14
_DT_VERNEED, _DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF


def elf_hash(name: bytes) -> int:
    """The System V ELF hash stored in ``vna_hash``."""
    value = 0
    for byte in name:
        value = (value << 4) + byte
        high = value & 0xF0000000
        if high:
            value ^= high >> 24
        value &= ~high & 0xFFFFFFFF
    return value


class _StringTable:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self.offsets: dict[str, int] = {"": 0}

    def add(self, text: str) -> int:
        if text not in self.offsets:
            self.offsets[text] = len(self.data)
            self.data += text.encode() + b"\0"
        return self.offsets[text]


def _align(buffer: bytearray, boundary: int) -> int:
    buffer += b"\0" * (-len(buffer) % boundary)
    return len(buffer)


def shared_object(
    glibc_versions: Sequence[str] = ("GLIBC_2.2.5",),
    *,
    machine: int = EM_X86_64,
    other_needed: Mapping[str, Sequence[str]] | None = None,
    soname: str | None = None,
    section_headers: bool = True,
) -> bytes:
    """Return the bytes of an ELF64 little-endian shared object.

    ``glibc_versions`` are required from ``libc.so.6``; ``other_needed`` maps
    further libraries to their required versions (``{"libm.so.6": ["GLIBC_2.29"]}``).
    ``section_headers=False`` leaves the section header table out, as
    ``strip --strip-section-headers`` would: only the dynamic segment remains.
    """
    needed: dict[str, Sequence[str]] = {"libc.so.6": tuple(glibc_versions)}
    needed.update(other_needed or {})

    dynstr = _StringTable()
    library_offsets = {library: dynstr.add(library) for library in needed}
    soname_offset = dynstr.add(soname) if soname else None
    version_offsets = {v: dynstr.add(v) for versions in needed.values() for v in versions}

    headers_size = _EHDR.size + 2 * _PHDR.size
    image = bytearray(headers_size)

    dynstr_offset = len(image)
    image += dynstr.data

    verneed_offset = _align(image, 8)
    version_index = 2  # 0 and 1 are reserved for local and global symbols
    libraries = list(needed.items())
    for position, (library, versions) in enumerate(libraries):
        last_library = position == len(libraries) - 1
        entry_size = _VERNEED.size + _VERNAUX.size * len(versions)
        image += _VERNEED.pack(
            1,
            len(versions),
            library_offsets[library],
            _VERNEED.size if versions else 0,
            0 if last_library else entry_size,
        )
        for number, version in enumerate(versions):
            last_version = number == len(versions) - 1
            image += _VERNAUX.pack(
                elf_hash(version.encode()),
                0,
                version_index,
                version_offsets[version],
                0 if last_version else _VERNAUX.size,
            )
            version_index += 1
    verneed_size = len(image) - verneed_offset

    dynamic_entries = [(_DT_NEEDED, library_offsets[library]) for library in needed]
    if soname_offset is not None:
        dynamic_entries.append((_DT_SONAME, soname_offset))
    dynamic_entries += [
        (_DT_STRTAB, dynstr_offset),
        (_DT_STRSZ, len(dynstr.data)),
        (_DT_VERNEED, verneed_offset),
        (_DT_VERNEEDNUM, len(needed)),
        (_DT_NULL, 0),
    ]
    dynamic_offset = _align(image, 8)
    for tag, value in dynamic_entries:
        image += _DYN.pack(tag, value)
    dynamic_size = len(image) - dynamic_offset
    load_size = len(image)

    section_names = _StringTable()
    sections: list[bytes] = [bytes(_SHDR.size)]
    shstrtab_index = 0
    if section_headers:
        dynstr_index = 1
        sections += [
            _SHDR.pack(section_names.add(".dynstr"), _SHT_STRTAB, _SHF_ALLOC,
                       dynstr_offset, dynstr_offset, len(dynstr.data), 0, 0, 1, 0),
            _SHDR.pack(section_names.add(".gnu.version_r"), _SHT_GNU_VERNEED, _SHF_ALLOC,
                       verneed_offset, verneed_offset, verneed_size, dynstr_index,
                       len(needed), 8, 0),
            _SHDR.pack(section_names.add(".dynamic"), _SHT_DYNAMIC, _SHF_ALLOC | _SHF_WRITE,
                       dynamic_offset, dynamic_offset, dynamic_size, dynstr_index, 0, 8,
                       _DYN.size),
        ]
        shstrtab_index = len(sections)
        name = section_names.add(".shstrtab")
        shstrtab_offset = len(image)
        image += section_names.data
        sections.append(_SHDR.pack(name, _SHT_STRTAB, 0, 0, shstrtab_offset,
                                   len(section_names.data), 0, 0, 1, 0))
        section_table_offset = _align(image, 8)
        for header in sections:
            image += header
    else:
        section_table_offset = 0
        sections = []

    identity = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # ELF64, little-endian, SysV
    image[: _EHDR.size] = _EHDR.pack(
        identity, 3, machine, 1, 0, _EHDR.size, section_table_offset, 0,
        _EHDR.size, _PHDR.size, 2, _SHDR.size, len(sections), shstrtab_index,
    )
    program_headers = _PHDR.pack(_PT_LOAD, 6, 0, 0, 0, load_size, load_size, 0x1000)
    program_headers += _PHDR.pack(_PT_DYNAMIC, 6, dynamic_offset, dynamic_offset,
                                  dynamic_offset, dynamic_size, dynamic_size, 8)
    image[_EHDR.size:headers_size] = program_headers
    return bytes(image)
