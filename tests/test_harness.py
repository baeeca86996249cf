"""The harness itself: a real S3 server on loopback, fresh buckets."""

import urllib.error
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
    s3_server.client().put_object(
        Bucket="harness-public", Key="x.css", Body=b"body{}", ContentType="text/css"
    )
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


def _http(method: str, url: str, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}


def test_bucket_cors_rule_answers_only_the_games_origin(s3_server):
    """Like real S3, the bucket's CORS rule (the README's) decides which
    origins a browser may read from: the game's yes, any other no."""
    game, other = "http://127.0.0.1:4101", "http://elsewhere.example"
    s3_server.create_bucket("harness-cors", public_read=True)
    s3_server.allow_browser_origins("harness-cors", [game])
    s3_server.client().put_object(Bucket="harness-cors", Key="static/font.woff", Body=b"wOFF")
    url = f"{s3_server.endpoint_url}/harness-cors/static/font.woff"

    status, headers = _http("GET", url, {"Origin": game})
    assert status == 200 and headers.get("access-control-allow-origin") == game, headers
    status, headers = _http("GET", url, {"Origin": other})
    assert status == 200 and "access-control-allow-origin" not in headers, headers

    # A preflight (Fetch standard, CORS protocol) is answered from
    # the rule too. moto authorizes an anonymous preflight on an object like
    # a read of a private object (403), where S3 does not; the webclient's
    # CORS fetches are simple GETs that need none, so ask at the bucket URL.
    bucket_url = f"{s3_server.endpoint_url}/harness-cors"
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"}
    status, headers = _http("OPTIONS", bucket_url, {"Origin": game, **preflight})
    assert status == 200 and headers.get("access-control-allow-origin") == game, headers
    assert headers.get("access-control-allow-methods") == "GET, HEAD", headers
    status, headers = _http("OPTIONS", bucket_url, {"Origin": other, **preflight})
    assert status == 403 and "access-control-allow-origin" not in headers, (status, headers)
