"""What the static checks report: one :class:`Finding` per problem."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from .errors import SourceLocation
from .models import BuildPlan, BuildWarning, FunctionDecl, PlannedEndpoint

FindingCode = Literal[
    "scope", "undeclared-import", "module-level-import", "unshipped-import", "not-awaited",
    "plan-calls",
]
SEVERITIES: dict[str, str] = {
    "scope": "warning",
    "undeclared-import": "warning",
    "module-level-import": "warning",
    "unshipped-import": "error",
    "not-awaited": "warning",
    "plan-calls": "error",
}


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem the static checks found, at the place it is written."""

    code: str  # one of FindingCode
    message: str
    location: SourceLocation
    severity: str  # "warning" or "error"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message} [{self.code}]"

    def as_build_warning(self) -> BuildWarning:
        """The finding as a build warning, for the summary and ``--json``."""
        return BuildWarning(message=f"{self.message} [{self.code}]", location=self.location)


def finding(code: FindingCode, message: str, location: SourceLocation) -> Finding:
    return Finding(code=code, message=message, location=location, severity=SEVERITIES[code])


def declarations(plan: BuildPlan) -> Iterator[tuple[PlannedEndpoint, FunctionDecl]]:
    for endpoint in plan.endpoints:
        for function in endpoint.functions:
            yield endpoint, function.decl


def sorted_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    unique = {(f.location, f.code, f.message): f for f in findings}
    return tuple(unique[key] for key in sorted(unique))
