"""What the static checks report: one :class:`Finding` per problem."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from ..errors import SourceLocation
from ..records import BuildPlan, BuildWarning, FunctionDecl, PlannedEndpoint

FindingCode = Literal[
    "scope", "undeclared-import", "module-level-import", "unshipped-import", "not-awaited",
    "unavailable-import", "secret",
]
Severity = Literal["warning", "error"]
SEVERITIES: dict[FindingCode, Severity] = {
    "scope": "warning",
    "undeclared-import": "warning",
    "module-level-import": "warning",
    "unshipped-import": "error",
    "not-awaited": "warning",
    "unavailable-import": "error",
    "secret": "error",
}
# What to do about each kind of error.
FIXES: dict[FindingCode, str] = {
    "unshipped-import": "Ship the imported module (check .gitignore, .flashignore and "
    "[tool.flash] ignore), or stop importing it.",
    "unavailable-import": "Declare the package in the endpoint's dependencies=[...] (or "
    "requirements.txt), or move the import into the functions that use it.",
    "secret": "Remove the credential and read it from the environment (env=... or a secret) "
    "on the worker, leave the file out (.flashignore), or, if it is no secret (a test key), "
    "list its path in [tool.flash] allow-secrets.",
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


@dataclass(frozen=True, kw_only=True)
class LoadImport:
    """A third-party import that runs when a worker loads an endpoint's handler."""

    endpoint: str
    module: str  # as imported: "pandas", "numpy.linalg"
    location: SourceLocation
    chain: tuple[str, ...]  # the files the worker loads, from the endpoint's to the importer

    def importer(self) -> str:
        """``lib/deep.py (imported through app.py -> helpers.py -> lib/deep.py)``."""
        through = f" (imported through {' -> '.join(self.chain)})" if len(self.chain) > 1 else ""
        return self.chain[-1] + through


@dataclass(frozen=True, kw_only=True)
class SourceReport:
    """What the source checks found, and what is left to check once dependencies are known."""

    findings: tuple[Finding, ...]
    load_imports: tuple[LoadImport, ...]


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
