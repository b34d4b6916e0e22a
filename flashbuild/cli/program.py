"""The name the command line was called by: ``flash`` or ``flashbuild``.

Both console scripts run the same CLI; usage text, error prefixes and shell
completion say the name the user typed.
"""

from __future__ import annotations

from pathlib import Path

import click

PROGRAM_NAMES = ("flash", "flashbuild")
DEFAULT_PROGRAM = "flash"


def detect_program_name(argv0: str) -> str:
    """``flash`` or ``flashbuild`` from the path the process was started by; ``flash``
    for anything else (``python -m flashbuild``)."""
    path = Path(argv0)
    name = path.stem if path.suffix.lower() == ".exe" else path.name
    return name if name in PROGRAM_NAMES else DEFAULT_PROGRAM


def current_program() -> str:
    """The name of the running command (``flash`` outside a command)."""
    context = click.get_current_context(silent=True)
    name = context.find_root().info_name if context is not None else None
    return name or DEFAULT_PROGRAM


def completion_variable(program: str) -> str:
    """The environment variable click's shell completion reads for ``program``:
    ``_FLASH_COMPLETE`` or ``_FLASHBUILD_COMPLETE``."""
    return f"_{program.upper()}_COMPLETE"
