"""How the benchmark runs commands: timed, with peak memory, failures as one line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peak_memory import run_sampled

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class BenchmarkError(Exception):
    """A measured step failed; the message is one line for the table."""


def progress(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


def one_line(text: str, limit: int = 160) -> str:
    text = " ".join(ANSI_ESCAPE.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_reason(output: str, cwd: Path | None) -> str:
    """The most telling line of a failed command's output: its last error line."""
    if cwd is not None:  # temporary paths make the line long and say nothing
        output = output.replace(f"{cwd}/", "").replace(str(cwd), ".")
    lines = [line for line in ANSI_ESCAPE.sub("", output).splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"error|failed|✗", line, re.IGNORECASE)]
    return one_line((errors or lines or ["no output"])[-1])


def run_timed(command: list[str], *, timeout: float, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> float:
    """Run ``command`` quietly and return its wall-clock seconds; raise on failure.

    Memory is not sampled: walking ``/proc`` every few milliseconds takes a fifth of a
    core, which a timed run on two cores would pay for."""
    return run_measured(command, timeout=timeout, cwd=cwd, env=env, sample_memory=False)[0]


def run_measured(command: list[str], *, timeout: float, cwd: Path | None = None,
                 env: dict[str, str] | None = None, sample_memory: bool = True
                 ) -> tuple[float, int]:
    """Run ``command`` quietly; return its wall-clock seconds and the peak resident bytes
    of it and its children together (0 without ``sample_memory``). Raise on failure.

    Dirty pages of earlier steps are flushed first, so that their writeback is not timed."""
    os.sync()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                       stdout=output, stderr=subprocess.STDOUT)
        except OSError as error:
            raise BenchmarkError(f"cannot run {command[0]}: {error}") from None
        try:
            if sample_memory:
                code, peak = run_sampled(process, timeout)
            else:
                code, peak = process.wait(timeout=timeout), 0
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BenchmarkError(f"timed out after {timeout:.0f} s") from None
        elapsed = time.perf_counter() - started
        if code != 0:
            output.seek(0)
            reason = failure_reason(output.read().decode(errors="replace"), cwd)
            raise BenchmarkError(f"exit {code} after {elapsed:.1f} s: {reason}")
    return elapsed, peak


def find_uv() -> str:
    """The uv that flashbuild runs, else one on PATH."""
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv") or "uv"  # a missing uv is reported when it is run
