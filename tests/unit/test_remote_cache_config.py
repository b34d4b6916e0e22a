"""Where the remote cache is configured, and which URLs and modes are refused."""

from __future__ import annotations

import pytest

from flashbuild.config.build_config import BuildConfig
from flashbuild.config.remote_cache import parse_remote_url, remote_cache_settings
from flashbuild.errors import UsageError


@pytest.mark.parametrize(("url", "bucket", "prefix"), [
    ("s3://team-cache", "team-cache", ""),
    ("s3://team-cache/", "team-cache", ""),
    ("s3://team.cache/flash/ci/", "team.cache", "flash/ci"),
    ("s3://abc//a//b", "abc", "a/b"),
])
def test_urls(url, bucket, prefix):
    assert parse_remote_url(url) == (bucket, prefix)


@pytest.mark.parametrize("url", [
    "team-cache", "https://team-cache/x", "s3://Team", "s3://ab", "s3://a..b/x",
    "s3://bucket/../x", "s3://bucket/a b", "s3://bucket/x?y=1", "s3://bucket:9000/x", "s3://",
])
def test_bad_urls_are_usage_errors(url):
    with pytest.raises(UsageError, match="is not a remote cache URL"):
        parse_remote_url(url)


def test_a_url_with_credentials_is_refused_without_repeating_them():
    with pytest.raises(UsageError) as raised:
        parse_remote_url("s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/prefix")
    text = f"{raised.value} {raised.value.hint}"
    assert "carries credentials" in text
    assert "AKIAEXAMPLE" not in text and "wJalrXUtnFEMI" not in text


def test_option_wins_over_environment_over_pyproject():
    settings = {"remote-cache": "s3://from-file", "remote-cache-mode": "read"}
    environ = {"FLASHBUILD_REMOTE_CACHE": "s3://from-env/p"}
    chosen = remote_cache_settings(settings, environ)
    assert chosen is not None and (chosen.url, chosen.mode) == ("s3://from-env/p", "read")
    chosen = remote_cache_settings(settings, environ, url="s3://from-option", mode="read-write")
    assert chosen is not None and (chosen.url, chosen.writable) == ("s3://from-option", True)
    chosen = remote_cache_settings(settings, {})
    assert chosen is not None and chosen.url == "s3://from-file"
    assert remote_cache_settings({}, {}) is None
    assert remote_cache_settings(settings, {"FLASHBUILD_REMOTE_CACHE_MODE": "off"}) is None


@pytest.mark.parametrize(("environ", "message"), [
    ({"FLASHBUILD_REMOTE_CACHE_MODE": "write"}, "mode 'write' is not one of"),
    ({"FLASHBUILD_REMOTE_CACHE_TIMEOUT": "0"}, "must be a number of seconds"),
    ({"FLASHBUILD_REMOTE_CACHE_TIMEOUT": "soon"}, "must be a number of seconds"),
])
def test_bad_settings_are_usage_errors(environ, message):
    with pytest.raises(UsageError, match=message):
        remote_cache_settings({}, {"FLASHBUILD_REMOTE_CACHE": "s3://bucket", **environ})


def test_tool_flash_keys_and_no_cache(write_project):
    project = write_project({"main.py": "", "pyproject.toml": (
        '[tool.flash]\nremote-cache = "s3://team/flash"\nremote-cache-mode = "read"\n')})
    config = BuildConfig.create(project_dir=project, environ={})
    assert config.remote_cache is not None
    assert (config.remote_cache.url, config.remote_cache.mode) == ("s3://team/flash", "read")
    assert BuildConfig.create(project_dir=project, environ={}, no_cache=True).remote_cache is None
    (project / "pyproject.toml").write_text('[tool.flash]\nremote-cache = "s3://Team"\n')
    with pytest.raises(UsageError) as raised:
        BuildConfig.create(project_dir=project, environ={})
    assert raised.value.location is not None and raised.value.location.path == "pyproject.toml"
