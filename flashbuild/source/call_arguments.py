"""The arguments of a call in a declaration, evaluated as Python passes them.

``*ARGS`` and ``**COMMON`` of static tuples and dicts are spread (a value in a
spread dict is named by its key in messages); a keyword given twice is an
error, as Python refuses it; every bad argument is reported, not only the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from ..errors import SourceCodeError, SourceLocation
from ..records import StaticDict, StaticValue

if TYPE_CHECKING:
    from .static_eval import Evaluator


def call_arguments(
    evaluator: Evaluator, node: cst.Call, at: int, what: str
) -> tuple[list[tuple[str, StaticValue]], list[SourceLocation]]:
    """The arguments as (keyword or ``#position``, value), ``*``/``**`` of static
    sequences and dicts spread as Python spreads them, with where each was written."""
    arguments: list[tuple[str, StaticValue]] = []
    locations: list[SourceLocation] = []
    positional = 0
    errors: list[SourceCodeError] = []
    for arg in node.args:
        where = evaluator.location(arg.value)
        try:
            pairs = _argument_pairs(evaluator, arg, at, what, positional)
        except SourceCodeError as error:  # report every bad argument, not the first only
            errors.append(error)
            continue
        positional += sum(key.startswith("#") for key, _ in pairs)
        for key, value in pairs:
            if any(key == seen for seen, _ in arguments):
                raise evaluator.error(arg, f"`{key}` is given more than once in this call, "
                                 "which Python refuses when the module is imported.",
                                 hint=f"Give `{key}` once.")
            arguments.append((str(key), value))
            locations.append(where)
    if errors:
        raise SourceCodeError.combine(errors)
    return arguments, locations

def _argument_pairs(evaluator: Evaluator, arg: cst.Arg, at: int, what: str,
                    positional: int) -> list[tuple[str, StaticValue]]:
    """(keyword or ``#position``, value) of one argument, ``*``/``**`` spread."""
    if arg.star == "**":
        spread = evaluator.evaluate(arg.value, at, "**")  # values named by their keys
        if not isinstance(spread, StaticDict) or not all(
                isinstance(key, str) and key.isidentifier() for key, _ in spread.items):
            raise evaluator.not_static(arg, what, "a `**` of something other than a dict "
                                  "with keyword names as keys")
        return [(str(key), value) for key, value in spread.items]
    if arg.star == "*":
        spread = evaluator.evaluate(arg.value, at, what)
        if not isinstance(spread, tuple):
            raise evaluator.not_static(arg, what, "a `*` of a non-sequence")
        return [(f"#{positional + offset}", value) for offset, value in enumerate(spread)]
    if arg.keyword is None:
        return [(f"#{positional}", evaluator.evaluate(arg.value, at, what))]
    return [(arg.keyword.value, evaluator.evaluate(arg.value, at, arg.keyword.value))]
