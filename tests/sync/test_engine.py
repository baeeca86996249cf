"""The sync engine against a real S3 wire server: correctness and request counts."""

from __future__ import annotations

import gzip
import json
import os
import time

import pytest

from contrib_awsstorage.sync import IMMUTABLE_CACHE_CONTROL, SyncOptions, sync, sync_directory
from contrib_awsstorage.sync import record as syncrecord
from contrib_awsstorage.sync.plan import MANIFEST_NAME, walk_tree

from .helpers import body, keys, request_paths, small_tree, write_tree

STATE = ".contrib_awsstorage/"


def user_keys(found: dict) -> dict:
    return {k: v for k, v in found.items() if STATE not in k}


def test_cold_sync_uploads_every_file_with_the_storages_headers(
    storage, tmp_path, s3_client, bucket
):
    files = small_tree(24)
    root = write_tree(tmp_path, files)

    report = sync_directory(storage, root)

    assert report.ok and len(report.uploaded) == 24 and report.unchanged == 0
    assert set(user_keys(keys(s3_client, bucket))) == {f"static/{n}" for n in files}
    assert body(s3_client, bucket, "static/css/style4.css") == files["css/style4.css"].encode()
    head = s3_client.head_object(Bucket=bucket, Key="static/css/style4.css")
    assert head["ContentType"].startswith("text/css")
    assert head["Metadata"]["source-md5"]
    assert report.bytes == sum(len(v.encode() if isinstance(v, str) else v) for v in files.values())


def test_noop_resync_makes_no_per_file_request(storage, tmp_path, request_counter):
    root = write_tree(tmp_path, small_tree(30))
    sync_directory(storage, root)
    request_counter.attach(storage.connection)

    report = sync_directory(storage, root)

    assert report.ok and report.uploaded == [] and report.unchanged == 30
    paths = request_paths(request_counter.requests)
    # listing, sync manifest, open multipart uploads; then the last-run record
    assert len(paths) == 4, paths
    assert [m for m, _ in paths[:3]] == ["GET", "GET", "GET"]
    assert paths[3] == ("PUT", f"/{storage.bucket_name}/static/{syncrecord.LAST_RUN_NAME}")
    assert not any("css/" in p or "js/" in p or "img/" in p for _, p in paths)
    assert report.requests == 3  # the record write is not part of the sync proper


def test_noop_cost_does_not_grow_with_the_tree(storage, tmp_path, request_counter):
    root = write_tree(tmp_path, small_tree(60))
    sync_directory(storage, root)
    request_counter.attach(storage.connection)
    sync_directory(storage, root)
    assert request_counter.count == 4


def test_touched_files_are_not_uploaded(storage, tmp_path):
    root = write_tree(tmp_path, small_tree(12))
    sync_directory(storage, root)
    now = time.time() + 60
    for path in walk_tree(root).values():
        os.utime(path, (now, now))

    report = sync_directory(storage, root)

    assert report.uploaded == [] and report.unchanged == 12


def test_changed_file_with_mtime_in_the_past_is_uploaded(storage, tmp_path, s3_client, bucket):
    root = write_tree(tmp_path, small_tree(8))
    sync_directory(storage, root)
    path = os.path.join(root, "js", "app1.js")
    old = os.stat(path)
    with open(path, "w") as handle:
        handle.write("function changed() {}\n")
    os.utime(path, (old.st_atime - 86400, old.st_mtime - 86400))

    report = sync_directory(storage, root)

    assert report.uploaded == ["js/app1.js"]
    assert body(s3_client, bucket, "static/js/app1.js") == b"function changed() {}\n"


def test_warm_checksum_cache_reads_no_file_and_still_sees_a_change(
    storage, tmp_path, s3_client, bucket, monkeypatch
):
    from contrib_awsstorage.sync import hashcache

    monkeypatch.setattr(hashcache, "RACY_SECONDS", -3600.0)  # the test's files count as settled
    root = write_tree(tmp_path, small_tree(8))
    assert sync_directory(storage, root).hashed == 8
    assert sync_directory(storage, root).hashed == 0  # no-op: every checksum from the cache
    path = os.path.join(root, "css", "style0.css")
    old = os.stat(path)
    with open(path, "rb") as handle:
        same_size = bytes(reversed(handle.read()))
    with open(path, "wb") as handle:
        handle.write(same_size)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))  # size and mtime as before

    report = sync_directory(storage, root)

    assert report.uploaded == ["css/style0.css"] and report.hashed == 1
    assert body(s3_client, bucket, "static/css/style0.css") == same_size


def test_bad_cache_dir_setting_names_the_setting(storage, tmp_path, settings):
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    for bad in (42, ""):
        settings.AWS_S3_SYNC_CACHE_DIR = bad
        with pytest.raises(ImproperlyConfigured, match="AWS_S3_SYNC_CACHE_DIR"):
            sync_directory(storage, write_tree(tmp_path, small_tree(2)))


def test_remote_object_changed_behind_our_back_is_caught(storage, tmp_path, s3_client, bucket):
    files = small_tree(8)
    root = write_tree(tmp_path, files)
    sync_directory(storage, root)
    s3_client.put_object(Bucket=bucket, Key="static/css/style0.css", Body=b"tampered")

    report = sync_directory(storage, root)

    assert report.uploaded == ["css/style0.css"]
    assert body(s3_client, bucket, "static/css/style0.css") == files["css/style0.css"].encode()
    assert sync_directory(storage, root).uploaded == []


def test_deleted_remote_object_is_uploaded_again(storage, tmp_path, s3_client, bucket):
    root = write_tree(tmp_path, small_tree(8))
    sync_directory(storage, root)
    s3_client.delete_object(Bucket=bucket, Key="static/img/icon2.svg")
    assert sync_directory(storage, root).uploaded == ["img/icon2.svg"]


def test_gzip_objects_sync_once_and_noop_after(
    make_storage, tmp_path, s3_client, bucket, request_counter
):
    storage = make_storage(location="static", gzip=True)
    files = small_tree(12)
    root = write_tree(tmp_path, files)
    sync_directory(storage, root)
    head = s3_client.head_object(Bucket=bucket, Key="static/css/style0.css")
    assert head["ContentEncoding"] == "gzip"
    raw = s3_client.get_object(Bucket=bucket, Key="static/css/style0.css")["Body"].read()
    assert gzip.decompress(raw) == files["css/style0.css"].encode()
    request_counter.attach(storage.connection)

    report = sync_directory(storage, root)

    assert report.uploaded == [] and report.unchanged == 12
    assert request_counter.count == 4


def test_gzip_objects_without_sync_manifest_match_by_etag(
    make_storage, tmp_path, s3_client, bucket, request_counter
):
    """Deterministic gzip: the plan predicts the ETag, no HEAD needed."""
    storage = make_storage(location="static", gzip=True)
    root = write_tree(tmp_path, small_tree(12))
    sync_directory(storage, root)
    s3_client.delete_object(Bucket=bucket, Key=f"static/{MANIFEST_NAME}")
    request_counter.attach(storage.connection)

    report = sync_directory(storage, root)

    # Same bytes; with the manifest gone no fingerprint says which headers the
    # objects carry, so each is re-tagged once in place (no bytes sent).
    assert report.uploaded == [] and len(report.metadata_updated) == 12
    assert not any(m == "HEAD" for m, _ in request_counter.requests)
    assert sync_directory(storage, root).unchanged == 12


def test_file_saved_through_the_storage_is_recognised(storage, tmp_path, request_counter):
    """Objects written by storage.save() (same prepare_upload) need no upload."""
    from django.core.files.base import ContentFile

    storage.save("css/site.css", ContentFile(b"body { margin: 0 }"))
    root = write_tree(tmp_path, {"css/site.css": b"body { margin: 0 }"})
    request_counter.attach(storage.connection)
    report = sync_directory(storage, root)
    assert report.uploaded == [] and report.metadata_updated == [
        "css/site.css"
    ]  # no fingerprint yet
    assert sync_directory(storage, root).unchanged == 1


def test_multipart_file_uploads_in_parts_and_noop_after(
    storage, tmp_path, s3_client, bucket, request_counter
):
    big = os.urandom(6 * 1024 * 1024)
    root = write_tree(tmp_path, {"media/big.bin": big, "a.css": "a{}"})

    report = sync_directory(storage, root)

    assert report.ok
    etag = s3_client.head_object(Bucket=bucket, Key="static/media/big.bin")["ETag"].strip('"')
    assert etag.endswith("-2")
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    request_counter.attach(storage.connection)
    assert sync_directory(storage, root).uploaded == []
    assert request_counter.count == 4
    # Without the sync manifest, the multipart ETag is predicted locally.
    s3_client.delete_object(Bucket=bucket, Key=f"static/{MANIFEST_NAME}")
    request_counter.reset()
    assert sync_directory(storage, root).uploaded == []
    assert not any(m == "HEAD" for m, _ in request_counter.requests)


def test_foreign_multipart_object_is_checked_by_its_metadata(
    storage, tmp_path, s3_client, bucket, request_counter
):
    """An object another writer split differently: one HEAD reads our source checksum."""
    big = os.urandom(11 * 1024 * 1024)  # ours: 5+5+1 MiB parts
    root = write_tree(tmp_path, {"big.bin": big})
    sync_directory(storage, root)
    s3_client.delete_object(Bucket=bucket, Key=f"static/{MANIFEST_NAME}")
    # Re-upload the same bytes in 2 parts: same content, different ETag.
    _, params = storage.prepare_upload("big.bin", big)
    params.pop("ACL", None)
    upload = s3_client.create_multipart_upload(Bucket=bucket, Key="static/big.bin", **params)
    parts, size = [], len(big) // 2 + 1
    for number, start in enumerate(range(0, len(big), size), start=1):
        r = s3_client.upload_part(
            Bucket=bucket,
            Key="static/big.bin",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=big[start : start + size],
        )
        parts.append({"PartNumber": number, "ETag": r["ETag"]})
    s3_client.complete_multipart_upload(
        Bucket=bucket,
        Key="static/big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": parts},
    )
    request_counter.attach(storage.connection)

    report = sync_directory(storage, root)

    assert report.uploaded == [] and report.metadata_updated == ["big.bin"]
    assert [m for m, _ in request_counter.requests].count("HEAD") == 1


def test_manifest_goes_last_and_hashed_files_are_immutable(
    storage, tmp_path, s3_client, bucket, request_counter
):
    manifest = {"paths": {"css/app.css": "css/app.0123456789ab.css"}, "version": "1.1", "hash": "x"}
    root = write_tree(
        tmp_path,
        {
            "css/app.css": "a{}",
            "css/app.0123456789ab.css": "a{}",
            "staticfiles.json": json.dumps(manifest),
            **{f"js/m{i}.js": f"var m{i};" for i in range(10)},
        },
    )
    request_counter.attach(storage.connection)

    report = sync_directory(storage, root, SyncOptions(workers=8))

    assert report.ok
    puts = [p for m, p in request_paths(request_counter.requests) if m == "PUT"]
    user_puts = [p for p in puts if STATE not in p]
    assert user_puts[-1].endswith("/static/staticfiles.json")
    assert len(user_puts) == 13
    hashed = s3_client.head_object(Bucket=bucket, Key="static/css/app.0123456789ab.css")
    assert hashed["CacheControl"] == IMMUTABLE_CACHE_CONTROL
    plain = s3_client.head_object(Bucket=bucket, Key="static/css/app.css")
    assert plain.get("CacheControl") != IMMUTABLE_CACHE_CONTROL


def test_delete_only_touches_our_prefix(storage, tmp_path, s3_client, bucket):
    root = write_tree(tmp_path, {"keep.css": "k{}"})
    for key in (
        "static/stale.css",
        "static/old/stale.js",
        "static-old/x.css",
        "media/upload.png",
        "top.txt",
    ):
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"x")

    without = sync_directory(storage, root)
    assert without.deleted == [] and sorted(without.stale) == [
        "static/old/stale.js",
        "static/stale.css",
    ]
    report = sync_directory(storage, root, SyncOptions(delete=True))

    assert sorted(report.deleted) == ["static/old/stale.js", "static/stale.css"]
    remaining = keys(s3_client, bucket)
    assert {"static-old/x.css", "media/upload.png", "top.txt", "static/keep.css"} <= set(remaining)
    assert "static/stale.css" not in remaining
    # our own state survives --delete
    assert (
        f"static/{MANIFEST_NAME}" in remaining and f"static/{syncrecord.LAST_RUN_NAME}" in remaining
    )


def test_dry_run_changes_nothing(storage, tmp_path, s3_client, bucket, request_counter):
    s3_client.put_object(Bucket=bucket, Key="static/stale.css", Body=b"x")
    root = write_tree(tmp_path, small_tree(8))
    request_counter.attach(storage.connection)

    report = sync_directory(storage, root, SyncOptions(dry_run=True, delete=True))

    assert len(report.uploaded) == 8 and report.deleted == ["static/stale.css"]
    assert {m for m, _ in request_counter.requests} == {"GET"}
    assert set(keys(s3_client, bucket)) == {"static/stale.css"}
    assert syncrecord.read_last_run(storage) is None


def test_force_uploads_unchanged_files(storage, tmp_path):
    root = write_tree(tmp_path, small_tree(6))
    sync_directory(storage, root)
    assert len(sync_directory(storage, root, SyncOptions(force=True)).uploaded) == 6


def test_empty_location_syncs_the_bucket_root(make_storage, tmp_path, s3_client, bucket):
    storage = make_storage(location="")
    root = write_tree(tmp_path, {"a.css": "a{}", "b/c.js": "c"})
    sync_directory(storage, root)
    assert set(user_keys(keys(s3_client, bucket))) == {"a.css", "b/c.js"}
    assert sync_directory(storage, root).uploaded == []


def test_sync_of_explicit_mapping(storage, tmp_path, s3_client, bucket):
    """``sync()`` takes any {name: path} mapping (what collectstatic builds from the finders)."""
    write_tree(tmp_path, {"x/one.css": "1", "y/two.css": "2"})
    report = sync(
        storage,
        {
            "css/one.css": str(tmp_path / "x" / "one.css"),
            "two.css": str(tmp_path / "y" / "two.css"),
        },
    )
    assert report.ok
    assert set(user_keys(keys(s3_client, bucket))) == {"static/css/one.css", "static/two.css"}


def test_parallel_ranged_listing_finds_every_key(storage, s3_client, bucket):
    """Ranges split at expected keys; keys nobody expected are still listed."""
    from concurrent.futures import ThreadPoolExecutor

    from contrib_awsstorage.sync.destination import Destination
    from contrib_awsstorage.sync.plan import list_remote

    expected = [f"static/f{i:02d}.css" for i in range(0, 24, 2)]
    unexpected = [f"static/f{i:02d}.css" for i in range(1, 24, 6)] + ["static/zz.js", "static/a.js"]
    for key in expected + unexpected + ["other/f01.css", "statics/x"]:
        s3_client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    with ThreadPoolExecutor(4) as pool:
        listed = list_remote(Destination.of(storage), expected, pool, page=4)
    assert sorted(listed) == sorted(expected + unexpected)
    assert listed["static/zz.js"].size == len(b"static/zz.js")


def test_biggest_files_go_up_first(storage, tmp_path):
    """A big (multipart) file started last would run on alone at the end."""
    files = {f"f{i}.bin": bytes(200 * ((i * 7) % 10 + 1)) for i in range(10)}
    root = write_tree(tmp_path, files)
    order = []

    report = sync_directory(
        storage, root, SyncOptions(workers=1), lambda name, outcome: order.append(name)
    )

    assert report.ok and len(order) == 10
    assert [len(files[n]) for n in order] == sorted((len(v) for v in files.values()), reverse=True)


def test_one_thread_pool_of_workers_carries_the_whole_run(storage, tmp_path):
    """Listing, hashing, HEADs and uploads share one pool of ``workers`` threads
    (the S3 server's own threads run in this process too: they are not pools)."""
    import threading

    before = {t.ident for t in threading.enumerate()}
    root = write_tree(tmp_path, small_tree(12))
    seen = set()

    def progress(name, outcome):
        seen.update(t.name for t in threading.enumerate() if t.ident not in before)

    report = sync_directory(storage, root, SyncOptions(workers=3), progress)

    assert report.ok and len(report.uploaded) == 12
    pools = {name for name in seen if name.startswith(("ThreadPoolExecutor", "contrib-s3-sync"))}
    assert pools and all(name.startswith("contrib-s3-sync") for name in pools), pools
    assert len(pools) <= 3


def test_bad_options_name_the_option_and_the_fix():
    with pytest.raises(ValueError, match=r"workers=0.*Fix: pass a positive number"):
        SyncOptions(workers=0)
    with pytest.raises(TypeError, match=r"last_names='staticfiles.json'.*Fix"):
        SyncOptions(last_names="staticfiles.json")
    options = SyncOptions(last_names=["staticfiles.json"], immutable_names=["a.1234.css"])
    assert options.last_names == ("staticfiles.json",)
    assert options.immutable_names == frozenset({"a.1234.css"})
