"""Generate the image profiles: what each Flash worker image provides, per Python version.

The inputs sit beside this script, one folder per worker release:

* ``release.toml`` says what each image kind installs, read from the worker's
  Dockerfiles, with the source of every statement;
* ``runtime.txt`` is the worker's lock exported as the Dockerfiles export it;
  every image installs it;
* ``resolved/<kind>-py<version>.txt`` is what the Dockerfile's own ``pip install``
  lines come to for that Python, resolved by uv as PyPI stood on the release
  date, with the runtime's versions as constraints (the step that needs the
  network: ``resolve``);
* ``modules.txt`` lists the top-level modules each of those distributions
  installs, read from its wheel on PyPI (network: ``modules``).

``generate`` (offline) writes ``flashbuild/config/image_profiles/<release>.json``
from them; ``check`` says whether that file is what ``generate`` would write.
Run from the repository root::

    python tools/image_profiles/profiles.py resolve    # needs PyPI; rewrites resolved/
    python tools/image_profiles/profiles.py modules    # needs PyPI; rewrites modules.txt
    python tools/image_profiles/profiles.py generate
    python tools/image_profiles/profiles.py check
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from wheel_modules import top_level_modules  # noqa: E402 - beside this script

from flashbuild._util import toml  # noqa: E402 - the checkout's flashbuild, not an installed one
from flashbuild._util.processes import run_command  # noqa: E402
from flashbuild.deps.tags import marker_environment  # noqa: E402
from flashbuild.deps.uv import uv_binary, uv_environment  # noqa: E402

INPUTS = Path(__file__).resolve().parent
OUTPUT = ROOT / "flashbuild" / "config" / "image_profiles"
PLATFORM = "x86_64-manylinux_2_28"
INDEX = "https://pypi.org/simple"
MODULES = INPUTS / "modules.txt"

Entry = dict[str, Any]  # {"version", "source", "how", "modules"}


def releases() -> list[Path]:
    """The input folders, one per release."""
    return sorted(path.parent for path in INPUTS.glob("*/release.toml"))


def read_release(folder: Path) -> dict[str, Any]:
    return toml.loads((folder / "release.toml").read_text(encoding="utf-8"))


def runtime_pins(folder: Path, python: str) -> dict[str, str]:
    """name -> version of the runtime lock's packages installed on ``python``."""
    pins = {}
    for line in (folder / "runtime.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "-")):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(marker_environment(python)):
            (specifier,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def installs(kind: dict[str, Any], python: str) -> tuple[list[str], list[str]]:
    """What the kind's Dockerfile installs on ``python``, and what its base image does."""
    own = [*kind.get("installs", []), *kind.get("python-installs", {}).get(python, [])]
    return own, list(kind.get("base-installs", {}).get(python, []))


def resolved_file(folder: Path, kind: str, python: str) -> Path:
    return folder / "resolved" / f"{kind}-py{python}.txt"


# --- resolve (network) -------------------------------------------------------------------


def resolve(folder: Path) -> None:
    """Resolve what each kind pip-installs, per Python, as of the release date."""
    release = read_release(folder)
    for name, kind in sorted(release["kinds"].items()):
        for python in kind["pythons"]:
            own, base = installs(kind, python)
            if own or base:
                text = _compile([*base, *own], runtime_pins(folder, python), python,
                                release["date"])
                path = resolved_file(folder, name, python)
                path.parent.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8")


def _compile(requirements: list[str], constraints: dict[str, str], python: str,
             date: str) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "image.in").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        (work / "runtime.txt").write_text(
            "".join(f"{name}=={version}\n" for name, version in sorted(constraints.items())),
            encoding="utf-8")
        command = [uv_binary(), "pip", "compile", "--no-config", "--quiet", "--no-header",
                   "--annotation-style", "split", "--python-version", python,
                   "--python-platform", PLATFORM, "--index-url", INDEX, "--no-build",
                   "--exclude-newer", f"{date}T23:59:59Z", "--constraint", "runtime.txt",
                   "image.in"]
        result = run_command(command, cwd=work, env=uv_environment(), timeout=600)
    if not result.ok:
        raise SystemExit(f"uv failed for {requirements} on Python {python}:\n{result.stderr}")
    return result.stdout


def list_modules(folders: list[Path]) -> None:
    """Write modules.txt: the top-level modules of every distribution in a profile."""
    wanted: dict[tuple[str, str], str] = {}  # (name, version) -> a Python it is installed on
    for folder in folders:
        for pythons in profile(folder, with_modules=False)["images"].values():
            for python, entries in sorted(pythons.items()):
                for name, entry in entries.items():
                    wanted.setdefault((name, entry["version"]), python)
    lines = ["# name==version: the top-level modules its wheel installs (profiles.py modules)"]
    for (name, version), python in sorted(wanted.items()):
        lines.append(f"{name}=={version}: {' '.join(top_level_modules(name, version, python))}")
    MODULES.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_modules() -> dict[tuple[str, str], list[str]]:
    modules = {}
    for line in MODULES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            pin, _, names = line.partition(":")
            name, _, version = pin.partition("==")
            modules[(name, version)] = names.split()
    return modules


# --- generate (offline) ------------------------------------------------------------------


def profile(folder: Path, *, with_modules: bool = True) -> dict[str, Any]:
    """The profile document of one release."""
    release = read_release(folder)
    images: dict[str, dict[str, dict[str, Entry]]] = {}
    for name, kind in sorted(release["kinds"].items()):
        images[name] = {python: _image(folder, release, name, kind, python)
                        for python in kind["pythons"]}
    if with_modules:
        _add_modules(images)
    return {"release": release["release"], "date": release["date"],
            "generator": "tools/image_profiles/profiles.py", "sources": release["sources"],
            "app_modules": sorted(release.get("app-modules", [])),
            "images": images}


def _image(folder: Path, release: dict[str, Any], name: str, kind: dict[str, Any],
           python: str) -> dict[str, Entry]:
    entries = {package: {"version": version, "source": "runtime", "how": "locked"}
               for package, version in runtime_pins(folder, python).items()}
    own, base = installs(kind, python)
    if not own and not base:
        return dict(sorted(entries.items()))
    direct = {canonicalize_name(Requirement(text).name): (text, source)
              for source, texts in ((name, own), ("base", base)) for text in texts}
    for package, version, parents in _pins(resolved_file(folder, name, python)):
        if package in entries:
            continue  # the runtime constrained it: the lock's version, already there
        if package in direct:
            text, source = direct[package]
            how = "pinned" if "==" in text else f"newest on PyPI on {release['date']}"
        else:
            source = name
            how = f"required by {', '.join(parents)}; resolved as of {release['date']}"
        entries[package] = {"version": version, "source": source, "how": how}
    return dict(sorted(entries.items()))


def _add_modules(images: dict[str, dict[str, dict[str, Entry]]]) -> None:
    modules = read_modules()
    for pythons in images.values():
        for entries in pythons.values():
            for name, entry in entries.items():
                listed = modules.get((name, entry["version"]))
                if listed is None:
                    raise SystemExit(f"{name}=={entry['version']} is not in {MODULES.name}; "
                                     "run `profiles.py modules`")
                entry["modules"] = listed  # type: ignore[assignment]


def _pins(path: Path) -> list[tuple[str, str, list[str]]]:
    """(name, version, the packages it is required by) of a ``uv pip compile`` output."""
    pins: list[tuple[str, str, list[str]]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins.append((canonicalize_name(name), version.strip(), []))
        elif pins and line.startswith("#") and not line.startswith("# via -"):
            parent = line.lstrip("#").strip().removeprefix("via").strip()
            if parent and not parent.startswith("-"):
                pins[-1][2].append(canonicalize_name(parent))
    return pins


def rendered(folder: Path) -> str:
    return json.dumps(profile(folder), indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/image_profiles/profiles.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["resolve", "modules", "generate", "check"])
    command = parser.parse_args(argv).command
    if command == "modules":
        list_modules(releases())
        return 0
    stale = []
    for folder in releases():
        if command == "resolve":
            resolve(folder)
            continue
        output = OUTPUT / f"{folder.name}.json"
        text = rendered(folder)
        if command == "generate":
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        elif not output.is_file() or output.read_text(encoding="utf-8") != text:
            stale.append(str(output))
    for path in stale:
        sys.stderr.write(f"{path} is not what the inputs give; run `profiles.py generate`\n")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
