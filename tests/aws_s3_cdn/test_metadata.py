"""Listing, preloaded metadata and what they cost in requests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils.timezone import is_aware, is_naive


def preload_keys(s3_client, bucket, keys, body=b"k"):
    """Put ``keys`` straight into the bucket (setup, not under test)."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3_client.put_object(Bucket=bucket, Key=k, Body=body), keys))


@pytest.fixture(scope="module")
def big_tree(s3_server):
    """A bucket with 2,000 files under static/ (nested) plus a few outside; made once."""
    name = f"test-bucket-bigtree-{id(s3_server) % 100000}"
    s3_server.create_bucket(name)
    client = s3_server.client()
    keys = [f"static/d{i % 4}/sub{i % 3}/f{i:04d}.txt" for i in range(1990)]
    keys += [f"static/top{i}.txt" for i in range(10)]
    keys += ["other/x.txt", "staticky.txt"]
    preload_keys(client, name, keys)
    return name, keys


def test_listdir_paginates_over_1000_keys_nested(make_storage, big_tree, s3_settings):
    name, keys = big_tree
    storage = make_storage(bucket_name=name, location="static")
    dirs, files = storage.listdir("")
    assert sorted(dirs) == ["d0", "d1", "d2", "d3"]
    assert sorted(files) == sorted(f"top{i}.txt" for i in range(10))
    dirs, files = storage.listdir("d1")
    assert sorted(dirs) == ["sub0", "sub1", "sub2"]
    assert files == []
    total = 0
    for d in ("d0", "d1", "d2", "d3"):
        for s in ("sub0", "sub1", "sub2"):
            sub_dirs, sub_files = storage.listdir(f"{d}/{s}/")
            assert sub_dirs == []
            total += len(sub_files)
    assert total == 1990
    # a single folder bigger than one page (1,000 keys)
    root = make_storage(bucket_name=name)
    assert sorted(root.listdir("")[0]) == ["other", "static"]
    assert root.listdir("")[1] == ["staticky.txt"]


def test_preloaded_exists_size_mtime_cost_one_list_per_1000_keys(make_storage, big_tree, counted):
    name, keys = big_tree
    storage = make_storage(bucket_name=name, location="static", preload_metadata=True)
    counter = counted(storage)
    inside = [k[len("static/") :] for k in keys if k.startswith("static/")]
    assert len(inside) == 2000
    for n in inside:
        assert storage.exists(n)
        assert storage.size(n) == 1
        assert is_aware(storage.get_modified_time(n))
    assert not storage.exists("missing.txt")
    assert not storage.exists("x/staticky.txt")
    assert counter.count == 2, counter.requests  # 2,000 keys = 2 pages
    assert all("list-type=2" in url for _, url in counter.requests)
    entries = storage.entries
    assert len(entries) == 2000 and counter.count == 2
    entry = entries["static/top0.txt"]
    assert entry["size"] == 1 and entry["etag"] and isinstance(entry["last_modified"], datetime)


def test_entries_without_preload_list_each_time(make_storage, storage, counted):
    storage.save("a.txt", ContentFile(b"aaa"))
    counter = counted(storage)
    assert set(storage.entries) == {"a.txt"}
    storage.save("b.txt", ContentFile(b"b"))
    assert set(storage.entries) == {"a.txt", "b.txt"}
    assert sum(1 for m, u in counter.requests if "list-type=2" in u) == 2


def test_preloaded_entries_follow_save_and_delete(make_storage, s3_client, bucket, counted):
    s3_client.put_object(Bucket=bucket, Key="m/old.txt", Body=b"old")
    storage = make_storage(location="m", preload_metadata=True)
    counter = counted(storage)
    assert storage.exists("old.txt")
    storage.save("new.txt", ContentFile(b"newer"))
    assert storage.exists("new.txt") and storage.size("new.txt") == 5
    before = datetime.now(UTC) - timedelta(seconds=5)
    assert storage.get_modified_time("new.txt") >= before
    storage.delete("old.txt")
    assert not storage.exists("old.txt")
    with pytest.raises(FileNotFoundError):
        storage.size("old.txt")
    lists = [u for _, u in counter.requests if "list-type=2" in u]
    assert len(lists) == 1  # the cache was kept, not reloaded
    # the cache agrees with a fresh listing
    fresh = storage.refresh_entries()
    assert set(fresh) == {"m/new.txt"}
    assert fresh["m/new.txt"]["size"] == 5


def test_preloaded_entries_thread_safe(make_storage):
    storage = make_storage(preload_metadata=True)
    assert storage.entries == {}
    errors = []

    def work(i):
        try:
            storage.save(f"t/{i}.txt", ContentFile(b"x" * i))
            assert storage.exists(f"t/{i}.txt")
            list(storage.entries.items())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 17)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert set(storage.refresh_entries()) == {f"t/{i}.txt" for i in range(1, 17)}


@pytest.mark.parametrize("preload", [False, True])
def test_get_modified_time_aware_or_naive_by_use_tz(make_storage, s3_settings, preload):
    storage = make_storage(preload_metadata=preload)
    storage.save("t.txt", ContentFile(b"t"))
    s3_settings.USE_TZ = True
    aware = storage.get_modified_time("t.txt")
    assert is_aware(aware)
    assert abs(aware - datetime.now(UTC)) < timedelta(minutes=5)
    s3_settings.USE_TZ = False
    s3_settings.TIME_ZONE = "America/Chicago"
    naive = storage.get_modified_time("t.txt")
    assert is_naive(naive)
    # naive local time = aware time converted to TIME_ZONE
    from zoneinfo import ZoneInfo

    assert naive == aware.astimezone(ZoneInfo("America/Chicago")).replace(tzinfo=None)
    assert is_naive(storage.modified_time("t.txt"))


def test_size_and_exists_without_preload_use_head(storage, counted):
    storage.save("h.txt", ContentFile(b"12345"))
    counter = counted(storage)
    assert storage.exists("h.txt") and storage.size("h.txt") == 5
    assert not storage.exists("nope.txt")
    assert [m for m, _ in counter.requests] == ["HEAD", "HEAD", "HEAD"]


def test_preloaded_listdir_answers_as_the_delimited_listing(make_storage, big_tree, counted):
    name, _ = big_tree
    listed = make_storage(bucket_name=name, location="static")
    preloaded = make_storage(bucket_name=name, location="static", preload_metadata=True)
    counter = counted(preloaded)
    for path in ("", "d1", "d1/sub2/", "top0.txt", "missing"):
        expected = listed.listdir(path)
        assert preloaded.listdir(path) == (sorted(expected[0]), sorted(expected[1])), path
    assert counter.count == 2  # the index: 2,000 keys, 2 pages, whatever is asked


def test_preloaded_index_follows_multipart_saves_and_streamed_writes(
    make_storage, s3_client, bucket, counted
):
    storage = make_storage(location="m", preload_metadata=True)
    counter = counted(storage)
    assert not storage.exists("big.bin")
    big = b"b" * (5 * 1024 * 1024 + 7)
    storage.save("big.bin", ContentFile(big))  # s3transfer, two parts
    with storage.open("streamed.bin", "wb") as handle:  # the file object, part by part
        for _ in range(3):
            handle.write(b"s" * (5 * 1024 * 1024))
    assert storage.size("big.bin") == len(big) and storage.size("streamed.bin") == 15 * 1024 * 1024
    assert sum(1 for _, url in counter.requests if "list-type=2" in url) == 1
    head = s3_client.head_object(Bucket=bucket, Key="m/big.bin")
    assert storage.entries["m/big.bin"]["etag"] == head["ETag"].strip('"')
    fresh = storage.refresh_entries()
    assert {k: v["size"] for k, v in fresh.items()} == {
        "m/big.bin": len(big),
        "m/streamed.bin": 15 * 1024 * 1024,
    }
