"""``flash build`` with dependencies, offline, against a wheelhouse the tests build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flashbuild.errors import DependencyError, SourceCodeError, UsageError

from ..support.elf import shared_object
from ..support.helpers import app, archive_names, archive_text, endpoint, run_cli
from ..support.wheelhouse import Dist, write_wheel

pytestmark = pytest.mark.usefixtures("private_uv_cache")


def flash(capsys, wheelhouse: Path, project: Path, *options: str) -> tuple[int, str]:
    code, _, err = run_cli(
        ["build", "--no-index", "--find-links", str(wheelhouse), *options, str(project)], capsys
    )
    return code, err


def manifest_of(project: Path) -> dict:
    return json.loads((project / ".flash" / "flash_manifest.json").read_text())


def excluded(project: Path) -> dict[str, str]:
    return {e["name"]: e["reason"] for e in manifest_of(project)["dependencies"]["excluded"]}


def locked(project: Path) -> dict[str, str]:
    return {p["name"]: p["version"] for p in manifest_of(project)["dependencies"]["lock"]}


def previous_artifact(project: Path) -> Path:
    """A stand-in for the last good artifact, which a failed build must not touch."""
    previous = project / ".flash" / "artifact.tar.gz"
    previous.parent.mkdir(parents=True)
    previous.write_bytes(b"previous")
    return previous


def tops(project: Path) -> set[str]:
    return {name.split("/")[0] for name in archive_names(project / ".flash" / "artifact.tar.gz")}


def lb_endpoint(name: str, deps: list[str]) -> str:
    """Source of a load-balanced GPU endpoint with one route."""
    variable = name.replace("-", "_")
    return (f'{variable} = Endpoint(name="{name}", gpu=GpuGroup.ANY, dependencies={deps!r})\n\n\n'
            f'@{variable}.post("/run")\ndef {variable}_run(x):\n    return x\n\n\n')


def lb_app(*endpoints: str, **extra: str) -> dict[str, str]:
    project = app(*endpoints, **extra)
    project["main.py"] = project["main.py"].replace(
        "import Endpoint", "import Endpoint, GpuGroup")
    return project


IN_THE_GPU_PROFILE = ("filelock", "mpmath", "networkx", "numpy", "nvidia-cublas-cu12",
                      "nvidia-cudnn-cu12", "sympy", "torch", "triton")


def test_gpu_app_leaves_out_what_the_image_profile_has(
    write_project, wheelhouse, capsys, tmp_path, monkeypatch
):
    cache = tmp_path / "fresh-uv-cache"
    monkeypatch.setenv("UV_CACHE_DIR", str(cache))
    monkeypatch.setenv("FLASHBUILD_CACHE_DIR", str(tmp_path / "fresh-flashbuild-cache"))
    project = write_project(app(endpoint("embed", ["sentence-transformers"])))
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    # Left-out packages were never fetched: uv unpacked only what ships.
    unpacked = {path.name for path in cache.glob("archive-v0/*/*")}
    assert "sentence_transformers" in unpacked
    assert not unpacked & {"torch", "nvidia", "triton", "numpy", "sympy", "filelock"}
    assert locked(project) == {
        "sentence-transformers": "3.0", "tinyutil": "2.0", "transformers-lite": "1.0",
    }
    assert excluded(project) == dict.fromkeys(IN_THE_GPU_PROFILE, "image:gpu@wheelhouse-1")
    entries = manifest_of(project)["dependencies"]["excluded"]
    assert all(entry["version_checked"] for entry in entries)
    names = tops(project)
    assert {"sentence_transformers", "tinyutil", "requirements.txt"} <= names
    assert not names & {"torch", "nvidia", "triton", "numpy", "sympy", "filelock", "bin"}
    assert "without a version check" not in err
    requirements = archive_text(project / ".flash" / "artifact.tar.gz", "requirements.txt")
    assert "sentence-transformers==3.0\n    # via -r endpoint:embed\n" in requirements
    assert "#   torch==2.5.0" in requirements and "image:gpu@wheelhouse-1" in requirements


def test_a_replaced_image_list_takes_what_only_its_packages_need(
    write_project, wheelhouse, capsys
):
    pyproject = '[tool.flash.images.gpu]\nprovides = ["torch==2.5.0", "numpy", "triton"]\n'
    project = write_project(app(endpoint("embed", ["sentence-transformers"]),
                                **{"pyproject.toml": pyproject}))
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    assert locked(project) == {
        "filelock": "3.16", "sentence-transformers": "3.0", "tinyutil": "2.0",
        "transformers-lite": "1.0",
    }
    assert excluded(project) == {
        "torch": "image:gpu@pyproject", "numpy": "image:gpu@pyproject",
        "triton": "image:gpu@pyproject",
        "nvidia-cublas-cu12": "only-needed-by:torch", "nvidia-cudnn-cu12": "only-needed-by:torch",
        "sympy": "only-needed-by:torch", "mpmath": "only-needed-by:torch",
        "networkx": "only-needed-by:torch",
    }
    assert "without a version check: numpy, triton" in err


def test_a_package_the_image_lacks_ships_without_what_the_image_has(
    write_project, wheelhouse, capsys
):
    project = write_project(app(endpoint("vision", ["torchvision"])))
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    # torchvision requires torch==2.5.0, which the image has: built for it, shipped without it.
    assert locked(project) == {"pillow": "11.0", "torchvision": "0.20.0"}
    assert set(excluded(project)) == set(IN_THE_GPU_PROFILE)
    assert {"torchvision", "PIL"} <= tops(project)
    assert not tops(project) & {"torch", "nvidia", "triton", "numpy"}


def test_a_package_shared_with_a_cpu_endpoint_ships(write_project, wheelhouse, capsys):
    project = write_project(
        app(endpoint("gpu-side", ["torch"]), endpoint("cpu-side", ["numpy"], cpu=True))
    )
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    assert locked(project) == {"numpy": "2.1.0"}
    assert excluded(project)["torch"] == "image:gpu@wheelhouse-1"
    assert excluded(project)["filelock"] == "image:gpu@wheelhouse-1"
    assert "numpy" in tops(project)


def test_cpu_endpoint_with_torch_ships_it(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("cpu-torch", ["torch"], cpu=True)))
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    assert {"torch", "nvidia-cublas-cu12", "triton", "numpy"} <= set(locked(project))
    assert excluded(project) == {}
    assert {"torch", "nvidia", "triton"} <= tops(project)


def test_user_exclusions_are_normalised_and_unknown_names_warned(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("cpu", ["appdep", "Py_Yaml_Lite", "tinyutil"], cpu=True)))
    code, err = flash(
        capsys, wheelhouse, project, "--exclude", "py-yaml.LITE,APPDEP", "--exclude", "nope"
    )
    assert code == 0, err
    assert excluded(project) == {
        "py-yaml-lite": "user", "appdep": "user", "shared-helper": "only-needed-by:appdep",
    }
    assert locked(project) == {"tinyutil": "2.0"}
    assert "--exclude nope: no such package among the resolved dependencies" in err
    assert manifest_of(project)["dependencies"]["exclude"] == ["appdep", "nope", "py-yaml-lite"]


def test_project_requirements_are_installed_for_every_endpoint(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("gpu", []), **{"requirements.txt": "tinyutil<2\n"}))
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    assert locked(project) == {"tinyutil": "1.0"}
    requirements = archive_text(project / ".flash" / "artifact.tar.gz", "requirements.txt")
    assert "tinyutil==1.0\n    # via -r requirements.txt\n" in requirements


def test_bin_scripts_and_bytecode_never_ship(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("cpu", ["withscript"], cpu=True)))
    code, err = flash(capsys, wheelhouse, project, "--keep-build")
    assert code == 0, err
    names = archive_names(project / ".flash" / "artifact.tar.gz")
    assert "withscript/cli.py" in names
    assert not [
        n for n in names if n.startswith("bin/") or n.endswith(".pyc") or "__pycache__" in n
    ]


def test_a_wheel_is_judged_by_its_file_name_as_installers_do(
    write_project, wheelhouse, capsys, tmp_path
):
    extra = tmp_path / "extra-wheels"
    extra.mkdir()
    write_wheel(Dist("mislabelled", "1.0", tags="cp38-abi3-manylinux_2_24_x86_64",
                     wheel_file_tags="cp38-abi3-linux_x86_64",
                     files={"mislabelled/__init__.py": "",
                            "mislabelled/_core.abi3.so": shared_object(("GLIBC_2.17",))}),
                extra)
    project = write_project(app(endpoint("gpu", ["mislabelled"])))
    code, err = flash(capsys, wheelhouse, project, "--find-links", str(extra))
    assert code == 0, err
    assert "mislabelled/_core.abi3.so" in archive_names(project / ".flash" / "artifact.tar.gz")
    note = ("mislabelled 1.0: its WHEEL file lists the tags cp38-abi3-linux_x86_64, its file name "
            "mislabelled-1.0-cp38-abi3-manylinux_2_24_x86_64.whl others")
    assert f"flash: warning: {note}" in err
    code, err = flash(capsys, wheelhouse, project, "--find-links", str(extra))
    assert code == 0 and note in err  # the note comes with the cached dependencies too


def test_the_profile_versions_constrain_the_resolution(write_project, wheelhouse, capsys):
    project = write_project(lb_app(lb_endpoint("api", ["tinyutil"]),
                                   endpoint("cpu", ["tinyutil"], cpu=True)))
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    # tinyutil ships for the CPU endpoint, at the LB image's version (2.0 is newer).
    assert locked(project) == {"tinyutil": "1.0"}
    assert manifest_of(project)["dependencies"]["images"] == {
        "release": "wheelhouse-1", "overrides": {}}


def test_a_requirement_the_image_version_does_not_meet_is_an_error(
    write_project, wheelhouse, capsys
):
    project = write_project(lb_app(lb_endpoint("api", ["tinyutil>=2"])))
    previous = previous_artifact(project)
    code, err = flash(capsys, wheelhouse, project)
    assert code == DependencyError.exit_code, err
    assert ("endpoint 'api' asks for 'tinyutil>=2', but the endpoint's image "
            "(gpu-lb@wheelhouse-1) has tinyutil 1.0") in err
    assert "main.py:4:7" in err and "tinyutil==1.0" in err and "--image-release" in err
    assert previous.read_bytes() == b"previous"


def test_project_requirements_must_fit_every_image(write_project, wheelhouse, capsys):
    project = write_project(lb_app(lb_endpoint("api", []), endpoint("cpu", [], cpu=True),
                                   **{"requirements.txt": "tinyutil>1\n"}))
    code, err = flash(capsys, wheelhouse, project)
    assert code == DependencyError.exit_code, err
    assert "requirements.txt (installed for endpoint 'api') asks for 'tinyutil>1'" in err


def test_image_overrides_constrain_the_resolution(write_project, wheelhouse, capsys):
    pyproject = '[tool.flash.images.gpu]\nprovides = ["tinyutil==1.0", "torch==2.5.0"]\n'
    project = write_project(app(endpoint("gpu", ["appdep"]),
                                endpoint("cpu", ["tinyutil"], cpu=True),
                                **{"pyproject.toml": pyproject}))
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    assert locked(project)["tinyutil"] == "1.0"
    assert manifest_of(project)["dependencies"]["images"] == {
        "release": "wheelhouse-1",
        "overrides": {"gpu": ["tinyutil==1.0", "torch==2.5.0"]},
    }


def test_an_indirect_conflict_with_the_image_names_requirement_and_image(
    write_project, wheelhouse, capsys
):
    # sentence-transformers needs torch>=2.0; the replaced list says the image has torch 1.0.
    pyproject = '[tool.flash.images.gpu]\nprovides = ["torch==1.0"]\n'
    project = write_project(app(endpoint("gpu", ["sentence-transformers"]),
                                **{"pyproject.toml": pyproject}))
    code, err = flash(capsys, wheelhouse, project)
    assert code == DependencyError.exit_code, err
    assert "sentence-transformers (declared by endpoint gpu at main.py:4:1)" in err
    assert "torch==1.0 (the gpu@pyproject image) is what the image has" in err


@pytest.mark.parametrize(
    ("package", "why"),
    [
        ("sdistonly", "only a source distribution (sdist) is published"),
        ("maconly", "no wheel for Linux x86_64 (manylinux) is published"),
        ("oldpy", "no wheel for this Python version is published"),
    ],
)
def test_no_compatible_wheel_is_explained(write_project, wheelhouse, capsys, package, why):
    project = write_project(app(endpoint("worker", [package])))
    code, err = flash(capsys, wheelhouse, project)
    assert code == DependencyError.exit_code, err
    assert f"{package}: {why}" in err
    assert "endpoint worker at main.py:4:1" in err
    assert f"--allow-build {package}" in err
    assert "Traceback" not in err


def test_allow_build_builds_a_pure_sdist(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("worker", ["sdistonly"], cpu=True)))
    code, err = flash(capsys, wheelhouse, project, "--allow-build", "sdistonly")
    assert code == 0, err
    assert locked(project) == {"sdistonly": "1.0"}
    assert "sdistonly/__init__.py" in archive_names(project / ".flash" / "artifact.tar.gz")


def test_unknown_and_unsatisfiable_requirements(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("worker", ["no-such-thing"])))
    code, err = flash(capsys, wheelhouse, project)
    assert code == DependencyError.exit_code
    assert "no-such-thing (declared by endpoint worker at main.py:4:1)" in err
    project = write_project(
        app(endpoint("a", ["tinyutil<2"]), endpoint("b", ["tinyutil>=2"], cpu=True)),
        name="conflict",
    )
    code, err = flash(capsys, wheelhouse, project)
    assert code == DependencyError.exit_code
    assert "tinyutil (declared by endpoint a at main.py:4:1, endpoint b at main.py:9:1)" in err


@pytest.mark.parametrize(
    ("package", "reason"),
    [
        ("badso", "GLIBC_2.39"),
        ("liar", "AArch64"),
        ("notelf", "not an ELF"),
    ],
)
def test_audit_names_package_and_file(write_project, wheelhouse, capsys, package, reason):
    project = write_project(app(endpoint("worker", [package])))
    previous = previous_artifact(project)
    code, err = flash(capsys, wheelhouse, project)
    assert code == DependencyError.exit_code, err
    assert f"{package}/_core.so" in err and reason in err
    assert previous.read_bytes() == b"previous"


def test_project_module_clashing_with_a_dependency(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("worker", ["tinyutil"]), **{"tinyutil.py": "X = 1\n"}))
    code, err = flash(capsys, wheelhouse, project)
    assert code != 0
    assert "tinyutil.py" in err and "tinyutil" in err


def test_lock_is_written_used_and_checked(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("worker", ["appdep"], cpu=True)))
    code, err = flash(capsys, wheelhouse, project, "--locked")
    assert code == UsageError.exit_code and "flash.lock is missing" in err
    code, _, err = run_cli(
        ["lock", "--no-index", "--find-links", str(wheelhouse), str(project)], capsys
    )
    assert code == 0, err
    lock_text = (project / "flash.lock").read_text()
    assert (
        "appdep==1.0\n    # via -r endpoint:worker\n"
        "shared-helper==1.0\n    # via appdep\n"
    ) in lock_text
    code, err = flash(capsys, wheelhouse, project, "--locked")
    assert code == 0, err
    assert manifest_of(project)["dependencies"]["source"] == "flash.lock"
    assert "flash.lock" not in tops(project)  # an input: requirements.txt says what shipped
    first = (project / ".flash" / "artifact.tar.gz").read_bytes()
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0 and (project / ".flash" / "artifact.tar.gz").read_bytes() == first
    # Changing the declared dependencies makes the lock stale.
    changed_app = app(endpoint("worker", ["appdep", "tinyutil"], cpu=True))
    (project / "main.py").write_text(changed_app["main.py"])
    code, err = flash(capsys, wheelhouse, project, "--locked")
    assert code == UsageError.exit_code and "out of date" in err
    assert "endpoint worker added tinyutil" in err  # what changed, not only that it did
    code, err = flash(capsys, wheelhouse, project)
    assert code == 0, err
    assert manifest_of(project)["dependencies"]["source"] == "resolved"
    code, err = flash(capsys, wheelhouse, project, "--python-version", "3.11", "--locked")
    assert code == UsageError.exit_code


def test_builds_with_dependencies_are_reproducible(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("embed", ["sentence-transformers", "fastmath"])))
    assert flash(capsys, wheelhouse, project)[0] == 0
    first = (project / ".flash" / "artifact.tar.gz").read_bytes()
    assert flash(capsys, wheelhouse, project)[0] == 0
    assert (project / ".flash" / "artifact.tar.gz").read_bytes() == first


def test_unreachable_index_fails_cleanly(write_project, capsys, monkeypatch):
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")  # the index is down on purpose: fail at once
    project = write_project(app(endpoint("worker", ["tinyutil"])))
    previous = previous_artifact(project)
    code, _, err = run_cli(
        ["build", "--index-url", "http://127.0.0.1:9/simple", str(project)], capsys
    )
    assert code == DependencyError.exit_code
    assert "could not be reached: http://127.0.0.1:9/simple" in err
    assert "Traceback" not in err
    assert previous.read_bytes() == b"previous"


def test_index_options_come_from_the_environment_and_pyproject(
    write_project, wheelhouse, capsys, monkeypatch
):
    project = write_project(app(endpoint("worker", ["appdep"], cpu=True)))
    monkeypatch.setenv("FLASH_FIND_LINKS", str(wheelhouse))
    code, _, err = run_cli(["build", "--no-index", str(project)], capsys)
    assert code == 0, err
    monkeypatch.delenv("FLASH_FIND_LINKS")
    (project / "wheels").symlink_to(wheelhouse)
    (project / ".flashignore").write_text("wheels\n")
    (project / "pyproject.toml").write_text('[tool.flash]\nfind-links = ["wheels"]\n')
    code, _, err = run_cli(["build", "--no-index", str(project)], capsys)
    assert code == 0, err
    assert locked(project) == {"appdep": "1.0", "shared-helper": "1.0"}
    assert "wheels" not in tops(project)


def test_invalid_requirement_in_requirements_txt(write_project, wheelhouse, capsys):
    project = write_project(app(endpoint("worker", []), **{"requirements.txt": "ok\n=bad\n"}))
    code, err = flash(capsys, wheelhouse, project)
    assert code == SourceCodeError.exit_code
    assert "requirements.txt:2:1" in err
