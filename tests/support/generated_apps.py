"""Random valid Flash apps for property tests: a spec, its source text, its manifest.

A strategy draws an :class:`AppSpec` (endpoints in every declaration form, with
values from the SDK's real enum tables); :func:`render_sources` writes it as
Python source, spelling each value in one of several static styles;
:func:`expected_resources` says, independently of flashbuild's code, what the
manifest must then contain.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import strategies as st

from flashbuild.source import symbols
from flashbuild.source.deployment import gpu_ids_string

MODULE_PATHS = ("app.py", "workers/gpu_tasks.py", "pkg/__init__.py", "pkg/sub/models.py")
REQUIREMENTS = ("numpy", "requests>=2.31", "pandas==2.2.*", "torch[cuda]>=2.4", "rich",
                "pyyaml; python_version >= '3.10'")
SYSTEM_PACKAGES = ("git", "ffmpeg", "libgl1", "curl")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
GPU_ENUMS = {"GpuGroup": symbols.GPU_GROUPS, "GpuType": symbols.GPU_TYPES}
SDK_NAMES = ("Endpoint", "remote", "GpuGroup", "GpuType", "CpuInstanceType",
             *sorted(symbols.RESOURCE_CLASSES))


@dataclass
class FunctionSpec:
    """A decorated function or class, and what its body imports."""

    name: str
    is_async: bool = False
    public_methods: tuple[str, ...] | None = None  # set for a class
    private_methods: tuple[str, ...] = ()
    route: tuple[str, str] | None = None  # (method as written, path)
    dependencies: tuple[str, ...] = ()  # @remote(dependencies=...) of this function
    system_dependencies: tuple[str, ...] = ()
    imports: tuple[tuple[str, str], ...] = ()  # (module, function) imported in the body


@dataclass
class EndpointSpec:
    """One endpoint: its declaration form, configuration, module and functions."""

    name: str
    form: str  # "decorator", "instance" (@ep), "routes" (@ep.get) or "remote"
    resource: str  # "Endpoint" or a legacy resource class
    path: str
    gpus: tuple[tuple[str, str], ...] | None = None  # (enum, member)
    cpus: tuple[tuple[bool, str], ...] | None = None  # (written as enum member, member)
    workers: int | tuple[int, int] | None = None
    idle_timeout: int | None = None
    dependencies: tuple[str, ...] = ()
    system_dependencies: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    timeout_ms: int | None = None  # a setting
    positional_name: bool = False
    functions: list[FunctionSpec] = field(default_factory=list)

    @property
    def load_balanced(self) -> bool:
        if self.form == "remote":
            return symbols.RESOURCE_CLASSES[self.resource].load_balanced
        return self.form == "routes"

    @property
    def compute(self) -> str:
        if self.cpus is not None:
            return "cpu"
        if self.form == "remote":
            return symbols.RESOURCE_CLASSES[self.resource].compute
        return "gpu"


@dataclass
class AppSpec:
    """A whole app and how its source is spelled."""

    endpoints: list[EndpointSpec]
    styles: dict[str, str]  # module path -> import style
    value_styles: tuple[str, ...]  # cycled through, one per written value

    def with_env(self, envs: list[dict[str, str]]) -> AppSpec:
        changed = [
            replace(endpoint, env=env)
            for endpoint, env in zip(self.endpoints, envs, strict=True)
        ]
        return replace(self, endpoints=changed)


# --- strategies --------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)
words = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True).filter(
    lambda word: not keyword.iskeyword(word))
env_dicts = st.dictionaries(
    st.from_regex(r"[A-Z_][A-Z0-9_]{0,7}", fullmatch=True),
    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_categories=("Cs",)),
            max_size=10),
    max_size=3,
)
# A path parameter ends in "_id" so that, as a Python parameter, it is never a keyword.
paths = st.from_regex(r"/[a-z0-9_-]{0,8}(/[a-z0-9_-]{1,8})?(/\{[a-z]{1,6}_id\})?", fullmatch=True)
gpu_members = st.sampled_from(sorted(GPU_ENUMS)).flatmap(
    lambda enum: st.tuples(st.just(enum), st.sampled_from(sorted(GPU_ENUMS[enum]))))
cpu_members = st.tuples(st.booleans(), st.sampled_from(sorted(symbols.CPU_INSTANCE_TYPES)))
worker_pairs = st.integers(0, 5).flatmap(lambda low: st.tuples(st.just(low),
                                                               st.integers(max(low, 1), 10)))


def _reserved(path: str) -> bool:
    return path.rstrip("/") in ("/ping", "/execute")


@st.composite
def endpoints(draw, name: str, counter: list[int]) -> EndpointSpec:
    form = draw(st.sampled_from(["decorator", "instance", "routes", "remote"]))
    resource = "Endpoint"
    if form == "remote":
        resource = draw(st.sampled_from(sorted(symbols.RESOURCE_CLASSES)))
    endpoint = EndpointSpec(name=name, form=form, resource=resource,
                            path=draw(st.sampled_from(MODULE_PATHS)))
    # GPU resource classes also run on CPU when given instanceIds; CPU classes never take GPUs.
    cpu_class = form == "remote" and symbols.RESOURCE_CLASSES[resource].compute == "cpu"
    compute = draw(st.sampled_from(["default", "cpu"] if cpu_class else ["default", "gpu", "cpu"]))
    if compute == "gpu":
        endpoint.gpus = tuple(draw(st.lists(gpu_members, min_size=1, max_size=3)))
    elif compute == "cpu":
        endpoint.cpus = tuple(draw(st.lists(cpu_members, min_size=1, max_size=3)))
    if form == "remote":
        endpoint.workers = draw(st.none() | worker_pairs)
    else:
        endpoint.workers = draw(st.none() | st.integers(1, 10) | worker_pairs)
        endpoint.dependencies = tuple(draw(st.lists(st.sampled_from(REQUIREMENTS), max_size=4)))
        endpoint.system_dependencies = tuple(
            draw(st.lists(st.sampled_from(SYSTEM_PACKAGES), max_size=2)))
        endpoint.positional_name = draw(st.booleans())
    endpoint.idle_timeout = draw(st.none() | st.integers(1, 3600))  # the SDK's range
    endpoint.env = draw(env_dicts)
    endpoint.timeout_ms = draw(st.none() | st.integers(0, 600_000))

    def function_name(capitalise: bool = False) -> str:
        counter[0] += 1
        word = draw(words)
        return f"{word.capitalize() if capitalise else word}_{counter[0]}"

    def function(route=None) -> FunctionSpec:
        made = FunctionSpec(name="", route=route)
        if route is None and form != "routes" and draw(st.booleans()):
            methods = draw(st.lists(words, min_size=1, max_size=3, unique=True))
            made.public_methods = tuple(methods)
            private = draw(st.lists(words, max_size=2, unique=True))
            made.private_methods = tuple("_" + method for method in private)
            made.name = function_name(capitalise=True)
        else:
            made.name, made.is_async = function_name(), draw(st.booleans())
        if form == "remote":
            made.dependencies = tuple(draw(st.lists(st.sampled_from(REQUIREMENTS), max_size=3)))
            made.system_dependencies = tuple(
                draw(st.lists(st.sampled_from(SYSTEM_PACKAGES), max_size=2)))
        return made

    if endpoint.load_balanced:
        declared = draw(st.lists(st.tuples(st.sampled_from(METHODS), paths.filter(
            lambda p: not _reserved(p))), min_size=1, max_size=4, unique=True))
        for method, path in declared:
            written = method.lower() if form == "routes" else draw(
                st.sampled_from([method, method.lower(), method.capitalize()]))
            endpoint.functions.append(function(route=(written, path)))
    else:
        endpoint.functions.append(function())
    return endpoint


@st.composite
def apps(draw) -> AppSpec:
    endpoint_names = draw(st.lists(names, min_size=1, max_size=4, unique_by=str.lower))
    counter = [0]
    declared = [draw(endpoints(name, counter)) for name in endpoint_names]
    everything = [(e, f) for e in declared for f in e.functions]
    for _, function in everything:  # imports inside bodies: the cross-endpoint calls
        chosen = draw(st.lists(st.sampled_from(everything), max_size=2))
        function.imports = tuple((module_of(e.path), f.name) for e, f in chosen)
    styles = {path: draw(st.sampled_from(["names", "aliases", "module"])) for path in MODULE_PATHS}
    value_styles = tuple(draw(st.lists(st.sampled_from(["inline", "constant", "split"]),
                                       min_size=1, max_size=5)))
    return AppSpec(endpoints=declared, styles=styles, value_styles=value_styles)


# --- source text -------------------------------------------------------------------


def module_of(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


class _Module:
    """Lines of one module being written; remembers where each decorator went."""

    def __init__(self, style: str, value_styles: tuple[str, ...]) -> None:
        self.style, self.value_styles, self.count = style, value_styles, 0
        if style == "names":
            self.lines = [f"from runpod_flash import {', '.join(SDK_NAMES)}"]
        elif style == "aliases":
            aliased = ", ".join(f"{name} as fl_{name}" for name in SDK_NAMES)
            self.lines = [f"from runpod_flash import ({aliased})"]
        else:
            self.lines = ["import runpod_flash as rf"]

    def sym(self, name: str) -> str:
        return {"names": name, "aliases": f"fl_{name}", "module": f"rf.{name}"}[self.style]

    def value(self, items: list[str], *, dict_items: bool = False) -> str:
        """A list (or dict) of the given item expressions, in the next value style."""
        style = self.value_styles[self.count % len(self.value_styles)]
        self.count += 1
        opening, closing = ("{", "}") if dict_items else ("[", "]")
        if style == "split" and items:
            head = self.constant(opening + ", ".join(items[:1]) + closing)
            rest = ", ".join(items[1:])
            return f"{{**{head}, {rest}}}" if dict_items else f"{head} + [{rest}]"
        literal = opening + ", ".join(items) + closing
        return self.constant(literal) if style == "constant" else literal

    def constant(self, expression: str) -> str:
        name = f"CONST_{len(self.lines)}"
        self.lines.append(f"{name} = {expression}")
        return name


def _endpoint_arguments(module: _Module, endpoint: EndpointSpec) -> list[str]:
    arguments = [repr(endpoint.name) if endpoint.positional_name else f"name={endpoint.name!r}"]
    legacy = endpoint.form == "remote"
    if endpoint.gpus is not None:
        members = [f"{module.sym(enum)}.{member}" for enum, member in endpoint.gpus]
        gpus = module.value(members) if legacy or len(members) > 1 else members[0]
        arguments.append(f"{'gpus' if legacy else 'gpu'}={gpus}")
    if endpoint.cpus is not None:
        members = [f"{module.sym('CpuInstanceType')}.{member}" if as_enum
                   else repr(symbols.CPU_INSTANCE_TYPES[member])
                   for as_enum, member in endpoint.cpus]
        arguments.append(f"{'instanceIds' if legacy else 'cpu'}={module.value(members)}")
    if isinstance(endpoint.workers, tuple) and legacy:
        arguments += [f"workersMin={endpoint.workers[0]}", f"workersMax={endpoint.workers[1]}"]
    elif endpoint.workers is not None:
        arguments.append(f"workers={endpoint.workers!r}")
    if endpoint.idle_timeout is not None:
        arguments.append(f"{'idleTimeout' if legacy else 'idle_timeout'}={endpoint.idle_timeout}")
    if endpoint.env:
        pairs = [f"{key!r}: {value!r}" for key, value in endpoint.env.items()]
        arguments.append(f"env={module.value(pairs, dict_items=True)}")
    if endpoint.timeout_ms is not None:
        key = "executionTimeoutMs" if legacy else "execution_timeout_ms"
        arguments.append(f"{key}={endpoint.timeout_ms}")
    for key, values in (("dependencies", endpoint.dependencies),
                        ("system_dependencies", endpoint.system_dependencies)):
        if values:
            arguments.append(f"{key}={module.value([repr(v) for v in values])}")
    return arguments


def _function_lines(function: FunctionSpec) -> list[str]:
    imports = [f"from {module} import {name}" for module, name in function.imports]
    if function.public_methods is None:
        path = function.route[1] if function.route else ""
        parameters = ", ".join(re.findall(r"\{(\w+)\}", path))  # path parameters
        keyword = "async def" if function.is_async else "def"
        return [f"{keyword} {function.name}({parameters}):", *(f"    {i}" for i in imports),
                "    return None"]
    lines = [f"class {function.name}:"]
    for index, method in enumerate((*function.public_methods, *function.private_methods)):
        lines += [f"    def {method}(self):", *(f"        {i}" for i in imports if index == 0),
                  "        return None"]
    return lines


def render_sources(app: AppSpec) -> tuple[dict[str, str], dict[str, int]]:
    """``({path: source}, {function name: line of its decorator})``."""
    modules: dict[str, _Module] = {}
    lines_of: dict[str, int] = {}
    for number, endpoint in enumerate(app.endpoints):
        module = modules.setdefault(endpoint.path, _Module(app.styles[endpoint.path],
                                                           app.value_styles))
        arguments = ", ".join(_endpoint_arguments(module, endpoint))
        call = f"{module.sym(endpoint.resource)}({arguments})"
        instance = f"ENDPOINT_{number}"
        if endpoint.form != "decorator":
            module.lines.append(f"{instance} = {call}")
        for function in endpoint.functions:
            if endpoint.form == "decorator":
                decorator = call
            elif endpoint.form == "instance":
                decorator = instance
            elif endpoint.form == "routes":
                decorator = f"{instance}.{function.route[0]}({function.route[1]!r})"
            else:
                extra = [f"method={function.route[0]!r}", f"path={function.route[1]!r}"] \
                    if function.route else []
                for key, values in (("dependencies", function.dependencies),
                                    ("system_dependencies", function.system_dependencies)):
                    if values:
                        extra.append(f"{key}={module.value([repr(v) for v in values])}")
                decorator = f"{module.sym('remote')}({', '.join([instance, *extra])})"
            module.lines.append(f"@{decorator}")
            lines_of[function.name] = len(module.lines)
            module.lines += _function_lines(function)
    return {path: "\n".join(m.lines) + "\n" for path, m in modules.items()}, lines_of


def write_sources(root: Path, sources: dict[str, str]) -> None:
    """Write ``{path: source}`` (from :func:`render_sources`) under ``root`` as UTF-8."""
    for relative, text in sources.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


# --- what the manifest must say ------------------------------------------------------


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def _sdk_fields(form: str, compute: str, load_balanced: bool, ids: list[str]) -> dict:
    """The fields only the SDK's vocabulary decides, for an endpoint without such settings."""
    disk = 64
    if compute == "cpu":
        disk = min(symbols.DEPLOYMENT["cpu_max_disk_gb"][i] for i in ids)
    fields = {
        "scalerType": "REQUEST_COUNT" if load_balanced else "QUEUE_DELAY", "scalerValue": 4,
        "template": {"advancedStart": False, "containerDiskInGb": disk,
                     "containerRegistryAuthId": "", "dockerArgs": "", "startScript": ""},
    }
    if compute == "cpu":
        return {**fields, "instanceIds": ids}
    fields.update(gpus=ids, gpuIds=gpu_ids_string(ids), minCudaVersion="12.8")
    if form != "remote":
        fields["locations"] = ",".join(symbols.DEPLOYMENT["all_datacenters"])
    return fields


def expected_resources(app: AppSpec, lines_of: dict[str, int], python: str = "3.12") -> dict:
    """The manifest's ``resources``, computed from the spec alone."""
    endpoint_of = {f.name: e.name for e in app.endpoints for f in e.functions}
    resources = {}
    for endpoint in app.endpoints:
        workers = endpoint.workers
        low, high = (0, workers) if isinstance(workers, int) else workers or (0, 1)
        compute, lb = endpoint.compute, endpoint.load_balanced
        functions, all_calls = [], set()
        for function in endpoint.functions:
            calls = sorted({endpoint_of[name] for _, name in function.imports} - {endpoint.name})
            all_calls.update(calls)
            entry = {"name": function.name, "module": module_of(endpoint.path),
                     "is_async": function.is_async, "is_class": function.public_methods is not None,
                     "calls": calls, "location": f"{endpoint.path}:{lines_of[function.name]}:1"}
            if function.public_methods is not None:
                entry["class_methods"] = list(function.public_methods)
            if function.route is not None:
                entry["http_method"] = function.route[0].upper()
                entry["http_path"] = function.route[1]
            functions.append(entry)
        dependencies = sorted({*endpoint.dependencies,
                               *(d for f in endpoint.functions for d in f.dependencies)})
        system = sorted({*endpoint.system_dependencies,
                         *(d for f in endpoint.functions for d in f.system_dependencies)})
        settings = {} if endpoint.timeout_ms is None else {
            "executionTimeoutMs" if endpoint.form == "remote" else "execution_timeout_ms":
            endpoint.timeout_ms}
        image = symbols.IMAGE_REPOSITORIES[(compute, lb)] + f":py{python}-latest"
        if compute == "cpu":
            ids = [symbols.CPU_INSTANCE_TYPES[m] for _, m in endpoint.cpus or ()]
            ids = _unique(ids) or [symbols.DEFAULT_CPU_INSTANCE]
        else:
            ids = _unique(GPU_ENUMS[enum][m] for enum, m in endpoint.gpus or ()) or ["any"]
        resource_type = symbols.sdk_resource_type(endpoint.resource, compute, lb)
        idle = 60 if endpoint.idle_timeout is None else endpoint.idle_timeout
        resources[endpoint.name] = {
            "resource_type": resource_type, "file_path": endpoint.path,
            "is_live_resource": resource_type in symbols.LIVE_CLASSES.values(),
            "module_path": module_of(endpoint.path), "functions": functions,
            "is_load_balanced": lb, "makes_remote_calls": bool(all_calls),
            "handler_file": f"handler_{endpoint.name}.py", "imageName": image,
            "compute": compute, **_sdk_fields(endpoint.form, compute, lb, ids),
            "workersMin": low, "workersMax": high, "idleTimeout": idle,
            "env": dict(endpoint.env), "target_python_version": python,
            "dependencies": dependencies, "system_dependencies": system, "settings": settings,
            "calls": sorted(all_calls),
        }
    for name, resource in resources.items():
        resource["config_hash"] = config_hash_of(name, resource)
    return resources


# The README's config_hash recipe: these fields of a resource, where present, and its name.
CONFIG_FIELDS = (
    "resource_type", "is_load_balanced", "compute", "gpus", "gpuIds", "instanceIds",
    "workersMin", "workersMax", "idleTimeout", "scalerType", "scalerValue", "minCudaVersion",
    "locations", "imageName", "templateId", "template", "networkVolumes", "networkVolumeId",
    "max_concurrency", "python_version", "dependencies", "system_dependencies", "settings",
)


def config_hash_of(name: str, resource: dict) -> str:
    """The README's recipe applied to a manifest resource."""
    identity = {key: resource[key] for key in CONFIG_FIELDS if key in resource}
    identity["name"] = name
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
