"""Every name that settings, migrations or user code write still imports from
where it always did, and is the object the new layout defines. (The Evennia
entry points, ``services`` and ``awsstatus``, need Evennia's settings to
import: tests/ingame/test_public_names.py checks them.)"""

import importlib

import pytest

# (old module, names): what the original Evennia contrib documented, plus what
# this contrib's README and settings tell users to write.
PUBLIC = {
    "contrib_awsstorage.aws_s3_cdn": [
        "S3Boto3Storage",
        "S3StaticStorage",
        "S3ManifestStaticStorage",
        "S3Boto3StorageFile",
        "S3Bucket",
        "setting",
        "safe_join",
        "check_location",
        "lookup_env",
        "get_available_overwrite_name",
        "clean_name",
        "gzip_bytes",
        "SOURCE_MD5_METADATA_KEY",
        "custom_domain_url",
        "object_url",
        "presigned_url",
        "strip_signing_parameters",
        "unsigned_bucket_url",
    ],
    "contrib_awsstorage.webserver": [
        # every class of evennia.server.webserver
        "LockableThreadPool",
        "HTTPChannelWithXForwardedFor",
        "EvenniaReverseProxyResource",
        "DjangoWebRoot",
        "Website",
        "WSGIWebServer",
        "PrivateStaticRoot",
        # and what ours adds
        "PoolLockedError",
        "get_active_web_root",
        "set_active_web_root",
        "DEFAULT_DRAIN_TIMEOUT",
        "DEFAULT_PROXY_TIMEOUT",
        "DEFAULT_MAX_BODY_SIZE",
    ],
    "contrib_awsstorage.sync": [
        "sync",
        "sync_directory",
        "SyncReport",
        "check_sync_storage",
        "is_sync_storage",
        "IMMUTABLE_CACHE_CONTROL",
    ],
}

# where each public name now lives
HOME = {
    "S3Boto3StorageFile": "contrib_awsstorage.s3.file",
    "S3Bucket": "contrib_awsstorage.s3.client",
    "safe_join": "contrib_awsstorage.s3.names",
    "gzip_bytes": "contrib_awsstorage.s3.objects",
    "SOURCE_MD5_METADATA_KEY": "contrib_awsstorage.s3.objects",
    "LockableThreadPool": "contrib_awsstorage.web.pool",
    "HTTPChannelWithXForwardedFor": "contrib_awsstorage.web.channel",
    "EvenniaReverseProxyResource": "contrib_awsstorage.web.proxy",
    "DjangoWebRoot": "contrib_awsstorage.web.root",
    "Website": "contrib_awsstorage.web.site",
    "WSGIWebServer": "contrib_awsstorage.web.site",
    "PrivateStaticRoot": "contrib_awsstorage.web.staticroot",
    "IMMUTABLE_CACHE_CONTROL": "contrib_awsstorage.media_types",
}


@pytest.mark.parametrize("module,name", [(m, n) for m, names in PUBLIC.items() for n in names])
def test_public_name_imports_from_its_old_path(module, name):
    mod = importlib.import_module(module)
    obj = getattr(mod, name)
    home = HOME.get(name)
    if home:
        assert getattr(importlib.import_module(home), name) is obj


def test_storages_deconstruct_to_the_aws_s3_cdn_path():
    from contrib_awsstorage import aws_s3_cdn

    for cls in (
        aws_s3_cdn.S3Boto3Storage,
        aws_s3_cdn.S3StaticStorage,
        aws_s3_cdn.S3ManifestStaticStorage,
    ):
        path, _args, kwargs = cls(
            bucket_name="names-test", custom_domain="cdn.example.com"
        ).deconstruct()
        assert path == f"contrib_awsstorage.aws_s3_cdn.{cls.__name__}"
        assert kwargs["bucket_name"] == "names-test"


def test_file_object_keeps_its_historic_module_name():
    """Migrations name the file class by its old module."""
    from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage, S3Boto3StorageFile

    storage = S3Boto3Storage(bucket_name="names-test")
    path, _args, _kwargs = S3Boto3StorageFile("k", "w", storage).deconstruct()
    assert path == "contrib_awsstorage.aws_s3_cdn.S3Boto3StorageFile"


def test_class_defaults_come_from_the_options_table():
    from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage
    from contrib_awsstorage.s3.conf import OPTIONS

    for attr, opt in OPTIONS.items():
        expected = opt.extra.get("class_default", opt.default)
        assert getattr(S3Boto3Storage, attr) == expected, attr
