"""Decide which resolved packages ship, and why each other one does not.

Rules, applied to the resolved dependency graph:

* A package is left out for an image (``image:gpu``) only when every endpoint
  whose dependency tree contains it runs on an image that provides it. A GPU
  endpoint and a CPU endpoint both needing numpy means numpy ships.
* ``--exclude`` and ``[tool.flash] exclude`` leave packages out (``user``).
* A package ships when some endpoint reaches it without passing through a
  left-out package. Everything else was needed only by left-out packages and
  is dropped too (``only-needed-by:torch``): torch takes nvidia-*, triton and
  sympy with it, but not filelock while transformers still needs it.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..config.images import ImageTable
from .records import IMAGE_REASON, DependencyInputs, Exclusion, Resolution, Selection


def _reachable(starts: Iterable[str], children: dict[str, set[str]],
               blocked: frozenset[str] = frozenset()) -> set[str]:
    seen: set[str] = set()
    stack = [name for name in starts if name not in blocked]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(child for child in children.get(name, ()) if child not in blocked)
    return seen


def endpoint_roots(resolution: Resolution, inputs: DependencyInputs) -> dict[str, set[str]]:
    """Endpoint -> the resolved packages it asks for directly (requirements.txt: all)."""
    everyone = tuple(sorted(inputs.endpoint_images))
    sources = {source.key: source for source in inputs.sources}
    roots: dict[str, set[str]] = {endpoint: set() for endpoint in everyone}
    for package in resolution.packages:
        for key in package.requested_by:
            source = sources.get(key)
            if source is not None:
                for endpoint in (source.endpoint,) if source.endpoint else everyone:
                    roots[endpoint].add(package.name)
    return roots


def endpoint_consumers(resolution: Resolution, inputs: DependencyInputs) -> dict[str, set[str]]:
    """Package -> the endpoints whose dependency trees contain it."""
    return _consumers(resolution, endpoint_roots(resolution, inputs), resolution.children())


def _consumers(
    resolution: Resolution, roots: dict[str, set[str]], children: dict[str, set[str]]
) -> dict[str, set[str]]:
    consumers: dict[str, set[str]] = {package.name: set() for package in resolution.packages}
    for endpoint, starts in roots.items():
        for name in _reachable(starts, children):
            consumers[name].add(endpoint)
    return consumers


def select_packages(
    resolution: Resolution,
    inputs: DependencyInputs,
    images: ImageTable,
    user_exclusions: Iterable[str] = (),
) -> Selection:
    """Split the resolution into what ships and what is left out, with reasons."""
    packages = resolution.by_name()
    children = resolution.children()
    endpoint_images = inputs.endpoint_images
    roots = endpoint_roots(resolution, inputs)
    consumers = _consumers(resolution, roots, children)

    reasons: dict[str, Exclusion] = {}
    for name, users in consumers.items():
        kinds = sorted({endpoint_images[endpoint] for endpoint in users})
        provided = [images.for_kind(kind).version_of(name) for kind in kinds]
        if users and all(p is not None for p in provided):
            reasons[name] = Exclusion(
                name=name,
                version=packages[name].version,
                reason=IMAGE_REASON + images.label(kinds),
                version_checked=all(p is not None and p.version is not None for p in provided),
            )
    requested = sorted(set(user_exclusions))
    for name in requested:
        if name in packages:
            reasons[name] = Exclusion(name=name, version=packages[name].version, reason="user")

    left_out = frozenset(reasons)
    all_roots = set().union(*roots.values()) if roots else set()
    shipped = _reachable(all_roots, children, blocked=left_out)
    for name in sorted(set(packages) - shipped - left_out):
        needed_by = sorted(p for p in left_out if _needs(p, name, children, left_out))
        reasons[name] = Exclusion(
            name=name,
            version=packages[name].version,
            reason="only-needed-by:" + ",".join(needed_by),
        )
    return Selection(
        shipped=tuple(packages[name] for name in sorted(shipped)),
        excluded=tuple(sorted(reasons.values())),
        unmatched_exclusions=tuple(name for name in requested if name not in packages),
    )


def _needs(parent: str, name: str, children: dict[str, set[str]], left_out: frozenset[str]
           ) -> bool:
    """Whether ``parent`` pulls in ``name`` directly, not through another left-out package."""
    return name in _reachable(children.get(parent, ()), children, blocked=left_out)
