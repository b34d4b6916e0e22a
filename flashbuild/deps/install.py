"""Install exactly the shipped pins into a directory with ``uv pip install --target``."""

from __future__ import annotations

from pathlib import Path

from .._util.processes import CommandResult
from .records import ResolvedPackage
from .uv import ResolverSettings, pins_file, run_uv, uv_pip_command
from .uv_errors import explain_failure

# What uv says when a pinned release is missing from its copy of the index page.
STALE_INDEX = "there is no version of"


def install_pins(
    packages: tuple[ResolvedPackage, ...], settings: ResolverSettings, target_dir: Path,
    *, reinstall: bool = False,
) -> CommandResult:
    """Install exactly these pins (no further resolution) into ``target_dir``.

    ``reinstall``: write their files again even if ``target_dir`` has them.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    with pins_file(packages) as requirements:
        command = uv_pip_command("install", settings)
        command += ["--target", str(target_dir), "--no-deps", "--quiet", "-r", str(requirements)]
        command += ["--reinstall"] if reinstall else []
        result = run_uv(command, settings)
        if not result.ok and STALE_INDEX in result.stderr:
            # A release published moments ago can be known to the resolution but not yet
            # to uv's cached copy of the index page: read the index afresh, once.
            result = run_uv([*command, "--refresh"], settings)
    if not result.ok:
        raise explain_failure(result, inputs=None, images=None, settings=settings, stage="install")
    return result
