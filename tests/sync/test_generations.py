"""Old generations stay: three manifest deploys with --clear/--delete on a
real S3ManifestStaticStorage keep what the last two manifests refer to, and
remove what is older than that and out of the grace period."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.management import call_command

from contrib_awsstorage.management.commands.collectstatic import Command as Collectstatic

from .helpers import keys, write_tree

MANIFEST = "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"


def deploy(settings, tmp_path, version: int):
    write_tree(tmp_path / "assets", {"css/site.css": f"body{{order:{version}}}", "js/app.js": "1"})
    settings.STORAGES = {  # a fresh storage per deploy, as a new process would have
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": MANIFEST},
    }
    out = io.StringIO()
    call_command(
        Collectstatic(), "--clear", interactive=False, verbosity=1, stdout=out, stderr=io.StringIO()
    )
    return storages["staticfiles"].stored_name("css/site.css"), out.getvalue()


@pytest.fixture
def manifest_settings(s3_settings, tmp_path):
    s3_settings.AWS_LOCATION = "static"
    s3_settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    s3_settings.STATICFILES_DIRS = [str(tmp_path / "assets")]
    return s3_settings


def test_three_deploys_keep_the_last_two_generations(
    manifest_settings, tmp_path, s3_client, bucket
):
    manifest_settings.AWS_S3_SYNC_KEEP_SECONDS = 0  # no grace: only the generations count
    names = [deploy(manifest_settings, tmp_path, v)[0] for v in (1, 2)]
    third, out = deploy(manifest_settings, tmp_path, 3)
    names.append(third)
    assert len(set(names)) == 3 and all(n.startswith("css/site.") for n in names)
    present = set(keys(s3_client, bucket, "static/"))
    assert (
        f"static/{names[2]}" in present and f"static/{names[1]}" in present
    )  # the last two manifests
    assert f"static/{names[0]}" not in present  # older and out of grace: gone
    assert "1 older hashed kept for cached pages" in out
    # the page rendered before deploy 3 still loads its CSS
    assert (
        s3_client.get_object(Bucket=bucket, Key=f"static/{names[1]}")["Body"].read()
        == b"body{order:2}"
    )
    assert (
        json.loads(
            s3_client.get_object(Bucket=bucket, Key="static/staticfiles.json")["Body"].read()
        )["paths"]["css/site.css"]
        == names[2]
    )


def test_the_grace_period_keeps_younger_files(manifest_settings, tmp_path, s3_client, bucket):
    names = [deploy(manifest_settings, tmp_path, v)[0] for v in (1, 2, 3)]
    present = set(keys(s3_client, bucket, "static/"))
    assert {f"static/{n}" for n in names} <= present  # all younger than a day (the default)


def test_more_generations_on_request(manifest_settings, tmp_path, s3_client, bucket):
    manifest_settings.AWS_S3_SYNC_KEEP_SECONDS = 0
    manifest_settings.AWS_S3_SYNC_KEEP_GENERATIONS = 3
    names = [deploy(manifest_settings, tmp_path, v)[0] for v in (1, 2, 3, 4)]
    present = set(keys(s3_client, bucket, "static/"))
    assert {f"static/{n}" for n in names[1:]} <= present and f"static/{names[0]}" not in present


def test_plain_stale_files_are_still_deleted(manifest_settings, tmp_path, s3_client, bucket):
    manifest_settings.AWS_S3_SYNC_KEEP_SECONDS = 0
    deploy(manifest_settings, tmp_path, 1)
    s3_client.put_object(Bucket=bucket, Key="static/old/leftover.txt", Body=b"x")
    deploy(manifest_settings, tmp_path, 2)
    assert "static/old/leftover.txt" not in keys(s3_client, bucket, "static/")


def test_migrate_delete_keeps_the_previous_manifests_files(
    s3_settings, tmp_path, s3_client, bucket
):
    """s3_migrate_static --delete of a collected tree (STATIC_ROOT with staticfiles.json)."""
    s3_settings.AWS_LOCATION = "static"
    s3_settings.AWS_S3_SYNC_KEEP_SECONDS = 0
    s3_settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": MANIFEST},
    }
    hashed = []
    for version in (1, 2, 3):
        root = tmp_path / f"root{version}"
        name = f"app.{version:012x}.js"
        hashed.append(name)
        write_tree(
            root,
            {
                "app.js": str(version),
                name: str(version),
                "staticfiles.json": json.dumps({"version": "1.1", "paths": {"app.js": name}}),
            },
        )
        s3_settings.STATIC_ROOT = str(root)
        call_command("s3_migrate_static", "--delete", "--no-progress", stdout=io.StringIO())
    present = set(keys(s3_client, bucket, "static/"))
    assert {f"static/{hashed[1]}", f"static/{hashed[2]}"} <= present
    assert f"static/{hashed[0]}" not in present


def test_bad_keep_settings_name_the_setting(manifest_settings, tmp_path):
    manifest_settings.AWS_S3_SYNC_KEEP_GENERATIONS = 0
    with pytest.raises(Exception) as info:
        deploy(manifest_settings, tmp_path, 1)
    assert "AWS_S3_SYNC_KEEP_GENERATIONS" in str(info.value)
    assert isinstance(info.value, ImproperlyConfigured) or "Fix:" in str(info.value)
