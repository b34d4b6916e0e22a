"""A tar entry as a gzip member of stored (uncompressed) deflate blocks.

The manifest records the artifact's compressed size, and is inside the
artifact: its own compressed size must be known before it is written. Stored
blocks make that a plain function of its length (RFC 1951 3.2.4: each block
is a 5-byte header and up to 65,535 bytes as they are), so the manifest's
writer can solve the small fixed point exactly (``render.manifest``). Any
gzip reader decompresses such a member like the others.
"""

from __future__ import annotations

import io
import struct
import zlib

from .members import ArchiveMember
from .parallel_gzip import gzip_header
from .tar import END_OF_ARCHIVE, write_tar_part

_MAX_STORED = 65_535  # bytes in one stored block
_BLOCK_HEADER = 5  # BFINAL/BTYPE byte, LEN and NLEN
_GZIP_FRAME = len(gzip_header(0)) + 8  # header, then CRC-32 and ISIZE


def stored_gzip(data: bytes) -> bytes:
    """``data`` as one gzip member of stored blocks (no time, no name, as the others)."""
    out = bytearray(gzip_header(0))
    blocks = range(0, len(data), _MAX_STORED) if data else range(1)
    for start in blocks:
        chunk = data[start:start + _MAX_STORED]
        final = start + _MAX_STORED >= len(data)
        out += struct.pack("<BHH", 1 if final else 0, len(chunk), len(chunk) ^ 0xFFFF) + chunk
    out += struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return bytes(out)


def stored_gzip_size(length: int) -> int:
    """The length of :func:`stored_gzip` of ``length`` bytes."""
    blocks = max(1, -(-length // _MAX_STORED))
    return _GZIP_FRAME + blocks * _BLOCK_HEADER + length


def tar_entry(name: str, data: bytes, *, mtime: int, final: bool) -> bytes:
    """The tar entry of a file ``name`` holding ``data`` (``final``: then the end-of-archive
    blocks), as the rest of the artifact writes entries."""
    out = io.BytesIO()
    write_tar_part([(name, ArchiveMember(name=name, data=data))], out, mtime=mtime, final=final)
    return out.getvalue()


def stored_member_size(name: str, length: int, *, final: bool) -> int:
    """The compressed size of the stored member of a ``length``-byte file ``name``."""
    header = len(tar_entry(name, b"", mtime=0, final=False))  # fixed: name and mode
    padded = -(-length // 512) * 512
    return stored_gzip_size(header + padded + (len(END_OF_ARCHIVE) if final else 0))
