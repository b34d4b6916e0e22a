"""The Python-source toolkit shared by the scanner and the static checks.

Parsing (never importing), relative imports, and the statements and imports
of a definition's body or of a module's top level: each has one implementation
here (module names in :mod:`flashbuild.source.modules`), so the scanner and
the checks cannot disagree on them.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import unicodedata
from collections.abc import Iterator, Mapping, Sequence

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from ..errors import SourceCodeError, SourceLocation
from .modules import absolute_module
from .python_syntax import Problem, syntax_problem

ImportStatement = cst.Import | cst.ImportFrom


# How deeply expressions may nest. libcst's native parser crashes the process on some
# deep chains (10,000 terms of `+`) and its Python visitors reach the recursion limit
# far earlier; real code stays well below this.
MAX_NESTING = 200
_SYNTAX_HINT = ("Fix the syntax error; every shipped .py file must parse. If the file should "
                "not ship, exclude it in .flashignore.")


def check_syntax(source: bytes, path: str) -> None:
    """Raise a SourceCodeError at the first syntax error CPython's parser finds.

    For files that cannot declare endpoints: they must compile on the worker,
    but nothing else is read from them, so libcst need not see them (and
    their trees are not kept).
    """
    problem = syntax_problem(source)
    if problem is not None:
        raise problem_error(path, problem)


def problem_error(path: str, problem: Problem) -> SourceCodeError:
    """The error for what :func:`~flashbuild.source.python_syntax.syntax_problem` found."""
    kind, message, line, column = problem
    if kind == "nesting":
        return _nesting_error(SourceLocation(path=path))
    if kind == "syntax":
        return SourceCodeError(f"syntax error: {message}", hint=_SYNTAX_HINT,
                               location=SourceLocation(path=path, line=line, column=column))
    return SourceCodeError(
        f"cannot be parsed: {message}", location=SourceLocation(path=path),
        hint="Fix the file, or exclude it in .flashignore if it should not ship.")


@functools.lru_cache(maxsize=256)
def python_tree(source: bytes, path: str) -> ast.Module:
    """CPython's tree of a file (its parser only parses, never runs the code); a syntax
    error becomes a SourceCodeError at its line."""
    tree = _python_parse(source, path)
    assert isinstance(tree, ast.Module)
    return tree


@functools.lru_cache(maxsize=256)
def parse_with_positions(
    source: bytes, path: str
) -> tuple[cst.Module, Mapping[cst.CSTNode, CodeRange]]:
    """:func:`parse` and the position of every node, computed once per build for a
    file the scanner and the static checks both read (libcst trees are immutable)."""
    tree = parse(source, path)
    positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
    return tree, positions


def parse(source: bytes, path: str) -> cst.Module:
    """Parse a file, turning a syntax error into a SourceCodeError at its line.

    CPython's own parser (which only parses, never runs the code) reads it
    first: its errors name the exact spot, and what it accepts (a tab/space
    mix, say) is accepted; too deep a nesting is refused before libcst sees it.
    """
    _check_nesting(python_tree(source, path), path)
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        error = exc
    except (UnicodeDecodeError, LookupError, SyntaxError) as exc:
        raise SourceCodeError(
            f"cannot be parsed: {exc}",
            location=SourceLocation(path=path),
            hint="Save the file as UTF-8 (or declare its encoding), or exclude it.",
        ) from None
    with contextlib.suppress(cst.ParserSyntaxError):  # libcst only lacks CPython's tab rules
        return cst.parse_module(_expand_indentation_tabs(source))
    raise SourceCodeError(
        f"syntax error: {error.message}",
        location=SourceLocation(path=path, line=error.raw_line, column=error.raw_column + 1),
        hint=_SYNTAX_HINT,
    )


def _python_parse(source: bytes, path: str) -> ast.AST:
    try:
        return ast.parse(source)
    except (SyntaxError, RecursionError, ValueError, MemoryError):
        problem = syntax_problem(source)
        assert problem is not None
        raise problem_error(path, problem) from None


def _check_nesting(tree: ast.AST, path: str) -> None:
    """Refuse expressions nested deeper than :data:`MAX_NESTING` (walked without recursion)."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _nesting_error(SourceLocation(
                path=path, line=getattr(node, "lineno", None),
                column=getattr(node, "col_offset", -1) + 1 or None))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _nesting_error(location: SourceLocation) -> SourceCodeError:
    return SourceCodeError(
        f"code nested more than {MAX_NESTING} levels deep (such as a chain of "
        f"{MAX_NESTING} `+` terms) is more than flashbuild reads.",
        location=location,
        hint="Split the expression (build a list and join or sum it), or exclude the file "
        "in .flashignore if it should not ship.",
    )


def _expand_indentation_tabs(source: bytes) -> bytes:
    """Tabs in indentation as CPython reads them: to the next multiple of 8 columns."""
    lines = source.split(b"\n")
    expanded = []
    for line in lines:
        body = line.lstrip(b" \t")
        indent = line[: len(line) - len(body)]
        expanded.append(indent.expandtabs(8) + body)
    return b"\n".join(expanded)


def identifier(name: str) -> str:
    """A name as Python binds it: identifiers are NFKC-normalised (``ﬁt`` is ``fit``)."""
    return unicodedata.normalize("NFKC", name)


def dotted_name(node: cst.BaseExpression | None) -> str:
    """``a.b.c`` for Name/Attribute chains, else ``""``."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr.value}" if base else ""
    return ""


def imported_module(statement: cst.ImportFrom, module: str, *, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` inside ``module`` names ("" if impossible)."""
    name = dotted_name(statement.module) if statement.module is not None else ""
    return absolute_module(module, is_package=is_package, level=len(statement.relative),
                           name=name)


def imports_in(definition: cst.FunctionDef | cst.ClassDef) -> Iterator[ImportStatement]:
    """Every import statement inside a definition's body, nested blocks included, in order."""
    stack: list[cst.CSTNode] = [definition.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            yield node
        stack.extend(reversed(node.children))


def module_statements(body: Sequence[cst.CSTNode], *, every_block: bool = False,
                      skip_import_guards: bool = False) -> Iterator[cst.CSTNode]:
    """Module-level statements in source order, compound blocks entered.

    By default the blocks of straight-line execution, which is what binds a
    module's names: both branches of ``if``, the body, ``else`` and ``finally``
    of ``try`` and the body of ``with``; ``except`` handlers are fallbacks and
    are skipped, loops are yielded whole. With ``every_block``, every block
    that may run when the module is imported: loops and ``except`` handlers
    too, but not the body of ``if TYPE_CHECKING:``. With ``skip_import_guards``,
    not the body of a ``try`` whose handlers catch a failed import either.
    """
    for statement in body:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            yield from statement.body
            continue
        blocks = _blocks(statement, every_block=every_block)
        if blocks is None:
            yield statement
        if skip_import_guards and isinstance(statement, (cst.Try, cst.TryStar)) and any(
            _catches_import_errors(handler) for handler in statement.handlers
        ):
            blocks = [block for block in blocks or () if block is not statement.body]
        for block in blocks or ():
            yield from module_statements(_statements_of(block), every_block=every_block,
                                         skip_import_guards=skip_import_guards)


# What ``except`` may name to catch a failed import.
_IMPORT_FAILURES = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _catches_import_errors(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    if handler.type is None:  # a bare except
        return True
    types = ([element.value for element in handler.type.elements]
             if isinstance(handler.type, cst.Tuple) else [handler.type])
    return any(dotted_name(t).split(".")[-1] in _IMPORT_FAILURES for t in types)


def _blocks(statement: cst.CSTNode, *, every_block: bool) -> list[cst.CSTNode] | None:
    """The blocks of a compound statement to enter, or None to yield it whole."""
    if isinstance(statement, cst.If):
        runs = not (every_block and dotted_name(statement.test).split(".")[-1] == "TYPE_CHECKING")
        return [*([statement.body] if runs else []), *_optional(statement.orelse)]
    if isinstance(statement, (cst.Try, cst.TryStar)):
        handlers = [handler.body for handler in statement.handlers] if every_block else []
        return [statement.body, *_optional(statement.orelse, statement.finalbody), *handlers]
    if isinstance(statement, cst.With):
        return [statement.body]
    if every_block and isinstance(statement, (cst.For, cst.While)):
        return [statement.body, *_optional(statement.orelse)]
    return None


def _optional(*blocks: cst.CSTNode | None) -> list[cst.CSTNode]:
    return [block for block in blocks if block is not None]


def _statements_of(block: cst.CSTNode) -> Sequence[cst.CSTNode]:
    """The statements of a suite, of an ``else``/``finally`` clause, or an ``elif`` itself."""
    if isinstance(block, cst.If):  # an elif
        return [block]
    if isinstance(block, (cst.Else, cst.Finally)):
        block = block.body
    if isinstance(block, cst.SimpleStatementSuite):  # `try: import x` on one line
        return [block]
    assert isinstance(block, cst.IndentedBlock), type(block)
    return block.body


def module_level_imports(module: cst.Module, *, skip_import_guards: bool = False
                         ) -> Iterator[ImportStatement]:
    """Imports that may run when the module is imported (not under ``if TYPE_CHECKING:``).

    With ``skip_import_guards``, only those whose failure fails the module's
    import: not those in a ``try`` that catches ``ImportError``.
    """
    for statement in module_statements(module.body, every_block=True,
                                       skip_import_guards=skip_import_guards):
        if isinstance(statement, (cst.Import, cst.ImportFrom)):
            yield statement
