"""Render handler files and the manifest from a build plan; writes nothing.

The Jinja templates live in ``templates/`` at the repository root and inside
the installed package (``flashbuild/templates``), so both a source checkout
and an installed wheel find them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from .errors import InternalError
from .models import BuildPlan, PlannedEndpoint, RenderedFile

MANIFEST_FILE = "flash_manifest.json"


def templates_dir() -> Path:
    """The directory holding the handler templates."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "templates", package_dir.parent / "templates"):
        if (candidate / "queue_function.py.j2").is_file():
            return candidate
    raise InternalError(
        "the handler templates are missing from this flashbuild installation.",
        hint="Reinstall flashbuild.",
    )


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
