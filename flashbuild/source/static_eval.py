"""Evaluate decorator arguments without running user code.

The :class:`Evaluator` reads names through the module's
:class:`~flashbuild.source.namespace.Namespace` and turns an expression into a
static value (literals, containers, module-level constants, ``A + B``, enum
members and calls of runpod_flash classes) or raises a :class:`SourceCodeError`
at the exact place that is not static, saying how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import CodeRange

from ..errors import SourceCodeError, SourceLocation
from ..records import EnumMember, StaticCall, StaticDict, StaticValue
from . import symbols
from .call_arguments import call_arguments
from .environment_lookups import ENUM_KEY, environment_lookup, evaluate_lookup, qualified_name
from .namespace import Binding, Namespace
from .syntax import dotted_name

if TYPE_CHECKING:
    from .project_scope import ProjectScope

STATIC_HINT = (
    "flashbuild reads your code without running it, so decorator arguments must be "
    "literals, module-level constants (DEPS = [\"numpy\"], in this file or imported from "
    "another module of the project), `A + B` of those, dict(...) and `**` of static dicts, "
    "or runpod_flash enum members such as GpuGroup.ANY. Write the value literally or move "
    "it into such a constant."
)
_END = 1 << 30  # a statement index after every statement: what an importer sees


class Evaluator:
    """Resolves names and evaluates expressions of one parsed module."""

    def __init__(
        self,
        *,
        module: cst.Module,
        positions: Mapping[cst.CSTNode, CodeRange],
        path: str,
        namespace: Namespace,
        project: ProjectScope | None = None,
    ) -> None:
        self.module = module
        self.positions = positions
        self.path = path
        self.namespace = namespace
        self.project = project

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

    def resolve_binding(self, name: str, at: int) -> tuple[Evaluator, Binding | None]:
        """The binding ``name`` has at statement ``at``, a name imported from another
        project module followed there (once, not through chains): with its evaluator."""
        binding = self.namespace.lookup(name, at)
        if (binding is not None and binding.kind == "imported" and self.project is not None
                and self.project.has_module(binding.source)):
            other = self.project.evaluator(binding.source)
            return other, other.namespace.lookup(binding.symbol.rsplit(".")[-1], _END)
        return self, binding

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
        if isinstance(node, (cst.Call, cst.Subscript)) and (
                lookup := environment_lookup(self, node, at)) is not None:
            return evaluate_lookup(self, node, lookup, at, what)
        if isinstance(node, cst.Subscript):
            return self._evaluate_enum_subscript(node, at, what)
        if isinstance(node, cst.Call) and self._is_builtin(node.func, "dict", at):
            return self._evaluate_dict_call(node, at, what)
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
        return self._evaluate_binding(node.value, binding, self.location(node), what)

    def evaluate_global(self, name: str, usage: SourceLocation, what: str) -> StaticValue:
        """The value of this module's global ``name`` as a module importing it sees it."""
        binding = self.namespace.lookup(name, _END)
        if binding is None:
            raise SourceCodeError(
                f"the value of `{what}` must be static, but `{name}` is not defined at the "
                f"top level of {self.path}.",
                location=usage, hint=STATIC_HINT, related=(SourceLocation(path=self.path),))
        return self._evaluate_binding(name, binding, usage, what)

    def _evaluate_in(self, module: str, name: str, usage: SourceLocation,
                     what: str) -> StaticValue:
        """The value of ``name`` in the project module ``module``, used at ``usage``."""
        assert self.project is not None
        other = self.project.evaluator(module)
        with self.project.following(module, name, usage):
            return _with_usage(usage, lambda: other.evaluate_global(name, usage, what))

    def _evaluate_binding(self, name: str, binding: Binding, usage: SourceLocation,
                          what: str) -> StaticValue:
        if binding.kind == "imported" and self.project is not None and self.project.has_module(
                binding.source):
            return self._evaluate_in(binding.source, binding.symbol.rsplit(".")[-1], usage, what)
        value = binding.node
        if binding.kind == "expr" and isinstance(value, cst.BaseExpression):
            # A fault in the constant's definition is shown there, and where it is used.
            return _with_usage(usage, lambda: self.evaluate(value, binding.index, what))
        where = self.location(binding.node)
        reason = binding.reason or "not a constant"
        raise SourceCodeError(
            f"the value of `{what}` must be static, but `{name}` is {reason} "
            f"(bound at {where}).",
            location=usage,
            hint=STATIC_HINT,
            related=(where,),
        )

    def _is_builtin(self, node: cst.BaseExpression, name: str, at: int) -> bool:
        """``node`` is the builtin ``name``: written so, and not bound in this module."""
        return (isinstance(node, cst.Name) and node.value == name
                and self.namespace.lookup(name, at) is None)

    def _evaluate_dict_call(self, node: cst.Call, at: int, what: str) -> StaticDict:
        """``dict(a=1, **OTHER)`` or ``dict(OTHER, a=1)`` of static values."""
        arguments, _ = call_arguments(self, node, at, what)
        merged: dict[StaticValue, StaticValue] = {}
        for key, value in arguments:
            if key == "#0" and isinstance(value, StaticDict):
                merged.update(value.items)
            elif key.startswith("#"):
                raise self.not_static(node, what, "a `dict(...)` call with positional "
                                      "arguments other than one dict")
            else:
                merged[key] = value
        return StaticDict(tuple(merged.items()))

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
                # Environment lookups fill `env` values, never its keys.
                key = self.evaluate(element.key, at, "env key" if what == "env" else what)
                # In a dict spread into a call, a value is that keyword's argument.
                named = key if what == "**" and isinstance(key, str) else what
                merged[key] = self.evaluate(element.value, at, named)
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

    def _evaluate_attribute(self, node: cst.Attribute, at: int, what: str) -> StaticValue:
        module = qualified_name(self, node.value, at)
        if self.project is not None and module and self.project.has_module(module):
            # `config.DEPS` after `import config` (or `from . import config`)
            return self._evaluate_in(module, node.attr.value, self.location(node), what)
        enum = self.resolve_symbol(node.value, at)
        if enum not in symbols.ENUMS:
            raise self.not_static(
                node, what, "an attribute that is not a runpod_flash enum member"
            )
        return self._enum_member(enum, node.attr.value, node.attr)

    def _evaluate_enum_subscript(self, node: cst.Subscript, at: int, what: str) -> EnumMember:
        """``DataCenter["EU_RO_1"]``: a member by its name (which may come from the
        build's environment)."""
        enum = self.resolve_symbol(node.value, at)
        index = node.slice[0].slice if len(node.slice) == 1 else None
        if enum not in symbols.ENUMS or not isinstance(index, cst.Index):
            raise self.not_static(node, what, "a subscript")
        member = self.evaluate(index.value, at, ENUM_KEY)
        if not isinstance(member, str):
            raise self.not_static(index, what, "an enum member name that is not a string")
        return self._enum_member(enum, member, index)

    def _enum_member(self, enum: str, member: str, node: cst.CSTNode) -> EnumMember:
        table = symbols.ENUM_TABLES[enum]
        if member not in table:
            close = difflib.get_close_matches(member, table, n=1)
            suggestion = f" Did you mean {enum}.{close[0]}?" if close else ""
            raise self.error(
                node,
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
        arguments, locations = call_arguments(self, node, at, what)
        return StaticCall(callee=callee, arguments=tuple(arguments), location=self.location(node),
                          argument_locations=tuple(locations))


def _with_usage(usage: SourceLocation, evaluate: Callable[[], StaticValue]) -> StaticValue:
    """``evaluate()``, an error in it also showing ``usage`` (where the value is used)."""
    try:
        return evaluate()
    except SourceCodeError as error:
        if usage not in error.related and usage != error.location:
            error.related = (*error.related, usage)
        raise
