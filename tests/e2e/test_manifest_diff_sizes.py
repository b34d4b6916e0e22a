"""``flash manifest diff`` on sizes: packages added, removed, grown and shrunk between two
real builds, as text, Markdown and JSON, and ``--max-growth``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from flashbuild.cli.main import main
from flashbuild.inspect.load import load_manifest

from ..support.helpers import app, build_project, endpoint
from ..support.manifest_app import invoke, write_manifest
from ..support.wheelhouse import Dist, build_wheelhouse

pytestmark = pytest.mark.usefixtures("private_uv_cache")
SCHEMA = (Path(__file__).resolve().parents[2] / "flashbuild" / "cli" / "schemas"
          / "manifest-diff.schema.json")


def noise(size: int, seed: str) -> bytes:
    """Bytes that do not compress, the same for the same seed."""
    blocks = (hashlib.sha256(f"{seed}{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def package(name: str, version: str, size: int) -> Dist:
    module = name.replace("-", "_")
    return Dist(name, version, files={f"{module}/__init__.py": "",
                                      f"{module}/data.bin": noise(size, name + version)})


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> tuple[Path, Path]:
    """Manifests of two builds: the second grows `growing`, shrinks `shrinking`, drops
    `leaving` and adds `arriving`."""
    wheels = build_wheelhouse(tmp_path_factory.mktemp("sized-wheels"), [
        package("growing", "1.0", 20_000), package("growing", "2.0", 220_000),
        package("shrinking", "1.0", 60_000), package("shrinking", "2.0", 10_000),
        package("leaving", "1.0", 5_000), package("arriving", "1.0", 30_000),
        package("steady", "1.0", 1_000)])
    root = tmp_path_factory.mktemp("releases")
    manifests = []
    for number, requirements in enumerate(
            [["growing==1.0", "shrinking==1.0", "leaving", "steady"],
             ["growing==2.0", "shrinking==2.0", "arriving", "steady"]]):
        project = root / f"v{number}"
        project.mkdir()
        for name, text in app(endpoint("cpu", requirements, cpu=True)).items():
            (project / name).write_text(text)
        result = build_project(project, no_deps=False, no_cache=True, no_index=True,
                               find_links=[str(wheels)])
        manifests.append(shutil.copyfile(result.manifest_path, root / f"v{number}.json"))
    return manifests[0], manifests[1]


def test_text_lists_size_changes_largest_first(releases):
    old, new = releases
    lines = invoke("diff", old, new).stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("size: "))
    sizes = lines[start:]
    assert [line.split()[:2] for line in sizes[1:]] == [
        ["grown", "growing"], ["shrunk", "shrinking"], ["added", "arriving"],
        ["removed", "leaving"]]
    assert "growing 1.0 -> 2.0" in sizes[1] and "shrinking 1.0 -> 2.0" in sizes[2]
    assert "arriving 1.0" in sizes[3] and sizes[3].endswith(")")
    total = json.loads(old.read_bytes())["artifact"]["compressed_bytes"]
    assert sizes[0].startswith(f"size: {total / 1000:.2f} kB -> ")
    assert "(+" in sizes[0] and "steady" not in "\n".join(sizes)


def test_json_follows_its_schema(releases):
    old, new = releases
    result = invoke("diff", "--format", "json", old, new)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(data, schema)
    assert data["schema_version"] == 1
    assert json.loads(invoke("diff", "--json", old, new).stdout) == data  # the alias
    before, after = load_manifest(old), load_manifest(new)
    total = data["sizes"]["total"]
    assert total == {"old": before["artifact"]["compressed_bytes"],
                     "new": after["artifact"]["compressed_bytes"],
                     "change": after["artifact"]["compressed_bytes"]
                     - before["artifact"]["compressed_bytes"]}
    growing = data["sizes"]["packages"][0]
    lock = {entry["name"]: entry for entry in after["dependencies"]["lock"]}
    assert growing["name"] == "growing" and growing["new_bytes"] == lock["growing"][
        "compressed_bytes"]
    assert (growing["old_version"], growing["new_version"]) == ("1.0", "2.0")
    broken = {**data, "sizes": {**data["sizes"], "total": {"old": "big"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in data.items() if k != "schema_version"}, schema)


def test_markdown_is_a_table(releases):
    old, new = releases
    text = invoke("diff", "--format", "markdown", old, new).stdout
    assert "| package | change | version | compressed size | difference |" in text
    assert "| growing | grown | 1.0 -> 2.0 | " in text
    assert "| leaving | removed | 1.0 | " in text
    assert "**Artifact size:** " in text
    assert "| endpoint | status | changes |" in text


@pytest.mark.parametrize(("limit", "code"), [
    ("1%", 1), ("1000%", 0), ("1kB", 1), ("1MB", 0), ("100", 1), ("10000000", 0), ("0", 1),
    ("0%", 1)])
def test_max_growth(releases, limit, code, capsys):
    old, new = releases
    assert main(["manifest", "diff", "--max-growth", limit, str(old), str(new)]) == code
    err = capsys.readouterr().err
    if code:
        assert f"more than --max-growth {limit} (" in err
        assert "the artifact grows by" in err
    else:
        assert err == ""


def test_max_growth_is_not_checked_against_shrinking(releases):
    old, new = releases
    assert main(["manifest", "diff", "--max-growth", "0", str(new), str(old)]) == 0
    assert main(["manifest", "diff", "--max-growth", "1", str(new), str(old)]) == 0


def test_max_growth_needs_recorded_sizes(releases, tmp_path, capsys):
    old, new = releases
    data = load_manifest(old)
    del data["artifact"]
    unsized = write_manifest(tmp_path / "old.json", data)
    assert main(["manifest", "diff", "--max-growth", "10%", str(unsized), str(new)]) == 2
    err = capsys.readouterr().err
    assert "--max-growth needs the artifact's size" in err and "OLD" in err
    result = invoke("diff", unsized, new)  # without the option, it is said and not an error
    assert result.exit_code == 0 and "size: not recorded in OLD" in result.stdout
    capsys.readouterr()
    assert main(["manifest", "diff", "--max-growth", "lots", str(old), str(new)]) == 2
    err = capsys.readouterr().err
    assert "--max-growth 'lots' is neither a share nor a size" in err and "10%" in err


def test_json_and_another_format_conflict(releases):
    old, new = releases
    assert main(["manifest", "diff", "--json", "--format", "text", str(old), str(new)]) == 2
