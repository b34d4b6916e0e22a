"""Print, as JSON, what a runpod-flash installation exports. Runs inside the SDK's venv.

Run by ``generate.py`` with the interpreter of a throw-away venv holding the
pinned runpod-flash; it imports the SDK (which is safe there) and reads its
enums, GPU pools and the parameters its classes accept.
"""

from __future__ import annotations

import enum
import inspect
import json
import sys
import warnings

warnings.simplefilter("ignore")  # the SDK warns about its deprecated names on access

import runpod_flash  # noqa: E402
from runpod_flash.core.resources import cpu, gpu  # noqa: E402


def parameters(obj: object) -> list[str]:
    """Keyword names a class or function accepts (pydantic fields, aliases too)."""
    fields = getattr(obj, "model_fields", None)
    if fields:
        names = set(fields)
        names |= {f.alias for f in fields.values() if getattr(f, "alias", None)}
        return sorted(names)
    target = obj.__init__ if isinstance(obj, type) else obj
    return sorted(name for name, p in inspect.signature(target).parameters.items()
                  if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def deployment_defaults() -> dict[str, object]:
    """What the resource classes fill in when a declaration leaves a field out."""
    endpoint = inspect.signature(runpod_flash.Endpoint.__init__).parameters
    template = runpod_flash.PodTemplate()
    volume = runpod_flash.NetworkVolume(name="v")
    cpu_resource = runpod_flash.CpuLiveServerless(name="defaults")
    return {
        "cpu_default_instances": [getattr(i, "value", i) for i in cpu_resource.instanceIds],
        "all_datacenters": [dc.value for dc in runpod_flash.DataCenter.all()],
        "cpu_datacenters": sorted(dc.value for dc in runpod_flash.CPU_DATACENTERS),
        "cpu_max_disk_gb": {t.value: cpu.calculate_max_disk_size(t)
                            for t in runpod_flash.CpuInstanceType},
        "endpoint_defaults": {name: getattr(p.default, "value", p.default)
                              for name, p in endpoint.items()
                              if p.default is not inspect.Parameter.empty
                              and isinstance(getattr(p.default, "value", p.default),
                                             (str, int, float, bool))},
        "template": {key: getattr(template, key) for key in (
            "containerDiskInGb", "dockerArgs", "startScript", "advancedStart",
            "containerRegistryAuthId")},
        "network_volume": {"size": volume.size,
                           "dataCenterId": getattr(volume.dataCenterId, "value",
                                                   volume.dataCenterId)},
    }


def main() -> None:
    exports = sorted(set(runpod_flash.__all__))
    enums, callables, constants = {}, {}, {}
    for name in exports:
        value = getattr(runpod_flash, name)
        if isinstance(value, type) and issubclass(value, enum.Enum):
            enums[name] = {member.name: member.value for member in value}
        elif callable(value):
            callables[name] = parameters(value)
        elif isinstance(value, (frozenset, set, list, tuple)):
            constants[name] = sorted(getattr(v, "name", v) for v in value)
        else:
            constants[name] = value
    json.dump({
        "package": "runpod-flash",
        "version": runpod_flash.__version__,
        "exports": exports,
        "enums": enums,
        "parameters": callables,
        "constants": constants,
        "gpu_pools": {pool.name: [t.name for t in types]
                      for pool, types in gpu.POOLS_TO_TYPES.items()},
        "any_gpu_pools": [group.name for group in gpu.GpuGroup.all()],
        "deployment": deployment_defaults(),
    }, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
