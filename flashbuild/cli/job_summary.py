"""The GitHub Actions job summary of ``flash build``.

When ``GITHUB_STEP_SUMMARY`` names a file (GitHub sets it in every step), a
successful build appends a Markdown summary to it: the artifact against the
size cap, the endpoints, the largest shipped packages and who pulls them in,
what the worker images provide, and the warnings. A failed build appends its
error. The file is only ever appended to (other output of the step stays), and a
file that cannot be written costs a warning, never the build.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from .._util.units import human
from ..errors import FlashBuildError
from ..pipeline import BuildResult
from ..records import BuildWarning, PlannedEndpoint
from .github import Places
from .program import current_program
from .report import report_warnings

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
LARGEST_SHOWN = 10
_HASH_SHOWN = 12  # hex digits of an endpoint's config hash


def cell(text: str) -> str:
    """``text`` for a Markdown table cell or list item: ``|`` escaped, line breaks as
    ``<br>`` (a cell is one line)."""
    return re.sub(r"\r\n|\r|\n", "<br>", text.replace("|", "\\|"))


def code(text: str) -> str:
    """An inline code span holding ``text`` whatever backticks it has, on one line."""
    text = re.sub(r"[\r\n]+", " ", text)
    fence = "`" * (_longest_backticks(text) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _longest_backticks(text: str) -> int:
    """The longest run of backticks in ``text``: a fence must be longer."""
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def build_summary(result: BuildResult, *, max_size: int, places: Places,
                  program: str) -> str:
    """The Markdown summary of a successful build."""
    lines = [f"## {program} build: {cell(result.plan.project_name)}", "",
             _artifact_line(result, max_size, places), "",
             *_endpoint_table(result.plan.endpoints)]
    if result.dependencies is not None:
        lines += _largest_packages(result)
        lines += _provided_by_images(result)
    lines += _warning_list(result.warnings, places)
    return "\n".join(lines) + "\n"


def _artifact_line(result: BuildResult, max_size: int, places: Places) -> str:
    artifact = result.artifact
    line = (f"Artifact {cell(code(places.path(artifact.path)))}: **{human(artifact.size)}** "
            f"of the {human(max_size)} size cap ({artifact.size / max_size:.1%}), "
            f"{artifact.entries} entries, sha256 {code(artifact.sha256[:_HASH_SHOWN])}.")
    installed = result.dependencies
    if installed is None:
        return line + " No dependencies installed."
    cached = ", from the cache" if installed.from_cache else ""
    return (line + f" Dependencies ({installed.source}{cached}): "
            f"{len(installed.selection.shipped)} packages, {human(installed.part.size)} "
            "compressed.")


def _endpoint_table(endpoints: Iterable[PlannedEndpoint]) -> list[str]:
    lines = ["| endpoint | kind | compute | image | config hash |", "|---|---|---|---|---|"]
    for endpoint in endpoints:
        kind = "load-balanced" if endpoint.load_balanced else "queue"
        lines.append(f"| {cell(endpoint.name)} | {kind} | {endpoint.config.compute.upper()} | "
                     f"{cell(code(endpoint.image_name))} | "
                     f"{code(endpoint.config_hash[:_HASH_SHOWN])} |")
    return lines


def _largest_packages(result: BuildResult) -> list[str]:
    """The largest shipped packages by installed bytes, and what asks for each."""
    installed = result.dependencies
    assert installed is not None
    if not installed.sizes:
        return []
    packages = installed.resolution.by_name()
    largest = sorted(installed.sizes, key=lambda s: (-(s.unpacked or 0), s.name))
    lines = ["", f"### Largest shipped packages ({min(LARGEST_SHOWN, len(largest))} of "
             f"{len(largest)}, by installed size)", "",
             "| package | version | installed | pulled in by |", "|---|---|---:|---|"]
    for size in largest[:LARGEST_SHOWN]:
        package = packages.get(size.name)
        askers = [] if package is None else [
            *package.required_by,
            *(key.replace("endpoint:", "endpoint ") for key in package.requested_by)]
        lines.append(f"| {cell(size.name)} | {cell(size.version)} | {human(size.unpacked)} | "
                     f"{cell(', '.join(askers) or '?')} |")
    return lines


def _provided_by_images(result: BuildResult) -> list[str]:
    """The packages left out because the endpoints' images have them, by image."""
    installed = result.dependencies
    assert installed is not None
    by_image: dict[str, list[str]] = {}
    for exclusion in installed.selection.excluded:
        if exclusion.provided_by is not None:
            by_image.setdefault(exclusion.provided_by, []).append(
                f"{exclusion.name} {exclusion.version}")
    if not by_image:
        return []
    count = sum(map(len, by_image.values()))
    lines = ["", "### Provided by the worker images", "",
             f"{count} package{'s' * (count != 1)} left out because the images have "
             f"{'them' if count != 1 else 'it'}:", ""]
    lines += [f"- {code(image)} ({len(names)}): {cell(', '.join(names))}"
              for image, names in sorted(by_image.items())]
    return lines


def _warning_list(warnings: Iterable[BuildWarning], places: Places) -> list[str]:
    items = [(f"{code(places.location(w.location))}: " if w.location else "") + cell(w.message)
             for w in warnings]
    if not items:
        return []
    return ["", f"### Warnings ({len(items)})", "", *(f"- {item}" for item in items)]


def failure_summary(error: FlashBuildError, *, places: Places, program: str) -> str:
    """The Markdown summary of a failed build: the error, where, and what to do."""
    where = f" at {code(places.location(error.location))}" if error.location else ""
    fence = "`" * max(3, _longest_backticks(error.message) + 1)
    lines = [f"## {program} build failed", "",
             f"**{cell(error.kind)}** (exit code {error.exit_code}){where}:", "",
             f"{fence}text", error.message, fence]
    if error.hint:
        lines += ["", f"Hint: {cell(error.hint)}"]
    return "\n".join(lines) + "\n"


def append_summary(text: str, environ: Mapping[str, str] = os.environ) -> None:
    """Append ``text`` to the job summary file, if there is one; a warning if it cannot."""
    name = environ.get(SUMMARY_ENV)
    if not name:
        return
    try:
        with Path(name).open("a", encoding="utf-8") as summary:
            if summary.tell() > 0:  # a blank line after what earlier commands wrote
                summary.write("\n")
            summary.write(text)
    except OSError as exc:
        report_warnings([f"cannot append the job summary to {name} ({exc.strerror or exc}); "
                         "the build is not affected."])


def summarize_build(result: BuildResult, *, max_size: int, project_dir: Path) -> None:
    """Append the summary of a successful build when the job has a summary file."""
    if os.environ.get(SUMMARY_ENV):
        append_summary(build_summary(result, max_size=max_size, places=Places.of(project_dir),
                                     program=current_program()))


def summarize_failure(error: FlashBuildError, *, project_dir: Path | None,
                      program: str) -> None:
    """Append the summary of a failed build when the job has a summary file."""
    if os.environ.get(SUMMARY_ENV):
        append_summary(failure_summary(error, places=Places.of(project_dir), program=program))
