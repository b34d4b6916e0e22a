"""Whether files compile, by CPython's own parser, many at a time.

Files that cannot declare endpoints (they never mention runpod_flash) are only
checked to compile. In a large project that is most of the scan's work, so it
runs in worker processes while the main process reads the endpoint files. This
module imports nothing heavy: a worker starts in a fraction of a second.

A problem is data, ``(kind, message, line, column)``, so that it crosses
process boundaries; :mod:`flashbuild.source.syntax` turns it into an error.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._util.processes import worker_pool

if TYPE_CHECKING:
    import concurrent.futures

# kind: "syntax" (message, line, column), "nesting" (too deep for the parser), "invalid"
Problem = tuple[str, str, int | None, int | None]

# Below this many files a worker process costs more than it saves.
PARALLEL_THRESHOLD = 300
_CHUNK = 100


def syntax_problem(source: bytes) -> Problem | None:
    """Why ``source`` does not compile, or None. The code is parsed, never run."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return "syntax", exc.msg, exc.lineno, exc.offset
    except RecursionError:
        return "nesting", "", None, None
    except (ValueError, MemoryError) as exc:  # null bytes
        return "invalid", f"{type(exc).__name__}: {exc}", None, None
    return None


def _check_chunk(items: Sequence[tuple[str, bytes]]) -> list[tuple[str, Problem]]:
    return [(path, problem) for path, source in items
            if (problem := syntax_problem(source)) is not None]


class SyntaxChecks:
    """Checks started now, their problems collected by :meth:`problems`.

    With many files and more than one CPU, worker processes check them while
    the caller goes on; otherwise they are checked when the problems are asked for.
    """

    def __init__(self, items: Sequence[tuple[str, bytes]]) -> None:
        self._items = items
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._futures: list[concurrent.futures.Future[list[tuple[str, Problem]]]] = []
        workers = min((os.cpu_count() or 1) - 1, len(items) // PARALLEL_THRESHOLD)
        if workers >= 1:
            self._pool = worker_pool(workers)
            self._futures = [self._pool.submit(_check_chunk, items[start:start + _CHUNK])
                             for start in range(0, len(items), _CHUNK)]

    def problems(self) -> list[tuple[str, Problem]]:
        """``(path, problem)`` of every file that does not compile, in the order given."""
        if self._pool is None:
            return _check_chunk(self._items)
        try:
            return [found for future in self._futures for found in future.result()]
        except (OSError, RuntimeError):  # BrokenProcessPool is a RuntimeError
            return _check_chunk(self._items)  # no worker could run: check them here
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers (also when the caller fails before asking for the problems)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
