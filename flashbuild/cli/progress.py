"""Progress on stderr: one line per finished stage, and on a terminal a ticking line.

Nothing here uses colour or cursor escape codes; the only live element, the
elapsed-time indicator of a running stage, is drawn with a carriage return,
on an interactive terminal only and never when ``CI`` is set.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

import click


def command_echo(verbose: int, quiet: bool) -> Callable[[str], None]:
    """The listener that shows each subprocess command in verbose mode."""

    def show(command: str) -> None:
        if verbose and not quiet:
            click.echo(f"  + {command}", err=True)

    return show


def live_output_allowed(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """A live indicator only on an interactive terminal, and never in CI."""
    return bool(getattr(stream, "isatty", lambda: False)()) and not environ.get("CI")


class Progress:
    """One line per finished stage; on a terminal, a ticking line while one runs."""

    def __init__(self, stream: TextIO = sys.stderr, *, enabled: bool = True,
                 live: bool | None = None) -> None:
        self.stream, self.enabled = stream, enabled
        self.live = live_output_allowed(stream) if live is None else live
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def stage(self, name: str, seconds: float | None) -> None:
        """Listener for the pipeline: ``seconds`` is None when the stage starts."""
        if not self.enabled:
            return
        if seconds is None:
            if self.live:
                self._start_ticker(name)
            return
        self._stop_ticker()
        self.stream.write(f"  {name:<8} {seconds:6.2f} s\n")
        self.stream.flush()

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Report a step that is not a pipeline stage the same way: its name and time."""
        self.stage(name, None)
        started = time.perf_counter()
        yield
        self.stage(name, time.perf_counter() - started)

    def _start_ticker(self, name: str) -> None:
        self._stop.clear()
        started = time.monotonic()

        def tick() -> None:
            while not self._stop.wait(0.2):
                self.stream.write(f"\r  {name:<8} {time.monotonic() - started:6.1f} s ...")
                self.stream.flush()

        self._ticker = threading.Thread(target=tick, daemon=True)
        self._ticker.start()

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
            self.stream.write("\r" + " " * 40 + "\r")

    def close(self) -> None:
        self._stop_ticker()
