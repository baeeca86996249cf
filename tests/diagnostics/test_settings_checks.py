"""The offline checks, as ``s3_check`` lines and as Django system checks.

None of these may touch the network: the endpoint is a dead port, so any
attempt would show up as a slow test or a reachability error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.core import checks

from contrib_awsstorage import diagnostics
from tools.faultproxy import FaultProxy

from .conftest import MEDIA, STATIC


def _ids():
    return {m.id: m for m in checks.run_checks(tags=["contrib_awsstorage"])}


def _offline(**kw):
    return [r for r in diagnostics.offline(**kw) if r.status != diagnostics.OK]


def test_good_settings_give_no_system_check_message(storages):
    assert _ids() == {}
    assert _offline() == []


def test_system_checks_send_no_request(storages, s3_server):
    with FaultProxy(s3_server.endpoint_url) as proxy:
        storages.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
        storages.STATIC_URL = f"{proxy.endpoint_url}/{storages.AWS_STORAGE_BUCKET_NAME}/static/"
        assert _ids() == {}
        assert diagnostics.run(online=False)
        assert proxy.stats()["requests"] == 0


def test_app_registers_checks_for_collectstatic():
    registered = checks.registry.registry.get_checks()
    ours = [c for c in registered if c.__module__ == "contrib_awsstorage.checks"]
    assert ours and "staticfiles" in ours[0].tags


def test_missing_bucket_name(storages):
    storages.AWS_STORAGE_BUCKET_NAME = None
    message = _ids()["contrib_awsstorage.E001"]
    assert message.level == checks.ERROR
    assert "AWS_STORAGE_BUCKET_NAME" in message.msg and "AWS_STORAGE_BUCKET_NAME" in message.hint


def test_invalid_bucket_name(storages):
    storages.AWS_STORAGE_BUCKET_NAME = "My_Game"
    message = _ids()["contrib_awsstorage.E002"]
    assert "lowercase" in message.msg
    assert "3-63 characters" in message.hint


def test_invalid_region(storages):
    storages.AWS_S3_ENDPOINT_URL = None
    storages.AWS_S3_REGION_NAME = "Europe (Ireland)"
    message = _ids()["contrib_awsstorage.E003"]
    assert "AWS_S3_REGION_NAME" in message.msg and "'eu-west-1'" in message.hint


def test_custom_endpoint_accepts_store_specific_region(storages):
    storages.AWS_S3_REGION_NAME = "auto"  # Cloudflare R2's region name
    assert "contrib_awsstorage.E003" not in _ids()


def test_missing_region_on_aws_is_a_warning(storages, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    storages.AWS_S3_ENDPOINT_URL = None
    storages.AWS_S3_REGION_NAME = None
    storages.STATIC_URL = f"https://{storages.AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com/static/"
    message = _ids()["contrib_awsstorage.W003"]
    assert message.level == checks.WARNING and "AWS_S3_REGION_NAME" in message.hint


def test_location_with_leading_slash(storages):
    storages.STORAGES = {
        **storages.STORAGES,
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": {"location": "/static"}},
    }
    message = _ids()["contrib_awsstorage.E004"]
    assert "'/static'" in message.msg
    assert "'static'" in message.hint and "no leading slash" in message.hint


def test_bad_option_names_the_setting(storages):
    storages.AWS_DEFAULT_ACL = "public-reed"
    message = _ids()["contrib_awsstorage.E005"]
    assert "AWS_DEFAULT_ACL" in message.msg and "public-read" in message.msg


def test_storages_not_pointing_at_our_classes(settings):
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    message = _ids()["contrib_awsstorage.W001"]  # a warning: the app may be installed early
    assert STATIC in message.hint
    failing = [r for r in diagnostics.run(online=False) if r.failed]  # s3_check: a FAIL
    assert [r.code for r in failing] == ["E007"]


def test_legacy_staticfiles_storage_setting_is_ignored(settings):
    settings.STATICFILES_STORAGE = STATIC
    message = _ids()["contrib_awsstorage.E006"]
    assert "STATICFILES_STORAGE" in message.msg and "ignored" in message.msg
    assert "STORAGES['staticfiles']" in message.hint


def test_backend_typo(storages):
    storages.STORAGES = {
        **storages.STORAGES,
        "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorag"},
    }
    message = _ids()["contrib_awsstorage.E008"]
    assert "cannot be imported" in message.msg and STATIC in message.hint


def test_bad_endpoint_url(storages):
    storages.AWS_S3_ENDPOINT_URL = "127.0.0.1:9000"
    ids = _ids()
    # The storage's own option validation (E005) or ours (E009): either names the setting.
    (message,) = [
        m for i, m in ids.items() if i in ("contrib_awsstorage.E005", "contrib_awsstorage.E009")
    ]
    assert "AWS_S3_ENDPOINT_URL" in message.msg


def test_custom_domain_with_scheme_or_path(storages):
    storages.AWS_S3_CUSTOM_DOMAIN = "cdn.example.com/static/"
    message = _ids()["contrib_awsstorage.E011"]
    assert "AWS_S3_CUSTOM_DOMAIN" in message.msg and "'cdn.example.com'" in message.hint


def test_unknown_signature_version(storages):
    storages.AWS_S3_SIGNATURE_VERSION = "v2"
    message = _ids()["contrib_awsstorage.E012"]
    assert "AWS_S3_SIGNATURE_VERSION" in message.msg and "'s3v4'" in message.hint


def test_unknown_file_name_charset(storages):
    storages.AWS_S3_FILE_NAME_CHARSET = "no-such-charset"
    message = _ids()["contrib_awsstorage.E010"]
    assert "AWS_S3_FILE_NAME_CHARSET" in message.msg and "'utf-8'" in message.hint


def test_missing_profile_is_named_from_its_option(storages):
    storages.STORAGES = {
        **storages.STORAGES,
        "staticfiles": {
            "BACKEND": STATIC,
            "OPTIONS": {"location": "static", "session_profile": "no-such-profile"},
        },
    }
    message = _ids()["contrib_awsstorage.E013"]
    assert "STORAGES['staticfiles']['OPTIONS']['session_profile']" in message.msg
    assert "aws configure --profile no-such-profile" in message.hint


def test_bucket_name_from_options_is_named_there(storages):
    storages.STORAGES = {
        **storages.STORAGES,
        "staticfiles": {"BACKEND": STATIC, "OPTIONS": {"location": "static", "bucket_name": "ab"}},
    }
    message = _ids()["contrib_awsstorage.E002"]
    assert "STORAGES['staticfiles']['OPTIONS']['bucket_name']" in message.hint


def test_static_url_inconsistent_with_storage(storages, s3_server, bucket):
    storages.STATIC_URL = "/static/"
    message = _ids()["contrib_awsstorage.W002"]
    assert f"{s3_server.endpoint_url}/{bucket}/static/" in message.hint


def test_signed_static_urls_warn(storages):
    storages.STORAGES = {
        **storages.STORAGES,
        "staticfiles": {"BACKEND": MEDIA, "OPTIONS": {"location": "static"}},
    }
    message = _ids()["contrib_awsstorage.W004"]
    assert "querystring_auth" in message.msg and "S3StaticStorage" in message.hint


def test_s3_check_reports_bad_settings_and_skips_probes(run_check, both_storages):
    storages = both_storages
    storages.AWS_STORAGE_BUCKET_NAME = "Bad_Bucket"
    run = run_check()
    assert run.code == 1
    # A global setting: one line for both storages.
    ((status, line, fix),) = [
        e for e in run.lines("settings", "staticfiles, default") if e[0] == "FAIL"
    ]
    assert "Bad_Bucket" in line and "3-63 characters" in fix
    assert run.status("online") == "SKIP"
    assert run.status("online", "default") == "SKIP"


def test_importing_the_app_needs_no_evennia_twisted_or_boto3(tmp_path):
    """A plain Django project with the app installed: setup and checks run
    without importing Evennia, Twisted, or boto3 (no storage of ours)."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys\n"
        "import django\nfrom django.conf import settings\n"
        "settings.configure(INSTALLED_APPS=['django.contrib.staticfiles', 'contrib_awsstorage'],"
        " STATIC_URL='/static/')\n"
        "django.setup()\n"
        "from django.apps import apps\n"
        "assert type(apps.get_app_config('contrib_awsstorage')).__name__ == 'ContribAwsStorageConfig'\n"
        "from django.core import checks\n"
        "ids = [m.id for m in checks.run_checks()]\n"
        "assert ids == ['contrib_awsstorage.W001'], ids\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('evennia', 'twisted', 'boto3', 'botocore')]\n"
        "assert not bad, bad\n"
        "print('clean')\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(root)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0 and "clean" in proc.stdout, proc.stderr[-2000:]


def test_app_listed_after_staticfiles_warns_with_the_fix(storages):
    storages.INSTALLED_APPS = [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.staticfiles",
        "contrib_awsstorage",
    ]
    message = _ids()["contrib_awsstorage.W005"]
    assert "after 'django.contrib.staticfiles'" in message.msg
    assert 'INSTALLED_APPS = ["contrib_awsstorage"]' in message.hint


def test_app_listed_first_does_not_warn(storages):
    storages.INSTALLED_APPS = [
        "contrib_awsstorage.apps.ContribAwsStorageConfig",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.staticfiles",
    ]
    assert "contrib_awsstorage.W005" not in _ids()
