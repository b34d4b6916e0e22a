"""Timing named stages of a run, told to an optional listener as they start and end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Called with (stage, None) when a stage starts and (stage, seconds) when it ends.
StageListener = Callable[[str, "float | None"], None]


class StageTimer:
    """Times each stage and reports it to an optional listener."""

    def __init__(self, listener: StageListener | None) -> None:
        self.listener = listener
        self.seconds: list[tuple[str, float]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name``."""
        if self.listener is not None:
            self.listener(name, None)  # started
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.seconds.append((name, elapsed))
        if self.listener is not None:
            self.listener(name, elapsed)
