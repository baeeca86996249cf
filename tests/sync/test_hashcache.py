"""hashcache: local checksums remembered by stat, never trusted when they could be wrong."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from contrib_awsstorage.sync import hashcache
from contrib_awsstorage.sync.hashcache import LocalHashes


@pytest.fixture
def not_racy(monkeypatch):
    """Files written by the test count as settled (they are milliseconds old)."""
    monkeypatch.setattr(hashcache, "RACY_SECONDS", -3600.0)


def write(path, data: bytes) -> str:
    with open(path, "wb") as handle:
        handle.write(data)
    return str(path)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_unchanged_files_are_not_read_again(tmp_path, not_racy):
    cache = str(tmp_path / "cache" / "h.json")
    files = [write(tmp_path / f"f{i}.css", b"body %d" % i) for i in range(5)]
    first = LocalHashes(cache)
    assert [first.md5(p) for p in files] == [md5(b"body %d" % i) for i in range(5)]
    first.save()
    second = LocalHashes(cache)
    assert [second.md5(p) for p in files] == [md5(b"body %d" % i) for i in range(5)]
    assert (second.hits, second.misses) == (5, 0)


def test_a_change_with_the_old_mtime_put_back_is_still_seen(tmp_path, not_racy):
    cache = str(tmp_path / "h.json")
    path = write(tmp_path / "a.js", b"old!")
    stat = os.stat(path)
    hashes = LocalHashes(cache)
    hashes.md5(path)
    hashes.save()
    write(path, b"new!")  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = LocalHashes(cache)
    assert again.md5(path) == md5(b"new!") and again.misses == 1


def test_racily_clean_files_are_not_remembered(tmp_path):
    cache = str(tmp_path / "h.json")
    path = write(tmp_path / "fresh.css", b"just written")
    hashes = LocalHashes(cache)
    assert hashes.md5(path) == md5(b"just written")
    hashes.save()
    assert not os.path.exists(cache) or json.load(open(cache))["entries"] == {}
    assert LocalHashes(cache).md5(path) == md5(b"just written")


def test_a_damaged_cache_is_ignored(tmp_path, not_racy):
    cache = tmp_path / "h.json"
    path = write(tmp_path / "a.css", b"abc")
    entry = lambda value: json.dumps({"version": 1, "entries": {path: value}})  # noqa: E731
    for damage in (
        "{not json",
        '{"version": 1, "entries": []}',
        '["list"]',
        "",
        entry(5),
        entry({}),
        entry([1, 2]),
        entry(None),
    ):
        cache.write_text(damage)
        hashes = LocalHashes(str(cache))
        assert hashes.md5(path) == md5(b"abc") and hashes.misses == 1


def test_forged_entries_for_another_file_state_are_not_used(tmp_path, not_racy):
    cache = tmp_path / "h.json"
    path = write(tmp_path / "a.css", b"abc")
    st = os.stat(path)
    wrong = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino + 1, st.st_dev, "0" * 32]
    cache.write_text(json.dumps({"version": 1, "entries": {path: wrong}}))
    assert LocalHashes(str(cache)).md5(path) == md5(b"abc")


def test_an_unwritable_cache_folder_costs_only_the_hashing(tmp_path, not_racy):
    blocker = write(tmp_path / "a-file", b"")
    hashes = LocalHashes(os.path.join(blocker, "sub", "h.json"))  # parent is a file
    path = write(tmp_path / "a.css", b"abc")
    assert hashes.md5(path) == md5(b"abc")
    hashes.save()  # no exception


def test_save_writes_only_when_something_changed_and_drops_gone_files(tmp_path, not_racy):
    cache = str(tmp_path / "h.json")
    keep, gone = write(tmp_path / "keep.css", b"k"), write(tmp_path / "gone.css", b"g")
    hashes = LocalHashes(cache)
    hashes.md5(keep), hashes.md5(gone)
    hashes.save()
    before = os.stat(cache).st_mtime_ns
    same = LocalHashes(cache)
    same.md5(keep), same.md5(gone)
    same.save()
    assert os.stat(cache).st_mtime_ns == before
    fewer = LocalHashes(cache)
    fewer.md5(keep)
    fewer.save()
    assert set(json.load(open(cache))["entries"]) == {keep}


def test_disabled_cache_hashes_every_time(tmp_path, not_racy):
    path = write(tmp_path / "a.css", b"abc")
    hashes = LocalHashes(None)
    hashes.md5(path), hashes.md5(path)
    hashes.save()
    assert (hashes.hits, hashes.misses) == (0, 2)
