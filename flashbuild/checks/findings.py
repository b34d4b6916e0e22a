"""What the static checks report: one :class:`Finding` per problem."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from ..errors import SourceLocation
from ..records import BuildPlan, BuildWarning, FunctionDecl, PlannedEndpoint

FindingCode = Literal[
    "scope", "undeclared-import", "module-level-import", "unshipped-import", "not-awaited",
]
Severity = Literal["warning", "error"]
SEVERITIES: dict[FindingCode, Severity] = {
    "scope": "warning",
    "undeclared-import": "warning",
    "module-level-import": "warning",
    "unshipped-import": "error",
    "not-awaited": "warning",
}


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem the static checks found, at the place it is written."""

    code: FindingCode
    message: str
    location: SourceLocation
    severity: Severity

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message} [{self.code}]"

    def as_build_warning(self) -> BuildWarning:
        """The finding as a build warning, for the summary and ``--json``."""
        return BuildWarning(message=f"{self.message} [{self.code}]", location=self.location)


def finding(code: FindingCode, message: str, location: SourceLocation) -> Finding:
    """A finding with the severity of its code."""
    return Finding(code=code, message=message, location=location, severity=SEVERITIES[code])


def planned_functions(plan: BuildPlan) -> Iterator[tuple[PlannedEndpoint, FunctionDecl]]:
    """Every declared function or class of the plan, with its endpoint."""
    for endpoint in plan.endpoints:
        for function in endpoint.functions:
            yield endpoint, function.decl


def sorted_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Findings by place, code and message, each once."""
    unique = {(f.location, f.code, f.message): f for f in findings}
    return tuple(unique[key] for key in sorted(unique))
