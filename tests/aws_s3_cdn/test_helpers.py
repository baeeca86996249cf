"""The original contrib's helper functions: pure string work, no S3 needed."""

from __future__ import annotations

import gzip
import posixpath

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from contrib_awsstorage import aws_s3_cdn
from contrib_awsstorage.aws_s3_cdn import (
    check_location,
    clean_name,
    get_available_overwrite_name,
    gzip_bytes,
    lookup_env,
    safe_join,
    setting,
)


def test_setting_reads_django_settings_when_called(settings):
    settings.AWS_SOMETHING_NEW = "yes"
    assert setting("AWS_SOMETHING_NEW") == "yes"
    assert setting("AWS_NOT_THERE", 7) == 7


@pytest.mark.parametrize(
    "base, paths, expected",
    [
        ("", ("a/b.txt",), "a/b.txt"),
        ("static", ("a/b.txt",), "static/a/b.txt"),
        ("static/", ("a/../b.txt",), "static/b.txt"),
        ("static", ("",), "static/"),
        ("", ("",), ""),
        ("static", ("dir/",), "static/dir/"),
        ("a/b", ("c", "d/e"), "a/b/c/d/e"),
        ("", ("x/./y",), "x/y"),
    ],
)
def test_safe_join_joins_inside_base(base, paths, expected):
    assert safe_join(base, *paths) == expected


@pytest.mark.parametrize(
    "base, path",
    [
        ("static", "../secret"),
        ("static", "a/../../secret"),
        ("", "../x"),
        ("", "/etc/passwd"),
        ("static", "/abs"),
        ("static", "a\\..\\..\\x"),
        ("static", "a\x00b"),
        ("sta\x00tic", "a"),
    ],
)
def test_safe_join_rejects_every_escape(base, path):
    with pytest.raises(ValueError):
        safe_join(base, path)


segment = st.sampled_from(["a", "b", "..", ".", "", "c.txt", "d"])


@hsettings(max_examples=300, deadline=None)
@given(base=st.lists(st.sampled_from(["s", "t"]), max_size=2), parts=st.lists(segment, max_size=6))
def test_safe_join_result_never_leaves_base(base, parts):
    """Property: either ValueError, or the result is the base or below it."""
    base_path = "/".join(base)
    path = "/".join(parts)
    try:
        result = safe_join(base_path, path)
    except ValueError:
        # only legitimate when normalising really walks above the base
        depth, escaped = 0, False
        for p in path.split("/"):
            if p == "..":
                depth -= 1
                escaped |= depth < 0
            elif p not in ("", "."):
                depth += 1
        assert escaped or path.startswith("/")
        return
    assert ".." not in result.split("/")
    if base_path:
        assert result == base_path + "/" or result.startswith(base_path + "/")
    assert result == "" or posixpath.normpath(result) == result.rstrip("/")


def test_clean_name_normalises_windows_and_dots():
    assert clean_name("path/to/somewhere") == "path/to/somewhere"
    assert clean_name("path/to/../somewhere") == "path/somewhere"
    assert clean_name("path/to/somewhere/") == "path/to/somewhere/"
    assert clean_name(r"path\to\somewhere") == "path/to/somewhere"
    assert clean_name("") == ""


def test_check_location_names_the_fix():
    class Fake:
        location = "/static"

    with pytest.raises(ImproperlyConfigured, match="Use 'static' instead"):
        check_location(Fake())


def test_lookup_env_returns_first_non_empty(monkeypatch):
    monkeypatch.setenv("X_FIRST", "")
    monkeypatch.setenv("X_SECOND", "two")
    assert lookup_env(["X_MISSING", "X_FIRST", "X_SECOND"]) == "two"
    assert lookup_env(["X_MISSING"]) is None


def test_get_available_overwrite_name_truncates_root_only():
    assert get_available_overwrite_name("dir/name.txt", None) == "dir/name.txt"
    assert get_available_overwrite_name("dir/longname.txt", 12) == "dir/long.txt"
    with pytest.raises(SuspiciousFileOperation):
        get_available_overwrite_name("dir/name.txt", 5)


def test_gzip_bytes_is_deterministic_and_round_trips():
    data = b"body { color: red }\n" * 500
    first, second = gzip_bytes(data), gzip_bytes(data)
    assert first == second
    assert first[4:8] == b"\x00\x00\x00\x00"  # mtime field zero
    assert gzip.decompress(first) == data
    assert len(first) < len(data)


def test_module_has_every_name_of_the_original_contrib():
    for name in (
        "setting",
        "safe_join",
        "check_location",
        "lookup_env",
        "get_available_overwrite_name",
        "S3Boto3StorageFile",
        "S3Boto3Storage",
        "S3StaticStorage",
        "S3ManifestStaticStorage",
        "SOURCE_MD5_METADATA_KEY",
    ):
        assert hasattr(aws_s3_cdn, name), name
    assert aws_s3_cdn.SOURCE_MD5_METADATA_KEY == "source-md5"
    assert aws_s3_cdn.S3Boto3StorageFile.buffer_size == 5242880
    original_attrs = dict(
        default_content_type="application/octet-stream",
        access_key_names=["AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"],
        security_token_names=["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"],
        file_overwrite=True,
        object_parameters={},
        bucket_name=None,
        auto_create_bucket=False,
        default_acl=None,
        querystring_auth=True,
        querystring_expire=3600,
        signature_version=None,
        reduced_redundancy=False,
        location="",
        encryption=False,
        custom_domain=None,
        addressing_style=None,
        secure_urls=True,
        file_name_charset="utf-8",
        gzip=False,
        preload_metadata=False,
        endpoint_url=None,
        proxies=None,
        region_name=None,
        use_ssl=True,
        verify=None,
        max_memory_size=0,
        url_protocol="http:",
        access_key="",
        secret_key="",
        security_token=None,
        config=None,
    )
    for attr, value in original_attrs.items():
        assert getattr(aws_s3_cdn.S3Boto3Storage, attr) == value, attr
    assert "image/svg+xml" in aws_s3_cdn.S3Boto3Storage.gzip_content_types
    for method in (
        "connection",
        "bucket",
        "entries",
        "delete",
        "exists",
        "listdir",
        "size",
        "deconstruct",
        "get_object_parameters",
        "get_modified_time",
        "modified_time",
        "url",
        "get_available_name",
        "_open",
        "_save",
    ):
        assert hasattr(aws_s3_cdn.S3Boto3Storage, method), method
    for method in ("size", "file", "read", "readline", "write", "close", "deconstruct"):
        assert hasattr(aws_s3_cdn.S3Boto3StorageFile, method), method


def test_names_moved_out_are_still_importable_from_here():
    """s3file and s3urls took code out of aws_s3_cdn; every public name stays reachable."""
    from contrib_awsstorage.s3 import file as s3file
    from contrib_awsstorage.s3 import urls as s3urls

    for name in aws_s3_cdn.__all__ + ["unsigned_bucket_url"]:
        assert hasattr(aws_s3_cdn, name), name
    assert aws_s3_cdn.S3Boto3StorageFile is s3file.S3Boto3StorageFile
    for name in s3urls.__all__:
        assert getattr(aws_s3_cdn, name) is getattr(s3urls, name), name


name_chars = st.sampled_from(list("ab./\\\x00 é") + ["..", "//", "x.css"])


@hsettings(max_examples=400, deadline=None)
@given(
    name=st.lists(name_chars, max_size=8).map("".join),
    location=st.sampled_from(["", "static", "a/b"]),
)
def test_key_for_fast_path_agrees_with_full_normalisation(name, location):
    """key_for skips cleaning for already-normal names; it must give the same key."""
    from django.core.exceptions import SuspiciousOperation

    from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage

    storage = S3Boto3Storage(bucket_name="abc", location=location)
    try:
        slow = safe_join(location, clean_name(name))
    except ValueError:
        slow = SuspiciousOperation
    try:
        fast = storage.key_for(name)
    except SuspiciousOperation:
        fast = SuspiciousOperation
    assert fast == slow
