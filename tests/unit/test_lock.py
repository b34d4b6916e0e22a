"""Reading uv's output, the lock format, requirement inputs and uv error messages."""

from __future__ import annotations

import pytest

from flashbuild._util.processes import CommandResult
from flashbuild.deps.inputs import read_requirements_file
from flashbuild.deps.lock import artifact_requirements, format_lock, parse_lock, stale_reason
from flashbuild.deps.records import (
    DeclaredInputs,
    DependencyInputs,
    Exclusion,
    Lock,
    LockHeader,
    RequirementSource,
    Selection,
)
from flashbuild.deps.resolve import parse_compiled
from flashbuild.deps.uv import ResolverSettings
from flashbuild.deps.uv_errors import explain_failure
from flashbuild.errors import DependencyError, SourceCodeError, SourceLocation, UsageError
from flashbuild.records import IndexOptions, Target

from ..support.helpers import wheelhouse_images

COMPILED = """\
filelock==3.16.1
    # via
    #   torch
    #   transformers
numpy==2.1.0
    # via
    #   -c image-constraints.txt
    #   -r inputs/1.in
    #   transformers
torch==2.5.1
    # via -r inputs/0.in
Transformers==4.46.0
    # via -r inputs/0.in
"""
KEYS = {"inputs/0.in": "endpoint:gpu", "inputs/1.in": "endpoint:cpu"}
HEADER = LockHeader(python_version="3.12", platform="x86_64-manylinux_2_28", inputs_sha256="a" * 64)


def test_parse_compiled_builds_the_graph():
    resolution = parse_compiled(COMPILED, KEYS)
    packages = resolution.by_name()
    assert list(packages) == ["filelock", "numpy", "torch", "transformers"]
    assert packages["filelock"].required_by == ("torch", "transformers")
    assert packages["numpy"].requested_by == ("endpoint:cpu",)
    assert packages["numpy"].required_by == ("transformers",)  # constraints are not parents
    assert packages["transformers"].pin == "transformers==4.46.0"
    assert resolution.children()["torch"] == {"filelock"}


def test_parse_compiled_rejects_what_it_cannot_read():
    with pytest.raises(DependencyError, match="cannot read the resolver's output"):
        parse_compiled("this is not a pin\n", {})


def test_lock_round_trips():
    lock = Lock(header=HEADER, resolution=parse_compiled(COMPILED, KEYS))
    text = format_lock(lock)
    assert "    # via -r endpoint:gpu\n" in text
    assert "# inputs-sha256: " + "a" * 64 in text
    assert parse_lock(text) == lock
    assert format_lock(parse_lock(text)) == text


DECLARED = DeclaredInputs(
    requirements=(("endpoint:cpu", ("pandas",)), ("requirements.txt", ("numpy>=1",))),
    image_constraints=(),
    allow_build=(),
)


def test_lock_records_what_it_was_resolved_from():
    header = LockHeader(python_version="3.12", platform="x86_64-manylinux_2_28",
                        inputs_sha256="a" * 64, declared=DECLARED)
    lock = Lock(header=header, resolution=parse_compiled(COMPILED, KEYS))
    text = format_lock(lock)
    assert ('# requires: {"endpoint:cpu": ["pandas"], "requirements.txt": ["numpy>=1"]}\n'
            in text)
    assert "# image-constraints: []\n# allow-build: []\n" in text
    assert parse_lock(text) == lock


def test_a_stale_lock_names_what_changed():
    old = Lock(header=LockHeader(python_version="3.12", platform="x86_64-manylinux_2_28",
                                 inputs_sha256="a" * 64, declared=DECLARED),
               resolution=parse_compiled(COMPILED, KEYS))
    new = LockHeader(
        python_version="3.12", platform="x86_64-manylinux_2_28", inputs_sha256="b" * 64,
        declared=DeclaredInputs(
            requirements=(("endpoint:cpu", ("pandas", "pyarrow")), ("endpoint:gpu", ("torch",))),
            image_constraints=("torch==2.5.1",),
            allow_build=("docopt",),
        ),
    )
    assert stale_reason(old, new) == (
        "what it was resolved from changed: endpoint cpu added pyarrow; endpoint gpu added "
        "torch; requirements.txt removed numpy>=1; the image versions changed from [] to "
        "['torch==2.5.1']; --allow-build changed from [] to ['docopt']"
    )
    assert stale_reason(old, old.header) is None
    other_python = LockHeader(python_version="3.11", platform="x86_64-manylinux_2_28",
                              inputs_sha256="a" * 64, declared=DECLARED)
    assert stale_reason(old, other_python) == "it is for Python 3.12, the build targets 3.11"


def test_a_lock_that_does_not_record_its_inputs_still_reads():
    lock = Lock(header=HEADER, resolution=parse_compiled(COMPILED, KEYS))
    text = format_lock(lock)
    assert "# requires:" not in text
    read = parse_lock(text)
    assert read.header.declared is None
    changed = LockHeader(python_version="3.12", platform="x86_64-manylinux_2_28",
                         inputs_sha256="b" * 64, declared=DECLARED)
    assert stale_reason(read, changed) == (
        "the declared dependencies (or the image versions or --allow-build) changed since")


@pytest.mark.parametrize("damage", [
    ("# requires: {", "# requires: {not json"),
    ("# allow-build: []\n", ""),
])
def test_damaged_recorded_inputs_are_a_damaged_lock(damage):
    header = LockHeader(python_version="3.12", platform="x86_64-manylinux_2_28",
                        inputs_sha256="a" * 64, declared=DECLARED)
    text = format_lock(Lock(header=header, resolution=parse_compiled(COMPILED, KEYS)))
    with pytest.raises(UsageError, match="was not written by `flash lock` or is damaged"):
        parse_lock(text.replace(*damage))


@pytest.mark.parametrize("text", ["", "numpy==1.0\n", "# flash.lock: something else\n"])
def test_foreign_lock_is_refused(text):
    with pytest.raises(UsageError, match="was not written by `flash lock`"):
        parse_lock(text)


def test_artifact_requirements_list_installed_and_left_out():
    resolution = parse_compiled(COMPILED, KEYS)
    packages = resolution.by_name()
    selection = Selection(
        shipped=(packages["filelock"], packages["transformers"]),
        excluded=(Exclusion(name="numpy", version="2.1.0", reason="image:gpu"),
                  Exclusion(name="torch", version="2.5.1", reason="user")),
        unmatched_exclusions=(),
    )
    text = artifact_requirements(selection, HEADER).decode()
    assert text.splitlines()[-6:] == [
        "filelock==3.16.1", "    # via", "    #   torch", "    #   transformers",
        "transformers==4.46.0", "    # via -r endpoint:gpu",
    ]
    assert "#   numpy==2.1.0  image:gpu" in text
    assert "#   torch==2.5.1  user" in text
    pins = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert pins == ["filelock==3.16.1", "transformers==4.46.0"]


def test_requirements_file_is_read_strictly(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# shared\nPandas >= 2.0  # data\nrequests\\\n  ==2.32.0\n\n")
    assert read_requirements_file(path) == ("Pandas>=2.0", "requests==2.32.0")
    path.write_text("numpy\n-r other.txt\n")
    with pytest.raises(SourceCodeError) as info:
        read_requirements_file(path)
    assert str(info.value.location) == "requirements.txt:2:1"
    path.write_text("numpy\nnot a requirement!\n")
    with pytest.raises(SourceCodeError, match="not a valid requirement"):
        read_requirements_file(path)
    path.write_bytes(b"\xef\xbb\xbfnumpy>=2\r\npandas\r\n")  # saved by an editor with a BOM
    assert read_requirements_file(path) == ("numpy>=2", "pandas")


INPUTS = DependencyInputs(
    sources=(
        RequirementSource(key="endpoint:gpu", endpoint="gpu", image="gpu",
                          requirements=("docopt", "torch==2.9.0"),
                          location=SourceLocation(path="gpu.py", line=4, column=1)),
    )
)
SETTINGS = ResolverSettings(target=Target(), index=IndexOptions(index_url="http://127.0.0.1:9/simple"))


def failed(stderr: str) -> CommandResult:
    return CommandResult(command=("uv",), returncode=1, stdout="", stderr=stderr)


def test_sdist_only_package_is_named_with_the_fix():
    error = explain_failure(
        failed("error: No solution found when resolving dependencies\n  cause: Because all "
               "versions of docopt have no usable wheels and you require docopt, we can "
               "conclude that your requirements are unsatisfiable.\n"),
        inputs=INPUTS, images=wheelhouse_images(), settings=SETTINGS,
    )
    assert "docopt: only a source distribution" in error.message
    assert "endpoint gpu at gpu.py:4:1" in error.message
    assert "--allow-build docopt" in error.hint
    assert str(error.location) == "gpu.py:4:1"


def test_unreachable_index_is_named():
    error = explain_failure(
        failed("error: Failed to fetch: `http://127.0.0.1:9/simple/docopt/`\n"
               "  Caused by: Connection refused (os error 111)\n"),
        inputs=INPUTS, images=wheelhouse_images(), settings=SETTINGS,
    )
    assert "could not be reached: http://127.0.0.1:9/simple" in error.message
    assert error.exit_code == 4


def test_conflict_with_the_image_points_at_the_table():
    images = wheelhouse_images({"gpu": {"provides": ["torch==2.5.1"]}})
    error = explain_failure(
        failed("error: No solution found when resolving dependencies\n  cause: Because you "
               "require torch==2.9.0 and torch==2.5.1, we can conclude that your requirements "
               "are unsatisfiable.\n"),
        inputs=INPUTS, images=images, settings=SETTINGS,
    )
    assert "torch (declared by endpoint gpu at gpu.py:4:1)" in error.message
    assert "torch==2.5.1 (the gpu@pyproject image) is what the image has" in error.hint


def test_install_failures_are_not_called_resolution_conflicts():
    error = explain_failure(
        failed("error: No solution found when resolving dependencies\n  cause: Because there is "
               "no version of filelock==9.9 and you require filelock==9.9, we can conclude that "
               "your requirements are unsatisfiable.\n"),
        inputs=None, images=None, settings=SETTINGS, stage="install",
    )
    assert error.message.startswith("installing the resolved packages")
    assert "flash lock" in error.hint
