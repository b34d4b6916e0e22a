"""Render the handler files from a build plan; writes nothing.

The Jinja templates live in ``templates/`` at the repository root; the
package reaches them through ``flashbuild/render/templates``, a link in a
checkout and a copy in a built wheel, so both find them at the same place.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

from ..errors import InternalError
from ..records import BuildPlan, PlannedEndpoint, RenderedFile

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
