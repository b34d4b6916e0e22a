"""Render the handler files from a build plan; writes nothing.

The Jinja templates live in ``templates/`` at the repository root; the
package reaches them through ``flashbuild/render/templates``, a link in a
checkout and a copy in a built wheel, so both find them at the same place.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from ..errors import InternalError, SourceCodeError, SourceLocation
from ..records import BuildPlan, PlannedEndpoint, ProjectFiles, RenderedFile
from .manifest import MANIFEST_FILE
from .sbom import SBOM_FILE

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def templates_dir() -> Path:
    """The directory holding the handler templates."""
    if not (TEMPLATES_DIR / "queue_function.py.j2").is_file():
        raise InternalError(
            "the handler templates are missing from this flashbuild installation.",
            hint="Reinstall flashbuild.",
        )
    return TEMPLATES_DIR


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["py"] = repr  # Python literals, not HTML-escaped JSON
    return environment


def template_for(endpoint: PlannedEndpoint) -> str:
    """The template of an endpoint's kind: load-balanced, queue class or queue function."""
    if endpoint.load_balanced:
        return "load_balanced.py.j2"
    if endpoint.functions[0].decl.is_class:
        return "queue_class.py.j2"
    return "queue_function.py.j2"


def render_handler(endpoint: PlannedEndpoint) -> RenderedFile:
    """The ``handler_<name>.py`` module the worker loads for one endpoint."""
    template = _environment().get_template(template_for(endpoint))
    text = template.render(endpoint=endpoint, function=endpoint.functions[0].decl)
    return RenderedFile(path=endpoint.handler_file, content=text.encode("utf-8"))


def render_handlers(plan: BuildPlan) -> tuple[RenderedFile, ...]:
    """One handler per endpoint, in endpoint-name order."""
    return tuple(render_handler(endpoint) for endpoint in plan.endpoints)


def check_generated_names(files: ProjectFiles, generated: tuple[str, ...]) -> None:
    """A project file must not sit where a generated file goes."""
    taken = {file.path for file in files.files}
    folders = {part for file in files.files for part in _folders(file.path)}
    for path in generated:
        if path.removesuffix(".py") in folders:
            raise SourceCodeError(
                f"project folder {path.removesuffix('.py')}/ is named like the generated "
                f"handler {path}; `import {path.removesuffix('.py')}` would find the folder.",
                location=SourceLocation(path=path.removesuffix(".py") + "/"),
                hint="Rename the folder, or exclude it in .flashignore.",
            )
        if path in taken:
            raise SourceCodeError(
                f"project file {path} would be overwritten by the generated "
                f"{_GENERATED.get(path, 'handler')} of the same name.",
                location=SourceLocation(path=path),
                hint="Rename the file, or exclude it in .flashignore.",
            )


_GENERATED = {MANIFEST_FILE: "manifest", SBOM_FILE: "SBOM"}


def _folders(path: str) -> list[str]:
    """``a/b/c.py`` -> ``a``, ``a/b``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]
