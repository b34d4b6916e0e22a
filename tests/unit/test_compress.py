"""Tests for flashbuild.artifact.parallel_gzip: parallel gzip that is deterministic and
readable everywhere."""

from __future__ import annotations

import array
import gzip
import io
import itertools
import os
import random
import shutil
import struct
import subprocess
import sysconfig
import tarfile
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from flashbuild.artifact import parallel_gzip as compress
from flashbuild.artifact.parallel_gzip import DEFAULT_BLOCK_SIZE, MIN_BLOCK_SIZE, ParallelGzipWriter

BLOCK = MIN_BLOCK_SIZE  # the smallest block gives many blocks from little data
MTIME = 1_700_000_000
END_OF_ARCHIVE = b"\0" * (2 * tarfile.BLOCKSIZE)
WORDS = [b"import", b"def", b"return", b"self", b"value", b"None", b"flash", b"\n", b"=", b"("]

needs_gzip = pytest.mark.skipif(shutil.which("gzip") is None, reason="no gzip command")


def mixed_data(size: int, seed: int = 0) -> bytes:
    """``size`` bytes alternating between text-like runs and random bytes."""
    rng = random.Random(seed)
    parts: list[bytes] = []
    total = 0
    while total < size:
        if rng.random() < 0.5:
            part = b" ".join(rng.choices(WORDS, k=rng.randrange(1, 20_000)))
        else:
            part = rng.randbytes(rng.randrange(1, 40_000))
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


def pieces(data: bytes, sizes: Iterable[int] | None) -> Iterator[bytes]:
    """``data`` cut into pieces of ``sizes`` (cycled), or whole when ``sizes`` is None."""
    if sizes is None:
        yield data
        return
    start = 0
    for size in itertools.cycle(sizes):
        if start >= len(data):
            return
        yield data[start : start + size]
        start += size


def gzip_bytes(
    data: bytes,
    *,
    threads: int = 1,
    level: int = 6,
    block_size: int = BLOCK,
    chunks: Iterable[int] | None = None,
) -> bytes:
    sink = io.BytesIO()
    with ParallelGzipWriter(sink, level=level, threads=threads, block_size=block_size) as writer:
        for piece in pieces(data, chunks):
            writer.write(piece)
    return sink.getvalue()


def worker_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("gzip-block")]


@pytest.fixture(scope="module")
def python_sources() -> bytes:
    """About 4 MB of the standard library's Python files: a realistic, compressible corpus."""
    corpus = bytearray()
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        corpus += path.read_bytes()
        if len(corpus) >= 4_000_000:
            break
    assert len(corpus) >= 1_000_000, "too little Python source found for a meaningful corpus"
    return bytes(corpus)


# --- determinism -------------------------------------------------------------------

CHUNKINGS = {
    "whole": None,
    "1000-byte writes": [1000],
    "irregular writes": [1, 7, BLOCK + 1, 300, 2 * BLOCK - 1, 2],
}


@pytest.mark.parametrize(
    "size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 5 * BLOCK + 12_345]
)
def test_output_depends_on_neither_thread_count_nor_write_sizes(size: int) -> None:
    data = mixed_data(size, seed=size)
    reference = gzip_bytes(data)
    for threads, chunks in itertools.product((1, 2, 4), CHUNKINGS.values()):
        assert gzip_bytes(data, threads=threads, chunks=chunks) == reference, (threads, chunks)
    assert gzip.decompress(reference) == data


def test_several_megabytes_with_the_default_block_size() -> None:
    data = mixed_data(5_000_000, seed=5)
    reference = gzip_bytes(data, block_size=DEFAULT_BLOCK_SIZE)
    for threads in (2, 4):
        for chunks in (None, [MIN_BLOCK_SIZE], [10_007, 1, 3 * DEFAULT_BLOCK_SIZE]):
            output = gzip_bytes(data, threads=threads, block_size=DEFAULT_BLOCK_SIZE, chunks=chunks)
            assert output == reference, (threads, chunks)
    assert gzip.decompress(reference) == data


def test_block_size_is_part_of_the_output_contract() -> None:
    data = mixed_data(6 * BLOCK, seed=6)
    small, large = gzip_bytes(data, block_size=BLOCK), gzip_bytes(data, block_size=2 * BLOCK)
    assert small != large  # the cut points moved, so the bytes did
    assert gzip.decompress(small) == gzip.decompress(large) == data


def test_threads_default_to_the_cpu_count_and_change_nothing() -> None:
    data = mixed_data(4 * BLOCK, seed=7)
    sink = io.BytesIO()
    with ParallelGzipWriter(sink, block_size=BLOCK) as writer:  # threads=None
        writer.write(data)
    assert sink.getvalue() == gzip_bytes(data, threads=1)


# --- threads -------------------------------------------------------------------------


def test_blocks_are_compressed_on_several_worker_threads(monkeypatch) -> None:
    seen: set[int] = set()
    original = compress._compress_block

    def slow_recording(*args):
        seen.add(threading.get_ident())
        time.sleep(0.01)  # keep workers busy so the pool has to use more than one
        return original(*args)

    monkeypatch.setattr(compress, "_compress_block", slow_recording)
    data = mixed_data(12 * BLOCK, seed=8)
    assert gzip.decompress(gzip_bytes(data, threads=4)) == data
    assert threading.get_ident() not in seen
    assert len(seen) >= 2
    assert worker_threads() == []  # close() stopped them


def test_one_thread_compresses_in_the_calling_thread(monkeypatch) -> None:
    seen: set[int] = set()
    original = compress._compress_block

    def recording(*args):
        seen.add(threading.get_ident())
        return original(*args)

    monkeypatch.setattr(compress, "_compress_block", recording)
    gzip_bytes(mixed_data(3 * BLOCK), threads=1)
    assert seen == {threading.get_ident()}


def test_memory_stays_bounded_when_the_writer_outpaces_the_threads() -> None:
    block_size, total = 4 * BLOCK, 48 * 1024 * 1024
    rng = random.Random(9)
    tracemalloc.start()
    try:
        # The output is discarded so that only the writer's own memory is measured.
        writer = ParallelGzipWriter(_DiscardingSink(), level=1, threads=2, block_size=block_size)
        for _ in range(total // BLOCK):
            writer.write(rng.randbytes(BLOCK))  # random data: compression is the slow side
        writer.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 2 x threads blocks in flight, each with its input and output, plus the buffer.
    assert peak < 16 * block_size, f"peak {peak} bytes: blocks piled up instead of waiting"
    assert writer.uncompressed_size == total


class _DiscardingSink:
    def write(self, data: bytes) -> int:
        return len(data)


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 3])
def test_a_failing_block_surfaces_from_write_and_leaves_the_member_unfinished(
    monkeypatch, threads: int
) -> None:
    calls = itertools.count()
    original = compress._compress_block

    def failing_third(*args):
        if next(calls) == 2:
            raise RuntimeError("deflate failed")
        return original(*args)

    monkeypatch.setattr(compress, "_compress_block", failing_third)
    sink = io.BytesIO()
    writer = ParallelGzipWriter(sink, threads=threads, block_size=BLOCK)
    with pytest.raises(RuntimeError, match="deflate failed"), writer:
        for piece in pieces(mixed_data(20 * BLOCK), [BLOCK]):
            writer.write(piece)
    assert writer.closed
    with pytest.raises(ValueError):
        writer.write(b"more")
    with pytest.raises(EOFError):  # no final block, no trailer
        gzip.decompress(sink.getvalue())
    assert worker_threads() == []


@pytest.mark.parametrize("threads", [1, 3])
def test_a_failing_last_block_surfaces_from_close(monkeypatch, threads: int) -> None:
    original = compress._compress_block

    def failing_last(engine, block, dictionary, level, last):
        if last:
            raise RuntimeError("deflate failed at the end")
        return original(engine, block, dictionary, level, last)

    monkeypatch.setattr(compress, "_compress_block", failing_last)
    sink = io.BytesIO()
    writer = ParallelGzipWriter(sink, threads=threads, block_size=BLOCK)
    writer.write(mixed_data(3 * BLOCK + 1))
    with pytest.raises(RuntimeError, match="at the end"):
        writer.close()
    with pytest.raises(EOFError):
        gzip.decompress(sink.getvalue())
    with pytest.raises(ValueError):
        writer.write(b"more")
    assert worker_threads() == []


def test_a_failing_sink_surfaces_and_stops_the_threads() -> None:
    class BrokenSink:
        def __init__(self) -> None:
            self.writes = 0

        def write(self, data: bytes) -> int:
            self.writes += 1
            if self.writes == 3:
                raise OSError("disk full")
            return len(data)

    writer = ParallelGzipWriter(BrokenSink(), threads=2, block_size=BLOCK)
    with pytest.raises(OSError, match="disk full"):
        writer.write(mixed_data(10 * BLOCK))
        writer.close()
    with pytest.raises(ValueError):
        writer.close()  # the member cannot be finished any more
    assert worker_threads() == []


@pytest.mark.parametrize(
    "options",
    [
        {"level": -1},
        {"level": 10},
        {"level": 6.0},
        {"threads": 0},
        {"threads": -2},
        {"block_size": MIN_BLOCK_SIZE - 1},
        {"block_size": 0},
    ],
)
def test_invalid_options_are_refused_before_anything_is_written(options: dict) -> None:
    sink = io.BytesIO()
    with pytest.raises(ValueError):
        ParallelGzipWriter(sink, **options)
    assert sink.getvalue() == b""


def test_close_finishes_once_and_leaves_the_sink_open() -> None:
    sink = io.BytesIO()
    writer = ParallelGzipWriter(sink, threads=2, block_size=BLOCK)
    writer.write(b"data")
    writer.close()
    writer.close()
    assert not sink.closed
    assert gzip.decompress(sink.getvalue()) == b"data"
    with pytest.raises(ValueError):
        writer.write(b"late")


# --- format --------------------------------------------------------------------------


@pytest.mark.parametrize("level, extra_flags", [(0, 0), (1, 4), (2, 0), (6, 0), (9, 2)])
def test_header_has_no_name_and_no_time(level: int, extra_flags: int) -> None:
    header = gzip_bytes(b"data", level=level)[:10]
    # magic, deflate, no flags, MTIME 0, XFL, OS 255 (unknown)
    assert header == bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, extra_flags, 255])
    # The header gzip.GzipFile writes for the artifact today (gzip.compress may say OS 3).
    current = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=current, mtime=0, compresslevel=level):
        pass
    assert header == current.getvalue()[:10]


def test_sizes_checksum_and_trailer_describe_the_data() -> None:
    data = mixed_data(2 * BLOCK + 3, seed=10)
    sink = io.BytesIO()
    with ParallelGzipWriter(sink, threads=2, block_size=BLOCK) as writer:
        assert writer.write(data[:10]) == 10
        assert writer.write(memoryview(data)[10:]) == len(data) - 10
        assert writer.tell() == writer.uncompressed_size == len(data)
        assert writer.write(array.array("I", [1, 2])) == 8  # any buffer counts in bytes
    output = sink.getvalue()
    data += array.array("I", [1, 2]).tobytes()
    assert writer.uncompressed_size == len(data)
    assert writer.compressed_size == len(output)
    assert writer.crc32 == zlib.crc32(data)
    assert output[-8:] == struct.pack("<II", zlib.crc32(data), len(data))


@pytest.mark.parametrize("level", range(10))
def test_every_level_writes_exactly_one_member(level: int) -> None:
    data = mixed_data(3 * BLOCK + 5, seed=level)
    output = gzip_bytes(data, level=level, threads=2)
    assert gzip.decompress(output) == data
    assert zlib.decompress(output, 31) == data
    decompressor = zlib.decompressobj(31)
    assert decompressor.decompress(output) == data
    assert decompressor.eof and decompressor.unused_data == b""  # one member, nothing after
    assert output == gzip_bytes(data, level=level, threads=1)
    if level == 0:
        assert len(output) > len(data)  # stored blocks


@pytest.mark.parametrize("block_size", [MIN_BLOCK_SIZE, DEFAULT_BLOCK_SIZE])
def test_ratio_is_within_two_percent_of_single_stream_gzip(
    python_sources: bytes, block_size: int
) -> None:
    # Small blocks only stay this close because each is primed with its predecessor's tail.
    ours = len(gzip_bytes(python_sources, threads=2, block_size=block_size))
    reference = len(gzip.compress(python_sources, 6, mtime=0))
    assert abs(ours - reference) <= 0.02 * reference, (ours, reference)


def test_lower_levels_compress_less(python_sources: bytes) -> None:
    sizes = {level: len(gzip_bytes(python_sources, level=level, threads=2)) for level in (1, 9)}
    assert sizes[1] > sizes[9]


@needs_gzip
@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("size", [0, 5 * BLOCK + 3])
def test_gzip_command_accepts_the_output(tmp_path: Path, level: int, size: int) -> None:
    data = mixed_data(size, seed=11)
    path = tmp_path / "data.gz"
    path.write_bytes(gzip_bytes(data, level=level, threads=2))
    subprocess.run(["gzip", "-t", str(path)], check=True, capture_output=True)
    decompressed = subprocess.run(["gzip", "-dc", str(path)], check=True, capture_output=True)
    assert decompressed.stdout == data


# --- tar.gz --------------------------------------------------------------------------

TREE: dict[str, object] = {
    "empty.txt": b"",
    "small.py": b"print('hello')\n",
    "spans/blocks.bin": mixed_data(3 * BLOCK + 1, seed=12),
    "données/é.txt": b"non-ASCII names need pax headers\n",
    "long/" + "n" * 120 + ".py": b"# a name longer than ustar's 100 characters\n",
    "link.py": ("link", "small.py"),
}


def tar_stream(tree: dict[str, object], writer) -> None:
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, content in tree.items():
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            if isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


def read_with_tarfile(path: Path, mode: str) -> dict[str, object]:
    tree: dict[str, object] = {}
    with tarfile.open(path, mode) as tar:
        for info in tar:
            if info.issym():
                tree[info.name] = ("link", info.linkname)
            elif info.isfile():
                tree[info.name] = tar.extractfile(info).read()
    return tree


def read_with_tar_command(path: Path, destination: Path) -> dict[str, object]:
    destination.mkdir()
    subprocess.run(
        ["tar", "xzf", str(path), "-C", str(destination)],
        check=True,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},  # non-ASCII names as UTF-8
    )
    tree: dict[str, object] = {}
    for file in sorted(destination.rglob("*")):
        name = file.relative_to(destination).as_posix()
        if file.is_symlink():
            tree[name] = ("link", os.readlink(file))
        elif file.is_file():
            tree[name] = file.read_bytes()
    return tree


@pytest.mark.parametrize("threads", [1, 3])
def test_tar_stream_through_the_writer_reads_back(tmp_path: Path, threads: int) -> None:
    path = tmp_path / "tree.tar.gz"
    with path.open("wb") as file, ParallelGzipWriter(
        file, threads=threads, block_size=BLOCK
    ) as writer:
        tar_stream(TREE, writer)
    assert read_with_tarfile(path, "r:gz") == TREE
    assert read_with_tarfile(path, "r:*") == TREE
    if shutil.which("tar"):
        assert read_with_tar_command(path, tmp_path / "extracted") == TREE


def test_tarfile_seekable_mode_can_write_through_the_writer(tmp_path: Path) -> None:
    # package.py opens tarfile in "w" mode, which asks the file for its position.
    path = tmp_path / "tree.tar.gz"
    with (
        path.open("wb") as file,
        ParallelGzipWriter(file, threads=2, block_size=BLOCK) as writer,
        tarfile.open(fileobj=writer, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        info = tarfile.TarInfo("a.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    assert read_with_tarfile(path, "r:gz") == {"a.txt": b"hello"}


def tar_entry(name: str, content: bytes) -> bytes:
    """One regular-file entry: pax/ustar header, content, NUL padding to 512 bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(content), MTIME, 0o644
    header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    return header + content + b"\0" * (-len(content) % tarfile.BLOCKSIZE)


def test_two_members_join_into_one_archive_for_every_reader(tmp_path: Path) -> None:
    # A cached dependency part without end-of-archive blocks, then a fresh project part.
    dependencies = {
        "deps/pkg/__init__.py": b"",
        "deps/pkg/données.py": "VALUE = 'é'\n".encode(),
        "deps/" + "d" * 150 + ".py": b"# long name\n",
        "deps/pkg/native.so": mixed_data(2 * BLOCK + 17, seed=13),
    }
    project = {
        "app/main.py": b"import pkg\n",
        "app/data.bin": mixed_data(BLOCK + 1, seed=14),
    }
    dependency_part = b"".join(tar_entry(n, c) for n, c in dependencies.items())
    project_part = b"".join(tar_entry(n, c) for n, c in project.items()) + END_OF_ARCHIVE
    assert b"path=" in dependency_part  # pax records really cross into the joined archive
    path = tmp_path / "artifact.tar.gz"
    path.write_bytes(
        gzip_bytes(dependency_part, threads=2) + gzip_bytes(project_part, threads=3, level=9)
    )
    expected = {**dependencies, **project}
    assert gzip.decompress(path.read_bytes()) == dependency_part + project_part
    assert read_with_tarfile(path, "r:gz") == expected
    assert read_with_tarfile(path, "r:*") == expected
    if shutil.which("tar"):
        assert read_with_tar_command(path, tmp_path / "extracted") == expected
    if shutil.which("gzip"):
        subprocess.run(["gzip", "-t", str(path)], check=True, capture_output=True)


# --- properties ----------------------------------------------------------------------

# Lengths are tiny or near a multiple of the smallest block, so most examples cross cuts.
length = st.one_of(
    st.integers(0, 1_000),
    st.builds(
        lambda blocks, offset: max(0, blocks * MIN_BLOCK_SIZE + offset),
        st.integers(1, 3),
        st.integers(-300, 300),
    ),
)
segment = st.one_of(
    st.binary(max_size=2_000),
    st.tuples(st.just("random"), length, st.integers(0, 2**32 - 1)),
    st.tuples(st.just("repeat"), length, st.binary(min_size=1, max_size=50)),
)


def build_data(segments: list) -> bytes:
    parts = []
    for part in segments:
        if isinstance(part, bytes):
            parts.append(part)
        elif part[0] == "random":
            parts.append(random.Random(part[2]).randbytes(part[1]))
        else:
            parts.append((part[2] * part[1])[: part[1]])
    return b"".join(parts)


@given(
    segments=st.lists(segment, min_size=1, max_size=6),
    chunks=st.lists(st.integers(1, 150_000), min_size=1, max_size=8),
    block_size=st.one_of(st.just(MIN_BLOCK_SIZE), st.integers(MIN_BLOCK_SIZE, 3 * MIN_BLOCK_SIZE)),
    threads=st.integers(2, 4),
    level=st.integers(0, 9),
)
def test_any_data_round_trips_identically_across_thread_counts(
    segments: list, chunks: list[int], block_size: int, threads: int, level: int
) -> None:
    data = build_data(segments)
    event(f"whole blocks: {min(len(data) // block_size, 4)}")
    single = gzip_bytes(data, threads=1, level=level, block_size=block_size)
    parallel = gzip_bytes(data, threads=threads, level=level, block_size=block_size, chunks=chunks)
    assert parallel == single
    assert gzip.decompress(parallel) == data


# --- engines ---------------------------------------------------------------------------


@pytest.mark.parametrize(("engine", "levels"), [("zlib-ng", (0, 1, 6, 9)), ("isal", (0, 2, 3)),
                                                ("zlib", (1, 6))])
def test_every_engine_writes_standard_gzip_whatever_the_threads(engine, levels) -> None:
    data = mixed_data(5 * BLOCK + 777, seed=3)
    for level in levels:
        outputs = set()
        for threads in (1, 3):
            sink = io.BytesIO()
            with ParallelGzipWriter(sink, level=level, threads=threads, block_size=BLOCK,
                                    engine=engine) as writer:
                writer.write(data)
            outputs.add(sink.getvalue())
        (output,) = outputs
        assert gzip.decompress(output) == data
        assert zlib.decompress(output, wbits=31) == data


def test_engines_differ_in_bytes_and_levels_are_checked_per_engine() -> None:
    data = mixed_data(3 * BLOCK, seed=4)
    written = {}
    for engine in ("zlib-ng", "isal", "zlib"):
        sink = io.BytesIO()
        with ParallelGzipWriter(sink, level=2, block_size=BLOCK, engine=engine) as writer:
            writer.write(data)
        written[engine] = sink.getvalue()
    assert len(set(written.values())) == 3
    with pytest.raises(ValueError, match="isal's level must be an int from 0 to 3, got 6"):
        ParallelGzipWriter(io.BytesIO(), level=6, engine="isal")
    with pytest.raises(ValueError, match="engine must be one of"):
        ParallelGzipWriter(io.BytesIO(), engine="brotli")


def test_writers_sharing_one_pool_write_what_each_writes_alone() -> None:
    from concurrent.futures import ThreadPoolExecutor

    inputs = [mixed_data(size, seed=seed) for seed, size in enumerate((7 * BLOCK + 5, 3, BLOCK))]
    alone = []
    for data in inputs:
        sink = io.BytesIO()
        with ParallelGzipWriter(sink, level=6, threads=1, block_size=BLOCK) as writer:
            writer.write(data)
        alone.append(sink.getvalue())

    def shared_write(data: bytes, pool: ThreadPoolExecutor) -> bytes:
        sink = io.BytesIO()
        with ParallelGzipWriter(sink, level=6, threads=2, block_size=BLOCK,
                                executor=pool) as writer:
            for start in range(0, len(data), 999):
                writer.write(data[start:start + 999])
        return sink.getvalue()

    with ThreadPoolExecutor(max_workers=2) as pool, ThreadPoolExecutor(max_workers=3) as feeders:
        together = list(feeders.map(lambda data: shared_write(data, pool), inputs))
        assert together == alone
        # The pool outlives its writers, even one whose body raised.
        with pytest.raises(RuntimeError), ParallelGzipWriter(
                io.BytesIO(), threads=2, block_size=BLOCK, executor=pool) as writer:
            writer.write(inputs[0])
            raise RuntimeError
        assert pool.submit(len, b"ok").result() == 2
