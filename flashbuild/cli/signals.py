"""SIGTERM (what CI sends on cancel) is handled as Ctrl-C: cleanup runs, then exit 130."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt; a second signal cannot cut cleanup short."""

    def interrupt(_signum: int, _frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    try:
        previous = {signum: signal.signal(signum, interrupt)
                    for signum in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread (e.g. an embedding test runner): leave them be
        previous = {}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

