"""Settings from ``[tool.flash]`` as a real build applies them."""

from __future__ import annotations

from ..support.helpers import app, archive_names, build_project, endpoint


def test_ignore_patterns_from_pyproject_apply_before_flashignore(write_project):
    project = write_project(app(
        endpoint("cpu", [], cpu=True),
        **{"pyproject.toml": '[tool.flash]\nignore = ["*.ipynb", "scratch/"]\n',
           "a.ipynb": "{}", "keep.ipynb": "{}", "scratch/x.py": "",
           ".flashignore": "!keep.ipynb\n"},
    ))
    names = archive_names(build_project(project).artifact.path)
    assert "keep.ipynb" in names and "a.ipynb" not in names
    assert not [n for n in names if n.startswith("scratch")]
