"""Scan speed on a large repository, against CPython's own parser.

Writes a synthetic project (by default 2,000 files, about 8 MB, 100 of them
declaring endpoints), then measures, in one run:

- the floor: ``ast.parse`` of every file in one process;
- a cold ``flash build --no-deps`` (empty flashbuild cache);
- a warm one (nothing changed, cache hit).

Goal: cold <= 4 x floor + 1 s; warm < 0.5 s. Run with ``make bench`` or
``python tools/scan_benchmark.py [--files N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BODY_LINES = 150  # about 4 kB a module


def module_source(index: int) -> str:
    """A plain module of helper functions and a class, about 4 kB."""
    lines = [f'"""Helpers, part {index}."""', "", "from __future__ import annotations", "",
             "import math", "from dataclasses import dataclass", ""]
    for number in range(BODY_LINES // 10):
        lines += [
            f"def helper_{index}_{number}(values: list[float], scale: float = {number}.5):",
            f'    """Scale and sum values ({number})."""',
            "    total = 0.0",
            "    for value in values:",
            f"        total += math.sqrt(abs(value)) * scale + {number}",
            "    return {'total': total, 'count': len(values), 'index': " + str(index) + "}",
            "",
        ]
    lines += ["@dataclass", f"class Record{index}:", "    name: str", "    size: int = 0", "",
              "    def describe(self) -> str:", "        return f'{self.name}: {self.size}'", ""]
    return "\n".join(lines)


def endpoint_source(index: int) -> str:
    """A module declaring one queue endpoint that uses a helper module."""
    compute = "gpu=GpuGroup.ANY" if index % 3 == 0 else 'cpu="cpu3c-1-2"'
    return module_source(index) + "\n".join([
        "",
        "from runpod_flash import Endpoint, GpuGroup",
        "",
        'DEPENDENCIES = ["numpy"]',
        "",
        "",
        f'@Endpoint(name="worker-{index}", {compute}, dependencies=DEPENDENCIES)',
        f"async def handle_{index}(payload: dict) -> dict:",
        "    import numpy",
        "    return {'mean': float(numpy.mean(payload['values']))}",
        "",
    ])


def write_project(root: Path, files: int, endpoints: int) -> int:
    """The synthetic project under ``root``; returns its size in bytes."""
    size = 0
    every = max(files // endpoints, 1)
    for index in range(files):
        package = root / f"pkg{index // 100:02d}"
        package.mkdir(parents=True, exist_ok=True)
        is_endpoint = index % every == 0 and index // every < endpoints
        source = endpoint_source(index) if is_endpoint else module_source(index)
        path = package / f"module_{index:04d}.py"
        path.write_text(source)
        size += len(source)
    return size


def ast_floor(root: Path) -> float:
    """Seconds ``ast.parse`` takes for every ``.py`` file, in this process."""
    sources = [(path.read_bytes(), str(path)) for path in sorted(root.rglob("*.py"))]
    started = time.perf_counter()
    for source, name in sources:
        ast.parse(source, name)
    return time.perf_counter() - started


def flash_build(root: Path, cache: Path) -> float:
    environ = {**os.environ, "FLASHBUILD_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flashbuild", "build", "--no-deps", "-q", str(root)],
                   check=True, env=environ, cwd=REPO, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(files: int, endpoints: int) -> dict[str, float]:
    """Floor, cold and warm seconds for a fresh synthetic project."""
    with tempfile.TemporaryDirectory() as temporary:
        root, cache = Path(temporary) / "large-app", Path(temporary) / "cache"
        size = write_project(root, files, endpoints)
        floor = min(ast_floor(root) for _ in range(3))
        cold = flash_build(root, cache)
        warm = min(flash_build(root, cache) for _ in range(3))
        shutil.rmtree(root / ".flash", ignore_errors=True)
    return {"files": files, "endpoints": endpoints, "bytes": size, "ast_floor_s": floor,
            "cold_s": cold, "warm_s": warm, "cold_goal_s": 4 * floor + 1}


def report(numbers: dict[str, float]) -> str:
    """The Markdown table ``make bench`` prints."""
    goal = "met" if numbers["cold_s"] <= numbers["cold_goal_s"] else "missed"
    warm_goal = "met" if numbers["warm_s"] < 0.5 else "missed"
    return "\n".join([
        f"Scan of a synthetic project: {numbers['files']:,} files, "
        f"{numbers['bytes'] / 1e6:.1f} MB, {numbers['endpoints']} endpoint files",
        "",
        "| measure | seconds | goal |",
        "|---|---|---|",
        f"| `ast.parse` of every file (floor) | {numbers['ast_floor_s']:.2f} | |",
        f"| cold `flash build --no-deps` | {numbers['cold_s']:.2f} | "
        f"<= 4 x floor + 1 s = {numbers['cold_goal_s']:.2f} ({goal}); "
        f"{numbers['cold_s'] / numbers['ast_floor_s']:.1f} x floor |",
        f"| warm (nothing changed) | {numbers['warm_s']:.2f} | < 0.5 ({warm_goal}) |",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/scan_benchmark.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the numbers here")
    options = parser.parse_args(argv)
    numbers = measure(options.files, options.endpoints)
    sys.stdout.write(report(numbers) + "\n")
    if options.json:
        options.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
