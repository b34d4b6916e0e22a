"""Markdown of the job summary: cells, code spans and the failure report."""

from __future__ import annotations

from pathlib import Path

from flashbuild.cli.github import Places
from flashbuild.cli.job_summary import cell, code, failure_summary
from flashbuild.errors import SourceLocation, UsageError


def test_cells_are_one_line_and_keep_their_pipes():
    assert cell("a|b\nc\r\nd") == "a\\|b<br>c<br>d"


def test_code_spans_hold_any_backticks():
    assert code("plain") == "`plain`"
    assert code("a`b") == "``a`b``"
    assert code("`x`") == "`` `x` ``"
    assert code("two\nlines") == "`two lines`"


def test_failure_summary_fences_the_message():
    error = UsageError("bad | value\n```\nquoted", hint="Fix it | now.",
                       location=SourceLocation(path="pyproject.toml"))
    places = Places(project_dir=Path("/repo/app"), root=Path("/repo"))
    assert failure_summary(error, places=places, program="flashbuild") == (
        "## flashbuild build failed\n\n"
        "**configuration error** (exit code 2) at `app/pyproject.toml`:\n\n"
        "````text\nbad | value\n```\nquoted\n````\n\n"
        "Hint: Fix it \\| now.\n"
    )
