"""The harness itself: a real S3 server on loopback, fresh buckets."""

import urllib.request

import pytest

from contrib_awsstorage.embedded_s3 import EmbeddedS3


def test_server_speaks_s3_over_http(s3_server, s3_client, bucket):
    assert s3_server.endpoint_url.startswith("http://127.0.0.1:")
    s3_client.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    assert s3_client.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"hello"


def test_each_test_gets_a_fresh_bucket(s3_client, bucket):
    assert s3_client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_public_bucket_is_fetchable_with_plain_http(s3_server):
    s3_server.create_bucket("harness-public", public_read=True)
    s3_server.client().put_object(Bucket="harness-public", Key="x.css", Body=b"body{}", ContentType="text/css")
    with urllib.request.urlopen(f"{s3_server.endpoint_url}/harness-public/x.css") as resp:
        assert resp.status == 200
        assert resp.read() == b"body{}"


def test_request_counter_counts_real_requests(s3_client, bucket, request_counter):
    request_counter.attach(s3_client)
    s3_client.head_bucket(Bucket=bucket)
    s3_client.list_objects_v2(Bucket=bucket)
    assert request_counter.count == 2


def test_embedded_server_refuses_non_loopback_host():
    with pytest.raises(ValueError, match="loopback"):
        EmbeddedS3("10.0.0.1", 0)
