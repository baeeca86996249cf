"""``s3_check`` on the CloudFront distribution (moto's CloudFront over HTTP):
exists and enabled, the bucket is an origin, CreateInvalidation allowed,
url() through the custom domain reaches it; and the signing key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from contrib_awsstorage import diagnostics

from ..sync.cloudfront import cloudfront, create_distribution, invalidations
from .conftest import result


@pytest.fixture
def cf(s3_server):
    return cloudfront(s3_server.endpoint_url)


def _point_at(settings, s3_server, dist, domain):
    settings.AWS_CLOUDFRONT_DISTRIBUTION_ID = dist["Id"]
    settings.AWS_CLOUDFRONT_ENDPOINT_URL = s3_server.endpoint_url
    settings.AWS_S3_CUSTOM_DOMAIN = domain
    settings.STATIC_URL = f"https://{domain}/static/"


def cdn_lines(results):
    return {r.check: r for r in results if r.check.startswith("cdn") and r.target == "staticfiles"}


def test_a_working_distribution_is_all_ok(storages, s3_server, bucket, cf):
    dist = create_distribution(cf, bucket, aliases=["cdn.example.com"])
    _point_at(storages, s3_server, dist, "cdn.example.com")
    lines = cdn_lines(diagnostics.run(write=True))
    assert [lines[c].status for c in ("cdn", "cdn-origin", "cdn-invalidate", "cdn-url")] == [
        "OK"
    ] * 4, lines
    assert dist["Id"] in lines["cdn"].message
    assert invalidations(cf, dist["Id"]) == [[]]  # the probe batch: no path billed


def test_no_write_skips_the_invalidation_probe(storages, s3_server, bucket, cf):
    dist = create_distribution(cf, bucket)
    _point_at(storages, s3_server, dist, dist["DomainName"])
    lines = cdn_lines(diagnostics.run(write=False))
    assert lines["cdn-invalidate"].status == "SKIP" and lines["cdn-url"].status == "OK"
    assert invalidations(cf, dist["Id"]) == []


def test_missing_disabled_wrong_origin_and_wrong_domain(storages, s3_server, bucket, cf):
    storages.AWS_CLOUDFRONT_DISTRIBUTION_ID = "ENOSUCHDIST"
    storages.AWS_CLOUDFRONT_ENDPOINT_URL = s3_server.endpoint_url
    lines = cdn_lines(diagnostics.run(write=False))
    assert lines["cdn"].status == "FAIL" and "AWS_CLOUDFRONT_DISTRIBUTION_ID" in lines["cdn"].fix
    assert lines["cdn-origin"].status == "SKIP"

    other = create_distribution(cf, "some-other-bucket", enabled=False)
    _point_at(storages, s3_server, other, "cdn.elsewhere.example")
    lines = cdn_lines(diagnostics.run(write=False))
    assert lines["cdn"].status == "FAIL" and "disabled" in lines["cdn"].message
    assert lines["cdn-origin"].status == "FAIL" and bucket in lines["cdn-origin"].message
    assert lines["cdn-url"].status == "FAIL" and "cdn.elsewhere.example" in lines["cdn-url"].message


def test_an_origin_path_that_misses_the_keys(storages, s3_server, bucket, cf):
    dist = create_distribution(cf, bucket, origin_path="/static")
    _point_at(
        storages, s3_server, dist, dist["DomainName"]
    )  # url(): /static/x -> key static/static/x
    lines = cdn_lines(diagnostics.run(write=False))
    assert lines["cdn-origin"].status == "OK"
    assert lines["cdn-url"].status == "FAIL" and "static/static/" in lines["cdn-url"].message


def test_signing_key_line_never_shows_the_key(storages, s3_server, bucket, cf):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    storages.AWS_CLOUDFRONT_KEY_ID = "K2JCJMDEHXQW5F"
    storages.AWS_CLOUDFRONT_KEY = pem
    results = diagnostics.run(write=False)
    assert result(results, "cdn-signing").status == "OK"
    storages.AWS_CLOUDFRONT_KEY = pem[:200]
    results = diagnostics.run(write=False)
    line = result(results, "cdn-signing")
    assert line.status == "FAIL" and "AWS_CLOUDFRONT_KEY" in line.message
    body = "".join(pem.splitlines()[1:3])
    assert all(body[:30] not in r.message + r.fix for r in results)
