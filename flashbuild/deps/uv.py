"""How flashbuild runs uv: the command for the workers' target, its environment, its runner.

uv comes from the ``uv`` package flashbuild depends on; the user's uv
configuration files are ignored (``--no-config``) and uv never downloads an
interpreter. Every command goes through :func:`run_uv`, so verbose mode shows it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .._util.processes import CommandListener, CommandResult, run_command
from ..config.build_config import BuildConfig
from ..records import IndexOptions, Target
from .records import ResolvedPackage

RESOLVE_TIMEOUT = 900.0  # seconds; uv's own HTTP timeout and retries bound each request


@dataclass(frozen=True, kw_only=True)
class ResolverSettings:
    target: Target
    index: IndexOptions = field(default_factory=IndexOptions)
    allow_build: tuple[str, ...] = ()  # normalised names that may be built from sdists
    listener: CommandListener | None = field(default=None, compare=False)

    def build_arguments(self) -> list[str]:
        """Wheels only, except for the packages the user allowed to be built."""
        if not self.allow_build:
            return ["--no-build"]
        arguments = ["--only-binary", ":all:"]
        for name in self.allow_build:
            arguments += ["--no-binary", name]
        return arguments


def resolver_settings(config: BuildConfig, listener: CommandListener | None) -> ResolverSettings:
    """The uv settings of a build: its target, index options and allowed source builds."""
    return ResolverSettings(
        target=config.target,
        index=config.index,
        allow_build=config.allow_build,
        listener=listener,
    )


def uv_binary() -> str:
    """The uv executable that ships with the ``uv`` package flashbuild depends on."""
    from uv import find_uv_bin

    return find_uv_bin()


def uv_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment for uv: never fetch an interpreter, no progress bars."""
    environment = dict(os.environ if base is None else base)
    environment.update(UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1", NO_COLOR="1")
    return environment


def uv_pip_command(subcommand: str, settings: ResolverSettings) -> list[str]:
    """``uv pip <subcommand>`` for the target platform, ignoring user uv config."""
    target = settings.target
    return [
        uv_binary(),
        "pip",
        subcommand,
        "--no-config",
        "--python-platform",
        target.uv_platform,
        "--python-version",
        target.python_version,
        *settings.build_arguments(),
        *settings.index.uv_arguments(),
        *_interpreter_arguments(settings),
    ]


def _interpreter_arguments(settings: ResolverSettings) -> list[str]:
    """Name flashbuild's own interpreter unless a source build may need the target's.

    uv asks for an interpreter even when it only resolves for another platform;
    finding one runs every ``python3.N`` on PATH (pyenv shims among them), which
    costs about half a second per uv call. Wheels-only commands never run it.
    """
    return [] if settings.allow_build else ["--python", sys.executable]


def run_uv(
    command: list[str],
    settings: ResolverSettings,
    *,
    cwd: Path | None = None,
    timeout: float = RESOLVE_TIMEOUT,
) -> CommandResult:
    """Run a uv command in uv's environment, telling the settings' listener."""
    return run_command(
        command, cwd=cwd, env=uv_environment(), timeout=timeout, listener=settings.listener
    )


@contextmanager
def pins_file(packages: Iterable[ResolvedPackage]) -> Iterator[Path]:
    """A temporary requirements file holding exactly these pins, with their hashes.

    uv checks every file it installs against the hashes a pin lists.
    """
    with tempfile.TemporaryDirectory(prefix="flashbuild-pins-") as scratch:
        path = Path(scratch) / "requirements.txt"
        lines = [" ".join([p.pin, *(f"--hash={digest}" for digest in p.hashes)])
                 for p in packages]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        yield path
