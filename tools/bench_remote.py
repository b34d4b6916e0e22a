"""The remote cache at scale: 8 CI runners, 2 apps, one bucket, against 8 runners alone.

Each runner is a separate ``flash build`` process with a local cache and a uv
cache of its own, on a checkout of one of two apps that share most of their
dependencies (generated wheels, about 50 MB installed each, served as a
package index on 127.0.0.1). The bucket lives on moto's S3 server on
127.0.0.1. Runners build one after another: first all 8 without the remote
(every build cold), then all 8 with it (read-write). Reported: each build's
time and what the remote did, total time, bytes from the package index and
to/from the bucket, the hit rate, and a remote-hit build beside a cold build
and a local hit (a code change rebuilt with the entry in the local cache).

Offline: ``make bench BENCH=remote`` or ``python tools/bench_remote.py [--runners N]
[--json FILE]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

from bench_process import progress
from near_cap_app import Package, _QuietHandler, write_index

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.s3_server import start_s3_server  # noqa: E402 - after the path is set

SHARED = (Package("common-runtime", 8, 8), Package("common-kernels", 10, 2),
          *(Package(f"common-util{i}", 1, 3) for i in range(1, 5)))
APPS = {"app-a": (*SHARED, Package("a-model", 6, 2)),
        "app-b": (*SHARED, Package("b-model", 4, 3))}
BUCKET = "flash-ci-cache"


class _CountingHandler(_QuietHandler):
    """Serves the index and counts the bytes of every file it sends."""

    sent = 0
    lock = threading.Lock()

    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:
        size = os.fstat(source.fileno()).st_size
        with _CountingHandler.lock:
            _CountingHandler.sent += size
        super().copyfile(source, outputfile)


@dataclass
class Build:
    runner: int
    app: str
    seconds: float
    dependencies: str  # cold | remote hit | units from remote | local hit
    remote_seconds: float = 0.0
    bytes_down: int = 0
    bytes_up: int = 0
    index_bytes: int = 0


def write_app(project: Path, name: str) -> None:
    packages = ", ".join(f'"{p.name}"' for p in APPS[name])
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "0.1.0"\n')
    (project / "main.py").write_text(
        "from runpod_flash import Endpoint\n\n\n"
        f'@Endpoint(name="worker", cpu="cpu3c-2-4", dependencies=[{packages}])\n'
        "def work(x):\n    return x\n")


class Bench:
    def __init__(self, root: Path, index_url: str, environ: dict[str, str]) -> None:
        self.root, self.index_url, self.environ = root, index_url, environ

    def build(self, runner: int, app: str, *, remote: bool, scenario: str) -> Build:
        """One runner's build of its own checkout of ``app``, timed."""
        home = self.root / scenario / f"runner{runner}"
        project = home / app
        if not project.exists():
            write_app(project, app)
        env = {**self.environ, "FLASHBUILD_CACHE_DIR": str(home / "flash-cache"),
               "UV_CACHE_DIR": str(home / "uv-cache")}
        if remote:
            env["FLASHBUILD_REMOTE_CACHE"] = f"s3://{BUCKET}/ci"
        sent_before = _CountingHandler.sent
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flashbuild", "build", "--json", "-q",
                               "--index-url", self.index_url, str(project)],
                              env=env, cwd=REPO, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"runner {runner} failed:\n{done.stderr}")
        warnings = json.loads(done.stdout)["warnings"]
        if any("remote cache" in w for w in warnings):
            raise SystemExit(f"runner {runner}: {warnings}")
        result = Build(runner=runner, app=app, seconds=seconds, dependencies="cold",
                       index_bytes=_CountingHandler.sent - sent_before)
        stats_file = home / "flash-cache" / "remote-stats.json"
        if remote and stats_file.exists():
            stats = json.loads(stats_file.read_text())
            result.dependencies = ("local hit" if stats["local_hit"] else "remote hit"
                                   if stats["entry_hits"] else
                                   f"{stats['unit_hits']} units from remote"
                                   if stats["unit_hits"] else "cold")
            result.remote_seconds = stats["seconds"]
            result.bytes_down, result.bytes_up = stats["bytes_down"], stats["bytes_up"]
        return result


def run(runners: int, root: Path) -> dict[str, object]:
    progress("writing the wheels and the index")
    index = root / "index"
    write_index(index, sorted({p for packages in APPS.values() for p in packages},
                              key=lambda p: p.name))
    handler = functools.partial(_CountingHandler, directory=str(index))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    s3 = start_s3_server(root / "moto.log")
    try:
        s3.create_bucket(BUCKET)
        environ = {**os.environ, **s3.environ(), "UV_PYTHON_DOWNLOADS": "never"}
        for variable in ("FLASHBUILD_REMOTE_CACHE", "FLASHBUILD_REMOTE_CACHE_MODE"):
            environ.pop(variable, None)
        bench = Bench(root, f"http://127.0.0.1:{server.server_address[1]}/simple/", environ)
        apps = list(APPS)
        scenarios: dict[str, list[Build]] = {}
        for scenario, remote in (("alone", False), ("shared", True)):
            scenarios[scenario] = []
            for runner in range(runners):
                build = bench.build(runner, apps[runner % 2], remote=remote, scenario=scenario)
                progress(f"{scenario} runner {runner} {build.app}: {build.seconds:.2f} s, "
                         f"{build.dependencies}")
                scenarios[scenario].append(build)
        # A local hit: runner 0 changes its code and builds again (the dependency entry is
        # in its local cache; the artifact is written again, as for a remote hit).
        main = root / "shared" / "runner0" / apps[0] / "main.py"
        main.write_text(main.read_text() + "# changed\n")
        local_hit = bench.build(0, apps[0], remote=True, scenario="shared")
    finally:
        s3.stop()
        server.shutdown()
    return summary(scenarios, local_hit)


def summary(scenarios: dict[str, list[Build]], local_hit: Build) -> dict[str, object]:
    shared, alone = scenarios["shared"], scenarios["alone"]
    remote_hits = [b for b in shared if b.dependencies == "remote hit"]
    hit = statistics.median(b.seconds for b in remote_hits) if remote_hits else None
    transfer = statistics.median(b.remote_seconds for b in remote_hits) if remote_hits else None
    return {
        "runners": len(shared),
        "alone": {"total_s": sum(b.seconds for b in alone),
                  "index_bytes": sum(b.index_bytes for b in alone)},
        "shared": {"total_s": sum(b.seconds for b in shared),
                   "index_bytes": sum(b.index_bytes for b in shared),
                   "bytes_down": sum(b.bytes_down for b in shared),
                   "bytes_up": sum(b.bytes_up for b in shared),
                   "entry_hit_rate": len(remote_hits) / len(shared)},
        "cold_s": statistics.median(b.seconds for b in alone),
        "remote_hit_s": hit, "remote_hit_transfer_s": transfer,
        "local_hit_s": local_hit.seconds, "local_hit_kind": local_hit.dependencies,
        "builds": {name: [asdict(b) for b in builds] for name, builds in scenarios.items()},
    }


def report(result: dict[str, object]) -> str:
    alone, shared = result["alone"], result["shared"]
    assert isinstance(alone, dict) and isinstance(shared, dict)
    lines = ["scenario   runner  app    seconds  dependencies             down MB   up MB  "
             "index MB"]
    builds = result["builds"]
    assert isinstance(builds, dict)
    lines += [f"{name:<10} {b['runner']:>6}  {b['app']}  {b['seconds']:7.2f}  "
              f"{b['dependencies']:<22} {b['bytes_down'] / 1e6:8.2f} "
              f"{b['bytes_up'] / 1e6:7.2f} {b['index_bytes'] / 1e6:9.2f}"
              for name, runs in builds.items() for b in runs]
    mb = 1e6
    lines += [
        f"{result['runners']} runners alone: {alone['total_s']:.1f} s, "
        f"{alone['index_bytes'] / mb:.1f} MB from the index",
        f"{result['runners']} runners sharing a bucket: {shared['total_s']:.1f} s, "
        f"{shared['index_bytes'] / mb:.1f} MB from the index, {shared['bytes_down'] / mb:.1f} "
        f"MB down and {shared['bytes_up'] / mb:.1f} MB up the bucket; entry hit rate "
        f"{shared['entry_hit_rate']:.0%}",
        f"cold build {result['cold_s']:.2f} s; local hit {result['local_hit_s']:.2f} s "
        f"({result['local_hit_kind']})",
    ]
    if result["remote_hit_s"] is not None:
        transfer = result["remote_hit_transfer_s"]
        lines.append(f"remote hit {result['remote_hit_s']:.2f} s ({transfer:.2f} s of it with "
                     "the remote)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runners", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="flashbuild-bench-remote-"))
    try:
        result = run(args.runners, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    sys.stdout.write(report(result) + "\n")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
