"""The one place flashbuild starts subprocesses.

Three kinds: :func:`run_command` runs a command to completion with its output
captured and returned (the caller decides what a failure means);
:func:`start_child` starts a long-running server whose output goes to a log
file; :func:`worker_pool` starts Python worker processes for CPU-bound work.
A listener (the CLI's, in verbose mode) is told every captured command before
it runs, so ``-v`` can echo ``+ uv pip compile ...`` without the core printing.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InternalError

if TYPE_CHECKING:
    import concurrent.futures

CommandListener = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def format_command(command: Sequence[str]) -> str:
    return shlex.join(str(part) for part in command)


def run_command(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    listener: CommandListener | None = None,
) -> CommandResult:
    """Run ``command`` with captured output; never raises for a non-zero exit."""
    parts = tuple(str(part) for part in command)
    if listener is not None:
        listener(format_command(parts))
    try:
        completed = subprocess.run(
            parts,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return CommandResult(
            command=parts,
            returncode=-1,
            stdout=_text(exc.stdout),
            stderr=_text(exc.stderr),
            timed_out=True,
        )
    except OSError as exc:
        raise InternalError(
            f"cannot run {parts[0]}: {exc.strerror or exc}",
            hint="Reinstall flashbuild so that its bundled tools are present.",
        ) from None
    return CommandResult(
        command=parts,
        returncode=completed.returncode,
        stdout=completed.stdout,
        stderr=completed.stderr,
    )


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def start_child(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path
) -> subprocess.Popen:
    """Start a server that runs until stopped, its output (both streams) going to ``log``.

    It gets a session (and process group) of its own: whoever stops it signals
    the group, reaching whatever the server started, and a Ctrl-C in the
    terminal reaches only flashbuild, which then stops its children in order.
    """
    with open(log, "wb") as output:
        return subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )


def worker_pool(workers: int) -> concurrent.futures.ProcessPoolExecutor:
    """``workers`` fresh Python processes (spawned, so whatever threads this process
    runs, none is copied half-way) to run module-level functions on picklable data."""
    import concurrent.futures  # loaded by the builds that need workers only
    import multiprocessing

    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
