"""s3listing: the fast ListObjectsV2 page reader, against the real S3 wire server."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from contrib_awsstorage.s3listing import list_page, parse_contents

# Keys that URL encoding and XML escaping both have to get right.
AWKWARD = ["plain.css", "with space.js", "plus+sign.svg", "amp&lt.txt", "quote\"'.txt",
           "ünïcödé/ﬁle.png", "percent%41.txt", "tab\tkey.txt", "a/b/c/deep.woff2"]


@pytest.fixture
def filled(s3_client, bucket):
    for i, name in enumerate(AWKWARD):
        s3_client.put_object(Bucket=bucket, Key=f"p/{name}", Body=b"x" * (i + 1))
    return bucket


def test_a_page_reads_like_botocores_own_parse(s3_client, filled):
    entries, response = list_page(s3_client, Bucket=filled, Prefix="p/")
    expected = [(o["Key"], o["Size"], o["ETag"].strip('"'))
                for o in s3_client.list_objects_v2(Bucket=filled, Prefix="p/")["Contents"]]
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
    body = (b"<ListBucketResult><Contents><Key>a%20b</Key><Size>3</Size><ETag>&quot;e1&quot;</ETag>"
            b"</Contents></ListBucketResult>")
    assert parse_contents(body) == [("a%20b", 3, "e1")]  # no EncodingType: taken as it is
