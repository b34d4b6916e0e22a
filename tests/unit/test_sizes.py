"""Byte counts: sizes as written on the command line, as shown, and as unpacked on disk."""

from __future__ import annotations

import pytest

from flashbuild._util.units import human, parse_size
from flashbuild.config.build_config import DEFAULT_MAX_SIZE
from flashbuild.deps.installed import read_installed_dists, unpacked_sizes
from flashbuild.errors import UsageError

from ..support.wheelhouse import install_wheel


@pytest.mark.parametrize(
    ("text", "size"),
    [("1500000000", 1_500_000_000), ("1.5GB", 1_500_000_000), ("500MB", 500_000_000),
     ("500 mb", 500_000_000), ("2GiB", 2 * 2**30), ("64KiB", 65536), ("10kB", 10_000), (42, 42)],
)
def test_sizes_parse(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GB", "1.5 parsecs", "-3MB", "0"])
def test_bad_sizes_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_size(text)


def test_default_cap_and_display():
    assert DEFAULT_MAX_SIZE == 1_500_000_000
    assert human(DEFAULT_MAX_SIZE) == "1.50 GB" and human(512) == "512 B"


def test_unpacked_sizes_count_the_files_each_record_lists(wheelhouse, tmp_path):
    target = tmp_path / "site"
    for prefix in ("appdep-1.0", "withscript-1.0"):
        (wheel,) = wheelhouse.glob(f"{prefix}-*.whl")
        install_wheel(wheel, target)
    dists = read_installed_dists(target)
    sizes = unpacked_sizes(target, dists)
    for dist in dists:
        assert sizes[dist.name] == sum((target / f).stat().st_size for f in dist.files)
    assert set(sizes) == {"appdep", "withscript"} and all(sizes.values())
