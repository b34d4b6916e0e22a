"""Group scanned functions into endpoints and check that the result is deployable.

Pure: takes the scan result, returns a :class:`BuildPlan` or raises a
:class:`SourceCodeError` that points at the decorator at fault (and, for a
conflict, at the other place involved).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..errors import SourceCodeError, SourceLocation
from ..records import (
    HTTP_METHODS,
    RESERVED_PATHS,
    BuildPlan,
    EndpointConfig,
    FunctionDecl,
    PlannedEndpoint,
    PlannedFunction,
    Route,
    ScanResult,
)
from . import symbols
from .deployment import deployment_fields

NO_ENDPOINTS_HINT = (
    "Decorate a module-level function or class with @Endpoint(name=...) imported from "
    "runpod_flash (or use @remote with a resource config). Check that the file is not "
    "excluded by .gitignore or .flashignore."
)


def build_plan(scan: ScanResult, *, project_name: str, python_version: str) -> BuildPlan:
    """Group functions by endpoint name, validate, and compute hashes and calls."""
    if not scan.functions:
        count = len(scan.modules)
        found = (f"no Flash endpoints found in {count} Python file{'s' * (count != 1)} of "
                 f"project {project_name!r}")
        if scan.clues:
            first, *others = scan.clues
            raise SourceCodeError(
                f"{found}: {first.message}"
                + "".join(f"\n  {clue.location}: {clue.message}" for clue in others),
                location=first.location, related=tuple(clue.location for clue in others),
                hint=" ".join(dict.fromkeys(clue.hint for clue in scan.clues)))
        raise SourceCodeError(f"{found}; there is nothing to build.", hint=NO_ENDPOINTS_HINT)
    paths = {module.path for module in scan.modules}
    groups: dict[str, list[FunctionDecl]] = defaultdict(list)
    for decl in sorted(scan.functions, key=_source_order):
        _check_importable(decl, paths)
        groups[decl.endpoint.config.name].append(decl)
    for decls in groups.values():
        _check_group(decls)
    registry = _function_registry(groups)
    modules = {module.module for module in scan.modules}
    endpoints = tuple(
        _plan_endpoint(name, groups[name], registry, modules, python_version)
        for name in sorted(groups)
    )
    return BuildPlan(
        project_name=project_name,
        python_version=python_version,
        endpoints=endpoints,
        function_registry=tuple(sorted((fn, decl.endpoint.config.name)
                                       for fn, decl in registry.items())),
        environment_reads=tuple(sorted({name for decl in scan.functions
                                        for name in decl.environment_reads})),
    )


def _check_importable(decl: FunctionDecl, paths: Collection[str]) -> None:
    """The worker imports the function's module by name: that name must reach this file."""
    parts = decl.module.split(".")
    location = SourceLocation(path=decl.file)
    if not all(part.isidentifier() for part in parts):
        raise SourceCodeError(
            f"`{decl.name}` is in {decl.file}, whose module name {decl.module!r} cannot be "
            "imported, so its handler cannot load it on the worker.",
            location=location,
            hint="Rename the file (and its folders) to valid Python identifiers, e.g. "
            "app_v1.py instead of app-v1.py or v1.2.py.",
        )
    package = "/".join(parts) + "/__init__.py"
    if not decl.file.endswith("__init__.py") and package in paths:
        raise SourceCodeError(
            f"`{decl.name}` is in {decl.file}, but `import {decl.module}` imports the package "
            f"{package} beside it, so the handler cannot find the function on the worker.",
            location=location,
            hint=f"Rename {decl.file} or the package {package.removesuffix('/__init__.py')}/.",
        )


@dataclass(frozen=True)
class _DeclaredRoute:
    decl: FunctionDecl
    route: Route


def _source_order(decl: FunctionDecl) -> tuple[str, int, int]:
    return (decl.location.path, decl.location.line or 0, decl.location.column or 0)


def _check_group(decls: list[FunctionDecl]) -> None:
    first = decls[0]
    name = first.endpoint.config.name
    for other in decls[1:]:
        if other.endpoint.config != first.endpoint.config:
            raise _conflict(first, other)
    if not first.endpoint.config.load_balanced:
        if len(decls) > 1:
            second = decls[1]
            raise SourceCodeError(
                f"queue endpoint {name!r} already runs `{first.name}` "
                f"({first.location}); a queue endpoint runs exactly one function or class, "
                f"so `{second.name}` would never be reachable.",
                location=second.location,
                related=(first.location,),
                hint="Give each function its own endpoint name, or make the endpoint "
                "load-balanced (api = Endpoint(...) with @api.post(\"/path\") routes).",
            )
        return
    seen: dict[tuple[str, str], _DeclaredRoute] = {}
    for decl in decls:
        route = decl.route
        assert route is not None  # load-balanced declarations always carry a route
        method = route.method.upper()
        if method not in HTTP_METHODS:
            raise SourceCodeError(
                f"HTTP method {route.method!r} of `{decl.name}` is not supported.",
                location=route.location,
                hint=f"Use one of {', '.join(HTTP_METHODS)}.",
            )
        if not route.path.startswith("/"):
            raise SourceCodeError(
                f"route path {route.path!r} of `{decl.name}` must start with '/'.",
                location=route.location,
                hint=f"Write {'/' + route.path!r}.",
            )
        if route.path.rstrip("/") in RESERVED_PATHS:
            raise SourceCodeError(
                f"route path {route.path!r} of `{decl.name}` is reserved by the worker.",
                location=route.location,
                hint=f"Pick another path; {' and '.join(RESERVED_PATHS)} are reserved.",
            )
        key = (method, route.path)
        if key in seen:
            first_route = seen[key]
            raise SourceCodeError(
                f"route {method} {route.path} of endpoint {name!r} is declared twice: "
                f"by `{first_route.decl.name}` ({first_route.route.location}) and by "
                f"`{decl.name}`.",
                location=route.location,
                related=(first_route.route.location,),
                hint="Give each route its own method and path.",
            )
        seen[key] = _DeclaredRoute(decl=decl, route=route)


def _conflict(first: FunctionDecl, other: FunctionDecl) -> SourceCodeError:
    a, b = first.endpoint.config, other.endpoint.config
    if a.load_balanced != b.load_balanced:
        kinds = {True: "load-balanced", False: "queue-based"}
        return SourceCodeError(
            f"endpoint {a.name!r} is declared {kinds[b.load_balanced]} here but "
            f"{kinds[a.load_balanced]} at {first.endpoint.location}.",
            location=other.endpoint.location,
            related=(first.endpoint.location,),
            hint="Use one form per endpoint name, or rename one of them.",
        )
    differences = [
        _difference(field.name, getattr(a, field.name), getattr(b, field.name))
        for field in fields(EndpointConfig)
        if getattr(a, field.name) != getattr(b, field.name)
    ]
    return SourceCodeError(
        f"endpoint {a.name!r} is declared with a different configuration at "
        f"{first.endpoint.location} and here ({'; '.join(differences)}).",
        location=other.endpoint.location,
        related=(first.endpoint.location,),
        hint="Make both declarations identical (e.g. share one module-level constant), "
        "or give them different names.",
    )


def _difference(name: str, first: Any, second: Any) -> str:
    """One differing field of two configurations (any field of :class:`EndpointConfig`)."""
    if name == "env":  # values are often secrets: name the variables, never print values
        a, b = dict(first), dict(second)
        keys = sorted(key for key in {*a, *b} if a.get(key) != b.get(key))
        return f"env: {', '.join(keys)} differ"
    return f"{name}: {first!r} vs {second!r}"


def _function_registry(groups: dict[str, list[FunctionDecl]]) -> dict[str, FunctionDecl]:
    registry: dict[str, FunctionDecl] = {}
    for name in sorted(groups):
        for decl in groups[name]:
            previous = registry.get(decl.name)
            if previous is not None:
                raise SourceCodeError(
                    f"function name `{decl.name}` is used by endpoint "
                    f"{previous.endpoint.config.name!r} ({previous.location}) and endpoint "
                    f"{decl.endpoint.config.name!r}; calls by name would be ambiguous.",
                    location=decl.location,
                    related=(previous.location,),
                    hint="Rename one of the functions.",
                )
            registry[decl.name] = decl
    return registry


def called_endpoint(
    module: str, name: str, registry: Mapping[str, FunctionDecl], project_modules: Collection[str]
) -> FunctionDecl | None:
    """The endpoint function that ``from module import name`` in a body refers to, or None.

    This is the one rule for "calls another endpoint", used by the plan (the
    manifest's ``calls``) and by the static checks. The imported name must be
    an endpoint function's, and ``module`` (absolute; "" if it could not be
    resolved) the module that defines it or another project module, which may
    re-export it.
    """
    target = registry.get(name)
    if target is None or not module:
        return None
    is_project_module = module in project_modules or any(
        candidate.startswith(module + ".") for candidate in project_modules
    )
    return target if target.module == module or is_project_module else None


def _calls(decl: FunctionDecl, registry: Mapping[str, FunctionDecl], modules: Collection[str]
           ) -> tuple[str, ...]:
    """Endpoints whose functions ``decl`` imports inside its body."""
    called = {
        target.endpoint.config.name
        for ref in decl.body_imports
        for imported in ref.names
        if (target := called_endpoint(ref.module, imported, registry, modules)) is not None
    }
    called.discard(decl.endpoint.config.name)
    return tuple(sorted(called))


# Fields of deployment_fields() that do not define the endpoint: env changes without
# recreating it, and is_live_resource follows resource_type.
_NOT_IDENTITY = ("env", "is_live_resource")


def config_hash(config: EndpointConfig, *, dependencies: Iterable[str],
                system_dependencies: Iterable[str], image: str) -> str:
    """sha256 of the canonical JSON of everything that defines an endpoint except ``env``.

    Those are manifest fields of the resource (see the README's recipe): what
    the SDK deploys from, and what flashbuild records of the declaration.
    """
    identity: dict[str, object] = {
        key: value for key, value in deployment_fields(config, image).items()
        if key not in _NOT_IDENTITY
    }
    identity.update(
        name=config.name,
        is_load_balanced=config.load_balanced,
        compute=config.compute,
        dependencies=list(dependencies),
        system_dependencies=list(system_dependencies),
        settings=dict(config.settings),
    )
    if config.compute == "gpu":
        identity["gpus"] = list(config.gpu_ids)
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _plan_endpoint(name: str, decls: list[FunctionDecl], registry: Mapping[str, FunctionDecl],
                   modules: Collection[str], python_version: str) -> PlannedEndpoint:
    config = decls[0].endpoint.config
    functions = tuple(
        PlannedFunction(decl=decl, calls=_calls(decl, registry, modules)) for decl in decls
    )
    dependencies = tuple(sorted(
        {*config.dependencies, *(d for f in decls for d in f.dependencies)}
    ))
    system_dependencies = tuple(sorted(
        {*config.system_dependencies, *(d for f in decls for d in f.system_dependencies)}
    ))
    image = symbols.image_name(config.compute, config.load_balanced, python_version)
    return PlannedEndpoint(
        name=name,
        config=config,
        declared_at=decls[0].endpoint.location,
        functions=functions,
        dependencies=dependencies,
        system_dependencies=system_dependencies,
        calls=tuple(sorted({c for f in functions for c in f.calls})),
        handler_file=f"handler_{name}.py",
        image_name=image,
        config_hash=config_hash(
            config, dependencies=dependencies, system_dependencies=system_dependencies,
            image=image,
        ),
    )
