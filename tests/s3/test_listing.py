"""s3listing: the fast ListObjectsV2 page reader, against the real S3 wire server."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from contrib_awsstorage.s3.listing import list_page, parse_contents

# Keys that URL encoding and XML escaping both have to get right.
AWKWARD = [
    "plain.css",
    "with space.js",
    "plus+sign.svg",
    "amp&lt.txt",
    "quote\"'.txt",
    "ünïcödé/ﬁle.png",
    "percent%41.txt",
    "tab\tkey.txt",
    "a/b/c/deep.woff2",
]


@pytest.fixture
def filled(s3_client, bucket):
    for i, name in enumerate(AWKWARD):
        s3_client.put_object(Bucket=bucket, Key=f"p/{name}", Body=b"x" * (i + 1))
    return bucket


def test_a_page_reads_like_botocores_own_parse(s3_client, filled):
    entries, response = list_page(s3_client, Bucket=filled, Prefix="p/")
    expected = [
        (o["Key"], o["Size"], o["ETag"].strip('"'))
        for o in s3_client.list_objects_v2(Bucket=filled, Prefix="p/")["Contents"]
    ]
    assert sorted(entries) == sorted(expected)
    assert {e[0] for e in entries} == {f"p/{n}" for n in AWKWARD}
    assert "Contents" not in response and response["IsTruncated"] is False


def test_pagination_fields_survive(s3_client, filled):
    seen, params = [], {"Bucket": filled, "Prefix": "p/", "MaxKeys": 4}
    while True:
        entries, response = list_page(s3_client, **params)
        assert len(entries) <= 4
        seen += [key for key, _, _ in entries]
        if not response["IsTruncated"]:
            break
        params["ContinuationToken"] = response["NextContinuationToken"]
    assert sorted(seen) == sorted(f"p/{n}" for n in AWKWARD) and len(seen) == len(AWKWARD)


def test_other_callers_of_the_shared_client_still_get_contents(s3_client, filled):
    list_page(s3_client, Bucket=filled, Prefix="p/")
    response = s3_client.list_objects_v2(Bucket=filled, Prefix="p/")
    assert len(response["Contents"]) == len(AWKWARD)
    assert all(isinstance(o["LastModified"], object) and "Key" in o for o in response["Contents"])


def test_errors_are_botocores(s3_client):
    with pytest.raises(ClientError) as caught:
        list_page(s3_client, Bucket="no-such-bucket-for-listing")
    assert caught.value.response["Error"]["Code"] == "NoSuchBucket"


def test_parse_contents_without_namespace_or_encoding():
    body = (
        b"<ListBucketResult><Contents><Key>a%20b</Key><Size>3</Size><ETag>&quot;e1&quot;</ETag>"
        b"</Contents></ListBucketResult>"
    )
    assert parse_contents(body) == [("a%20b", 3, "e1")]  # no EncodingType: taken as it is


def test_an_explicit_encoding_type_is_left_to_the_caller(s3_client, filled):
    entries, _ = list_page(s3_client, Bucket=filled, Prefix="p/", EncodingType="url")
    raw = s3_client.list_objects_v2(Bucket=filled, Prefix="p/", EncodingType="url")["Contents"]
    assert sorted(k for k, _, _ in entries) == sorted(o["Key"] for o in raw)
    assert "p/with%20space.js" in {k for k, _, _ in entries}  # as botocore: not decoded


def page(ns: str = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', prefix: str = "") -> bytes:
    p = f"{prefix}:" if prefix else ""
    return (
        f"<{p}ListBucketResult {ns}><{p}IsTruncated>false</{p}IsTruncated>"
        f'<{p}Contents><{p}Key>k1</{p}Key><{p}ETag>"e1"</{p}ETag><{p}Size>1</{p}Size></{p}Contents>'
        f'<{p}Contents><{p}Key>k2</{p}Key><{p}ETag>"e2"</{p}ETag><{p}Size>2</{p}Size></{p}Contents>'
        f"</{p}ListBucketResult>"
    ).encode()


def run_hook(body: bytes, times: int = 1):
    from contrib_awsstorage.s3 import listing as s3listing

    response, custom = {"status_code": 200, "body": body}, {}
    s3listing._active.mode = "decode"
    try:
        for _ in range(times):
            s3listing._before_parse(response_dict=response, customized_response_dict=custom)
    finally:
        s3listing._active.mode = None
    return response["body"], custom.get(s3listing._RESULT_KEY)


def test_the_hook_reads_any_namespace_and_is_idempotent():
    want = [("k1", 1, "e1"), ("k2", 2, "e2")]
    for ns in (
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"',
        'xmlns="http://doc.s3.example/2006"',
        "",
    ):
        body, entries = run_hook(page(ns), times=2)  # a second run must not wipe the first
        assert entries == want and b"Contents" not in body


def test_a_page_shape_it_does_not_know_is_left_to_botocore():
    original = page('xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"', prefix="s3")
    body, entries = run_hook(original)
    assert entries is None and body == original


def test_concurrent_first_calls_register_the_hook_once(make_storage, filled):
    """botocore's register() is not atomic: a double registration would run
    the hook twice per page (the ranged listing starts 8 threads at once)."""
    from concurrent.futures import ThreadPoolExecutor

    from contrib_awsstorage.s3.listing import _before_parse

    client = make_storage().connection  # a fresh client: nothing registered yet
    with ThreadPoolExecutor(16) as pool:
        pages = list(
            pool.map(lambda _: list_page(client, Bucket=filled, Prefix="p/")[0], range(32))
        )
    assert all(len(entries) == len(AWKWARD) for entries in pages)
    handlers = list(
        client.meta.events._emitter._handlers.prefix_search("before-parse.s3.ListObjectsV2")
    )
    assert handlers.count(_before_parse) == 1
