"""Static files carry their caching (media_types.static_cache_control), whoever
uploads them, and metadata follows the settings: a sync re-tags objects in place
(CopyObject) when the headers the settings give them change. Real S3 server over
HTTP; operations counted as botocore sends them."""

from __future__ import annotations

import collections
import io
import json
import threading

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage, S3ManifestStaticStorage
from contrib_awsstorage.management.commands.collectstatic import Command as Collectstatic
from contrib_awsstorage.media_types import IMMUTABLE_CACHE_CONTROL, STATIC_CACHE_CONTROL
from contrib_awsstorage.s3.objects import SOURCE_MD5_METADATA_KEY
from contrib_awsstorage.sync import SyncOptions, sync_directory
from contrib_awsstorage.sync.plan import MANIFEST_NAME

from .helpers import keys, small_tree, write_tree

HASHED = "css/site.0123456789ab.css"


class Operations:
    """S3 operations a client sends, by name (botocore's ``before-call`` event)."""

    def __init__(self, client):
        self._lock, self.names = threading.Lock(), collections.Counter()
        client.meta.events.register("before-call.s3", self)

    def __call__(self, model, **kwargs):
        with self._lock:
            self.names[model.name] += 1

    def reset(self):
        with self._lock:
            self.names.clear()


def cache_control(s3_client, bucket, key):
    return s3_client.head_object(Bucket=bucket, Key=key).get("CacheControl")


def test_storage_save_static_plain_hashed_and_media(make_storage, s3_client, bucket):
    static = make_storage(location="static")
    static.save("css/site.css", ContentFile(b"body{}"))
    static.save(HASHED, ContentFile(b"body{}"))
    with static.open("js/streamed.js", "w") as handle:  # the file object's own upload
        handle.write(b"1;")
    media = make_storage(S3Boto3Storage, location="media")
    media.save("avatars/me.png", ContentFile(b"\x89PNG"))

    assert cache_control(s3_client, bucket, "static/css/site.css") == STATIC_CACHE_CONTROL
    assert cache_control(s3_client, bucket, "static/" + HASHED) == IMMUTABLE_CACHE_CONTROL
    assert cache_control(s3_client, bucket, "static/js/streamed.js") == STATIC_CACHE_CONTROL
    assert cache_control(s3_client, bucket, "media/avatars/me.png") is None


def test_object_parameters_win(make_storage, s3_client, bucket):
    static = make_storage(location="static", object_parameters={"CacheControl": "no-cache"})
    static.save(HASHED, ContentFile(b"body{}"))
    assert cache_control(s3_client, bucket, "static/" + HASHED) == "no-cache"


def test_the_sync_follows_the_rule_and_the_static_manifest(storage, tmp_path, s3_client, bucket):
    manifest = json.dumps({"paths": {"js/app.js": "js/app.v2.js"}, "version": "1.1"})
    root = write_tree(
        tmp_path,
        {"css/a.css": "a{}", HASHED: "b{}", "js/app.v2.js": "1", "staticfiles.json": manifest},
    )
    assert sync_directory(storage, root).ok
    assert cache_control(s3_client, bucket, "static/css/a.css") == STATIC_CACHE_CONTROL
    assert cache_control(s3_client, bucket, "static/" + HASHED) == IMMUTABLE_CACHE_CONTROL
    # hashed by the manifest's word, though its name does not look hashed
    assert cache_control(s3_client, bucket, "static/js/app.v2.js") == IMMUTABLE_CACHE_CONTROL
    assert cache_control(s3_client, bucket, "static/staticfiles.json") == STATIC_CACHE_CONTROL


def _manifest_site(settings, tmp_path):
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATICFILES_DIRS = [write_tree(tmp_path / "assets", {"css/site.css": "body{}"})]
    settings.AWS_LOCATION = "static"
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3ManifestStaticStorage"},
    }


def _hashed_and_plain(s3_client, bucket):
    names = sorted(k for k in keys(s3_client, bucket, "static/css/") if k.endswith(".css"))
    hashed = [k for k in names if k != "static/css/site.css"]
    assert len(hashed) == 1 and "static/css/site.css" in names, names
    return hashed[0]


def test_our_collectstatic(s3_settings, tmp_path, s3_client, bucket):
    _manifest_site(s3_settings, tmp_path)
    call_command(Collectstatic(), interactive=False, verbosity=0, stdout=io.StringIO())
    hashed = _hashed_and_plain(s3_client, bucket)
    assert cache_control(s3_client, bucket, hashed) == IMMUTABLE_CACHE_CONTROL
    assert cache_control(s3_client, bucket, "static/css/site.css") == STATIC_CACHE_CONTROL
    assert cache_control(s3_client, bucket, "static/staticfiles.json") == STATIC_CACHE_CONTROL


def test_djangos_collectstatic_with_the_app_listed_second(
    s3_server, bucket, s3_client, tmp_path, monkeypatch
):
    from tests.aws_s3_cdn.test_preload_collectstatic import run

    backend = f"{S3ManifestStaticStorage.__module__}.{S3ManifestStaticStorage.__name__}"
    monkeypatch.setenv("STOCK_TEST_BACKEND", backend)
    source = write_tree(tmp_path / "assets", {"css/site.css": "body{}"})
    result = run(source, s3_server, bucket, "-v", "1")
    assert result["app"] == "django.contrib.staticfiles"  # Django's command, not ours
    hashed = _hashed_and_plain(s3_client, bucket)
    assert cache_control(s3_client, bucket, hashed) == IMMUTABLE_CACHE_CONTROL
    assert cache_control(s3_client, bucket, "static/css/site.css") == STATIC_CACHE_CONTROL


def test_new_object_parameters_retag_in_place_then_noop(
    make_storage, tmp_path, s3_client, bucket, request_counter
):
    tree = small_tree(12)
    root = write_tree(tmp_path, tree)
    first = make_storage(location="static")
    assert len(sync_directory(first, root).uploaded) == 12
    request_counter.attach(first.connection)
    baseline = sync_directory(first, root)  # today's no-op
    noop_requests = request_counter.count
    assert baseline.unchanged == 12

    storage = make_storage(
        location="static",
        object_parameters={"CacheControl": "public, max-age=60", "ContentDisposition": "inline"},
    )
    ops = Operations(storage.connection)
    before = keys(s3_client, bucket, "static/")

    report = sync_directory(storage, root)

    assert report.ok and report.uploaded == [] and len(report.metadata_updated) == 12
    assert report.summary()["metadata_updated"] == 12
    # The sync manifest and the last-run record: no file's bytes.
    assert ops.names["PutObject"] == 2
    assert ops.names["CopyObject"] == 12
    assert not ops.names["CreateMultipartUpload"] and not ops.names["UploadPart"]
    for key in (k for k in before if not k.startswith("static/.")):
        head = s3_client.head_object(Bucket=bucket, Key=key)
        assert head["CacheControl"] == "public, max-age=60", key
        assert head["ContentDisposition"] == "inline", key
        assert SOURCE_MD5_METADATA_KEY in head["Metadata"], key  # the sync's checksum kept
    after = keys(s3_client, bucket, "static/")
    assert {k: after[k] for k in before if not k.startswith("static/.")} == {
        k: v for k, v in before.items() if not k.startswith("static/.")
    }  # same bytes (same ETags)

    ops.reset()
    request_counter.reset()
    request_counter.attach(storage.connection)
    again = sync_directory(storage, root)
    assert again.unchanged == 12 and again.metadata_updated == [] and again.uploaded == []
    assert request_counter.count == noop_requests and again.requests == baseline.requests
    assert not ops.names["CopyObject"] and ops.names["PutObject"] == 1  # the run record


def test_the_source_checksum_survives_a_retag(make_storage, tmp_path, s3_client, bucket):
    root = write_tree(tmp_path, {"css/a.css": "a{}"})
    sync_directory(make_storage(location="static"), root)
    md5 = s3_client.head_object(Bucket=bucket, Key="static/css/a.css")["Metadata"]
    storage = make_storage(location="static", gzip=True)  # ContentEncoding changes the bytes
    report = sync_directory(storage, root)
    assert report.uploaded == ["css/a.css"]  # gzip is new bytes: an upload, not a re-tag
    storage = make_storage(
        location="static", gzip=True, object_parameters={"ContentLanguage": "en"}
    )
    assert sync_directory(storage, root).metadata_updated == ["css/a.css"]
    head = s3_client.head_object(Bucket=bucket, Key="static/css/a.css")
    assert head["Metadata"][SOURCE_MD5_METADATA_KEY] == md5[SOURCE_MD5_METADATA_KEY]
    assert head["ContentEncoding"] == "gzip" and head["ContentLanguage"] == "en"


def test_an_old_manifest_without_fingerprints_retags_once(storage, tmp_path, s3_client, bucket):
    root = write_tree(tmp_path, small_tree(4))
    sync_directory(storage, root)
    key = f"static/{MANIFEST_NAME}"
    document = json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    document["entries"] = {k: v[:3] for k, v in document["entries"].items()}  # before fingerprints
    s3_client.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())

    report = sync_directory(storage, root)
    assert report.uploaded == [] and len(report.metadata_updated) == 4
    assert sync_directory(storage, root).unchanged == 4


def test_dry_run_counts_without_writing(make_storage, tmp_path, s3_client, bucket):
    root = write_tree(tmp_path, small_tree(4))
    sync_directory(make_storage(location="static"), root)
    storage = make_storage(location="static", object_parameters={"CacheControl": "no-cache"})
    report = sync_directory(storage, root, SyncOptions(dry_run=True))
    assert len(report.metadata_updated) == 4
    key = "static/" + sorted(small_tree(4))[0]
    assert cache_control(s3_client, bucket, key) == STATIC_CACHE_CONTROL


@pytest.mark.parametrize("hashed_name", [False, True])
def test_gzip_switch_is_new_bytes_not_a_retag(make_storage, tmp_path, hashed_name):
    name = HASHED if hashed_name else "css/a.css"
    root = write_tree(tmp_path, {name: "a{}"})
    sync_directory(make_storage(location="static"), root)
    report = sync_directory(make_storage(location="static", gzip=True), root)
    assert report.uploaded == [name] and report.metadata_updated == []


def test_s3_migrate_static_summary_counts_metadata_updated(s3_settings, tmp_path):
    s3_settings.AWS_LOCATION = "static"
    s3_settings.STATIC_ROOT = write_tree(tmp_path / "static_root", small_tree(3))
    s3_settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "contrib_awsstorage.aws_s3_cdn.S3StaticStorage"},
    }
    call_command("s3_migrate_static", stdout=io.StringIO())
    s3_settings.AWS_S3_OBJECT_PARAMETERS = {"CacheControl": "no-cache"}
    s3_settings.STORAGES = {**s3_settings.STORAGES}  # rebuilt with the new settings
    out = io.StringIO()
    call_command("s3_migrate_static", stdout=out)
    assert "uploaded 0, unchanged 0, metadata updated 3, deleted 0" in out.getvalue()


def test_a_retagged_multipart_object_reads_back_with_its_checksum(
    make_storage, tmp_path, s3_client, bucket
):
    """A multipart object re-tagged in place is one whole object: a reader that
    checks the stored checksum (botocore does by default) still gets its bytes."""
    big = bytes(range(256)) * (6 * 1024 * 4)  # 6 MiB: multipart at a 5 MiB threshold
    root = tmp_path / "src"
    (root / "big").mkdir(parents=True)
    (root / "big" / "asset.bin").write_bytes(big)
    storage = make_storage(location="static")
    options = SyncOptions(multipart_threshold=5 * 1024 * 1024)
    sync_directory(storage, str(root), options)
    assert "-" in s3_client.head_object(Bucket=bucket, Key="static/big/asset.bin")["ETag"]
    storage = make_storage(location="static", object_parameters={"CacheControl": "max-age=60"})
    assert sync_directory(storage, str(root), options).metadata_updated == ["big/asset.bin"]
    got = s3_client.get_object(Bucket=bucket, Key="static/big/asset.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == big and got["CacheControl"] == "max-age=60"
