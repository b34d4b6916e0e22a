"""Which packages ship: image-aware exclusion, user exclusions, and their closure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flashbuild.deps.exclusion import select_packages
from flashbuild.deps.records import DependencyInputs, RequirementSource, Resolution, ResolvedPackage
from flashbuild.errors import SourceLocation

from ..support.helpers import wheelhouse_images

IMAGES = wheelhouse_images()


def endpoint(name: str, image: str, *requirements: str) -> RequirementSource:
    return RequirementSource(
        key=f"endpoint:{name}",
        endpoint=name,
        image=image,
        requirements=tuple(sorted(requirements)),
        location=SourceLocation(path="main.py", line=1, column=1),
    )


def project_file(*requirements: str) -> RequirementSource:
    return RequirementSource(
        key="requirements.txt",
        endpoint=None,
        image=None,
        requirements=tuple(sorted(requirements)),
        location=SourceLocation(path="requirements.txt"),
    )


def resolution(graph: dict[str, list[str]], requested: dict[str, list[str]]) -> Resolution:
    """``graph``: package -> its dependencies; ``requested``: package -> source keys."""
    parents: dict[str, set[str]] = {name: set() for name in graph}
    for name, children in graph.items():
        for child in children:
            parents[child].add(name)
    return Resolution(
        packages=tuple(
            ResolvedPackage(
                name=name,
                version="1.0",
                pin=f"{name}==1.0",
                required_by=tuple(sorted(parents[name])),
                requested_by=tuple(sorted(requested.get(name, ()))),
            )
            for name in sorted(graph)
        )
    )


# A fake heavy stack: torch pulls CUDA libraries and shares filelock with transformers.
STACK = {
    "sentence-transformers": ["torch", "transformers", "numpy"],
    "transformers": ["filelock", "numpy", "tokenizers"],
    "tokenizers": [],
    "torch": ["nvidia-cublas-cu12", "nvidia-cudnn-cu12", "triton", "sympy", "filelock"],
    "nvidia-cudnn-cu12": ["nvidia-cublas-cu12"],
    "nvidia-cublas-cu12": [],
    "triton": [],
    "sympy": ["mpmath"],
    "mpmath": [],
    "filelock": [],
    "numpy": [],
    "pandas": ["numpy"],
}


def reasons(selection) -> dict[str, str]:
    return {e.name: e.reason for e in selection.excluded}


def shipped(selection) -> list[str]:
    return [p.name for p in selection.shipped]


def test_gpu_only_app_leaves_out_everything_the_image_profile_provides():
    inputs = DependencyInputs(sources=(endpoint("embed", "gpu", "sentence-transformers"),))
    graph = {k: v for k, v in STACK.items() if k != "pandas"}
    selection = select_packages(
        resolution(graph, {"sentence-transformers": ["endpoint:embed"]}), inputs, IMAGES
    )
    # The profile lists torch with everything it requires, each at its version.
    assert shipped(selection) == ["sentence-transformers", "tokenizers", "transformers"]
    provided = ("filelock", "mpmath", "numpy", "nvidia-cublas-cu12", "nvidia-cudnn-cu12",
                "sympy", "torch", "triton")
    assert reasons(selection) == dict.fromkeys(provided, "image:gpu@wheelhouse-1")
    assert all(e.version_checked for e in selection.excluded)
    assert selection.unchecked_image_packages == ()


def test_replaced_image_leaves_out_its_packages_and_what_only_they_need():
    images = wheelhouse_images({"gpu": {"provides": ["torch==2.5.0", "numpy", "triton"]}})
    inputs = DependencyInputs(sources=(endpoint("embed", "gpu", "sentence-transformers"),))
    graph = {k: v for k, v in STACK.items() if k != "pandas"}
    selection = select_packages(
        resolution(graph, {"sentence-transformers": ["endpoint:embed"]}), inputs, images
    )
    assert shipped(selection) == ["filelock", "sentence-transformers", "tokenizers", "transformers"]
    assert reasons(selection) == {
        "torch": "image:gpu@pyproject",
        "numpy": "image:gpu@pyproject",
        "triton": "image:gpu@pyproject",
        "nvidia-cublas-cu12": "only-needed-by:torch",
        "nvidia-cudnn-cu12": "only-needed-by:torch",
        "sympy": "only-needed-by:torch",
        "mpmath": "only-needed-by:torch",
    }
    assert selection.unchecked_image_packages == ("numpy", "triton")


def test_a_package_needed_on_a_cpu_endpoint_ships():
    inputs = DependencyInputs(
        sources=(
            endpoint("embed", "gpu", "sentence-transformers"),
            endpoint("etl", "cpu", "pandas"),
        )
    )
    selection = select_packages(
        resolution(
            STACK, {"sentence-transformers": ["endpoint:embed"], "pandas": ["endpoint:etl"]}
        ),
        inputs,
        IMAGES,
    )
    assert "numpy" in shipped(selection) and "pandas" in shipped(selection)
    assert reasons(selection)["torch"] == "image:gpu@wheelhouse-1"
    # filelock: transformers needs it on the GPU endpoint only, and the image has it.
    assert reasons(selection)["filelock"] == "image:gpu@wheelhouse-1"


def test_cpu_endpoint_needing_torch_ships_it_with_its_cuda_libraries():
    inputs = DependencyInputs(sources=(endpoint("cpu-torch", "cpu", "torch"),))
    graph = {k: STACK[k] for k in ("torch", "nvidia-cudnn-cu12", "nvidia-cublas-cu12",
                                   "triton", "sympy", "mpmath", "filelock")}
    selection = select_packages(
        resolution(graph, {"torch": ["endpoint:cpu-torch"]}), inputs, IMAGES
    )
    assert shipped(selection) == sorted(graph)
    assert selection.excluded == ()


def test_user_exclusion_drops_its_exclusive_dependencies_and_keeps_shared_ones():
    inputs = DependencyInputs(sources=(endpoint("cpu-torch", "cpu", "torch", "transformers"),))
    graph = {k: v for k, v in STACK.items() if k not in ("sentence-transformers", "pandas")}
    selection = select_packages(
        resolution(
            graph, {"torch": ["endpoint:cpu-torch"], "transformers": ["endpoint:cpu-torch"]}
        ),
        inputs,
        IMAGES,
        user_exclusions=["torch", "not-there"],
    )
    assert shipped(selection) == ["filelock", "numpy", "tokenizers", "transformers"]
    assert reasons(selection)["torch"] == "user"
    assert reasons(selection)["mpmath"] == "only-needed-by:torch"
    assert selection.unmatched_exclusions == ("not-there",)


def test_dropped_package_names_every_left_out_package_that_needs_it():
    images = wheelhouse_images({"gpu": {"provides": ["torch", "torchvision"]}})
    inputs = DependencyInputs(sources=(endpoint("gpu", "gpu", "torch", "torchvision"),))
    graph = {"torch": ["filelock"], "torchvision": ["torch", "filelock", "pillow"],
             "filelock": [], "pillow": []}
    selection = select_packages(
        resolution(graph, {"torch": ["endpoint:gpu"], "torchvision": ["endpoint:gpu"]}),
        inputs,
        images,
    )
    assert shipped(selection) == []
    assert reasons(selection)["filelock"] == "only-needed-by:torch,torchvision"
    assert reasons(selection)["pillow"] == "only-needed-by:torchvision"


def test_a_package_the_image_lacks_ships_without_what_the_image_has():
    inputs = DependencyInputs(sources=(endpoint("vision", "gpu", "torchvision"),))
    graph = {"torchvision": ["torch", "numpy", "pillow"], "torch": ["filelock", "triton"],
             "numpy": [], "pillow": [], "filelock": [], "triton": []}
    selection = select_packages(
        resolution(graph, {"torchvision": ["endpoint:vision"]}), inputs, IMAGES
    )
    assert shipped(selection) == ["pillow", "torchvision"]
    assert set(reasons(selection).values()) == {"image:gpu@wheelhouse-1"}


def test_project_requirements_count_for_every_endpoint():
    inputs = DependencyInputs(
        sources=(endpoint("gpu", "gpu", "torch"), endpoint("cpu", "cpu"), project_file("numpy"))
    )
    graph = {"torch": [], "numpy": []}
    selection = select_packages(
        resolution(graph, {"torch": ["endpoint:gpu"], "numpy": ["requirements.txt"]}),
        inputs,
        IMAGES,
    )
    assert shipped(selection) == ["numpy"]  # the CPU endpoint needs it too
    assert reasons(selection) == {"torch": "image:gpu@wheelhouse-1"}


def test_runtime_is_left_out_on_every_image():
    inputs = DependencyInputs(
        sources=(endpoint("gpu", "gpu", "runpod"), endpoint("cpu", "cpu", "runpod"))
    )
    selection = select_packages(
        resolution({"runpod": []}, {"runpod": ["endpoint:gpu", "endpoint:cpu"]}), inputs, IMAGES
    )
    assert reasons(selection) == {"runpod": "image:cpu+gpu@wheelhouse-1"}
    assert selection.excluded[0].version_checked


def test_pinned_image_versions_count_as_checked():
    images = wheelhouse_images({"gpu": {"provides": ["torch==2.5.1", "numpy"]}})
    inputs = DependencyInputs(sources=(endpoint("gpu", "gpu", "torch", "numpy", "triton"),))
    selection = select_packages(
        resolution({"torch": [], "numpy": [], "triton": []},
                   {n: ["endpoint:gpu"] for n in ("torch", "numpy", "triton")}),
        inputs,
        images,
    )
    # The override replaced the list: triton is no longer provided.
    assert shipped(selection) == ["triton"]
    assert selection.unchecked_image_packages == ("numpy",)


NAMES = [f"p{i}" for i in range(10)]


@st.composite
def apps(draw):
    """A random DAG (edges only to higher-numbered packages) and random endpoints."""
    graph = {
        name: sorted(draw(st.sets(st.sampled_from(NAMES[i + 1:]))) if i + 1 < len(NAMES) else [])
        for i, name in enumerate(NAMES)
    }
    endpoints = {
        f"e{j}": (
            draw(st.sampled_from(["gpu", "cpu"])),
            sorted(draw(st.sets(st.sampled_from(NAMES), min_size=1))),
        )
        for j in range(draw(st.integers(1, 3)))
    }
    provided = draw(st.sets(st.sampled_from(NAMES)))
    user = draw(st.sets(st.sampled_from(NAMES), max_size=2))
    return graph, endpoints, provided, user


def reachable(graph, starts, blocked=frozenset()):
    seen, stack = set(), [s for s in starts if s not in blocked]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack += [c for c in graph[name] if c not in blocked]
    return seen


@given(apps())
def test_selection_follows_the_rules_on_any_graph(app):
    graph, endpoints, provided, user = app
    images = wheelhouse_images({"gpu": {"provides": sorted(provided)}})
    inputs = DependencyInputs(
        sources=tuple(endpoint(name, compute, *reqs) for name, (compute, reqs) in endpoints.items())
    )
    requested: dict[str, list[str]] = {}
    for name, (_, reqs) in endpoints.items():
        for req in reqs:
            requested.setdefault(req, []).append(f"endpoint:{name}")
    everything = reachable(graph, requested)
    sub = {n: graph[n] for n in everything}
    selection = select_packages(resolution(sub, requested), inputs, images, user_exclusions=user)

    trees = {name: reachable(sub, reqs) for name, (_, reqs) in endpoints.items()}
    image_out = {
        p for p in everything
        if all(endpoints[e][0] == "gpu" and p in provided for e in trees if p in trees[e])
    }
    left_out = image_out | (user & everything)
    expected_shipped = reachable(sub, requested, blocked=left_out)
    assert set(shipped(selection)) == expected_shipped
    assert {e.name for e in selection.excluded} == everything - expected_shipped
    for exclusion in selection.excluded:
        if exclusion.name in left_out:
            assert exclusion.reason in ("user", "image:gpu@pyproject")
        else:
            needed_by = exclusion.reason.removeprefix("only-needed-by:").split(",")
            assert needed_by and set(needed_by) <= left_out
