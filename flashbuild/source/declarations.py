"""Turn evaluated runpod_flash calls into endpoint configurations.

``Endpoint(...)`` and the legacy resource classes (``LiveServerless(...)``
and friends) spell the same settings differently; both become one
:class:`EndpointConfig`. Every argument is checked here, so that a mistake is
reported at the argument that holds it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import SourceCodeError
from ..records import (
    Compute,
    EndpointConfig,
    EnumMember,
    StaticCall,
    StaticDict,
    StaticValue,
    to_json,
)
from . import symbols
from .sdk_rules import check_deploy_settings

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# What a worker's environment can hold (POSIX portable names).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# The keywords Endpoint(...), the resource classes and @remote accept come from
# the SDK table; those not read into named fields are kept as ``settings`` (part
# of the configuration and its hash).


class Arguments:
    """The arguments of one StaticCall, consumed one by one with typed getters."""

    def __init__(self, call: StaticCall, allowed: frozenset[str], positional: tuple[str, ...]):
        self.call = call
        self.values: dict[str, StaticValue] = {}
        self.keys: dict[str, str] = {}  # option name -> key as written ("#0" for positional)
        for key, value in call.arguments:
            if key.startswith("#"):
                index = int(key[1:])
                if index >= len(positional):
                    raise self.error_at(
                        key,
                        f"{call.callee}() takes at most {len(positional)} positional "
                        f"argument(s); pass the others by keyword.",
                    )
                name = positional[index]
            else:
                name = key
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                suggestion = f" Did you mean `{close[0]}`?" if close else ""
                raise self.error_at(
                    key,
                    f"`{name}` is not an option of {call.callee}().{suggestion}",
                    hint=f"Options of {call.callee}(): {', '.join(sorted(allowed))}.",
                )
            self.values[name] = value
            self.keys[name] = key

    def error_at(self, key: str, message: str, hint: str | None = None) -> SourceCodeError:
        return SourceCodeError(message, location=self.call.location_of(key), hint=hint)

    def error(self, name: str, message: str, hint: str | None = None) -> SourceCodeError:
        return self.error_at(self.keys.get(name, ""), message, hint)

    def has(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def take(self, name: str) -> StaticValue:
        return self.values.pop(name, None)

    def take_int(self, name: str, default: int, minimum: int = 0) -> int:
        value = self.take(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(name, f"`{name}` must be an integer >= {minimum}, got {value!r}.")
        return value

    def take_strings(self, name: str, check: Callable[[str], str | None] | None = None) -> tuple:
        value = self.take(name)
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, tuple):
            raise self.error(name, f"`{name}` must be a list of strings, got {value!r}.",
                             hint=f'Write it as a list: {name}=["..."].')
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise self.error(name, f"`{name}` must hold non-empty strings, got {item!r}.")
            problem = check(item) if check else None
            if problem:
                raise self.error(name, problem,
                                 hint='Use PEP 508 syntax, e.g. "numpy>=1.26" or "torch==2.4.*".')
        return tuple(dict.fromkeys(value))

    def take_env(self, name: str) -> tuple[tuple[str, str], ...]:
        value = self.take(name)
        if value is None:
            return ()
        if not isinstance(value, StaticDict):
            raise self.error(name, f"`{name}` must be a dict of strings, got {value!r}.")
        pairs = []
        for key, item in value.items:
            if not isinstance(key, str) or not isinstance(item, str):
                raise self.error(
                    name,
                    f"`{name}` keys and values must be strings, got {key!r}: {item!r}.",
                    hint='Quote the value: env={"WORKERS": "4"}.',
                )
            if not ENV_NAME.match(key) or "\0" in item:
                raise self.error(
                    name,
                    f"`{name}` key {key!r} cannot be an environment variable"
                    + (" (its value holds a NUL byte)." if ENV_NAME.match(key) else "."),
                    hint="Use letters, digits and underscores, not starting with a digit: "
                    'env={"MODEL_ID": "..."}.',
                )
            pairs.append((key, item))
        return tuple(sorted(pairs))

    def settings(self) -> tuple[tuple[str, object], ...]:
        """Whatever has not been taken yet, as JSON data sorted by option name."""
        return tuple(sorted((k, to_json(v)) for k, v in self.values.items() if v is not None))


def requirement_checker(endpoint: str) -> Callable[[str], str | None]:
    """A check for ``take_strings`` that names the endpoint in its message."""

    def problem(text: str) -> str | None:
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            reason = str(exc).splitlines()[0]
            return (f"dependency {text!r} of endpoint {endpoint!r} is not a valid "
                    f"requirement: {reason}")
        return None

    return problem


def _name(args: Arguments) -> str:
    name = args.take("name")
    if name is None:
        raise SourceCodeError(
            f"{args.call.callee}() needs a `name`: it identifies the endpoint.",
            location=args.call.location,
            hint=f'Add name="my-endpoint" to {args.call.callee}(...).',
        )
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise args.error(
            "name",
            f"endpoint name {name!r} is not valid.",
            hint="Use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit.",
        )
    return name


def _gpu_ids(args: Arguments, name: str) -> tuple[str, ...]:
    value = args.take(name)
    items = value if isinstance(value, tuple) else (value,)
    if not items or not all(
        isinstance(item, EnumMember) and item.enum in symbols.GPU_ENUMS for item in items
    ):
        raise args.error(
            name,
            f"`{name}` must be a GpuGroup or GpuType member or a list of them, got {value!r}.",
            hint=f"For example {name}=GpuGroup.AMPERE_80.",
        )
    return tuple(dict.fromkeys(item.value for item in items))


def _instance_ids(args: Arguments, name: str) -> tuple[str, ...]:
    value = args.take(name)
    items = value if isinstance(value, tuple) else (value,)
    known = set(symbols.CPU_INSTANCE_TYPES.values())
    ids = []
    for item in items:
        if isinstance(item, EnumMember) and item.enum == "CpuInstanceType":
            ids.append(item.value)
        elif isinstance(item, str) and item in known:
            ids.append(item)
        else:
            raise args.error(
                name,
                f"`{name}` must be CpuInstanceType members or instance names, got {item!r}.",
                hint=f"Known instance types: {', '.join(sorted(known))}.",
            )
    if not ids:
        raise args.error(name, f"`{name}` must not be empty.")
    return tuple(dict.fromkeys(ids))


def _workers(args: Arguments) -> tuple[int, int]:
    value = args.take("workers")
    if value is None:
        return symbols.DEFAULT_WORKERS
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = 0, value
    elif (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        low, high = value
    else:
        raise args.error("workers",
                         f"`workers` must be an int or a (min, max) pair, got {value!r}.")
    _check_worker_range(args, "workers", low, high)
    return low, high


def _check_worker_range(args: Arguments, name: str, low: int, high: int) -> None:
    if low < 0 or high < 1 or low > high:
        raise args.error(
            name,
            f"workers ({low}, {high}) is not a valid range.",
            hint="Use 0 <= min <= max and max >= 1, e.g. workers=(0, 3).",
        )


def endpoint_config(call: StaticCall, *, load_balanced: bool) -> EndpointConfig:
    """Read an ``Endpoint(...)`` call."""
    args = Arguments(call, symbols.PARAMETERS[symbols.ENDPOINT], positional=("name",))
    for client_option in ("id", "image"):
        if args.has(client_option):
            raise args.error(
                client_option,
                f"Endpoint({client_option}=...) is a client for an existing endpoint; "
                "it cannot declare functions to build.",
                hint=f"Remove {client_option}= to declare a new endpoint.",
            )
    name = _name(args)
    if args.has("gpu") and args.has("cpu"):
        raise args.error(
            "cpu",
            "`gpu` and `cpu` are mutually exclusive; give one or neither.",
            hint="Keep gpu= for a GPU endpoint or cpu= for a CPU endpoint (neither means "
            "GPU, GpuGroup.ANY).",
        )
    compute: Compute
    gpu_ids: tuple[str, ...] = ()
    instance_ids: tuple[str, ...] = ()
    if args.has("cpu"):
        compute, instance_ids = "cpu", _instance_ids(args, "cpu")
    else:
        compute = "gpu"
        gpu_ids = _gpu_ids(args, "gpu") if args.has("gpu") else (symbols.DEFAULT_GPU,)
    check_deploy_settings(args, compute=compute, instance_ids=instance_ids, legacy=False)
    workers_min, workers_max = _workers(args)
    return EndpointConfig(
        name=name,
        resource_type="Endpoint",
        load_balanced=load_balanced,
        compute=compute,
        gpu_ids=gpu_ids,
        instance_ids=instance_ids,
        workers_min=workers_min,
        workers_max=workers_max,
        idle_timeout=args.take_int("idle_timeout", symbols.DEFAULT_IDLE_TIMEOUT),
        dependencies=args.take_strings("dependencies", requirement_checker(name)),
        system_dependencies=args.take_strings("system_dependencies"),
        env=args.take_env("env"),
        settings=args.settings(),
    )


def resource_config(call: StaticCall) -> EndpointConfig:
    """Read a legacy resource class call such as ``LiveServerless(...)``."""
    resource = symbols.RESOURCE_CLASSES[call.callee]
    args = Arguments(call, symbols.PARAMETERS[call.callee], positional=())
    name = _name(args)
    compute: Compute = resource.compute
    gpu_ids: tuple[str, ...] = ()
    instance_ids: tuple[str, ...] = ()
    if args.has("instanceIds"):
        compute, instance_ids = "cpu", _instance_ids(args, "instanceIds")
    elif compute == "cpu":
        instance_ids = (symbols.DEFAULT_CPU_INSTANCE,)
    elif args.has("gpus"):
        gpu_ids = _gpu_ids(args, "gpus")
    elif args.has("gpuIds"):
        raw = args.values["gpuIds"]  # stays in settings: the SDK keeps the string as written
        if not isinstance(raw, str) or not raw.strip():
            raise args.error("gpuIds", f"`gpuIds` must be a comma-separated string, got {raw!r}.")
        gpu_ids = tuple(part.strip() for part in raw.split(",") if part.strip())
    else:
        gpu_ids = (symbols.DEFAULT_GPU,)
    if compute == "cpu" and (args.has("gpus") or args.has("gpuIds")):
        raise args.error("gpus", f"{call.callee} runs on CPU; `gpus`/`gpuIds` do not apply.")
    args.take("gpus")
    check_deploy_settings(args, compute=compute, instance_ids=instance_ids, legacy=True)
    low = args.take_int("workersMin", symbols.DEFAULT_WORKERS[0])
    high = args.take_int("workersMax", symbols.DEFAULT_WORKERS[1])
    _check_worker_range(args, "workersMax", low, high)
    return EndpointConfig(
        name=name,
        resource_type=call.callee,
        load_balanced=resource.load_balanced,
        compute=compute,
        gpu_ids=gpu_ids,
        instance_ids=instance_ids,
        workers_min=low,
        workers_max=high,
        idle_timeout=args.take_int("idleTimeout", symbols.DEFAULT_IDLE_TIMEOUT),
        dependencies=(),
        system_dependencies=(),
        env=args.take_env("env"),
        settings=args.settings(),
    )


def remote_arguments(call: StaticCall) -> Arguments:
    """Check the arguments of ``remote(...)``; the caller takes them one by one."""
    return Arguments(call, symbols.PARAMETERS[symbols.REMOTE] - {"_internal"},
                     positional=("resource_config",))
