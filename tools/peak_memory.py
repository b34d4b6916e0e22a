"""Peak resident memory of a command and every process it starts, sampled from /proc.

``resource.getrusage`` reports the largest single child, not the sum of the
processes alive at one moment (flashbuild and the uv it waits for), so the
tree is walked every few milliseconds and the largest sum kept.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
_INTERVAL = 0.02  # seconds between samples: often enough for builds of seconds, and cheap


def _children(pid: int) -> list[int]:
    return [child for task in Path(f"/proc/{pid}/task").glob("*")
            for child in _task_children(task)]


def _task_children(task: Path) -> list[int]:
    try:
        return [int(child) for child in (task / "children").read_text().split()]
    except (OSError, ValueError):  # the task ended meanwhile
        return []


def _resident(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def tree_resident(pid: int) -> int:
    """Bytes resident in ``pid`` and its descendants now."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        total += _resident(current)
        pending += _children(current)
    return total


def run_sampled(process: subprocess.Popen, timeout: float) -> tuple[int, int]:
    """Wait for ``process``; return its exit code and the peak resident bytes of its tree."""
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_resident(process.pid))
            time.sleep(_INTERVAL)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        code = process.wait(timeout=timeout)
    finally:
        done.set()
        sampler.join()
    return code, peak
