"""Environment lookups in declarations, read at build time where that is allowed.

``os.getenv("X"[, default])``, ``os.environ.get("X"[, default])`` and
``os.environ["X"]``, with ``os``, ``environ`` and ``getenv`` resolved through
the module's imports (``from os import environ as env`` counts; a function of
the user's that happens to be called ``getenv`` does not). In an ``env`` value
or as the name of an enum member (``DataCenter[os.environ.get("DC", "EU_RO_1")]``)
the value comes from the environment of ``flash build``; anywhere else a lookup
is an error, since what the worker's environment holds is not known at build time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

if TYPE_CHECKING:
    from .static_eval import Evaluator

ENUM_KEY = "the enum member's name"  # what the evaluator calls the name in DataCenter[...]
# Where a lookup is read at build time: `env` values, enum member names.
ENVIRONMENT_CONTEXTS = frozenset({"env", ENUM_KEY})
GETTERS = frozenset({"os.getenv", "os.environ.get"})
MAPPING = "os.environ"
SECRET_HINT = (
    "For a secret, leave it out of the build: write its RunPod secret template as the value, "
    "env={\"HF_TOKEN\": \"{{ RUNPOD_SECRET_HF_TOKEN }}\"}, and RunPod fills it in on the worker."
)


@dataclass(frozen=True)
class Lookup:
    """The parts of one environment lookup."""

    name: cst.BaseExpression
    default: cst.BaseExpression | None  # None: no default given


def qualified_name(evaluator: Evaluator, node: cst.BaseExpression, at: int) -> str:
    """``os.environ.get`` for a Name/Attribute chain, its first name resolved through the
    module's imports (``""`` when it does not start with an imported module or name)."""
    if isinstance(node, cst.Attribute):
        base = qualified_name(evaluator, node.value, at)
        return f"{base}.{node.attr.value}" if base else ""
    if isinstance(node, cst.Name):
        binding = evaluator.namespace.lookup(node.value, at)
        if binding is not None and binding.kind in ("module", "imported", "sdk-module"):
            return binding.symbol
    return ""


def environment_lookup(evaluator: Evaluator, node: cst.Call | cst.Subscript,
                       at: int) -> Lookup | None:
    """The lookup ``node`` is, or None if it is none."""
    if isinstance(node, cst.Subscript):
        if qualified_name(evaluator, node.value, at) != MAPPING or len(node.slice) != 1:
            return None
        index = node.slice[0].slice
        return Lookup(name=index.value, default=None) if isinstance(index, cst.Index) else None
    if qualified_name(evaluator, node.func, at) not in GETTERS:
        return None
    positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
    keywords = {arg.keyword.value: arg.value for arg in node.args if arg.keyword is not None}
    name = positional[0] if positional else keywords.get("key")
    default = positional[1] if len(positional) > 1 else keywords.get("default")
    if name is None or len(positional) > 2 or any(arg.star for arg in node.args):
        return None
    return Lookup(name=name, default=default)


def evaluate_lookup(evaluator: Evaluator, node: cst.CSTNode, lookup: Lookup, at: int,
                    what: str) -> str:
    """The build-time value of a lookup, or an error saying where lookups are allowed
    or which variable is not set."""
    if what not in ENVIRONMENT_CONTEXTS:
        raise evaluator.error(
            node,
            f"the value of `{what}` must be static, but `{evaluator.code(node)}` is an "
            "environment lookup. flashbuild reads lookups from the environment of "
            "`flash build` only in `env` values and as the name of an enum member "
            "(DataCenter[os.environ.get(\"DC\", \"EU_RO_1\")]).",
            hint="Write the value literally, or pass it through `env` and read it in the "
            "function on the worker. " + SECRET_HINT,
        )
    name = evaluator.evaluate(lookup.name, at, "the variable's name")
    default = None if lookup.default is None else evaluator.evaluate(
        lookup.default, at, "the default")
    if not isinstance(name, str) or not isinstance(default, (str, type(None))):
        raise evaluator.error(node, f"`{evaluator.code(node)}` must name the variable with a "
                              "string and give a string default, if any.")
    value = evaluator.project.getenv(name) if evaluator.project is not None else None
    if value is not None:
        return value
    if default is not None:
        return default
    raise evaluator.error(
        node,
        f"the environment variable {name} is not set for `flash build`, and "
        f"`{evaluator.code(node)}` gives no default.",
        hint=f"Set {name} when building, or give a default "
        f"(os.environ.get(\"{name}\", \"...\")). " + SECRET_HINT,
    )
