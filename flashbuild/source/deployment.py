"""The fields the SDK's deploy code reads from a manifest resource, as the SDK computes them.

``flash deploy`` rebuilds each resource with
``runpod_flash.runtime.resource_provisioner.create_resource_from_manifest``,
which reads ``resource_type``, ``gpuIds``, ``instanceIds``, ``workersMin``,
``workersMax``, ``idleTimeout``, ``scalerType``, ``scalerValue``,
``minCudaVersion``, ``locations``, ``imageName``/``templateId``, ``env`` and
the network volumes. Each gets the name, place, type and vocabulary the SDK's
own build gives it (``Endpoint`` resolves to the Live class of its kind;
``gpuIds`` is the comma-separated pool string; data centers are API values),
from the tables generated from the SDK (:mod:`flashbuild.source.symbols`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..records import EndpointConfig
from . import symbols

_GROUP_OF_VALUE = {value: name for name, value in symbols.GPU_GROUPS.items()}
_TYPE_OF_VALUE = {value: name for name, value in symbols.GPU_TYPES.items()}
_ANY = symbols.GPU_GROUPS["ANY"]
_TEMPLATE_KEYS = tuple(symbols.DEPLOYMENT["template"])


def resource_type(config: EndpointConfig) -> str:
    """``LiveServerless`` and friends for ``Endpoint``; a legacy class keeps its name."""
    return symbols.sdk_resource_type(config.resource_type, config.compute, config.load_balanced)


def deployment_fields(config: EndpointConfig, image_name: str) -> dict[str, Any]:
    """The resource's fields that ``create_resource_from_manifest`` reads.

    ``image_name`` is the worker image for the target Python, used unless the
    declaration names its own.
    """
    settings = _Settings(config)
    fields: dict[str, Any] = {
        "resource_type": resource_type(config),
        "is_live_resource": resource_type(config) in symbols.LIVE_CLASSES.values(),
        "imageName": settings.get("image", "imageName") or image_name,
        "workersMin": config.workers_min,
        "workersMax": config.workers_max,
        "idleTimeout": config.idle_timeout,
        "scalerType": settings.get("scaler_type", "scalerType")
        or ("REQUEST_COUNT" if config.load_balanced else "QUEUE_DELAY"),
        "scalerValue": settings.get("scaler_value", "scalerValue",
                                    symbols.ENDPOINT_DEFAULTS["scaler_value"]),
        "env": dict(config.env),
    }
    if config.compute == "gpu":
        written = settings.get("", "gpuIds")  # a legacy class's own string is kept as is
        fields["gpuIds"] = (normalized_gpu_ids(str(written)) if written
                            else gpu_ids_string(config.gpu_ids))
        fields["minCudaVersion"] = settings.get("min_cuda_version", "minCudaVersion") or (
            symbols.ENDPOINT_DEFAULTS["min_cuda_version"])
    else:
        fields["instanceIds"] = list(config.instance_ids)
    locations = _locations(config, settings)
    if locations:
        fields["locations"] = locations
    fields.update(_volumes(settings))
    template_id = settings.get("", "templateId")
    if template_id:
        fields["templateId"] = template_id
    else:
        fields["template"] = _template(config, settings)
    concurrency = settings.get("max_concurrency", "")
    if isinstance(concurrency, int) and concurrency > 1 and not config.load_balanced:
        fields["max_concurrency"] = concurrency
    python_version = settings.get("", "python_version")
    if python_version:
        fields["python_version"] = python_version
    return fields


class _Settings:
    """A declaration's other options, by their ``Endpoint`` or legacy class name."""

    def __init__(self, config: EndpointConfig) -> None:
        self.values = dict(config.settings)
        self.legacy = config.resource_type != symbols.ENDPOINT

    def get(self, endpoint_key: str, legacy_key: str, default: Any = None) -> Any:
        key = legacy_key if self.legacy else endpoint_key
        value = self.values.get(key) if key else None
        return default if value is None else value


def gpu_ids_string(values: Iterable[str]) -> str:
    """The SDK's ``GpuGroup.to_gpu_ids_str`` of declared GpuGroup/GpuType values.

    Pools are named by their GpuGroup; a GpuType selects its pool and rules out
    the pool's other types (``-NVIDIA GeForce RTX 3090``) unless the pool itself
    was asked for; ``any`` stands for every pool.
    """
    declared = list(values)
    if _ANY in declared:
        declared = [symbols.GPU_GROUPS[name] for name in symbols.ANY_GPU_POOLS]
    tokens: set[str] = set()
    from_groups: set[str] = set()
    explicit_types: set[str] = set()
    for value in declared:
        if value in _GROUP_OF_VALUE:
            pool = _GROUP_OF_VALUE[value]
            from_groups.add(pool)
        else:
            gpu_type = _TYPE_OF_VALUE.get(value, "")
            explicit_types.add(gpu_type)
            pool = next((p for p, types in symbols.GPU_POOLS.items() if gpu_type in types), "")
        if pool:
            tokens.add(symbols.GPU_GROUPS[pool])
    if explicit_types:
        for pool in sorted(set(symbols.GPU_POOLS) & {_GROUP_OF_VALUE[t] for t in tokens}):
            if pool not in from_groups:
                tokens |= {f"-{symbols.GPU_TYPES[t]}" for t in symbols.GPU_POOLS[pool]
                           if t not in explicit_types}
    return normalized_gpu_ids(",".join(tokens))


def normalized_gpu_ids(text: str) -> str:
    """The SDK's canonical gpuIds: unique tokens, pools first, each group by name."""
    tokens = {token.strip() for token in text.split(",") if token.strip()}
    ordered = sorted(tokens, key=lambda t: (t.startswith("-"), t.lstrip("-").lower()))
    return ",".join(ordered)


def data_center(value: object) -> str:
    """A data center as the API names it: ``eu_ro_1`` and ``EU-RO-1`` are ``EU-RO-1``."""
    return str(value).strip().upper().replace("_", "-")


def _locations(config: EndpointConfig, settings: _Settings) -> str:
    explicit = settings.get("", "locations")
    if explicit:
        return str(explicit)
    declared = settings.get("datacenter", "datacenter")
    if declared:
        items = declared if isinstance(declared, list) else [declared]
        return ",".join(data_center(item) for item in items)
    if config.compute == "gpu" and not settings.legacy:
        return ",".join(symbols.DEPLOYMENT["all_datacenters"])
    return ""


def _volume(data: Mapping[str, Any]) -> dict[str, Any]:
    defaults = symbols.DEPLOYMENT["network_volume"]
    volume: dict[str, Any] = {key: data[key] for key in ("name", "id") if data.get(key)}
    volume["size"] = data.get("size") or defaults["size"]
    where = data.get("dataCenterId") or data.get("datacenter")
    volume["dataCenterId"] = data_center(where) if where else defaults["dataCenterId"]
    return volume


def _volumes(settings: _Settings) -> dict[str, Any]:
    declared = settings.get("volume", "networkVolumes") or settings.get("", "networkVolume")
    if declared:
        items = declared if isinstance(declared, list) else [declared]
        return {"networkVolumes": [_volume(item) for item in items if isinstance(item, dict)]}
    volume_id = settings.get("", "networkVolumeId")
    return {"networkVolumeId": volume_id} if volume_id else {}


def _template(config: EndpointConfig, settings: _Settings) -> dict[str, Any]:
    """The five template keys the SDK writes; a CPU disk is sized for its instances."""
    template = dict(symbols.DEPLOYMENT["template"])
    declared = settings.get("template", "template")
    if isinstance(declared, dict):
        template.update((key, declared[key]) for key in _TEMPLATE_KEYS if key in declared)
    default_disk = symbols.DEPLOYMENT["template"]["containerDiskInGb"]
    if config.compute == "cpu" and template["containerDiskInGb"] == default_disk:
        limits = symbols.DEPLOYMENT["cpu_max_disk_gb"]
        template["containerDiskInGb"] = min(limits[i] for i in config.instance_ids)
    return template
