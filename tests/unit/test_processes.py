"""The one subprocess helper: captured runs that time out, and missing programs."""

from __future__ import annotations

import sys
import time

import pytest

from flashbuild._util.processes import format_command, run_command
from flashbuild.errors import InternalError


def test_a_command_that_overruns_its_timeout_is_stopped_and_reported():
    started = time.monotonic()
    result = run_command([sys.executable, "-c", "import time; print('begun', flush=True); "
                          "time.sleep(30)"], timeout=1)
    assert time.monotonic() - started < 15
    assert result.timed_out and not result.ok
    assert result.returncode == -1
    assert "begun" in result.stdout


def test_output_is_captured_and_the_listener_told_first():
    seen = []
    result = run_command([sys.executable, "-c", "import sys; print('out'); "
                          "print('err', file=sys.stderr); sys.exit(3)"], listener=seen.append)
    assert (result.returncode, result.ok, result.timed_out) == (3, False, False)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")
    assert seen == [format_command(result.command)]


def test_a_missing_program_is_an_internal_error():
    with pytest.raises(InternalError, match="cannot run /no/such/program"):
        run_command(["/no/such/program"])
