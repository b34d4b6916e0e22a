"""Read the Flash decorators of a module's definitions into declarations.

``@Endpoint(...)`` on a function or class, ``ep = Endpoint(...)`` then
``@ep`` or ``@ep.get("/path")``, and the legacy ``@remote(resource_config,
...)``: every form becomes one :class:`~flashbuild.records.FunctionDecl`, its
arguments evaluated statically and checked at the place they are written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from ..records import HTTP_METHODS, EndpointDecl, FunctionDecl, ImportRef, Route, StaticCall
from . import declarations, symbols
from .static_eval import Evaluator
from .syntax import dotted_name, identifier, imported_module, imports_in

ROUTE_DECORATORS = {method.lower(): method for method in HTTP_METHODS}

Definition = cst.FunctionDef | cst.ClassDef


@dataclass(frozen=True)
class _Instance:
    """``name = Endpoint(...)``, visible where a decorator uses ``name`` (perhaps
    imported from another module of the project, whose evaluator reads it)."""

    name: str
    call: cst.Call
    index: int  # the statement that binds it
    evaluator: Evaluator


@dataclass(frozen=True)
class _FlashDecorator:
    """A decorator recognised as Flash's, with the parts its reader needs."""

    decorator: cst.Decorator
    call: cst.Call | None  # the decorator's own call; None for a bare ``@ep``
    symbol: str = ""  # ``Endpoint`` or ``remote`` when the decorator is one of them
    instance: _Instance | None = None  # for ``@ep`` and ``@ep.get(...)``
    route_method: str = ""  # ``get``, ``post``... of ``@ep.get(...)``


class DecoratorReader:
    """Reads the Flash decorator of the function and class definitions of one module."""

    def __init__(self, evaluator: Evaluator, *, module: str, is_package: bool) -> None:
        self.ev = evaluator
        self.module = module
        self.is_package = is_package

    def read(self, node: Definition, index: int) -> FunctionDecl | None:
        """The definition's declaration if a Flash decorator is on it, else None."""
        ours = [found for d in node.decorators if (found := self._classify(d, index))]
        if not ours:
            return None
        if len(ours) > 1:
            raise self.ev.error(
                ours[1].decorator,
                f"`{node.name.value}` has more than one Flash decorator.",
                hint="Give each function exactly one @Endpoint, route or @remote decorator.",
                related=(self.ev.location(ours[0].decorator),),
            )
        found = ours[0]
        if found.instance is not None:
            return self._read_instance(node, found, found.instance, index)
        assert found.call is not None  # @Endpoint and @remote are always called
        if found.symbol == symbols.ENDPOINT:
            return self._read_endpoint(node, found.decorator, found.call, index)
        return self._read_remote(node, found.decorator, found.call, index)

    def _classify(self, decorator: cst.Decorator, index: int) -> _FlashDecorator | None:
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
            return _FlashDecorator(decorator=decorator, call=call, symbol=symbol)
        if call is None and isinstance(target, cst.Name):
            # `ep = Endpoint(...)` then `@ep`: the SDK's direct (queue) decorator.
            instance = self._endpoint_instance(target, index)
            return None if instance is None else _FlashDecorator(
                decorator=decorator, call=None, instance=instance)
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            instance = self._endpoint_instance(target.value, index)
            if instance is None:
                return None
            if call is None:
                raise self.ev.error(
                    decorator,
                    f"@{self.ev.code(expr)} must be called with a path.",
                    hint=f'Write @{self.ev.code(expr)}("/path").',
                )
            return _FlashDecorator(decorator=decorator, call=call, instance=instance,
                                   route_method=target.attr.value)
        return None

    def _endpoint_instance(self, name: cst.Name, index: int) -> _Instance | None:
        """``name = Endpoint(...)`` as it is visible at statement ``index`` (in this module
        or, through ``from .api import name``, in another of the project), or None."""
        evaluator, binding = self.ev.resolve_binding(name.value, index)
        if binding is None or binding.kind != "expr" or not isinstance(binding.node, cst.Call):
            return None
        if evaluator.resolve_symbol(binding.node.func, binding.index) != symbols.ENDPOINT:
            return None
        return _Instance(name=name.value, call=binding.node, index=binding.index,
                         evaluator=evaluator)

    def _declaration(self, node: Definition, decorator: cst.Decorator, *,
                     endpoint: EndpointDecl, route: Route | None = None,
                     deps: tuple[str, ...] = (), sys_deps: tuple[str, ...] = ()) -> FunctionDecl:
        is_class = isinstance(node, cst.ClassDef)
        if is_class and route is not None:
            raise self.ev.error(
                decorator,
                f"routes must decorate functions, but `{node.name.value}` is a class.",
                hint="Decorate a module-level function with the route instead.",
            )
        return FunctionDecl(
            name=identifier(node.name.value),  # the name getattr() finds on the worker
            module=self.module,
            file=self.ev.path,
            location=self.ev.location(decorator),
            is_async=isinstance(node, cst.FunctionDef) and node.asynchronous is not None,
            is_class=is_class,
            class_methods=_public_methods(node) if isinstance(node, cst.ClassDef) else (),
            route=route,
            endpoint=endpoint,
            dependencies=deps,
            system_dependencies=sys_deps,
            body_imports=tuple(self._body_imports(node)),
        )

    def _read_endpoint(self, node: Definition, decorator: cst.Decorator, call_node: cst.Call,
                       index: int) -> FunctionDecl:
        call = self.ev.evaluate_call(call_node, index, "Endpoint")
        config = declarations.endpoint_config(call, load_balanced=False)
        endpoint = EndpointDecl(config=config, location=self.ev.location(decorator))
        return self._declaration(node, decorator, endpoint=endpoint)

    def _read_instance(self, node: Definition, found: _FlashDecorator, instance: _Instance,
                       index: int) -> FunctionDecl:
        """``@ep`` (a queue endpoint) or ``@ep.post("/path")`` (a route), ``ep`` an Endpoint."""
        call = instance.evaluator.evaluate_call(instance.call, instance.index, instance.name)
        if found.call is None:
            config = declarations.endpoint_config(call, load_balanced=False)
            # The decorator, not the shared Endpoint(...) call, makes it a queue endpoint.
            endpoint = EndpointDecl(config=config, location=self.ev.location(found.decorator))
            return self._declaration(node, found.decorator, endpoint=endpoint)
        config = declarations.endpoint_config(call, load_balanced=True)
        endpoint = EndpointDecl(config=config, location=call.location)
        method = ROUTE_DECORATORS.get(found.route_method, found.route_method.upper())
        path = self._route_path(found.call, index)
        route = Route(method=method, path=path, location=self.ev.location(found.decorator))
        return self._declaration(node, found.decorator, endpoint=endpoint, route=route)

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
            raise self.ev.error(call_node.args[0],
                                f"the route path must be a string, got {path!r}.")
        return path

    def _read_remote(self, node: Definition, decorator: cst.Decorator, call_node: cst.Call,
                     index: int) -> FunctionDecl:
        call = self.ev.evaluate_call(call_node, index, "remote",
                                     callees=frozenset({symbols.REMOTE}))
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
                    f"{resource.callee} is load-balanced: @remote needs `method` and `path` "
                    "strings.",
                    hint='Write @remote(cfg, method="POST", path="/items").',
                )
            route = Route(method=method.upper(), path=path, location=self.ev.location(decorator))
        elif method is not None or path is not None:
            raise args.error(
                "method" if method is not None else "path",
                f"`method`/`path` only apply to load balancers, but {resource.callee} is "
                "queue-based.",
                hint="Use LiveLoadBalancer(...) for HTTP routes, or drop method/path.",
            )
        deps = args.take_strings("dependencies", declarations.requirement_checker(config.name))
        sys_deps = args.take_strings("system_dependencies")
        endpoint = EndpointDecl(config=config, location=resource.location)
        return self._declaration(
            node, decorator, endpoint=endpoint, route=route, deps=deps, sys_deps=sys_deps
        )

    def _body_imports(self, node: Definition) -> Iterator[ImportRef]:
        """Imports anywhere inside the definition's body, made absolute."""
        for statement in imports_in(node):
            location = self.ev.location(statement)
            if isinstance(statement, cst.Import):
                for alias in statement.names:
                    yield ImportRef(module=dotted_name(alias.name), names=(), location=location)
            else:
                names = ("*",) if isinstance(statement.names, cst.ImportStar) else tuple(
                    dotted_name(alias.name) for alias in statement.names)
                module = imported_module(statement, self.module, is_package=self.is_package)
                yield ImportRef(module=module, names=names, location=location)


def _public_methods(node: cst.ClassDef) -> tuple[str, ...]:
    methods = [identifier(statement.name.value) for statement in node.body.body
               if isinstance(statement, cst.FunctionDef)
               and not statement.name.value.startswith("_")]
    return tuple(dict.fromkeys(methods))
