"""Credentials in the project's own shipped files: a private key, a well-known token.

Every shipped regular file of the project (not the installed dependencies,
some of which ship test keys on purpose) is read, up to :data:`SCAN_BYTES`,
unless it looks binary. A match is an error (``secret``) at its line; a path
listed in ``[tool.flash] allow-secrets`` is not read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..errors import SourceLocation
from ..records import ProjectFile
from ..source.files import read_project_file
from .findings import Finding, finding

SCAN_BYTES = 4 * 1024 * 1024  # a credential sits in a text file, near its top
_BINARY_PROBE = 8192

# What each pattern finds (shown in the message), a literal every match contains (a quick
# test before the expression runs), and the expression.
PATTERNS: tuple[tuple[str, tuple[bytes, ...], re.Pattern[bytes]], ...] = (
    ("a private key", (b"PRIVATE KEY",), re.compile(
        rb"-----BEGIN (?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----")),
    ("an AWS access key ID", (b"AKIA", b"ASIA"),
     re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("a GitHub token", (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"), re.compile(
        rb"\bgh[pousr]_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{60,}")),
    ("a Slack token", (b"xox",), re.compile(rb"\bxox[baprs]-[A-Za-z0-9-]{10,}")),
    ("a PyPI token", (b"pypi-AgE",), re.compile(rb"\bpypi-AgE[A-Za-z0-9_-]{50,}")),
    ("a Google API key", (b"AIza",), re.compile(rb"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Stripe live secret key", (b"k_live_",), re.compile(rb"\b[sr]k_live_[0-9a-zA-Z]{24,}")),
    ("a Hugging Face token", (b"hf_",), re.compile(rb"\bhf_[A-Za-z]{34}\b")),
    ("a RunPod API key", (b"rpa_",), re.compile(rb"\brpa_[A-Za-z0-9]{20,}")),
)


# Any of the literals: one pass over a file tells whether a pattern could match at all.
_ANY_LITERAL = re.compile(b"|".join(re.escape(literal) for _, literals, _ in PATTERNS
                                    for literal in literals))


def secret_findings(files: Iterable[ProjectFile], allowed: frozenset[str],
                    known: Mapping[str, bytes] | None = None) -> list[Finding]:
    """A finding for each shipped project file that holds a credential (``known``: the
    bytes of files already read, by path)."""
    known = known or {}
    findings = []
    for file in files:
        if file.link_target is not None or file.path in allowed:
            continue
        data = known[file.path][:SCAN_BYTES] if file.path in known else read_project_file(
            file, SCAN_BYTES)
        if b"\0" in data[:_BINARY_PROBE]:
            continue
        found = _first_match(data)
        if found is not None:
            what, offset = found
            line = data.count(b"\n", 0, offset) + 1
            findings.append(finding(
                "secret",
                f"{file.path} holds what looks like {what} (line {line}); it would ship to "
                "every worker and into every copy of the artifact.",
                SourceLocation(path=file.path, line=line)))
    return findings


def _first_match(data: bytes) -> tuple[str, int] | None:
    if _ANY_LITERAL.search(data) is None:
        return None
    matches = [(match.start(), what) for what, literals, pattern in PATTERNS
               if any(literal in data for literal in literals)
               and (match := pattern.search(data)) is not None]
    if not matches:
        return None
    offset, what = min(matches)
    return what, offset
