"""Find the Flash endpoint functions of one module, statically, with libcst.

User code is parsed, never imported or run. Every shipped ``.py`` file must
parse; files that import ``runpod_flash`` are then read statement by statement
to learn what each module-level name is bound to, so that ``@EP(...)`` after
``from runpod_flash import Endpoint as EP`` is recognised while a user's own
class named ``Endpoint`` is not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from . import declarations, symbols
from .errors import SourceCodeError, SourceLocation
from .models import (
    EndpointDecl,
    FunctionDecl,
    ImportRef,
    Route,
    StaticCall,
)
from .static_eval import Binding, Evaluator, Namespace, dotted_name

ROUTE_DECORATORS = {method.lower(): method for method in ("GET", "POST", "PUT", "DELETE", "PATCH")}


def parse(source: bytes, path: str) -> cst.Module:
    """Parse a file, turning a syntax error into a SourceCodeError at its line."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message, line, column = exc.message, exc.raw_line, exc.raw_column + 1
    except (UnicodeDecodeError, LookupError, SyntaxError) as exc:
        raise SourceCodeError(
            f"cannot be parsed: {exc}",
            location=SourceLocation(path=path),
            hint="Save the file as UTF-8 (or declare its encoding), or exclude it.",
        ) from None
    # libcst places some errors a token late; CPython's parser (which only
    # parses, never runs the code) usually names the exact spot.
    try:
        ast.parse(source)
    except SyntaxError as exc:
        if exc.lineno is not None:
            message, line, column = exc.msg, exc.lineno, exc.offset
    except ValueError:  # e.g. null bytes
        pass
    raise SourceCodeError(
        f"syntax error: {message}",
        location=SourceLocation(path=path, line=line, column=column),
        hint="Fix the syntax error; every shipped .py file must parse. If the file "
        "should not ship, exclude it in .flashignore.",
    )


def scan_source(source: bytes, *, path: str, module: str) -> tuple[FunctionDecl, ...]:
    """Scan one file's source; returns its endpoint functions in source order."""
    tree = parse(source, path)
    if symbols.SDK_PACKAGE.encode() not in source:
        return ()  # nothing can be ours without importing runpod_flash
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    statements = list(_flatten(tree.body))
    namespace = Namespace()
    for index, statement in enumerate(statements):
        _bind(namespace, index, statement)
    evaluator = Evaluator(module=tree, positions=positions, path=path, namespace=namespace)
    reader = _DefinitionReader(evaluator, module=module, is_package=path.endswith("__init__.py"))
    found = []
    for index, statement in enumerate(statements):
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and statement.decorators:
            decl = reader.read(statement, index)
            if decl is not None:
                found.append(decl)
    return tuple(found)


def _flatten(body) -> Iterator[cst.CSTNode]:
    """Module-level statements in execution order, entering if/try/with blocks."""
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine):
            yield from statement.body
        elif isinstance(statement, cst.If):
            yield from _flatten(statement.body.body)
            if statement.orelse is not None:
                yield from _flatten([statement.orelse] if isinstance(statement.orelse, cst.If)
                                    else statement.orelse.body.body)
        elif isinstance(statement, cst.Try):
            # The handlers are fallbacks for a failed try body; the try body is what runs.
            yield from _flatten(statement.body.body)
            for block in (statement.orelse, statement.finalbody):
                if block is not None:
                    yield from _flatten(block.body.body)
        elif isinstance(statement, cst.With):
            yield from _flatten(statement.body.body)
        else:
            yield statement


def _is_sdk_module(name: str) -> bool:
    return name == symbols.SDK_PACKAGE or name.startswith(symbols.SDK_PACKAGE + ".")


def _bind(namespace: Namespace, index: int, node: cst.CSTNode) -> None:
    """Record the names a module-level statement binds."""
    if isinstance(node, cst.Import):
        for alias in node.names:
            full = dotted_name(alias.name)
            if alias.asname is not None:
                bound = alias.asname.name.value  # type: ignore[union-attr]
                kind = "sdk-module" if _is_sdk_module(full) else "dynamic"
            else:
                bound = full.split(".")[0]
                kind = "sdk-module" if bound == symbols.SDK_PACKAGE else "dynamic"
            namespace.bind(bound, Binding(kind, index, node, reason=f"the module `{full}`"))
    elif isinstance(node, cst.ImportFrom):
        source = dotted_name(node.module) if node.module is not None else ""
        ours = not node.relative and _is_sdk_module(source)
        if isinstance(node.names, cst.ImportStar):
            if ours:
                for name in symbols.KNOWN_SYMBOLS:
                    namespace.bind(name, Binding("symbol", index, node, symbol=name))
            return
        for alias in node.names:
            imported = dotted_name(alias.name)
            bound = alias.asname.name.value if alias.asname else imported  # type: ignore
            if ours and imported in symbols.KNOWN_SYMBOLS:
                namespace.bind(bound, Binding("symbol", index, node, symbol=imported))
            else:
                reason = f"imported from `{'.' * len(node.relative)}{source}`"
                namespace.bind(bound, Binding("dynamic", index, node, reason=reason))
    elif isinstance(node, cst.Assign):
        for target in node.targets:
            _bind_target(namespace, index, target.target, node.value)
    elif isinstance(node, cst.AnnAssign) and node.value is not None:
        _bind_target(namespace, index, node.target, node.value)
    elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
        if isinstance(node.operator, cst.AddAssign):
            combined = cst.BinaryOperation(left=node.target, operator=cst.Add(), right=node.value)
            namespace.bind(node.target.value, Binding("expr", index, combined))
        else:
            namespace.bind(node.target.value, Binding(
                "dynamic", index, node, reason="changed by an augmented assignment"))
    elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        kind = "a class" if isinstance(node, cst.ClassDef) else "a function"
        namespace.bind(node.name.value, Binding("dynamic", index, node, reason=kind))


def _bind_target(namespace: Namespace, index: int, target, value) -> None:
    if isinstance(target, cst.Name):
        namespace.bind(target.value, Binding("expr", index, value))
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            if isinstance(element.value, cst.Name):
                namespace.bind(element.value.value, Binding(
                    "dynamic", index, element.value, reason="assigned by unpacking"))


class _DefinitionReader:
    """Reads the Flash decorator of one function or class definition."""

    def __init__(self, evaluator: Evaluator, *, module: str, is_package: bool) -> None:
        self.ev = evaluator
        self.module = module
        self.is_package = is_package

    def read(self, node: cst.FunctionDef | cst.ClassDef, index: int) -> FunctionDecl | None:
        ours = [(d, kind) for d in node.decorators if (kind := self._classify(d, index))]
        if not ours:
            return None
        if len(ours) > 1:
            raise self.ev.error(
                ours[1][0],
                f"`{node.name.value}` has more than one Flash decorator.",
                hint="Give each function exactly one @Endpoint, route or @remote decorator.",
                related=(self.ev.location(ours[0][0]),),
            )
        decorator, kind = ours[0]
        if kind == "endpoint":
            return self._read_endpoint(node, decorator, index)
        if kind == "route":
            return self._read_route(node, decorator, index)
        if kind == "instance":
            return self._read_instance(node, decorator, index)
        return self._read_remote(node, decorator, index)

    def _classify(self, decorator: cst.Decorator, index: int) -> str | None:
        expr = decorator.decorator
        call = expr if isinstance(expr, cst.Call) else None
        target = call.func if call is not None else expr
        symbol = self.ev.resolve_symbol(target, index)
        if symbol in (symbols.ENDPOINT, symbols.REMOTE):
            if call is None:
                raise self.ev.error(
                    decorator,
                    f"@{self.ev.code(expr)} must be called with its configuration.",
                    hint=f'Write @{self.ev.code(expr)}(name="my-endpoint", ...).'
                    if symbol == symbols.ENDPOINT
                    else "Write @remote(resource_config=config, ...).",
                )
            return "endpoint" if symbol == symbols.ENDPOINT else "remote"
        if call is None and isinstance(target, cst.Name):
            # `ep = Endpoint(...)` then `@ep`: the SDK's direct (queue) decorator.
            return "instance" if self._endpoint_instance(target, index) is not None else None
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            if self._endpoint_instance(target.value, index) is None:
                return None
            if call is None:
                raise self.ev.error(
                    decorator,
                    f"@{self.ev.code(expr)} must be called with a path.",
                    hint=f'Write @{self.ev.code(expr)}("/path").',
                )
            return "route"
        return None

    def _endpoint_instance(self, name: cst.Name, index: int) -> Binding | None:
        """The binding of ``name`` if it is ``name = Endpoint(...)``."""
        binding = self.ev.resolve_constant(name, index)
        if binding is None or not isinstance(binding.node, cst.Call):
            return None
        if self.ev.resolve_symbol(binding.node.func, binding.index) != symbols.ENDPOINT:
            return None
        return binding

    def _declaration(self, node, decorator, *, endpoint, route=None, deps=(), sys_deps=()):
        is_class = isinstance(node, cst.ClassDef)
        if is_class and route is not None:
            raise self.ev.error(
                decorator,
                f"routes must decorate functions, but `{node.name.value}` is a class.",
                hint="Decorate a module-level function with the route instead.",
            )
        return FunctionDecl(
            name=node.name.value,
            module=self.module,
            file=self.ev.path,
            location=self.ev.location(decorator),
            is_async=not is_class and node.asynchronous is not None,
            is_class=is_class,
            class_methods=_public_methods(node) if is_class else (),
            route=route,
            endpoint=endpoint,
            dependencies=deps,
            system_dependencies=sys_deps,
            body_imports=tuple(self._body_imports(node)),
        )

    def _read_endpoint(self, node, decorator, index) -> FunctionDecl:
        call = self.ev.evaluate_call(decorator.decorator, index, "Endpoint")
        config = declarations.endpoint_config(call, load_balanced=False)
        endpoint = EndpointDecl(config=config, location=self.ev.location(decorator))
        return self._declaration(node, decorator, endpoint=endpoint)

    def _read_instance(self, node, decorator, index) -> FunctionDecl:
        name: cst.Name = decorator.decorator
        binding = self._endpoint_instance(name, index)
        instance = self.ev.evaluate_call(binding.node, binding.index, name.value)
        config = declarations.endpoint_config(instance, load_balanced=False)
        # The decorator, not the shared Endpoint(...) call, is what makes it a queue endpoint.
        endpoint = EndpointDecl(config=config, location=self.ev.location(decorator))
        return self._declaration(node, decorator, endpoint=endpoint)

    def _read_route(self, node, decorator, index) -> FunctionDecl:
        call_node: cst.Call = decorator.decorator
        attribute: cst.Attribute = call_node.func
        binding = self._endpoint_instance(attribute.value, index)
        instance = self.ev.evaluate_call(binding.node, binding.index, attribute.value.value)
        config = declarations.endpoint_config(instance, load_balanced=True)
        endpoint = EndpointDecl(config=config, location=instance.location)
        method = ROUTE_DECORATORS.get(attribute.attr.value, attribute.attr.value.upper())
        path = self._route_path(call_node, index)
        route = Route(method=method, path=path, location=self.ev.location(decorator))
        return self._declaration(node, decorator, endpoint=endpoint, route=route)

    def _route_path(self, call_node: cst.Call, index: int) -> str:
        args = call_node.args
        keyword = args[0].keyword.value if args and args[0].keyword else "path"
        if len(args) != 1 or args[0].star or keyword != "path":
            raise self.ev.error(
                call_node, "a route decorator takes exactly one argument, the path.",
                hint='Write @api.post("/items").',
            )
        path = self.ev.evaluate(call_node.args[0].value, index, "path")
        if not isinstance(path, str):
            raise self.ev.error(call_node.args[0], f"the route path must be a string, got {path!r}.")
        return path

    def _read_remote(self, node, decorator, index) -> FunctionDecl:
        call = self.ev.evaluate_call(
            decorator.decorator, index, "remote", callees=frozenset({symbols.REMOTE})
        )
        args = declarations.remote_arguments(call)
        resource = args.take("resource_config")
        if not isinstance(resource, StaticCall) or resource.callee not in symbols.RESOURCE_CLASSES:
            # Name a call by its callee; its record's repr would leak internal fields.
            got = f"{resource.callee}(...)" if isinstance(resource, StaticCall) else repr(resource)
            raise args.error(
                "resource_config",
                "@remote needs a resource configuration such as LiveServerless(name=...), "
                f"got {got}.",
                hint="Declare cfg = LiveServerless(name=\"worker\") at module level and "
                "write @remote(resource_config=cfg).",
            )
        config = declarations.resource_config(resource)
        method, path = args.take("method"), args.take("path")
        route = None
        if config.load_balanced:
            if not isinstance(method, str) or not isinstance(path, str):
                raise args.error(
                    "resource_config",
                    f"{resource.callee} is load-balanced: @remote needs `method` and `path` strings.",
                    hint='Write @remote(cfg, method="POST", path="/items").',
                )
            route = Route(method=method.upper(), path=path, location=self.ev.location(decorator))
        elif method is not None or path is not None:
            raise args.error(
                "method" if method is not None else "path",
                f"`method`/`path` only apply to load balancers, but {resource.callee} is queue-based.",
                hint="Use LiveLoadBalancer(...) for HTTP routes, or drop method/path.",
            )
        deps = args.take_strings("dependencies", declarations.requirement_checker(config.name))
        sys_deps = args.take_strings("system_dependencies")
        endpoint = EndpointDecl(config=config, location=resource.location)
        return self._declaration(
            node, decorator, endpoint=endpoint, route=route, deps=deps, sys_deps=sys_deps
        )

    def _body_imports(self, node: cst.CSTNode) -> Iterator[ImportRef]:
        """Imports anywhere inside the definition's body, made absolute."""
        collector = _ImportCollector()
        node.body.visit(collector)
        for statement in collector.found:
            if isinstance(statement, cst.Import):
                for alias in statement.names:
                    yield ImportRef(module=dotted_name(alias.name), names=(),
                                    location=self.ev.location(statement))
            else:
                base = dotted_name(statement.module) if statement.module else ""
                names = ("*",) if isinstance(statement.names, cst.ImportStar) else tuple(
                    dotted_name(alias.name) for alias in statement.names)
                module = self._absolute(len(statement.relative), base)
                yield ImportRef(module=module, names=names, location=self.ev.location(statement))

    def _absolute(self, level: int, name: str) -> str:
        if level == 0:
            return name
        package = self.module.split(".") if self.is_package else self.module.split(".")[:-1]
        if level > len(package):  # beyond the top-level package, as Python would refuse
            return ""
        package = package[: len(package) - (level - 1)]
        return ".".join(part for part in (*package, name) if part)


class _ImportCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[cst.Import | cst.ImportFrom] = []

    def visit_Import(self, node: cst.Import) -> None:
        self.found.append(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.found.append(node)


def _public_methods(node: cst.ClassDef) -> tuple[str, ...]:
    methods = []
    for statement in node.body.body:
        if isinstance(statement, cst.FunctionDef) and not statement.name.value.startswith("_"):
            methods.append(statement.name.value)
    return tuple(dict.fromkeys(methods))
