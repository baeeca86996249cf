"""Failures: nothing half-written, no open multipart upload, no deletes, and a
re-run converges. Faults come from the real server (a 400 it sends) or from
the loopback fault proxy in front of it."""

from __future__ import annotations

import json
import os

import pytest
from botocore.config import Config

from contrib_awsstorage.sync import SyncOptions, sync_directory
from contrib_awsstorage.sync import record as syncrecord
from tools.faultproxy import FaultProxy

from .helpers import RejectingStorage, body, keys, request_paths, small_tree, write_tree

NO_BOTOCORE_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def proxy(s3_server):
    with FaultProxy(s3_server.endpoint_url) as running:
        yield running


@pytest.fixture
def proxied_storage(s3_settings, proxy):
    s3_settings.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
    from contrib_awsstorage.aws_s3_cdn import S3StaticStorage

    return S3StaticStorage(location="static", config=NO_BOTOCORE_RETRIES)


def test_a_failed_upload_blocks_deletes_and_the_manifest(make_storage, tmp_path, s3_client, bucket):
    storage = make_storage(RejectingStorage, location="static")
    manifest = {"paths": {"css/a.css": "css/a.111111111111.css"}, "version": "1.1"}
    root = write_tree(
        tmp_path,
        {
            "css/a.css": "a{}",
            "css/a.111111111111.css": "a{}",
            "css/broken.css": "b{}",
            "staticfiles.json": json.dumps(manifest),
        },
    )
    s3_client.put_object(Bucket=bucket, Key="static/stale.css", Body=b"old")

    report = sync_directory(storage, root, SyncOptions(delete=True))

    assert not report.ok
    failed = dict(report.failures)
    assert set(failed) == {"css/broken.css", "staticfiles.json"}
    assert "InvalidStorageClass" in failed["css/broken.css"]
    assert "static/css/broken.css" in failed["css/broken.css"]  # names the object
    assert "other files failed" in failed["staticfiles.json"]
    present = keys(s3_client, bucket)
    assert "static/stale.css" in present  # no deletes after a failure
    assert "static/staticfiles.json" not in present
    assert "static/css/a.111111111111.css" in present
    record = syncrecord.read_last_run(storage)
    assert record["ok"] is False and record["failed"] == 2 and record["deleted"] == 0
    assert {f["name"] for f in record["failures"]} == {"css/broken.css", "staticfiles.json"}

    # Fix the cause (the file is renamed) and run again: converges.
    os.rename(os.path.join(root, "css", "broken.css"), os.path.join(root, "css", "fixed.css"))
    again = sync_directory(storage, root, SyncOptions(delete=True))
    assert again.ok and sorted(again.deleted) == ["static/stale.css"]
    assert set(again.uploaded) == {"css/fixed.css", "staticfiles.json"}
    assert syncrecord.read_last_run(storage)["ok"] is True


def test_failed_multipart_upload_is_aborted(proxied_storage, proxy, tmp_path, s3_client, bucket):
    root = write_tree(tmp_path, {"big.bin": os.urandom(6 * 1024 * 1024), "a.css": "a{}"})
    proxy.set_faults("500", rate=1.0, match="partNumber=2")

    report = sync_directory(proxied_storage, root)

    assert [name for name, _ in report.failures] == ["big.bin"]
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "static/big.bin" not in keys(s3_client, bucket)
    proxy.clear_faults()
    assert sync_directory(proxied_storage, root).uploaded == ["big.bin"]
    assert (
        s3_client.head_object(Bucket=bucket, Key="static/big.bin")["ContentLength"]
        == 6 * 1024 * 1024
    )


def test_transient_errors_are_retried_by_botocore_once_each(
    s3_settings, proxy, tmp_path, s3_client, bucket, request_counter
):
    """The client's own retry mode (standard) resends a faulted request; the
    engine adds no retries of its own: each fault costs exactly one more send."""
    from contrib_awsstorage.aws_s3_cdn import S3StaticStorage

    s3_settings.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
    storage = S3StaticStorage(location="static")
    files = small_tree(12)
    root = write_tree(tmp_path, files)
    proxy.set_faults(["503", "500", "reset"], nth=[1, 2, 4, 7], writes_only=True)
    request_counter.attach(storage.connection)

    report = sync_directory(storage, root)

    assert report.ok and len(report.uploaded) == 12
    faults = sum(proxy.stats()["faults"].values())
    assert faults == 4
    puts = [m for m, _ in request_counter.requests if m == "PUT"]
    # 12 files, the sync manifest and the last-run record, plus one resend per fault
    assert len(puts) == 12 + 2 + faults
    for name, content in files.items():
        assert body(s3_client, bucket, f"static/{name}") == (
            content.encode() if isinstance(content, str) else content
        )


def test_a_permanent_error_is_sent_once(make_storage, tmp_path, request_counter):
    storage = make_storage(RejectingStorage, location="static")
    root = write_tree(tmp_path, {"css/broken.css": "b{}", "css/a.css": "a{}"})
    request_counter.attach(storage.connection)

    report = sync_directory(storage, root)

    assert [name for name, _ in report.failures] == ["css/broken.css"]
    sent = [p for _, p in request_paths(request_counter.requests) if p.endswith("/broken.css")]
    assert len(sent) == 1, sent


def test_multipart_upload_left_by_a_killed_sync_is_aborted(storage, tmp_path, s3_client, bucket):
    s3_client.create_multipart_upload(Bucket=bucket, Key="static/big.bin")
    s3_client.create_multipart_upload(Bucket=bucket, Key="elsewhere/big.bin")
    root = write_tree(tmp_path, {"a.css": "a{}"})

    assert sync_directory(storage, root, SyncOptions(stale_multipart_seconds=0)).ok

    left = [u["Key"] for u in s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    assert left == ["elsewhere/big.bin"]  # only our prefix is cleaned


def test_last_run_record_round_trip(storage):
    assert syncrecord.read_last_run(storage) is None
    syncrecord.write_last_run(storage, {"ok": True, "uploaded": 3})
    record = syncrecord.read_last_run(storage)
    assert record["ok"] is True and record["uploaded"] == 3 and record["version"] == 1


def test_last_run_record_names_the_bucket_when_unreadable(make_storage, s3_settings):
    s3_settings.AWS_STORAGE_BUCKET_NAME = "no-such-bucket-for-sync"
    storage = make_storage(location="static")
    with pytest.raises(Exception) as info:
        syncrecord.read_last_run(storage)
    assert "no-such-bucket-for-sync" in str(info.value) and "Fix:" in str(info.value)


def test_stale_upload_clean_up_never_aborts_this_runs_own_upload(
    s3_settings, proxy, s3_client, bucket, tmp_path
):
    """The clean-up of a killed run's open uploads finishes before our uploads
    start. moto dates every open upload 2010, so a clean-up listing that came
    back after our CreateMultipartUpload would take ours for stale: here the
    listing is held 1 s (then retried) while every request takes 0.3 s, so
    without the wait it would return in the middle of our upload."""
    from contrib_awsstorage.aws_s3_cdn import S3StaticStorage

    s3_settings.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
    storage = S3StaticStorage(location="static")
    big = os.urandom(11 * 1024 * 1024)  # three parts: a wide window
    root = write_tree(tmp_path, {"big.bin": big, "a.css": "a{}"})
    proxy.delay = 0.3
    proxy.set_faults("stall", nth=1, methods=("GET",), match="uploads", stall_seconds=1.0)

    report = sync_directory(storage, root)

    assert report.ok, report.failures
    assert body(s3_client, bucket, "static/big.bin") == big
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert proxy.stats()["faults"], "the listing was not held: the test proved nothing"


def test_a_sync_manifest_cut_short_is_read_as_missing(s3_settings, proxy, tmp_path):
    """botocore's retries end before the body is read: a manifest whose body is
    cut short falls back to comparing ETags, which decides the same."""
    from contrib_awsstorage.aws_s3_cdn import S3StaticStorage

    s3_settings.AWS_S3_ENDPOINT_URL = proxy.endpoint_url
    storage = S3StaticStorage(location="static")
    root = write_tree(tmp_path, small_tree(8))
    assert sync_directory(storage, root).ok
    proxy.set_faults("truncate", nth=1, methods=("GET",), match="sync-manifest")

    report = sync_directory(storage, root)

    assert proxy.stats()["faults"], "the manifest was not cut short: the test proved nothing"
    # No fingerprints to trust either: the objects are re-tagged once, no bytes sent.
    assert report.ok and report.uploaded == [] and len(report.metadata_updated) == 8
