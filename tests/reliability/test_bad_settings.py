"""Bad settings: a table of wrong values for every ``AWS_*`` setting and
``STORAGES`` option. Each one is refused with ``ImproperlyConfigured``
naming the setting, when the storage is created or by the system checks,
and never as a botocore traceback."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage
from contrib_awsstorage.s3 import conf as s3conf

OURS = "contrib_awsstorage.aws_s3_cdn.S3Boto3Storage"

# Wrong values per option, beyond "wrong type" (added for every option below).
SEMANTIC = {
    "bucket_name": ["My_Bucket!", "ab", "-leading-dash", "a..b", "192.168.0.1"],
    "location": ["/static", "//media"],
    "region_name": ["eu west 1", "EU-WEST-1!"],
    "endpoint_url": ["not a url", "ftp://files.example.com", "http://", "s3.example.com"],
    "default_acl": ["public_read", "publicread"],
    "bucket_acl": ["publc-read"],
    "url_protocol": ["https", "ftp:"],
    "addressing_style": ["virtual-host", "PATH"],
    "request_checksum_calculation": ["never", "WHEN_REQUIRED"],
    "response_checksum_validation": ["always"],
    "max_memory_size": [-1],
    "file_buffer_size": [1024, 0],
    "querystring_expire": [0, -5],
    "max_pool_connections": [0],
    "signature_version": ["s3v5", "v2"],
    "session_profile": ["no-such-profile-anywhere"],
    "custom_domain": ["https://cdn.example.com/", "cdn.example.com/static/"],
    "file_name_charset": ["no-such-charset"],
}


def _wrong_type(opt: s3conf.Option):
    if opt.attr == "config":
        return {"read_timeout": 1}
    if str in opt.types:
        return 12345
    if bool in opt.types:
        return "yes"
    if int in opt.types:
        return "8"
    if dict in opt.types:
        return "CacheControl=max-age=60"
    if tuple in opt.types:
        return "text/css"
    return object()


def _rows(with_none: bool):
    rows = []
    for opt in s3conf.OPTIONS.values():
        values = [_wrong_type(opt)] + SEMANTIC.get(opt.attr, [])
        if with_none and not opt.nullable:  # a None *setting* just means "not set"
            values.append(None)
        for value in values:
            rows.append(pytest.param(opt, value, id=f"{opt.attr}={value!r}"[:60]))
    return rows


SETTING_ROWS = _rows(with_none=False)
OPTION_ROWS = _rows(with_none=True)


def _no_botocore(exc: BaseException) -> None:
    assert isinstance(exc, ImproperlyConfigured), (
        f"{type(exc).__module__}.{type(exc).__name__} instead of ImproperlyConfigured: {exc}"
    )
    cause = exc.__cause__
    assert cause is None or not type(cause).__module__.startswith(("botocore", "boto3")), repr(
        cause
    )


def _complaint(make_storage) -> str | None:
    """The text of the first refusal: at creation, else from the system
    checks. A storage that was accepted must then also fail (if at all)
    with ImproperlyConfigured on first use, never a botocore error."""
    try:
        storage = make_storage()
    except Exception as exc:  # noqa: BLE001 - the kind of failure is what is tested
        _no_botocore(exc)
        return str(exc)
    found = [
        m
        for m in checks.run_checks()
        if m.id.startswith("contrib_awsstorage.") and m.level >= checks.ERROR
    ]
    try:
        storage.connection  # builds the boto3 client: no request is sent
    except Exception as exc:  # noqa: BLE001
        _no_botocore(exc)
    if found:
        return " ".join(f"{m.msg} {m.hint or ''}" for m in found)
    return None


def _assert_clear(text: str | None, *names: str) -> None:
    assert text is not None, "accepted silently: no error at creation and no system check error"
    assert any(name in text for name in names), f"{names} not named in: {text}"
    assert "Traceback (most recent" not in text and "botocore.exceptions" not in text


@pytest.mark.parametrize("opt, value", SETTING_ROWS)
def test_bad_django_setting_is_named(settings, s3_server, opt, value):
    if not opt.settings:
        pytest.fail(f"option {opt.attr} has no Django setting")
    name = opt.settings[0]
    settings.AWS_STORAGE_BUCKET_NAME = "bucket-for-bad-settings"
    settings.AWS_S3_ENDPOINT_URL = s3_server.endpoint_url
    settings.AWS_S3_REGION_NAME = "us-east-1"
    setattr(settings, name, value)
    settings.STORAGES = {
        "default": {"BACKEND": OURS},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    _assert_clear(_complaint(S3Boto3Storage), name)


@pytest.mark.parametrize("opt, value", OPTION_ROWS)
def test_bad_storages_option_is_named(settings, s3_server, opt, value):
    options = {
        "bucket_name": "bucket-for-bad-settings",
        "endpoint_url": s3_server.endpoint_url,
        "region_name": "us-east-1",
        opt.attr: value,
    }
    settings.STORAGES = {
        "default": {"BACKEND": OURS, "OPTIONS": options},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    _assert_clear(_complaint(lambda: S3Boto3Storage(**options)), opt.attr)


@pytest.mark.parametrize(
    "key, hint",
    [
        ("bucketname", "bucket_name"),
        ("AWS_LOCATION", "location"),
        ("acl_default", "default_acl"),
        ("gzipped", "gzip"),
    ],
)
def test_unknown_option_key_is_named_with_a_suggestion(settings, key, hint):
    with pytest.raises(ImproperlyConfigured) as caught:
        S3Boto3Storage(**{key: "x"})
    assert key in str(caught.value) and hint in str(caught.value)


@pytest.mark.parametrize(
    "storages, legacy, name",
    [
        ({"staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3Storage"}}, {}, "BACKEND"),
        (
            {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}},
            {"STATICFILES_STORAGE": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"},
            "STATICFILES_STORAGE",
        ),
    ],
)
def test_bad_storages_layout_is_named(settings, storages, legacy, name):
    settings.AWS_STORAGE_BUCKET_NAME = "bucket-for-bad-settings"
    for key, value in legacy.items():
        setattr(settings, key, value)
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        **storages,
    }
    found = [
        m
        for m in checks.run_checks()
        if m.id.startswith("contrib_awsstorage.") and m.level >= checks.ERROR
    ]
    assert found and any(name in f"{m.msg} {m.hint}" for m in found), [m.msg for m in found]
