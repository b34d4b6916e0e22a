"""Deterministic parallel gzip: one gzip member, compressed on several threads.

The uncompressed stream is cut into fixed-size blocks and each block is
deflated on its own, so several blocks can be compressed at once (``zlib``
releases the GIL while it works). The cut points depend only on the number of
bytes written, never on how ``write`` was called or on the thread count, so
the output is a function of the data, the level, the block size and the zlib
build: one thread and eight threads write the same bytes.

The deflate engine (zlib-ng by default, ISA-L or zlib: see
:mod:`~flashbuild.artifact.deflate`) is part of what decides the bytes.

Every block but the last ends with a sync flush, which stops it on a byte
boundary without ending the deflate stream; the last block ends it. The
blocks thus join into one ordinary deflate stream that any gzip reader
accepts. Each block is primed with the last 32 KiB of the block before it
(the whole deflate window), so matches reach back across a cut as they do in
single-stream gzip and the ratio stays within about 1% of ``gzip.compress``
at the same level. This is the scheme pigz uses.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from typing import Protocol

from ..config.compression import DEFAULT_ENGINE, ENGINES
from .deflate import DeflateEngine, deflate_engine

DEFAULT_BLOCK_SIZE = 1 << 20
# Larger than the window, so a block's dictionary always lies in the block before it.
MIN_BLOCK_SIZE = 64 * 1024
_WINDOW_SIZE = 1 << 15  # the farthest a deflate match can reach back
# zlib's default, as in the gzip module and GNU gzip; memLevel 9 came out
# slightly larger and no faster on Python sources.
_MEM_LEVEL = zlib.DEF_MEM_LEVEL
_OS_UNKNOWN = 255
_IN_FLIGHT_PER_THREAD = 2  # keeps every thread busy while the oldest block is written


class Sink(Protocol):
    """Where the gzip member goes: anything with a binary ``write``."""

    def write(self, data: bytes, /) -> object: ...


def gzip_header(level: int) -> bytes:
    """A gzip member header without file name, comment or time (RFC 1952)."""
    # XFL: 2 = slowest algorithm, 4 = fastest, as the gzip module and GNU gzip set it.
    extra_flags = {9: 2, 1: 4}.get(level, 0)
    return struct.pack("<BBBBIBB", 0x1F, 0x8B, zlib.DEFLATED, 0, 0, extra_flags, _OS_UNKNOWN)


class ParallelGzipWriter:
    """A write-only binary file that gzips everything written into ``sink``.

    ``sink`` receives exactly one gzip member: the header of
    :func:`gzip_header`, the compressed blocks in order, then the CRC-32 and
    the length modulo 2**32. ``close()`` finishes the member but leaves
    ``sink`` open, like ``gzip.GzipFile`` given a ``fileobj``. When the body
    of a ``with`` statement raises, the member is left unfinished.

    ``threads`` compress blocks, ``os.cpu_count()`` of them when ``None``;
    with one, blocks are compressed in the calling thread. Several writers can
    share one ``executor`` (then ``threads`` only bounds the blocks in flight). At most
    ``2 * threads`` blocks are queued or being compressed, and finished ones
    go to ``sink`` in order from the calling thread, so ``sink`` need not be
    thread-safe. An error while compressing is raised by the ``write`` or
    ``close`` that collects the block; after any error the writer refuses
    further use.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        level: int = 6,
        threads: int | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        engine: str = DEFAULT_ENGINE,
        executor: Executor | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {sorted(ENGINES)}, got {engine!r}")
        levels = ENGINES[engine].levels
        if type(level) is not int or level not in levels:
            raise ValueError(f"{engine}'s level must be an int from {levels[0]} to "
                             f"{levels[-1]}, got {level!r}")
        if threads is None:
            threads = os.cpu_count() or 1
        if type(threads) is not int or threads < 1:
            raise ValueError(f"threads must be an int >= 1, got {threads!r}")
        if type(block_size) is not int or block_size < MIN_BLOCK_SIZE:
            raise ValueError(f"block_size must be an int >= {MIN_BLOCK_SIZE}, got {block_size!r}")
        self._sink, self._level, self._block_size = sink, level, block_size
        self._engine = deflate_engine(engine)
        self._compressed_size = 0
        self._emit(gzip_header(level))  # before the threads start: a failing sink leaks none
        self._buffer = bytearray()  # the start of the next block
        self._dictionary = b""  # the last window of the previous block
        self._in_flight: deque[Future[bytes]] = deque()
        self._max_in_flight = _IN_FLIGHT_PER_THREAD * threads
        self._owns_executor = executor is None
        self._executor: Executor | None = executor or (
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gzip-block")
            if threads > 1
            else None
        )
        self._crc32 = 0
        self._uncompressed_size = 0
        self._closed = False
        self._failed = False

    @property
    def uncompressed_size(self) -> int:
        """Bytes written to the writer so far."""
        return self._uncompressed_size

    @property
    def compressed_size(self) -> int:
        """Bytes written to ``sink`` so far; the member's size once closed."""
        return self._compressed_size

    @property
    def crc32(self) -> int:
        """CRC-32 of the bytes written so far."""
        return self._crc32

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        """The uncompressed position, as ``gzip.GzipFile`` reports it (``tarfile`` asks)."""
        return self._uncompressed_size

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Compress ``data`` (any C-contiguous buffer) and return its length in bytes."""
        self._check_usable()
        view = memoryview(data).cast("B")
        self._crc32 = self._engine.crc32(view, self._crc32)
        self._uncompressed_size += len(view)
        start = 0
        if self._buffer:
            start = min(self._block_size - len(self._buffer), len(view))
            self._buffer += view[:start]
            if len(self._buffer) == self._block_size:
                self._submit(bytes(self._buffer), last=False)
                self._buffer.clear()
        while len(view) - start >= self._block_size:  # whole blocks skip the buffer
            self._submit(bytes(view[start : start + self._block_size]), last=False)
            start += self._block_size
        self._buffer += view[start:]
        return len(view)

    def close(self) -> None:
        """Compress the rest, write the trailer and release the threads; ``sink`` stays open."""
        if self._closed:
            return
        try:
            self._check_usable()
            self._closed = True
            # The final block may be empty; it still ends the deflate stream.
            self._submit(bytes(self._buffer), last=True)
            self._buffer.clear()
            while self._in_flight:
                self._emit(self._in_flight.popleft().result())
            size_modulo = self._uncompressed_size & 0xFFFFFFFF
            self._emit(struct.pack("<II", self._crc32, size_modulo))
        except BaseException:
            self._failed = True
            raise
        finally:
            self._closed = True
            self._release()

    def __enter__(self) -> ParallelGzipWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is None:
            self.close()
        else:  # an unfinished member is the caller's to discard; just stop the threads
            self._closed = True
            self._release()

    def _check_usable(self) -> None:
        if self._failed:
            raise ValueError("the gzip writer failed earlier; its output is incomplete")
        if self._closed:
            raise ValueError("write to a closed gzip writer")

    def _submit(self, block: bytes, *, last: bool) -> None:
        dictionary, self._dictionary = self._dictionary, block[-_WINDOW_SIZE:]
        try:
            if self._executor is None:
                self._emit(_compress_block(self._engine, block, dictionary, self._level, last))
                return
            self._in_flight.append(self._executor.submit(
                _compress_block, self._engine, block, dictionary, self._level, last))
            # Write what is ready, and wait for the oldest block when the queue is full.
            while self._in_flight and (
                self._in_flight[0].done() or len(self._in_flight) >= self._max_in_flight
            ):
                self._emit(self._in_flight.popleft().result())
        except BaseException:
            self._failed = True
            self._release()
            raise

    def _emit(self, data: bytes) -> None:
        self._sink.write(data)
        self._compressed_size += len(data)

    def _release(self) -> None:
        for future in self._in_flight:
            future.cancel()
        if self._executor is not None and self._owns_executor:
            self._executor.shutdown(wait=True, cancel_futures=True)
        elif self._executor is not None:  # shared: wait for this writer's own blocks only
            wait(self._in_flight)
        self._in_flight.clear()
        self._executor = None


def _compress_block(engine: DeflateEngine, block: bytes, dictionary: bytes, level: int,
                    last: bool) -> bytes:
    """Raw deflate of one block, primed with ``dictionary`` (the previous block's tail)."""
    compressor = (
        engine.compressobj(level, engine.deflated, -zlib.MAX_WBITS, _MEM_LEVEL, zdict=dictionary)
        if dictionary
        else engine.compressobj(level, engine.deflated, -zlib.MAX_WBITS, _MEM_LEVEL)
    )
    # A sync flush ends on a byte boundary without a final block, so the next block can follow.
    end = engine.finish if last else engine.sync_flush
    return compressor.compress(block) + compressor.flush(end)
