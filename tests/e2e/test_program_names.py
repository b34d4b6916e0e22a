"""One CLI, two console scripts (`flash`, `flashbuild`), and click's shell completion."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flashbuild._util.toml import loads
from flashbuild.cli.main import main

from ..conftest import REPO_ROOT

PROGRAMS = ("flash", "flashbuild")


def scripts() -> dict[str, str]:
    return loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_both_scripts_run_the_same_cli():
    assert scripts() == {"flash": "flashbuild.cli.main:run",
                         "flashbuild": "flashbuild.cli.main:run"}


@pytest.fixture
def bin_dir(tmp_path) -> Path:
    """Console scripts for the declared entry points, written as installers write them."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name, entry in scripts().items():
        module, function = entry.split(":")
        script = directory / name
        script.write_text(f"#!{sys.executable}\nimport sys\nfrom {module} import {function}\n"
                          f"if __name__ == '__main__':\n    sys.exit({function}())\n")
        script.chmod(0o755)
    return directory


def run_script(bin_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env,
               "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(list(args), capture_output=True, text=True, env=environ,
                          timeout=120, check=False)


def test_usage_and_messages_say_the_name_typed(bin_dir, tmp_path):
    for program in PROGRAMS:
        result = run_script(bin_dir, program, "--help")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Usage: {program} [OPTIONS] COMMAND [ARGS]...\n")
        result = run_script(bin_dir, program, "build", "--help")
        assert result.stdout.startswith(f"Usage: {program} build [OPTIONS] [PROJECT_DIR]\n")
        assert run_script(bin_dir, program, "--version").stdout.startswith(
            f"{program}, version ")
        result = run_script(bin_dir, program, "build", "--no-such-option")
        assert result.returncode == 2
        assert f"Try '{program} build --help' for help." in result.stderr
        result = run_script(bin_dir, program, "build", str(tmp_path / "missing"))
        assert result.returncode == 2
        assert result.stderr.startswith(f"{program}: configuration error: project directory")


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(program, shell, monkeypatch, capsys):
    variable = f"_{program.upper()}_COMPLETE"
    monkeypatch.setenv(variable, f"{shell}_source")
    assert main([], program=program) == 0
    script = capsys.readouterr().out
    assert f"_{program}_completion" in script
    assert f"{variable}={shell}_complete" in script


@pytest.mark.parametrize("program", PROGRAMS)
def test_completing_b_offers_build(program, monkeypatch, capsys):
    monkeypatch.setenv(f"_{program.upper()}_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", f"{program} b")
    monkeypatch.setenv("COMP_CWORD", "1")
    assert main([], program=program) == 0
    assert capsys.readouterr().out == "plain,build\n"
    # Every command of the lazily loaded group is listed.
    monkeypatch.setenv("COMP_WORDS", f"{program} ")
    assert main([], program=program) == 0
    assert capsys.readouterr().out.split() == [
        f"plain,{name}"
        for name in ("build", "cache", "images", "lock", "manifest", "preview", "verify")]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("program", PROGRAMS)
def test_bash_completes_through_the_script(program, bin_dir):
    """What an interactive bash does: source the script, then complete `<program> b`."""
    source = run_script(bin_dir, program, **{f"_{program.upper()}_COMPLETE": "bash_source"})
    assert source.returncode == 0, source.stderr
    (bin_dir / "completion.bash").write_text(source.stdout)
    session = (f"source {bin_dir / 'completion.bash'}\n"
               f"COMP_WORDS=({program} b); COMP_CWORD=1\n"
               f"_{program}_completion {program}\n"
               'printf "%s\\n" "${COMPREPLY[@]}"\n')
    result = run_script(bin_dir, "bash", "--norc", "--noprofile", "-c", session)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "build\n"
