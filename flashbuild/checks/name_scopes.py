"""Python's name scoping, read statically from a libcst tree.

The static checks need to know which names inside an endpoint's body would be
looked up in the module's globals. libcst's own ``ScopeProvider`` (1.9) sends
a name used before its local assignment, walrus targets inside
comprehensions, ``del`` targets and ``match`` captures to the module scope, so
this walk follows the compiler's rules itself:

* a name bound anywhere in a function (assignment, ``for``/``with``/``except``
  target, walrus, ``del``, import, ``def``/``class``, ``match`` capture,
  parameter) is local to the whole function;
* ``global``/``nonlocal`` declarations override that;
* class bodies are invisible to the functions and comprehensions inside them;
* a comprehension's first iterable is evaluated in the enclosing scope, and a
  walrus inside a comprehension binds in the enclosing function;
* decorators and default values are evaluated in the enclosing scope;
  annotations are not followed at all (they are evaluated where the function
  is defined, or never).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from ..source.syntax import dotted_name

ScopeKind = Literal["module", "function", "class", "comprehension"]
BindingKind = Literal["import", "function", "class", "assignment", "parameter", "other"]

_KEYWORD_NAMES = frozenset({"True", "False", "None"})
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)


@dataclass(frozen=True, eq=False)
class BindingSite:
    """One place that binds a name in a scope."""

    name: str
    kind: BindingKind
    node: cst.CSTNode  # reported position: the bound Name, or the import/def statement
    value: cst.BaseExpression | None = None  # for ``NAME = value`` (single name target)
    statement: cst.CSTNode | None = None  # the Import/ImportFrom of an import
    imported: str = ""  # ``from m import imported as name``; "" for ``import m``


@dataclass(eq=False)
class Scope:
    kind: ScopeKind
    parent: Scope | None
    node: cst.CSTNode
    is_async: bool = False
    bindings: dict[str, list[BindingSite]] = field(default_factory=dict)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)

    def bind(self, site: BindingSite) -> None:
        self.bindings.setdefault(site.name, []).append(site)

    def function_scope(self) -> Scope:
        """The scope a walrus binds in: the nearest enclosing non-comprehension scope."""
        scope = self
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        return scope

    def is_within(self, other: Scope) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if scope is other:
                return True
            scope = scope.parent
        return False


@dataclass(frozen=True, eq=False)
class Reference:
    """A name read somewhere, with the scope it is read in."""

    name: str
    node: cst.Name
    scope: Scope


@dataclass(frozen=True)
class NameLookup:
    """Where a reference's name comes from.

    ``status`` is ``"local"`` (bound in ``scope``, a function, class or
    comprehension scope), ``"declared-global"`` (a ``global`` statement in
    ``scope`` says so) or ``"global"`` (looked up in the module, then builtins).
    """

    status: Literal["local", "declared-global", "global"]
    scope: Scope | None


def look_up(reference: Reference) -> NameLookup:
    """Find where ``reference``'s name is bound, the way the compiler does."""
    name, scope = reference.name, reference.scope
    current: Scope | None = scope
    while current is not None and current.kind != "module":
        if name in current.declared_global:
            return NameLookup("declared-global", current)
        # Functions and comprehensions nested in a class do not see its names.
        visible = current is scope or current.kind != "class"
        if visible and (name in current.bindings or name in current.declared_nonlocal):
            return NameLookup("local", current)
        current = current.parent
    return NameLookup("global", current)


def is_constant_literal(node: cst.BaseExpression | None) -> bool:
    """str/bytes/int/float/bool/None literals, signed numbers and tuples of those."""
    if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary)):
        return True
    if isinstance(node, cst.ConcatenatedString):
        return is_constant_literal(node.left) and is_constant_literal(node.right)
    if isinstance(node, cst.FormattedString):  # an f-string without placeholders
        return all(isinstance(part, cst.FormattedStringText) for part in node.parts)
    if isinstance(node, cst.Name):
        return node.value in _KEYWORD_NAMES
    if isinstance(node, cst.UnaryOperation):
        return isinstance(node.expression, (cst.Integer, cst.Float, cst.Imaginary))
    if isinstance(node, cst.Tuple):
        return all(
            isinstance(element, cst.Element) and is_constant_literal(element.value)
            for element in node.elements
        )
    return False


def _parameters(parameters: cst.Parameters) -> Iterator[cst.Param]:
    yield from parameters.posonly_params
    yield from parameters.params
    if isinstance(parameters.star_arg, cst.Param):
        yield parameters.star_arg
    yield from parameters.kwonly_params
    if isinstance(parameters.star_kwarg, cst.Param):
        yield parameters.star_kwarg


@functools.cache
def _handler_name(node_type: type) -> str:
    """``AnnAssign`` -> ``_visit_ann_assign``."""
    return "_visit_" + re.sub(r"(?<!^)(?=[A-Z])", "_", node_type.__name__).lower()


class ScopeWalker:
    """Walks a module once, recording every scope, binding and name read."""

    def __init__(self) -> None:
        self.references: list[Reference] = []
        self.definition_scopes: dict[cst.CSTNode, Scope] = {}  # def/class node -> its scope

    def walk_module(self, module: cst.Module) -> Scope:
        scope = Scope(kind="module", parent=None, node=module)
        for statement in module.body:
            self.visit(statement, scope)
        return scope

    # --- dispatch -------------------------------------------------------------------

    def visit(self, node: cst.CSTNode, scope: Scope) -> None:
        """Visit ``node`` read in ``scope``: by its ``_visit_<node type>`` method, if any,
        else by its children."""
        handler = getattr(self, _handler_name(type(node)), None)
        if handler is not None:
            handler(node, scope)
        else:
            for child in node.children:
                self.visit(child, scope)

    def _visit_name(self, node: cst.Name, scope: Scope) -> None:
        if node.value not in _KEYWORD_NAMES:
            self.references.append(Reference(name=node.value, node=node, scope=scope))

    def _visit_attribute(self, node: cst.Attribute, scope: Scope) -> None:
        self.visit(node.value, scope)  # `.attr` is not a name lookup

    def _visit_arg(self, node: cst.Arg, scope: Scope) -> None:
        self.visit(node.value, scope)  # `keyword=` is not a name lookup

    def _visit_annotation(self, _node: cst.Annotation, _scope: Scope) -> None:
        """Annotations are evaluated where the function is defined, or never: not followed."""

    # --- binding statements ---------------------------------------------------------------

    def _bind_target(self, target: cst.BaseExpression, scope: Scope, *, kind: BindingKind = "other",
                     value: cst.BaseExpression | None = None) -> None:
        """Bind the names of an assignment/for/with/del target; read the rest."""
        if isinstance(target, cst.Name):
            scope.bind(BindingSite(name=target.value, kind=kind, node=target, value=value))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind_target(element.value, scope, kind=kind)
        elif isinstance(target, cst.StarredElement):
            self._bind_target(target.value, scope, kind=kind)
        else:  # obj.attr = ..., obj[key] = ...: reads obj and key
            self.visit(target, scope)

    def _visit_assign(self, node: cst.Assign, scope: Scope) -> None:
        self.visit(node.value, scope)
        for target in node.targets:
            self._bind_target(target.target, scope, kind="assignment", value=node.value)

    def _visit_ann_assign(self, node: cst.AnnAssign, scope: Scope) -> None:
        if node.value is not None:
            self.visit(node.value, scope)
        # `x: int` alone makes x local to a function, but binds nothing in a module.
        if node.value is not None or scope.kind != "module":
            self._bind_target(node.target, scope, kind="assignment", value=node.value)

    def _visit_aug_assign(self, node: cst.AugAssign, scope: Scope) -> None:
        self.visit(node.value, scope)
        self._bind_target(node.target, scope, kind="assignment")

    def _visit_del(self, node: cst.Del, scope: Scope) -> None:
        self._bind_target(node.target, scope)

    def _visit_named_expr(self, node: cst.NamedExpr, scope: Scope) -> None:
        self.visit(node.value, scope)
        self._bind_target(node.target, scope.function_scope(), kind="assignment")

    def _visit_for(self, node: cst.For, scope: Scope) -> None:
        self.visit(node.iter, scope)
        self._bind_target(node.target, scope)
        self.visit(node.body, scope)
        if node.orelse is not None:
            self.visit(node.orelse, scope)

    def _visit_with_item(self, node: cst.WithItem, scope: Scope) -> None:
        self.visit(node.item, scope)
        if node.asname is not None:
            self._bind_target(node.asname.name, scope)

    def _visit_except_handler(self, node: cst.ExceptHandler, scope: Scope) -> None:
        if node.type is not None:
            self.visit(node.type, scope)
        if node.name is not None:
            self._bind_target(node.name.name, scope)
        self.visit(node.body, scope)

    _visit_except_star_handler = _visit_except_handler

    def _visit_import(self, node: cst.Import, scope: Scope) -> None:
        for alias in node.names:
            if alias.asname is not None:
                bound = alias.asname.name.value  # type: ignore[union-attr]
            else:  # `import a.b` binds `a`
                bound = dotted_name(alias.name).split(".")[0]
            scope.bind(BindingSite(name=bound, kind="import", node=node, statement=node))

    def _visit_import_from(self, node: cst.ImportFrom, scope: Scope) -> None:
        if isinstance(node.names, cst.ImportStar):
            return  # binds names nobody can list statically
        for alias in node.names:
            imported = dotted_name(alias.name)
            asname = alias.asname.name if alias.asname else None
            bound = asname.value if isinstance(asname, cst.Name) else imported
            scope.bind(BindingSite(name=bound, kind="import", node=node, statement=node,
                                   imported=imported))

    def _visit_global(self, node: cst.Global, scope: Scope) -> None:
        scope.declared_global.update(item.name.value for item in node.names)

    def _visit_nonlocal(self, node: cst.Nonlocal, scope: Scope) -> None:
        scope.declared_nonlocal.update(item.name.value for item in node.names)

    def _visit_type_alias(self, node: cst.TypeAlias, scope: Scope) -> None:
        # `type X = ...` (3.12): the value is evaluated lazily, like an annotation.
        scope.bind(BindingSite(name=node.name.value, kind="assignment", node=node.name))

    # --- scopes -------------------------------------------------------------------------

    def _type_parameters(self, node: cst.CSTNode, scope: Scope) -> None:
        parameters = getattr(node, "type_parameters", None)
        for parameter in getattr(parameters, "params", ()):
            name = getattr(parameter.param, "name", None)
            if isinstance(name, cst.Name):
                scope.bind(BindingSite(name=name.value, kind="parameter", node=name))

    def _visit_function_def(self, node: cst.FunctionDef, scope: Scope) -> None:
        for decorator in node.decorators:
            self.visit(decorator, scope)
        for parameter in _parameters(node.params):
            if parameter.default is not None:
                self.visit(parameter.default, scope)
        scope.bind(BindingSite(name=node.name.value, kind="function", node=node, statement=node))
        inner = Scope(kind="function", parent=scope, node=node,
                      is_async=node.asynchronous is not None)
        self.definition_scopes[node] = inner
        self._type_parameters(node, inner)
        for parameter in _parameters(node.params):
            inner.bind(BindingSite(name=parameter.name.value, kind="parameter",
                                   node=parameter.name))
        self.visit(node.body, inner)

    def _visit_lambda(self, node: cst.Lambda, scope: Scope) -> None:
        for parameter in _parameters(node.params):
            if parameter.default is not None:
                self.visit(parameter.default, scope)
        inner = Scope(kind="function", parent=scope, node=node, is_async=False)
        for parameter in _parameters(node.params):
            inner.bind(BindingSite(name=parameter.name.value, kind="parameter",
                                   node=parameter.name))
        self.visit(node.body, inner)

    def _visit_class_def(self, node: cst.ClassDef, scope: Scope) -> None:
        for decorator in node.decorators:
            self.visit(decorator, scope)
        for argument in (*node.bases, *node.keywords):
            self.visit(argument, scope)
        scope.bind(BindingSite(name=node.name.value, kind="class", node=node, statement=node))
        inner = Scope(kind="class", parent=scope, node=node)
        self.definition_scopes[node] = inner
        self._type_parameters(node, inner)
        self.visit(node.body, inner)

    def _visit_comprehension(self, node: cst.BaseComp, scope: Scope) -> None:
        first: cst.CompFor = node.for_in
        self.visit(first.iter, scope)  # the outermost iterable runs in the enclosing scope
        inner = Scope(kind="comprehension", parent=scope, node=node)
        clause: cst.CompFor | None = first
        while clause is not None:
            if clause is not first:
                self.visit(clause.iter, inner)
            self._bind_target(clause.target, inner)
            for condition in clause.ifs:
                self.visit(condition.test, inner)
            clause = clause.inner_for_in
        if isinstance(node, cst.DictComp):
            self.visit(node.key, inner)
            self.visit(node.value, inner)
        elif isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            self.visit(node.elt, inner)

    _visit_list_comp = _visit_set_comp = _visit_comprehension
    _visit_generator_exp = _visit_dict_comp = _visit_comprehension

    # --- match statements ---------------------------------------------------------------

    def _visit_match_case(self, node: cst.MatchCase, scope: Scope) -> None:
        self._pattern(node.pattern, scope)
        if node.guard is not None:
            self.visit(node.guard, scope)
        self.visit(node.body, scope)

    def _pattern(self, pattern: cst.CSTNode, scope: Scope) -> None:
        if isinstance(pattern, (cst.MatchAs, cst.MatchStar)):
            if isinstance(pattern, cst.MatchAs) and pattern.pattern is not None:
                self._pattern(pattern.pattern, scope)
            if pattern.name is not None:
                self._bind_target(pattern.name, scope)
        elif isinstance(pattern, cst.MatchMapping):
            for element in pattern.elements:
                self.visit(element.key, scope)
                self._pattern(element.pattern, scope)
            if pattern.rest is not None:
                self._bind_target(pattern.rest, scope)
        elif isinstance(pattern, cst.MatchClass):
            self.visit(pattern.cls, scope)
            for positional in pattern.patterns:
                self._pattern(positional.value, scope)
            for keyword in pattern.kwds:  # `key=` names an attribute, not a variable
                self._pattern(keyword.pattern, scope)
        elif isinstance(pattern, (cst.MatchList, cst.MatchTuple)):
            for item in pattern.patterns:
                self._pattern(item.value if isinstance(item, cst.MatchSequenceElement)
                              else item, scope)
        elif isinstance(pattern, cst.MatchOr):
            for alternative in pattern.patterns:
                self._pattern(alternative.pattern, scope)
        elif isinstance(pattern, cst.MatchValue):
            self.visit(pattern.value, scope)
        # MatchSingleton (None/True/False) reads and binds nothing.
