"""Installing pins: one retry with a fresh index when a just-published release is not seen."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashbuild._util.processes import CommandResult
from flashbuild.deps import install
from flashbuild.deps.install import STALE_INDEX, install_pins
from flashbuild.deps.records import ResolvedPackage
from flashbuild.deps.uv import ResolverSettings
from flashbuild.errors import DependencyError
from flashbuild.records import Target

PINS = (ResolvedPackage(name="tinyutil", version="2.0", pin="tinyutil==2.0"),)
SETTINGS = ResolverSettings(target=Target())


def fake_uv(monkeypatch, results: list[CommandResult]) -> list[list[str]]:
    """Replace the uv runner by one that answers ``results`` in turn; the commands it got."""
    commands: list[list[str]] = []

    def run_uv(command, _settings, **_options):
        commands.append(list(command))
        return results[len(commands) - 1]

    monkeypatch.setattr(install, "run_uv", run_uv)
    return commands


def result(returncode: int, stderr: str = "") -> CommandResult:
    return CommandResult(command=("uv",), returncode=returncode, stdout="", stderr=stderr)


STALE = result(1, f"error: Because {STALE_INDEX} tinyutil==2.0 and you require it, ...")


def test_a_stale_index_page_is_read_afresh_once(monkeypatch, tmp_path: Path):
    commands = fake_uv(monkeypatch, [STALE, result(0)])
    install_pins(PINS, SETTINGS, tmp_path / "deps")
    assert len(commands) == 2
    assert "--refresh" not in commands[0]
    assert commands[1] == [*commands[0], "--refresh"]


def test_the_retry_failing_too_is_an_install_error(monkeypatch, tmp_path: Path):
    commands = fake_uv(monkeypatch, [STALE, STALE])
    with pytest.raises(DependencyError, match="installing the resolved packages"):
        install_pins(PINS, SETTINGS, tmp_path / "deps")
    assert len(commands) == 2


def test_other_failures_are_not_retried(monkeypatch, tmp_path: Path):
    commands = fake_uv(monkeypatch, [result(2, "error: Failed to download `tinyutil`")])
    with pytest.raises(DependencyError):
        install_pins(PINS, SETTINGS, tmp_path / "deps")
    assert len(commands) == 1
