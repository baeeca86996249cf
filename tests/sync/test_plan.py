"""The pure planning rules (no network): checksum decisions and local walking."""

from __future__ import annotations

import hashlib
import os

from hypothesis import given
from hypothesis import strategies as st

from contrib_awsstorage.sync.plan import (
    UNCHANGED,
    UPLOAD,
    VERIFY,
    Remote,
    StateEntry,
    body_etag,
    decide,
    walk_tree,
)

md5s = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
etags = st.one_of(md5s, st.builds(lambda m, n: f"{m}-{n}", md5s, st.integers(2, 50)))


@given(md5=md5s, etag=etags, size=st.integers(0, 10**9), other=md5s)
def test_trusted_entry_decides_by_source_checksum(md5, etag, size, other):
    remote = Remote("k", size, etag)
    assert decide(md5, remote, StateEntry(md5, etag, size), force=False)[0] == UNCHANGED
    if other != md5:
        assert decide(md5, remote, StateEntry(other, etag, size), force=False)[0] == UPLOAD


@given(md5=md5s, etag=etags, other_etag=etags, size=st.integers(0, 10**9))
def test_entry_not_matching_the_listing_is_not_trusted(md5, etag, other_etag, size):
    if other_etag != etag:
        remote = Remote("k", size, other_etag)
        assert decide(md5, remote, StateEntry(md5, etag, size), force=False)[0] == VERIFY
    assert (
        decide(md5, Remote("k", size + 1, etag), StateEntry(md5, etag, size), force=False)[0]
        == VERIFY
    )


@given(md5=md5s, etag=etags)
def test_missing_or_forced_means_upload(md5, etag):
    assert decide(md5, None, None, force=False) == (UPLOAD, "new")
    assert decide(md5, Remote("k", 1, etag), StateEntry(md5, etag, 1), force=True)[0] == UPLOAD


@given(body=st.binary(max_size=4096), chunk=st.integers(64, 1024))
def test_body_etag_single_and_small_parts(body, chunk):
    assert body_etag(body, len(body) + 1, chunk) == hashlib.md5(body).hexdigest()
    if len(body) >= chunk:
        # s3transfer never sends parts under 5 MiB: one part, and the prediction follows it.
        one_part = hashlib.md5(hashlib.md5(body).digest()).hexdigest() + "-1"
        assert body_etag(body, chunk, chunk) == one_part


def test_body_etag_multipart_form():
    part = 5 * 1024 * 1024
    body = bytes(range(256)) * (2 * part // 256 + 1000)  # two full parts and a tail
    digest, parts = body_etag(body, part, part).split("-")
    assert int(parts) == 3
    joined = b"".join(hashlib.md5(body[i : i + part]).digest() for i in range(0, len(body), part))
    assert digest == hashlib.md5(joined).hexdigest()


def test_walk_tree_names_and_state_folder(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.css").write_text("c")
    (tmp_path / "top.js").write_text("t")
    (tmp_path / ".contrib_awsstorage").mkdir()
    (tmp_path / ".contrib_awsstorage" / "x.json").write_text("{}")
    os.symlink(tmp_path / "top.js", tmp_path / "link.js")
    assert sorted(walk_tree(str(tmp_path))) == ["a/b/c.css", "link.js", "top.js"]


@given(count=st.integers(0, 40), page=st.integers(1, 12))
def test_ranged_listing_bounds_cover_everything(count, page):
    """Range bounds are increasing expected keys, whatever the sizes (no network:
    a fake ``list_objects_v2`` over a sorted key list)."""
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from contrib_awsstorage.sync.plan import list_remote

    keys = sorted(f"p/{i:03d}" for i in range(count * 2))

    def list_objects_v2(Bucket, Prefix, MaxKeys, StartAfter=None, ContinuationToken=None):
        start = (
            int(ContinuationToken)
            if ContinuationToken
            else (sum(1 for k in keys if k <= StartAfter) if StartAfter else 0)
        )
        chunk = keys[start : start + MaxKeys]
        more = start + MaxKeys < len(keys)
        return {
            "Contents": [{"Key": k, "Size": 1, "ETag": '"e"'} for k in chunk],
            "IsTruncated": more,
            "NextContinuationToken": str(start + MaxKeys),
        }

    events = SimpleNamespace(register=lambda *args, **kwargs: None)  # no botocore: no parse hook
    client = SimpleNamespace(list_objects_v2=list_objects_v2, meta=SimpleNamespace(events=events))
    dest = SimpleNamespace(bucket="b", client=client, prefix="p/")
    with ThreadPoolExecutor(8) as pool:
        listed = list_remote(dest, keys[::2], pool, page=page)
    assert sorted(listed) == keys
