"""s3urls and storage.url(): unsigned URLs are string work; presigned URLs work over plain HTTP."""

from __future__ import annotations

import itertools
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from django.core.files.base import ContentFile

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage, S3StaticStorage
from contrib_awsstorage.s3.urls import (
    custom_domain_url,
    object_url,
    strip_signing_parameters,
    unsigned_bucket_url,
)


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


class SignerSpy:
    """Counts botocore signing events on a client (a real event hook, not a mock)."""

    def __init__(self, client):
        self.calls = 0
        client.meta.events.register("before-sign.s3", self)
        client.meta.events.register("choose-signer.s3", self)

    def __call__(self, **kwargs):
        self.calls += 1


def test_custom_domain_urls_keep_slashes_and_encode(make_storage):
    storage = make_storage(custom_domain="example.com")
    assert storage.url("") == "https://example.com/"
    assert storage.url("path") == "https://example.com/path"
    assert storage.url("path/") == "https://example.com/path/"
    assert storage.url("path/1/") == "https://example.com/path/1/"
    assert urlsplit(storage.url("whacky & filename.mp4")).path == "/whacky%20%26%20filename.mp4"
    assert urlsplit(storage.url("ãlöhâ.jpg")).path == "/%C3%A3l%C3%B6h%C3%A2.jpg"
    assert storage.url("a.css", parameters={"v": "2"}) == "https://example.com/a.css?v=2"
    loc = make_storage(custom_domain="cdn.example.com", location="static", secure_urls=False)
    assert loc.url("/js/app.js") == "http://cdn.example.com/static/js/app.js"
    explicit = make_storage(custom_domain="cdn.example.com", url_protocol="http:")
    assert explicit.url("x") == "http://cdn.example.com/x"


def test_attribute_changes_after_creation_are_honoured(make_storage):
    storage = make_storage(custom_domain="one.example.com")
    assert storage.url("a") == "https://one.example.com/a"
    storage.custom_domain = "two.example.com"
    assert storage.url("a") == "https://two.example.com/a"


@pytest.mark.parametrize(
    "options", [{"custom_domain": "cdn.example.com"}, {"querystring_auth": False}]
)
def test_unsigned_url_sends_nothing_and_signs_nothing(make_storage, counted, options):
    storage = make_storage(**options)
    for i in range(200):
        storage.url(f"css/file{i}.css")
    assert storage._client is None  # not even a client was created
    counter = counted(storage)  # now create it, and watch it
    spy = SignerSpy(storage.connection)
    urls = [storage.url(f"js/{i}.js") for i in range(200)]
    assert counter.count == 0 and spy.calls == 0
    assert all("X-Amz" not in u and "Signature" not in u for u in urls)
    # the spy does see real signing, so the zero above means something
    storage.connection.list_objects_v2(Bucket=storage.bucket_name)
    assert spy.calls > 0 and counter.count == 1


def test_static_storage_url_is_fetchable_without_credentials(s3_settings, s3_server, bucket):
    s3_server.create_bucket(bucket, public_read=True)
    storage = S3StaticStorage()
    storage.save("css/site.css", ContentFile(b"body{}"))
    url = storage.url("css/site.css")
    assert url == f"{s3_server.endpoint_url}/{bucket}/css/site.css"
    assert fetch(url) == (200, b"body{}")


def test_presigned_url_works_with_plain_http_client(make_storage, bucket, s3_server):
    storage = make_storage(querystring_expire=120)
    storage.save("private/report.txt", ContentFile(b"secret report"))
    url = storage.url("private/report.txt")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["120"]
    assert "X-Amz-Signature" in query
    assert fetch(url) == (200, b"secret report")
    # the same object without the signature is refused by the server
    with pytest.raises(urllib.error.HTTPError):
        fetch(f"{s3_server.endpoint_url}/{bucket}/private/report.txt")
    short = parse_qs(urlsplit(storage.url("private/report.txt", expire=10)).query)
    assert short["X-Amz-Expires"] == ["10"]


def test_presigned_url_with_response_parameters(make_storage):
    storage = make_storage()
    storage.save("dl.bin", ContentFile(b"data"))
    url = storage.url(
        "dl.bin", parameters={"ResponseContentDisposition": "attachment; filename=x.bin"}
    )
    assert "response-content-disposition=" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"data"
        assert response.headers["Content-Disposition"] == "attachment; filename=x.bin"


ENDPOINTS = [
    None,
    "http://127.0.0.1:9000",
    "http://localhost:9000",
    "https://minio.example.com",
    "http://minio.example.com",
    "https://nyc3.digitaloceanspaces.com/base",
]


@pytest.mark.parametrize(
    "endpoint, style, bucket_name, region, use_ssl",
    [
        combo
        for combo in itertools.product(
            ENDPOINTS,
            [None, "path", "virtual"],
            ["mybucket", "my.bucket"],
            ["us-east-1", "eu-west-1", None],
            [True, False],
        )
        # use_ssl only matters without an endpoint (the endpoint's scheme wins)
        if not (combo[0] is not None and combo[4] is False)
    ],
)
def test_unsigned_urls_match_botocore_addressing(endpoint, style, bucket_name, region, use_ssl):
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region or "us-east-1",
        use_ssl=use_ssl,
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": style} if style else {}),
    )
    expected = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket_name, "Key": "a b/c.css"}
    )
    ours = unsigned_bucket_url(bucket_name, endpoint, region, style, use_ssl) + "a%20b/c.css"
    assert ours == expected


def test_custom_domain_and_object_url_are_string_work():
    assert custom_domain_url("https:", "cdn.example.com/") == "https://cdn.example.com/"
    assert custom_domain_url("http:", "/cdn.example.com") == "http://cdn.example.com/"
    assert (
        object_url("https://cdn.example.com/", "a b/ã.css")
        == "https://cdn.example.com/a%20b/%C3%A3.css"
    )
    assert (
        object_url("https://cdn.example.com/", "a.css", {"v": "2"})
        == "https://cdn.example.com/a.css?v=2"
    )
    assert object_url("https://cdn.example.com/", "a.css", {}) == "https://cdn.example.com/a.css"


@pytest.mark.parametrize(
    "signing",
    [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20250101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=abc"
        "&X-Amz-Security-Token=tok",
        "AWSAccessKeyId=AKIA&Expires=1700000000&Signature=abc",
    ],
)
def test_strip_signing_parameters_keeps_the_rest(signing):
    url = f"https://b.s3.amazonaws.com/k.txt?v=2&{signing}&x-id=GetObject"
    assert strip_signing_parameters(url) == "https://b.s3.amazonaws.com/k.txt?v=2&x-id=GetObject"
    assert (
        strip_signing_parameters("https://b.s3.amazonaws.com/k.txt")
        == "https://b.s3.amazonaws.com/k.txt"
    )


def test_storage_strip_signing_parameters_of_a_presigned_url(make_storage, s3_server, bucket):
    storage = make_storage(location="media")
    url = storage.url("a.txt", parameters={"ResponseContentType": "text/plain"})
    assert "X-Amz-Signature" in url
    assert strip_signing_parameters(url) == (
        f"{s3_server.endpoint_url}/{bucket}/media/a.txt?response-content-type=text/plain"
    )


def test_unsigned_url_of_storage_uses_endpoint(make_storage, s3_server, bucket):
    storage = make_storage(querystring_auth=False, location="static")
    assert storage.url("a/b.css") == f"{s3_server.endpoint_url}/{bucket}/static/a/b.css"
    aws = S3Boto3Storage(
        bucket_name="game-assets",
        endpoint_url=None,
        region_name="eu-west-1",
        querystring_auth=False,
        addressing_style=None,
    )
    aws.endpoint_url = None
    assert aws.url("x.js") == "https://game-assets.s3.amazonaws.com/x.js"


def test_url_without_bucket_name_explains(settings):
    settings.AWS_STORAGE_BUCKET_NAME = None
    storage = S3StaticStorage()
    with pytest.raises(Exception) as err:
        storage.url("a.css")
    assert "AWS_STORAGE_BUCKET_NAME" in str(err.value)
    # a custom domain does not need the bucket name to build URLs
    assert (
        S3StaticStorage(custom_domain="cdn.example.com").url("a.css")
        == "https://cdn.example.com/a.css"
    )


def sigv4_query_signature(url: str, secret: str) -> str:
    """Recompute a presigned URL's SigV4 signature from the AWS spec (moto
    does not check signatures, so this is the independent check)."""
    import hashlib
    import hmac
    from urllib.parse import parse_qsl, quote

    parts = urlsplit(url)
    params = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "X-Amz-Signature"
    ]
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params)
    )
    canonical = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    query = dict(params)
    date, region, service = query["X-Amz-Credential"].split("/")[1:4]
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            query["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_presigned_signature_is_valid_sigv4_for_the_configured_region(make_storage, region):
    secret = "test-secret-for-signature-check"
    storage = make_storage(
        access_key="AKIASIGNATURECHECK01", secret_key=secret, region_name=region, location="media"
    )
    url = storage.url("dir/ãl ö+x.txt")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Credential"][0].split("/")[2] == region
    assert query["X-Amz-Signature"][0] == sigv4_query_signature(url, secret)
    assert query["X-Amz-Signature"][0] != sigv4_query_signature(url, secret + "x")
