"""Generate flashbuild's table of the runpod_flash API from the real SDK.

Installs the pinned runpod-flash from PyPI into a throw-away venv, runs
``introspect.py`` there and writes ``flashbuild/source/sdk_symbols.json``:
every public name ``runpod_flash`` exports, every member of its enums, the
GPU pools, and the parameters of ``Endpoint`` and the resource classes.
Needs PyPI. Run from the repository root::

    python tools/sdk_symbols/generate.py            # rewrite the table
    python tools/sdk_symbols/generate.py --check    # exit 1 if it differs
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from flashbuild._util.processes import run_command  # noqa: E402
from flashbuild.deps.uv import uv_binary, uv_environment  # noqa: E402

SDK = "runpod-flash"
SDK_VERSION = "1.21.0"
INDEX = "https://pypi.org/simple"
OUTPUT = ROOT / "flashbuild" / "source" / "sdk_symbols.json"
INTROSPECT = Path(__file__).resolve().parent / "introspect.py"


def generated(python: str = sys.executable) -> str:
    """The table's text, from a fresh venv with the pinned SDK."""
    environment = {**uv_environment(), "UV_PYTHON_DOWNLOADS": "never"}
    with tempfile.TemporaryDirectory(prefix="flashbuild-sdk-") as scratch:
        venv = Path(scratch) / "venv"
        for command in (
            [uv_binary(), "venv", "--quiet", "--python", python, str(venv)],
            [uv_binary(), "pip", "install", "--quiet", "--no-config", "--python",
             str(venv / "bin" / "python"), "--index-url", INDEX, f"{SDK}=={SDK_VERSION}"],
        ):
            result = run_command(command, env=environment, timeout=600)
            if not result.ok:
                raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stderr}")
        result = run_command([str(venv / "bin" / "python"), str(INTROSPECT)], cwd=Path(scratch),
                             env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, timeout=300)
        if not result.ok:
            raise SystemExit(f"introspecting {SDK} failed:\n{result.stderr}")
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/sdk_symbols/generate.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the checked-in table instead of writing it")
    arguments = parser.parse_args(argv)
    text = generated()
    if arguments.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{OUTPUT} differs from what {SDK} {SDK_VERSION} gives\n")
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
