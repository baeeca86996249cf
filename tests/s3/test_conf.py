"""Settings resolution: OPTIONS > subclass attribute > AWS_* settings > env > default."""

from __future__ import annotations

import pytest
from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage, S3ManifestStaticStorage, S3StaticStorage
from contrib_awsstorage.s3 import conf as s3conf
from contrib_awsstorage.s3.conf import (
    OPTIONS,
    resolve_options,
    resolve_with_sources,
    validate_bucket_name,
)


@pytest.fixture
def clean_env(monkeypatch, settings):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_S3_ACCESS_KEY_ID",
        "AWS_S3_SECRET_ACCESS_KEY",
        "AWS_STORAGE_BUCKET_NAME",
        "AWS_S3_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_S3_REGION_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_table_covers_every_storage_option_with_docs():
    for attr, opt in OPTIONS.items():
        assert opt.attr == attr
        assert opt.doc and opt.settings, attr
        assert all(name.startswith(("AWS_", "GZIP_")) for name in opt.settings), attr
    for required in (
        "bucket_name",
        "access_key",
        "secret_key",
        "security_token",
        "default_acl",
        "location",
        "custom_domain",
        "querystring_auth",
        "gzip",
        "gzip_content_types",
        "preload_metadata",
        "object_parameters",
        "endpoint_url",
        "region_name",
        "addressing_style",
        "signature_version",
        "request_checksum_calculation",
        "max_pool_connections",
        "config",
    ):
        assert required in OPTIONS
    assert OPTIONS["default_acl"].default is None
    assert OPTIONS["max_pool_connections"].default == 32
    assert OPTIONS["request_checksum_calculation"].settings == (
        "AWS_S3_REQUEST_CHECKSUM_CALCULATION",
    )
    assert OPTIONS["access_key"].settings == ("AWS_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
    assert OPTIONS["security_token"].settings == ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def test_settings_table_markdown_lists_every_option_without_secrets():
    table = s3conf.settings_table_markdown()
    for opt in OPTIONS.values():
        assert f"`{opt.attr}`" in table
        for name in opt.settings:
            assert name in table
    assert table.count("\n") == len(OPTIONS) + 1


def test_precedence_options_over_settings_over_env(clean_env, settings):
    clean_env.setenv("AWS_STORAGE_BUCKET_NAME", "from-env")
    assert resolve_options(S3Boto3Storage, {})["bucket_name"] == "from-env"
    settings.AWS_STORAGE_BUCKET_NAME = "from-setting"
    values, sources = resolve_with_sources(S3Boto3Storage, {})
    assert values["bucket_name"] == "from-setting"
    assert sources["bucket_name"] == "setting AWS_STORAGE_BUCKET_NAME"
    values, sources = resolve_with_sources(S3Boto3Storage, {"bucket_name": "from-options"})
    assert values["bucket_name"] == "from-options"
    assert sources["bucket_name"] == "STORAGES OPTIONS bucket_name"


def test_first_defined_setting_wins_and_none_falls_through(clean_env, settings):
    settings.AWS_S3_ACCESS_KEY_ID = None
    settings.AWS_ACCESS_KEY_ID = "AKIASETTINGSKEY12345"
    values, sources = resolve_with_sources(S3Boto3Storage, {})
    assert values["access_key"] == "AKIASETTINGSKEY12345"
    assert sources["access_key"] == "setting AWS_ACCESS_KEY_ID"
    settings.AWS_S3_ACCESS_KEY_ID = "AKIAS3SPECIFICKEY123"
    assert resolve_options(S3Boto3Storage, {})["access_key"] == "AKIAS3SPECIFICKEY123"


def test_env_strings_are_converted_and_bad_ones_named(clean_env, settings):
    clean_env.setenv("AWS_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    assert resolve_options(S3Boto3Storage, {})["endpoint_url"] == "http://127.0.0.1:9000"
    opt = OPTIONS["querystring_auth"]
    assert s3conf._from_env(opt, "false", "X") is False
    assert s3conf._from_env(OPTIONS["querystring_expire"], "60", "X") == 60
    with pytest.raises(ImproperlyConfigured, match="environment variable X_EXP"):
        s3conf._from_env(OPTIONS["querystring_expire"], "soon", "X_EXP")


def test_subclass_attribute_beats_settings_but_not_options(s3_settings):
    s3_settings.AWS_QUERYSTRING_AUTH = True
    assert S3StaticStorage().querystring_auth is False
    assert S3ManifestStaticStorage().querystring_auth is False
    assert S3StaticStorage(querystring_auth=True).querystring_auth is True

    class MyStorage(S3Boto3Storage):
        location = "foo1"

    assert MyStorage().location == "foo1"
    assert MyStorage(location="bar").location == "bar"


def test_settings_read_at_creation_not_import(s3_settings):
    s3_settings.AWS_LOCATION = "first"
    assert S3Boto3Storage().location == "first"
    s3_settings.AWS_LOCATION = "second"
    assert S3Boto3Storage().location == "second"


def test_unknown_option_is_named_with_suggestion(s3_settings):
    with pytest.raises(ImproperlyConfigured) as err:
        S3Boto3Storage(querystring_expires=10)
    assert "'querystring_expires'" in str(err.value)
    assert "Did you mean 'querystring_expire'" in str(err.value)


def test_setting_name_used_as_option_key_is_explained(s3_settings):
    with pytest.raises(ImproperlyConfigured, match="use 'location' in OPTIONS"):
        S3Boto3Storage(AWS_LOCATION="static")


@pytest.mark.parametrize(
    "options, words",
    [
        ({"querystring_expire": "3600"}, ["querystring_expire", "int", "str"]),
        ({"gzip": "yes"}, ["'gzip'", "bool"]),
        ({"max_pool_connections": True}, ["max_pool_connections", "bool"]),
        ({"object_parameters": ["CacheControl"]}, ["object_parameters", "dict"]),
        ({"addressing_style": "vritual"}, ["addressing_style", "Did you mean 'virtual'"]),
        ({"request_checksum_calculation": "required"}, ["when_required"]),
        ({"default_acl": "public_read"}, ["default_acl", "public-read"]),
        ({"file_buffer_size": 1024}, ["file_buffer_size", "5242880"]),
        ({"location": "/static"}, ["leading slash", "'static'"]),
        ({"config": {"retries": 3}}, ["botocore.config.Config"]),
        ({"endpoint_url": "127.0.0.1:9000"}, ["endpoint_url", "http://127.0.0.1:9000"]),
        ({"custom_domain": "https://cdn.example.com"}, ["custom_domain", "'cdn.example.com'"]),
    ],
)
def test_wrong_types_and_values_are_named(s3_settings, options, words):
    with pytest.raises(ImproperlyConfigured) as err:
        S3Boto3Storage(**options)
    for word in words:
        assert word in str(err.value)


def test_wrong_type_in_setting_names_the_setting(s3_settings):
    s3_settings.AWS_QUERYSTRING_EXPIRE = "one hour"
    with pytest.raises(ImproperlyConfigured, match="setting AWS_QUERYSTRING_EXPIRE"):
        S3Boto3Storage()


def test_wrongly_typed_secret_is_not_echoed(s3_settings):
    with pytest.raises(ImproperlyConfigured) as err:
        S3Boto3Storage(secret_key=12345678987654321)
    assert "12345678987654321" not in str(err.value)
    assert "secret_key" in str(err.value)


def test_config_option_is_merged_over_built_config(s3_settings):
    storage = S3Boto3Storage(
        config=Config(connect_timeout=7),
        addressing_style="path",
        request_checksum_calculation="when_required",
        max_pool_connections=5,
    )
    config = storage.client_config()
    assert config.connect_timeout == 7
    assert config.s3 == {"addressing_style": "path"}
    assert config.request_checksum_calculation == "when_required"
    assert config.max_pool_connections == 5
    assert storage.connection.meta.config.request_checksum_calculation == "when_required"


@pytest.mark.parametrize("name", ["my-game-static", "game.assets.example", "abc", "a" * 63])
def test_valid_bucket_names(name):
    assert validate_bucket_name(name) == []


@pytest.mark.parametrize(
    "name, word",
    [
        (None, "AWS_STORAGE_BUCKET_NAME"),
        ("", "AWS_STORAGE_BUCKET_NAME"),
        ("ab", "3-63"),
        ("a" * 64, "3-63"),
        ("My-Bucket", "lowercase"),
        ("my_bucket", "'_'"),
        ("-bucket", "start and end"),
        ("bucket..name", "'..'"),
        ("192.168.1.1", "IP address"),
        ("xn--bucket", "xn--"),
        ("bucket-s3alias", "-s3alias"),
        ("mygame-evennia", "example"),
    ],
)
def test_invalid_bucket_names_are_explained(name, word):
    problems = validate_bucket_name(name)
    assert problems
    assert any(word in p for p in problems), problems


def _signing_key_id(storage) -> str:
    """The access key id the client really puts on the wire (Authorization header)."""
    seen = []
    storage.connection.meta.events.register(
        "before-send.s3",
        lambda request, **kw: seen.append(request.headers.get("Authorization", b"")),
    )
    storage.exists("probe.txt")
    header = seen[0].decode() if isinstance(seen[0], bytes) else seen[0]
    return header.split("Credential=")[1].split("/")[0]


def test_client_signs_with_the_key_precedence_picks(s3_settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    s3_settings.AWS_ACCESS_KEY_ID = "AKIAFROMSETTINGS0001"
    s3_settings.AWS_SECRET_ACCESS_KEY = "settings-secret"
    assert _signing_key_id(S3Boto3Storage()) == "AKIAFROMSETTINGS0001"
    options = S3Boto3Storage(access_key="AKIAFROMOPTIONS00001", secret_key="options-secret")
    assert _signing_key_id(options) == "AKIAFROMOPTIONS00001"
    del s3_settings.AWS_ACCESS_KEY_ID
    del s3_settings.AWS_SECRET_ACCESS_KEY
    env = S3Boto3Storage()
    assert env.credential_source() == "environment variable AWS_ACCESS_KEY_ID"
    assert _signing_key_id(env) == "AKIAFROMENVIRONMENT1"


def test_bad_region_or_missing_profile_is_a_configuration_error(s3_settings):
    from contrib_awsstorage.s3.errors import S3ConfigurationError

    with pytest.raises(S3ConfigurationError, match="AWS_S3_REGION_NAME"):
        S3Boto3Storage(region_name="eu west 1").connection
    with pytest.raises(S3ConfigurationError, match="AWS_S3_SESSION_PROFILE"):
        S3Boto3Storage(session_profile="no-such-profile").connection
