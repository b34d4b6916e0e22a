"""Evaluate decorator arguments without running user code.

The :class:`Evaluator` reads names through the module's
:class:`~flashbuild.source.namespace.Namespace` and turns an expression into a
static value (literals, containers, module-level constants, ``A + B``, enum
members and calls of runpod_flash classes) or raises a :class:`SourceCodeError`
at the exact place that is not static, saying how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

import libcst as cst
from libcst.metadata import CodeRange

from ..errors import SourceCodeError, SourceLocation
from ..records import EnumMember, StaticCall, StaticDict, StaticValue
from . import symbols
from .namespace import Binding, Namespace
from .syntax import dotted_name

STATIC_HINT = (
    "flashbuild reads your code without running it, so decorator arguments must be "
    "literals, module-level constants of the same file (DEPS = [\"numpy\"]), `A + B` of "
    "those, or runpod_flash enum members such as GpuGroup.ANY. Write the value "
    "literally or move it into such a constant."
)


def _is_environment_lookup(node: cst.Call | cst.Subscript) -> bool:
    """``os.getenv(...)``, ``os.environ[...]``, ``os.environ.get(...)`` and the like."""
    inner = node.func if isinstance(node, cst.Call) else node.value
    while isinstance(inner, (cst.Call, cst.Subscript, cst.Attribute)):
        name = dotted_name(inner) if isinstance(inner, cst.Attribute) else ""
        if name.split(".")[-1] in ("environ", "getenv") or ".environ." in f".{name}.":
            return True
        inner = inner.func if isinstance(inner, cst.Call) else inner.value
    return False


class Evaluator:
    """Resolves names and evaluates expressions of one parsed module."""

    def __init__(
        self,
        *,
        module: cst.Module,
        positions: Mapping[cst.CSTNode, CodeRange],
        path: str,
        namespace: Namespace,
    ) -> None:
        self.module = module
        self.positions = positions
        self.path = path
        self.namespace = namespace

    # -- locations and source text ---------------------------------------------

    def location(self, node: cst.CSTNode) -> SourceLocation:
        code_range = self.positions.get(node)
        if code_range is None:
            return SourceLocation(path=self.path)
        return SourceLocation(
            path=self.path, line=code_range.start.line, column=code_range.start.column + 1
        )

    def code(self, node: cst.CSTNode, limit: int = 60) -> str:
        text = " ".join(self.module.code_for_node(node).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def error(
        self,
        node: cst.CSTNode,
        message: str,
        *,
        hint: str | None = None,
        related: tuple[SourceLocation, ...] = (),
    ) -> SourceCodeError:
        return SourceCodeError(message, location=self.location(node), hint=hint, related=related)

    # -- names -----------------------------------------------------------------

    def resolve_symbol(self, node: cst.BaseExpression, at: int) -> str | None:
        """The runpod_flash name an expression refers to, or None if it is not ours.

        Returns a symbol such as ``"Endpoint"``, or ``"<module>"`` for the SDK
        package (and its submodules) itself.
        """
        if isinstance(node, cst.Name):
            binding = self.namespace.lookup(node.value, at)
            if binding is None:
                return None
            if binding.kind == "symbol":
                return binding.symbol
            if binding.kind == "sdk-module":
                return "<module>"
            return None
        if isinstance(node, cst.Attribute):
            base = self.resolve_symbol(node.value, at)
            if base != "<module>":
                return None
            attr = node.attr.value
            if attr in symbols.KNOWN_SYMBOLS:
                return attr
            # runpod_flash.core.resources.X: lower-case attributes are submodules.
            return "<module>" if attr[:1].islower() else None
        return None

    def resolve_constant(self, node: cst.Name, at: int) -> Binding | None:
        binding = self.namespace.lookup(node.value, at)
        return binding if binding is not None and binding.kind == "expr" else None

    # -- evaluation ------------------------------------------------------------

    def evaluate(self, node: cst.BaseExpression, at: int, what: str) -> StaticValue:
        """Evaluate ``node`` as seen by statement ``at``; ``what`` names the argument."""
        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            if isinstance(value, str):
                return value
            raise self.not_static(node, what, "a bytes literal")
        if isinstance(node, cst.ConcatenatedString):
            # Part by part: libcst gives no value as soon as one part is an f-string,
            # even one without placeholders, which is as static as a plain string.
            # Each part is a string literal: it evaluates to a str or raises.
            left = self.evaluate(node.left, at, what)
            return left + self.evaluate(node.right, at, what)  # type: ignore[operator]
        if isinstance(node, cst.FormattedString):
            texts = [part for part in node.parts if isinstance(part, cst.FormattedStringText)]
            if len(texts) == len(node.parts):
                return "".join(part.value for part in texts)
            raise self.not_static(node, what, "an f-string")
        if isinstance(node, (cst.Integer, cst.Float)):
            return node.evaluated_value
        if isinstance(node, cst.UnaryOperation) and isinstance(
            node.operator, (cst.Minus, cst.Plus)
        ):
            operand = self.evaluate(node.expression, at, what)
            if isinstance(operand, (int, float)) and not isinstance(operand, bool):
                return -operand if isinstance(node.operator, cst.Minus) else operand
            raise self.not_static(node, what, "a sign applied to a non-number")
        if isinstance(node, cst.Name):
            return self._evaluate_name(node, at, what)
        if isinstance(node, (cst.List, cst.Tuple)):
            return self._evaluate_sequence(node, at, what)
        if isinstance(node, cst.Dict):
            return self._evaluate_dict(node, at, what)
        if isinstance(node, cst.BinaryOperation):
            return self._evaluate_addition(node, at, what)
        if isinstance(node, cst.Attribute):
            return self._evaluate_attribute(node, at, what)
        if isinstance(node, (cst.Call, cst.Subscript)) and _is_environment_lookup(node):
            raise self.not_static(
                node, what, "an environment variable lookup, which is only known when the code runs"
            )
        if isinstance(node, cst.Call):
            return self.evaluate_call(node, at, what)
        described = {
            cst.Subscript: "a subscript",
            cst.Lambda: "a lambda",
            cst.ListComp: "a comprehension",
            cst.DictComp: "a comprehension",
            cst.SetComp: "a comprehension",
            cst.GeneratorExp: "a generator expression",
            cst.Set: "a set (use a list)",
            cst.IfExp: "a conditional expression",
            cst.BooleanOperation: "a boolean expression",
            cst.Comparison: "a comparison",
            cst.Await: "an await expression",
        }
        raise self.not_static(node, what, described.get(type(node), "an expression"))

    def not_static(self, node: cst.CSTNode, what: str, description: str) -> SourceCodeError:
        return self.error(
            node,
            f"the value of `{what}` must be static, but `{self.code(node)}` is {description}.",
            hint=STATIC_HINT,
        )

    def _evaluate_name(self, node: cst.Name, at: int, what: str) -> StaticValue:
        constants = {"True": True, "False": False, "None": None}
        if node.value in constants:
            return constants[node.value]
        binding = self.namespace.lookup(node.value, at)
        if binding is None:
            raise self.not_static(
                node, what, "a name that is not a module-level constant of this file"
            )
        if binding.kind == "expr":
            assert isinstance(binding.node, cst.BaseExpression)
            try:
                return self.evaluate(binding.node, binding.index, what)
            except SourceCodeError as error:
                # The fault is in the constant's definition; also show where it is used.
                usage = self.location(node)
                if usage not in error.related:
                    error.related = (*error.related, usage)
                raise
        where = self.location(binding.node)
        reason = binding.reason or "not a constant"
        raise self.error(
            node,
            f"the value of `{what}` must be static, but `{node.value}` is {reason} "
            f"(bound at {where}).",
            hint=STATIC_HINT,
            related=(where,),
        )

    def _evaluate_sequence(self, node: cst.List | cst.Tuple, at: int, what: str) -> tuple:
        items: list[StaticValue] = []
        for element in node.elements:
            value = self.evaluate(element.value, at, what)
            if isinstance(element, cst.StarredElement):
                if not isinstance(value, tuple):
                    raise self.not_static(element, what, "a starred non-sequence")
                items.extend(value)
            else:
                items.append(value)
        return tuple(items)

    def _evaluate_dict(self, node: cst.Dict, at: int, what: str) -> StaticDict:
        merged: dict[StaticValue, StaticValue] = {}
        for element in node.elements:
            if isinstance(element, cst.StarredDictElement):
                value = self.evaluate(element.value, at, what)
                if not isinstance(value, StaticDict):
                    raise self.not_static(element, what, "a `**` of a non-dict")
                merged.update(value.items)
            elif isinstance(element, cst.DictElement):
                key = self.evaluate(element.key, at, what)
                merged[key] = self.evaluate(element.value, at, what)
        return StaticDict(tuple(merged.items()))

    def _evaluate_addition(self, node: cst.BinaryOperation, at: int, what: str) -> StaticValue:
        if not isinstance(node.operator, cst.Add):
            raise self.not_static(node, what, "an arithmetic expression other than `+`")
        left = self.evaluate(node.left, at, what)
        right = self.evaluate(node.right, at, what)
        same_kind = (
            (isinstance(left, tuple) and isinstance(right, tuple))
            or (isinstance(left, str) and isinstance(right, str))
            or (
                isinstance(left, (int, float))
                and isinstance(right, (int, float))
                and not isinstance(left, bool)
                and not isinstance(right, bool)
            )
        )
        if not same_kind:
            raise self.not_static(node, what, "an addition of values of different kinds")
        return left + right  # type: ignore[operator]

    def _evaluate_attribute(self, node: cst.Attribute, at: int, what: str) -> EnumMember:
        enum = self.resolve_symbol(node.value, at)
        if enum not in symbols.ENUMS:
            raise self.not_static(
                node, what, "an attribute that is not a runpod_flash enum member"
            )
        member = node.attr.value
        table = symbols.ENUM_TABLES[enum]
        if member not in table:
            close = difflib.get_close_matches(member, table, n=1)
            suggestion = f" Did you mean {enum}.{close[0]}?" if close else ""
            raise self.error(
                node.attr,
                f"`{enum}.{member}` is not a member of {enum} in runpod-flash "
                f"{symbols.SDK_VERSION}, so importing this module fails on the worker."
                f"{suggestion}",
                hint=f"Members of {enum}: {', '.join(sorted(table))}.",
            )
        return EnumMember(enum=enum, member=member, value=table[member])

    def evaluate_call(
        self,
        node: cst.Call,
        at: int,
        what: str,
        callees: frozenset[str] = symbols.STATIC_CALLABLES,
    ) -> StaticCall:
        """Evaluate a call of a runpod_flash class (``Endpoint(...)``, ``PodTemplate(...)``)."""
        callee = self.resolve_symbol(node.func, at)
        if callee not in callees:
            name = dotted_name(node.func) or self.code(node.func)
            raise self.not_static(node, what, f"a call to `{name}`")
        arguments: list[tuple[str, StaticValue]] = []
        for position, arg in enumerate(node.args):
            if arg.star:
                raise self.not_static(arg, what, f"a `{arg.star}` argument")
            key = arg.keyword.value if arg.keyword else f"#{position}"
            arguments.append((key, self.evaluate(arg.value, at, key if arg.keyword else what)))
        return StaticCall(
            callee=callee,
            arguments=tuple(arguments),
            location=self.location(node),
            argument_locations=tuple(self.location(arg.value) for arg in node.args),
        )
