"""CloudFront signed URLs for private media behind custom_domain: the
signature and the canned policy verified with the public key, the expiry,
tampering, and bad keys (ImproperlyConfigured naming the setting, never the key)."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from django.core.exceptions import ImproperlyConfigured

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage, S3StaticStorage

KEY_ID = "K2JCJMDEHXQW5F"


@pytest.fixture(scope="module")
def private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _unb64(text: str) -> bytes:
    # CloudFront's URL-safe base64: '+' -> '-', '=' -> '_', '/' -> '~'
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def verify(url: str, public_key) -> int:
    """Check ``url`` as CloudFront does (canned policy); return its expiry."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    assert query["Key-Pair-Id"] == KEY_ID
    expires = int(query["Expires"])
    rest = [
        (k, v)
        for k, v in parse_qsl(parts.query)
        if k not in ("Expires", "Signature", "Key-Pair-Id")
    ]
    resource = urlunsplit(parts._replace(query=urlencode(rest)))
    policy = json.dumps(
        {
            "Statement": [
                {"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
            ]
        },
        separators=(",", ":"),
    ).encode()
    public_key.verify(_unb64(query["Signature"]), policy, padding.PKCS1v15(), hashes.SHA1())
    return expires


def test_private_storage_behind_cdn_hands_out_signed_urls(s3_settings, private_key, pem):
    storage = S3Boto3Storage(
        custom_domain="cdn.example.com",
        cloudfront_key_id=KEY_ID,
        cloudfront_key=pem,
        querystring_expire=600,
        location="media",
    )
    url = storage.url("avatars/a b.png")
    assert url.startswith("https://cdn.example.com/media/avatars/a%20b.png?Expires=")
    expires = verify(url, private_key.public_key())
    assert abs(expires - (time.time() + 600)) <= 2
    # expire= overrides querystring_expire, as for S3 presigned URLs
    assert (
        abs(verify(storage.url("x.png", expire=30), private_key.public_key()) - (time.time() + 30))
        <= 2
    )


def test_a_tampered_url_fails_verification(s3_settings, private_key, pem):
    storage = S3Boto3Storage(
        custom_domain="cdn.example.com", cloudfront_key_id=KEY_ID, cloudfront_key=pem
    )
    url = storage.url("secret/report.pdf")
    for tampered in (
        url.replace("report.pdf", "other.pdf"),
        url.replace("Expires=", "Expires=9"),
        url.replace("Signature=", "Signature=AAAA"),
    ):
        with pytest.raises((InvalidSignature, ValueError)):
            verify(tampered, private_key.public_key())


def test_the_key_may_be_a_path(s3_settings, private_key, pem, tmp_path):
    path = tmp_path / "cf.pem"
    path.write_text(pem)
    s3_settings.AWS_CLOUDFRONT_KEY_ID = KEY_ID
    s3_settings.AWS_CLOUDFRONT_KEY = str(path)
    storage = S3Boto3Storage(custom_domain="cdn.example.com")
    verify(storage.url("a.txt"), private_key.public_key())


def test_public_static_urls_stay_plain(s3_settings, pem):
    storage = S3StaticStorage(
        custom_domain="cdn.example.com", cloudfront_key_id=KEY_ID, cloudfront_key=pem
    )
    assert storage.url("css/site.css") == "https://cdn.example.com/css/site.css"


@pytest.mark.parametrize(
    "bad",
    [
        "not a key at all",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "/no/such/file.pem",
    ],
)
def test_a_bad_key_names_the_setting_and_never_shows_the_key(s3_settings, bad):
    s3_settings.AWS_CLOUDFRONT_KEY_ID = KEY_ID
    s3_settings.AWS_CLOUDFRONT_KEY = bad
    storage = S3Boto3Storage(custom_domain="cdn.example.com")
    with pytest.raises(ImproperlyConfigured) as info:
        storage.url("a.txt")
    message = str(info.value)
    assert "AWS_CLOUDFRONT_KEY" in message and "Fix:" in message
    assert bad not in message and "AAAA" not in message
    assert bad not in repr(storage)


def test_a_non_rsa_key_is_refused_without_showing_it(s3_settings):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    storage = S3Boto3Storage(
        custom_domain="cdn.example.com", cloudfront_key_id=KEY_ID, cloudfront_key=pem
    )
    with pytest.raises(ImproperlyConfigured) as info:
        storage.url("a.txt")
    assert "RSA" in str(info.value) and "STORAGES OPTIONS 'cloudfront_key'" in str(info.value)
    body = "".join(pem.splitlines()[1:-1])
    assert body[:40] not in str(info.value)


def test_key_id_without_key_names_the_missing_setting(s3_settings):
    storage = S3Boto3Storage(custom_domain="cdn.example.com", cloudfront_key_id=KEY_ID)
    with pytest.raises(ImproperlyConfigured, match="AWS_CLOUDFRONT_KEY "):
        storage.url("a.txt")


def test_the_key_is_left_out_of_migrations(s3_settings, pem):
    storage = S3Boto3Storage(
        custom_domain="cdn.example.com", cloudfront_key_id=KEY_ID, cloudfront_key=pem
    )
    _path, _args, kwargs = storage.deconstruct()
    assert "cloudfront_key" not in kwargs and kwargs["cloudfront_key_id"] == KEY_ID
