"""Progress lines on stderr, and when the live indicator may draw."""

from __future__ import annotations

import io

from flashbuild.cli.progress import Progress, live_output_allowed


def test_progress_lines_and_live_indicator():
    plain = io.StringIO()
    progress = Progress(plain, live=False)
    progress.stage("resolve", None)
    progress.stage("resolve", 1.5)
    assert plain.getvalue() == "  resolve    1.50 s\n"
    quiet = io.StringIO()
    Progress(quiet, enabled=False).stage("scan", 0.1)
    assert quiet.getvalue() == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_indicator_only_on_a_terminal_outside_ci():
    assert live_output_allowed(FakeTerminal(), {}) is True
    assert live_output_allowed(FakeTerminal(), {"CI": "true"}) is False
    assert live_output_allowed(io.StringIO(), {}) is False
