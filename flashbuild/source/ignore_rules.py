"""Gitignore rules as git applies them: ignore files, their patterns and their verdicts."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec, RegexPattern

from ..errors import SourceLocation, UsageError

# pathspec's gitignore regexes match a path *or anything below it*; the regex
# group named here (the one pathspec's own GitIgnoreSpec backend reads) marks
# the "/" after a matched directory. Git only applies a pattern to the path
# itself, so a mark before the end means "matched an ancestor" and is dropped.
_DIR_MARK_GROUP = "ps_d"


def _mark_end(match: re.Match) -> int:
    return match.end(_DIR_MARK_GROUP) if _DIR_MARK_GROUP in match.re.groupindex else -1


def _matches_itself(pattern: RegexPattern, candidate: str) -> bool:
    """Whether ``pattern`` matches ``candidate`` itself rather than an ancestor of it.

    A file (``"a/b"``) matches without a directory mark; a directory given as
    ``"a/b/"`` matches with the mark on its own trailing slash.
    """
    if pattern.regex is None:
        return False
    if not candidate.endswith("/"):
        match = pattern.regex.search(candidate)
        return match is not None and _mark_end(match) == -1
    # Also search from the last character: pathspec compiles "*/" to an
    # unanchored mark whose leftmost match is the first ancestor's slash.
    return any(
        (match := pattern.regex.search(candidate, start)) is not None
        and _mark_end(match) == len(candidate)
        for start in (0, len(candidate) - 1)
    )


@dataclass(frozen=True)
class IgnoreFile:
    """The patterns of one ignore file, matched relative to the folder ``base``."""

    base: str  # POSIX folder relative to the root, "" for the root itself
    spec: GitIgnoreSpec

    def verdict(self, rel: str, *, is_dir: bool) -> bool | None:
        """True: ignored, False: re-included by ``!``, None: no pattern matched.

        As in git, the last pattern matching the path itself decides. pathspec
        also matches everything below a matched directory; such matches are
        dropped, since the walk only reaches paths whose directories ship (so
        ``!build/`` re-includes ``build/`` but not ``build/__pycache__/``).
        """
        path = rel[len(self.base) + 1 :] if self.base else rel
        # A directory is tried bare (for "*", "name") and with "/" (for "name/").
        candidates = (path, path + "/") if is_dir else (path,)
        if all(self.spec.check_file(c).include is None for c in candidates):
            return None  # the common case: no pattern matches at all
        verdict = None
        for pattern in self.spec.patterns:
            if pattern.include is not None and any(_matches_itself(pattern, c) for c in candidates):
                verdict = pattern.include
        return verdict



def ignore_spec(lines: Iterable[str]) -> GitIgnoreSpec:
    """The patterns of ``lines``; one git accepts but that matches nothing (``[z-a]``) is dropped.

    Raises ValueError (pathspec's GitIgnorePatternError) for what git refuses too.
    """
    kept = []
    for line in lines:
        try:
            GitIgnoreSpec.from_lines([line])
        except re.error:  # an empty range: git's fnmatch matches nothing with it
            continue
        kept.append(line)
    return GitIgnoreSpec.from_lines(kept)


def read_ignore_file(path: Path, rel: str, base: str) -> IgnoreFile:
    """Parse one ignore file; any problem with it is the user's to fix."""
    location = SourceLocation(path=rel)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the build forever
            raise UsageError(f"{rel} is not a regular file.", location=location,
                             hint=f"Make {rel} a text file of patterns, or delete it.")
        # utf-8-sig: a byte order mark would otherwise become part of the first pattern.
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        return IgnoreFile(base=base, spec=ignore_spec(lines))
    except OSError as exc:
        raise UsageError(
            f"cannot read {rel}: {exc.strerror or exc}.",
            location=location,
            hint=f"Make {rel} a readable file or delete it.",
        ) from None
    except UnicodeDecodeError:
        raise UsageError(
            f"{rel} is not valid UTF-8 text.", location=location, hint=f"Save {rel} as UTF-8."
        ) from None
    except ValueError as exc:  # pathspec's GitIgnorePatternError
        raise UsageError(
            f"{rel} has an invalid pattern: {exc}",
            location=location,
            hint="Fix the pattern; see the gitignore documentation for the syntax.",
        ) from None
