"""The GitHub Actions job summary that `flash build` appends to GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import json
import re

import pytest

from flashbuild.errors import SourceCodeError

from ..support.helpers import INVALID_ENDPOINT_NAME, run_cli

pytestmark = pytest.mark.usefixtures("private_uv_cache")

SHOP = '''\
import json

from runpod_flash import Endpoint, GpuGroup


@Endpoint(name="embed", gpu=GpuGroup.ANY,
          dependencies=["appdep", "transformers-lite", "torchvision"])
def embed(text):
    import appdep

    return json.dumps({"x": appdep.__name__})


@Endpoint(name="api", cpu="cpu3c-2-4", dependencies=["tinyutil"])
async def api(x):
    return x
'''

@pytest.fixture
def shop(tmp_path):
    """The app above at ``apps/shop`` of a git work tree."""
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    project = tmp_path / "repo" / "apps" / "shop"
    project.mkdir(parents=True)
    (project / "app.py").write_text(SHOP)
    return project


@pytest.fixture
def summary_file(tmp_path, monkeypatch):
    path = tmp_path / "step_summary.md"
    path.write_text("what an earlier step wrote\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    return path


def section(text: str, heading: str) -> list[str]:
    """The lines under ``### heading`` up to the next heading."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"### {heading}"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")),
               len(lines))
    return [line for line in lines[start + 1:end] if line]


def test_successful_build_appends_the_summary(shop, summary_file, wheelhouse, capsys):
    args = ["build", "--json", "--no-index", "--find-links", str(wheelhouse), str(shop)]
    code, _, err = run_cli(["build", "--dry-run", *args[2:]], capsys)
    assert code == 0, err
    assert summary_file.read_text() == "what an earlier step wrote\n"  # a dry run builds nothing
    code, out, err = run_cli(args, capsys)
    assert code == 0, err
    document = json.loads(out)
    text = summary_file.read_text()
    assert text.startswith("what an earlier step wrote\n\n## flash build: shop\n")
    artifact = document["artifact"]
    assert re.search(
        r"\nArtifact `apps/shop/\.flash/artifact\.tar\.gz`: \*\*[\d.]+ kB\*\* of the 1\.50 GB "
        rf"size cap \(0\.0%\), {artifact['entries']} entries, sha256 "
        rf"`{artifact['sha256'][:12]}`\. Dependencies \(resolved\): 6 packages, [\d.]+ kB "
        r"compressed\.\n", text)
    hashes = {e["name"]: e["config_hash"][:12] for e in document["endpoints"]}
    assert (
        "| endpoint | kind | compute | image | config hash |\n|---|---|---|---|---|\n"
        f"| api | queue | CPU | `runpod/flash-cpu:py3.12-latest` | `{hashes['api']}` |\n"
        f"| embed | queue | GPU | `runpod/flash:py3.12-latest` | `{hashes['embed']}` |\n"
    ) in text
    largest = section(text, "Largest shipped packages (6 of 6, by installed size)")
    assert largest[:2] == ["| package | version | installed | pulled in by |", "|---|---|---:|---|"]
    rows = [re.sub(r"\| [\d.]+ k?B \|", "| SIZE |", row) for row in largest[2:]]
    assert rows[:2] == ["| torchvision | 0.20.0 | SIZE | endpoint embed |",
                        "| pillow | 11.0 | SIZE | torchvision |"]
    assert sorted(rows[2:]) == ["| appdep | 1.0 | SIZE | endpoint embed |",
                                "| shared-helper | 1.0 | SIZE | appdep |",
                                "| tinyutil | 2.0 | SIZE | endpoint api |",
                                "| transformers-lite | 1.0 | SIZE | endpoint embed |"]
    assert section(text, "Provided by the worker images") == [
        "9 packages left out because the images have them:",
        "- `gpu@wheelhouse-1` (9): filelock 3.16, mpmath 1.3, networkx 3.4, numpy 2.1.0, "
        "nvidia-cublas-cu12 12.4, nvidia-cudnn-cu12 9.1, sympy 1.13, torch 2.5.0, triton 3.1.0",
    ]
    assert section(text, "Warnings (1)") == [
        "- `apps/shop/app.py:11:12`: `json` used in `embed` is the module-level import at "
        "app.py:1:1; only the function body travels to the worker in live mode, so import it "
        "inside `embed`. [scope]"
    ]
    # Another build appends another summary; nothing is lost.
    code, _, err = run_cli(args[:1] + args[2:], capsys)
    assert code == 0, err
    again = summary_file.read_text()
    assert again.startswith(text) and again.count("## flash build: shop") == 2


def test_failed_build_appends_its_error(tmp_path, summary_file, capsys):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    project = tmp_path / "repo" / "apps" / "broken"
    project.mkdir(parents=True)
    (project / "app.py").write_text(INVALID_ENDPOINT_NAME)
    code, _, _ = run_cli(["build", "--no-deps", str(project)], capsys)
    assert code == SourceCodeError.exit_code
    assert summary_file.read_text() == (
        "what an earlier step wrote\n\n"
        "## flash build failed\n\n"
        "**source error** (exit code 3) at `apps/broken/app.py:4:16`:\n\n"
        "```text\nendpoint name '100% sure' is not valid.\n```\n\n"
        "Hint: Use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit.\n"
    )


def test_unwritable_summary_is_a_warning(shop, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory
    code, out, err = run_cli(["build", "--no-deps", "--json", str(shop)], capsys)
    assert code == 0, err
    assert json.loads(out)["ok"] is True
    assert f"flash: warning: cannot append the job summary to {tmp_path} (" in err

