"""The no-op fast path (sync/quick.py): a real no-op is three reads on the
storage's own client (the listing, the sync manifest, the last-run record)
and no write; anything else (a change, --delete of stale keys, a last run
that failed, a pending invalidation, a damaged manifest) steps aside to the
full sync."""

from __future__ import annotations

import pytest
from botocore.config import Config

from contrib_awsstorage.sync import SyncOptions, sync_directory
from contrib_awsstorage.sync import record as syncrecord
from contrib_awsstorage.sync.plan import MANIFEST_NAME

from .helpers import request_paths, small_tree, write_tree

RECORD = "static/" + syncrecord.LAST_RUN_NAME


@pytest.fixture
def quick(settings):
    settings.AWS_S3_SYNC_QUICK_NOOP = True
    return settings


def wrote_record(counter, bucket) -> bool:
    """Whether the full sync ran: only it writes the last-run record."""
    return ("PUT", f"/{bucket}/{RECORD}") in request_paths(counter.requests)


def test_a_noop_is_three_reads_and_no_write(quick, storage, tmp_path, counted, bucket):
    root = write_tree(tmp_path / "root", small_tree(12))
    assert len(sync_directory(storage, root).uploaded) == 12
    before = syncrecord.read_last_run(storage)
    counter = counted(storage)

    report = sync_directory(storage, root)

    assert report.ok and report.unchanged == 12 and report.uploaded == [] and report.requests == 3
    paths = request_paths(counter.requests)
    assert {method for method, _ in paths} == {"GET"} and len(paths) == 3, paths
    (listing,) = [path for _, path in paths if "list-type=2" in path]
    assert listing.startswith(f"/{bucket}?") and "prefix=static" in listing
    assert {path for _, path in paths} - {listing} == {
        f"/{bucket}/static/{MANIFEST_NAME}",
        f"/{bucket}/{RECORD}",
    }
    assert syncrecord.read_last_run(storage) == before  # and wrote nothing


def test_the_storages_botocore_config_applies(quick, make_storage, tmp_path, counted, bucket):
    """The quick path uses the storage's client: a custom Config no longer sends it away."""
    storage = make_storage(location="static", config=Config(retries={"mode": "standard"}))
    root = write_tree(tmp_path / "root", small_tree(4))
    sync_directory(storage, root)
    counter = counted(storage)
    report = sync_directory(storage, root)
    assert report.requests == 3 and counter.count == 3 and not wrote_record(counter, bucket)


def test_anything_else_takes_the_full_sync(quick, storage, tmp_path, counted, s3_client, bucket):
    root = write_tree(tmp_path / "root", small_tree(8))
    sync_directory(storage, root)
    write_tree(root, {"css/style0.css": "changed"})
    report = sync_directory(storage, root)
    assert report.uploaded == ["css/style0.css"]
    s3_client.put_object(Bucket=bucket, Key="static/stale.txt", Body=b"x")
    counter = counted(storage)
    assert sync_directory(storage, root).stale == ["static/stale.txt"]  # quick: stale reported
    assert not wrote_record(counter, bucket)
    counter.reset()
    report = sync_directory(
        storage, root, SyncOptions(delete=True)
    )  # stale + --delete: the full sync
    assert report.deleted == ["static/stale.txt"] and wrote_record(counter, bucket)


def test_a_failed_last_run_is_not_answered_quickly(quick, storage, tmp_path, counted, bucket):
    root = write_tree(tmp_path / "root", small_tree(4))
    sync_directory(storage, root)
    record = syncrecord.read_last_run(storage)
    record.pop("version")
    syncrecord.write_last_run(storage, {**record, "ok": False})
    counter = counted(storage)
    sync_directory(storage, root)
    assert wrote_record(counter, bucket) and syncrecord.read_last_run(storage)["ok"] is True
    syncrecord.write_last_run(
        storage, {**record, "invalidation": {"id": None, "paths": ["/x"], "status": "failed"}}
    )
    counter.reset()
    sync_directory(storage, root)
    assert wrote_record(counter, bucket)


def test_a_damaged_manifest_steps_aside(quick, storage, tmp_path, counted, s3_client, bucket):
    root = write_tree(tmp_path / "root", small_tree(4))
    sync_directory(storage, root)
    s3_client.put_object(Bucket=bucket, Key=f"static/{MANIFEST_NAME}", Body=b"{not json")
    counter = counted(storage)
    report = sync_directory(storage, root)
    assert report.ok and report.uploaded == [] and wrote_record(counter, bucket)
    counter.reset()
    assert sync_directory(storage, root).requests == 3  # the full sync rewrote the manifest


@pytest.mark.evennia  # runs Evennia's launcher
def test_a_noop_reload_writes_nothing(s3_server, bucket, tmp_path, s3_client):
    """Under Evennia's launcher, a collectstatic with nothing to do leaves the
    bucket as it was (the record of the last run that did something included)."""
    from .test_collectstatic import _run, run_under_launcher

    env = {
        "SYNC_TEST_BUCKET": bucket,
        "SYNC_TEST_ENDPOINT": s3_server.endpoint_url,
        "SYNC_TEST_QUICK": "1",
        "SYNC_TEST_STATICFILES_DIR": write_tree(tmp_path / "assets", small_tree(6)),
    }
    assert _run(["-m", "django", "collectstatic", "--noinput"], env).returncode == 0
    before = s3_client.get_object(Bucket=bucket, Key=RECORD)["Body"].read()
    launcher = run_under_launcher(env)
    assert launcher.returncode == 0 and launcher.stderr == "", launcher.stderr
    assert launcher.stdout.strip() == "GAME STARTS"
    assert s3_client.get_object(Bucket=bucket, Key=RECORD)["Body"].read() == before
    # and a change still goes up (the full sync)
    write_tree(tmp_path / "assets", {"css/style0.css": "changed"})
    changed = _run(["-m", "django", "collectstatic", "--noinput", "-v", "1"], env)
    assert changed.returncode == 0 and "1 static file copied" in changed.stdout


def test_new_object_parameters_take_the_full_sync(
    quick, make_storage, tmp_path, counted, s3_client, bucket
):
    """Same bytes, new headers from the settings: the quick path steps aside and
    the full sync re-tags every object in place."""
    root = write_tree(tmp_path / "root", small_tree(4))
    sync_directory(make_storage(location="static"), root)
    storage = make_storage(location="static", object_parameters={"CacheControl": "no-cache"})
    counter = counted(storage)

    report = sync_directory(storage, root)

    assert wrote_record(counter, bucket) and report.uploaded == []
    assert len(report.metadata_updated) == 4
    key = "static/" + sorted(small_tree(4))[0]
    assert s3_client.head_object(Bucket=bucket, Key=key)["CacheControl"] == "no-cache"
    assert sync_directory(storage, root).requests == 3  # a no-op again, answered quickly
