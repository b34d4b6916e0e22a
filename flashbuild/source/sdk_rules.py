"""The checks the SDK's resource classes make, made where the value is written.

The SDK validates a declaration when it builds the resource (at ``flash
deploy``, or when a worker imports the module): an unknown data center, a CPU
endpoint outside the CPU data centers, a scaler or CUDA version it does not
know, an idle timeout out of range or a CPU disk larger than its instances
allow. flashbuild reports each at build time, at its argument, with the SDK's
vocabulary from :mod:`flashbuild.source.symbols`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..records import EnumMember, StaticCall
from . import symbols

if TYPE_CHECKING:
    from .declarations import Arguments

IDLE_TIMEOUT_RANGE = (1, 3600)  # seconds, as ServerlessResource validates it


def check_deploy_settings(args: Arguments, *, compute: str, instance_ids: tuple[str, ...],
                          legacy: bool) -> None:
    """Raise at the offending argument if the SDK would refuse the declaration."""
    names = {"datacenter": "datacenter", "scaler": "scalerType" if legacy else "scaler_type",
             "cuda": "minCudaVersion" if legacy else "min_cuda_version",
             "idle": "idleTimeout" if legacy else "idle_timeout"}
    centers = _data_centers(args, names["datacenter"])
    if compute == "cpu":
        allowed = symbols.DEPLOYMENT["cpu_datacenters"]
        outside = [center for center in centers if center not in allowed]
        if outside:
            raise args.error(
                names["datacenter"],
                f"CPU endpoints are not available in {', '.join(outside)}; the CPU data "
                f"centers are {', '.join(allowed)}.",
                hint=f"Use datacenter=DataCenter.{allowed[0].replace('-', '_')} or a GPU "
                "endpoint.")
        _check_cpu_disk(args, instance_ids)
    _check_member(args, names["scaler"], "ServerlessScalerType")
    _check_member(args, names["cuda"], "CudaVersion")
    idle = args.values.get(names["idle"])
    low, high = IDLE_TIMEOUT_RANGE
    if isinstance(idle, int) and not isinstance(idle, bool) and not low <= idle <= high:
        raise args.error(names["idle"], f"`{names['idle']}` must be between {low} and {high} "
                         f"seconds, got {idle}.")


def _data_centers(args: Arguments, name: str) -> list[str]:
    """The declared data centers as API values, each checked against the SDK's."""
    value = args.values.get(name)
    if value is None:
        return []
    items = value if isinstance(value, tuple) else (value,)
    known = symbols.DEPLOYMENT["all_datacenters"]
    centers = []
    for item in items:
        if isinstance(item, EnumMember) and item.enum == "DataCenter":
            centers.append(item.value)
            continue
        center = str(item).strip().upper().replace("_", "-") if isinstance(item, str) else ""
        if center not in known:
            raise args.error(name, f"unknown data center {item!r}.",
                             hint=f"Data centers: {', '.join(known)} (or DataCenter members).")
        centers.append(center)
    return centers


def _check_member(args: Arguments, name: str, enum: str) -> None:
    value = args.values.get(name)
    if value is None or (isinstance(value, EnumMember) and value.enum == enum):
        return
    table = symbols.ENUM_TABLES[enum]
    if not isinstance(value, str) or value not in table.values():
        raise args.error(name, f"`{name}` must be a {enum} member, got {value!r}.",
                         hint=f"{enum} values: {', '.join(table.values())}.")


def _check_cpu_disk(args: Arguments, instance_ids: tuple[str, ...]) -> None:
    template = args.values.get("template")
    if not isinstance(template, StaticCall) or not instance_ids:
        return
    disk = dict(template.arguments).get("containerDiskInGb")
    limits = symbols.DEPLOYMENT["cpu_max_disk_gb"]
    allowed = min(limits[i] for i in instance_ids)
    default = symbols.DEPLOYMENT["template"]["containerDiskInGb"]
    if isinstance(disk, int) and disk != default and disk > allowed:
        raise args.error(
            "template",
            f"a {disk} GB container disk exceeds what the CPU instances allow "
            f"({', '.join(f'{i}: {limits[i]} GB' for i in instance_ids)}).",
            hint=f"Ask for at most {allowed} GB, or larger instances.")
