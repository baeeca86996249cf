"""save/open/delete over HTTP against the S3 server (the file object itself: test_s3file)."""

from __future__ import annotations

import gzip
import hashlib

import pytest
from django.core.exceptions import SuspiciousOperation
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from contrib_awsstorage.aws_s3_cdn import SOURCE_MD5_METADATA_KEY, S3Boto3Storage, gzip_bytes

MIB = 1024 * 1024


def head(s3_client, bucket, key):
    return s3_client.head_object(Bucket=bucket, Key=key)


def body(s3_client, bucket, key):
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_save_and_open_round_trip_with_location(make_storage, s3_client, bucket):
    storage = make_storage(location="media")
    data = "héllo wörld\n".encode()
    name = storage.save("docs/a.txt", ContentFile(data))
    assert name == "docs/a.txt"
    assert body(s3_client, bucket, "media/docs/a.txt") == data
    with storage.open(name, "rb") as f:
        assert f.read() == data
        assert f.size == len(data)
    with storage.open(name, "r") as f:
        assert f.read() == "héllo wörld\n"
    with storage.open(name) as f:
        assert f.readline() == data


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.css", "text/css; charset=utf-8"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("a.png", "image/png"),
        ("a.svg", "image/svg+xml"),
        ("archive.tar.gz", "application/gzip"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_content_type_is_guessed_with_charset_for_text(storage, s3_client, bucket, name, expected):
    storage.save(name, ContentFile(b"x"))
    response = head(s3_client, bucket, name)
    assert response["ContentType"] == expected
    assert "ContentEncoding" not in response


def test_uploaded_file_content_type_is_used(storage, s3_client, bucket):
    storage.save(
        "upload.bin", SimpleUploadedFile("upload.bin", b"{}", content_type="application/json")
    )
    assert head(s3_client, bucket, "upload.bin")["ContentType"] == "application/json"


def test_gz_file_round_trips_unchanged(storage):
    packed = gzip.compress(b"inner")
    storage.save("data.tar.gz", ContentFile(packed))
    with storage.open("data.tar.gz") as f:
        assert f.read() == packed


def test_object_parameters_and_source_md5(make_storage, s3_client, bucket):
    storage = make_storage(
        object_parameters={"CacheControl": "max-age=86400", "Metadata": {"team": "web"}}
    )
    data = b"payload" * 100
    storage.save("p.bin", ContentFile(data))
    response = head(s3_client, bucket, "p.bin")
    assert response["CacheControl"] == "max-age=86400"
    assert response["Metadata"] == {
        "team": "web",
        SOURCE_MD5_METADATA_KEY: hashlib.md5(data).hexdigest(),
    }
    # the option's dict is not mutated by uploads
    assert storage.object_parameters == {
        "CacheControl": "max-age=86400",
        "Metadata": {"team": "web"},
    }


def test_gzip_is_deterministic_and_transparent(make_storage, s3_client, bucket):
    storage = make_storage(gzip=True)
    css = b"body { color: red; }\n" * 200
    storage.save("site.css", ContentFile(css))
    first = body(s3_client, bucket, "site.css")
    response = head(s3_client, bucket, "site.css")
    assert response["ContentEncoding"] == "gzip"
    assert response["Metadata"][SOURCE_MD5_METADATA_KEY] == hashlib.md5(css).hexdigest()
    assert first == gzip_bytes(css)
    storage.save("site.css", ContentFile(css))
    assert body(s3_client, bucket, "site.css") == first  # same bytes every run
    with storage.open("site.css") as f:
        assert f.read() == css  # transparently gunzipped
        assert f.size == len(css)
    storage.save("pic.png", ContentFile(b"\x89PNG" * 10))
    assert "ContentEncoding" not in head(s3_client, bucket, "pic.png")


def test_prepare_upload_contract(make_storage):
    storage = make_storage(
        gzip=True,
        default_acl="public-read",
        encryption=True,
        reduced_redundancy=True,
        object_parameters={"CacheControl": "no-cache"},
    )
    data = b"console.log(1);\n" * 50
    body_bytes, params = storage.prepare_upload("js/app.js", data)
    assert gzip.decompress(body_bytes) == data
    assert params["ContentEncoding"] == "gzip"
    assert params["ContentType"].split(";")[0] in storage.gzip_content_types
    assert params["ACL"] == "public-read"
    assert params["ServerSideEncryption"] == "AES256"
    assert params["StorageClass"] == "REDUCED_REDUNDANCY"
    assert params["CacheControl"] == "no-cache"
    assert params["Metadata"] == {SOURCE_MD5_METADATA_KEY: hashlib.md5(data).hexdigest()}
    plain = make_storage()
    body_bytes, params = plain.prepare_upload("js/app.js", data)
    assert body_bytes == data
    assert set(params) == {"ContentType", "Metadata"}  # no ACL by default


def test_object_parameters_content_encoding_prevents_gzip(make_storage):
    storage = make_storage(gzip=True, object_parameters={"ContentEncoding": "identity"})
    body_bytes, params = storage.prepare_upload("a.css", b"x" * 100)
    assert body_bytes == b"x" * 100 and params["ContentEncoding"] == "identity"


def test_encryption_reduced_redundancy_and_explicit_acl(make_storage, s3_client, bucket):
    storage = make_storage(encryption=True, reduced_redundancy=True, default_acl="public-read")
    storage.save("secure.txt", ContentFile(b"s"))
    response = head(s3_client, bucket, "secure.txt")
    assert response["ServerSideEncryption"] == "AES256"
    assert response["StorageClass"] == "REDUCED_REDUNDANCY"
    grants = s3_client.get_object_acl(Bucket=bucket, Key="secure.txt")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)


def test_default_upload_sends_no_acl(storage, s3_client, bucket):
    storage.save("private.txt", ContentFile(b"p"))
    grants = s3_client.get_object_acl(Bucket=bucket, Key="private.txt")["Grants"]
    assert not any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)


def test_open_missing_file_raises_file_not_found(storage):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        storage.open("nope.txt")
    with pytest.raises(FileNotFoundError):
        storage.size("nope.txt")


def test_names_escaping_location_are_refused(make_storage):
    storage = make_storage(location="static")
    for bad in ("../secret.txt", "a/../../x", "/etc/passwd", "a\x00b"):
        with pytest.raises(SuspiciousOperation):
            storage.key_for(bad)
    assert storage.key_for("a\\b.txt") == "static/a/b.txt"
    assert storage.name_for(storage.key_for("x/y.css")) == "x/y.css"
    with pytest.raises(ValueError):
        storage.name_for("elsewhere/y.css")


def test_large_save_goes_multipart_with_md5(storage, s3_client, bucket):
    data = b"z" * (5 * MIB + 10)
    storage.save("large.bin", ContentFile(data))
    response = head(s3_client, bucket, "large.bin")
    assert response["ETag"].strip('"').endswith("-2")
    assert response["Metadata"][SOURCE_MD5_METADATA_KEY] == hashlib.md5(data).hexdigest()
    assert response["ContentLength"] == len(data)


def test_delete_is_idempotent(storage):
    storage.save("d.txt", ContentFile(b"d"))
    storage.delete("d.txt")
    storage.delete("d.txt")
    assert not storage.exists("d.txt")


def test_get_available_name_overwrite_and_not(make_storage):
    storage = make_storage()
    storage.save("same.txt", ContentFile(b"1"))
    assert storage.save("same.txt", ContentFile(b"2")) == "same.txt"
    keep = make_storage(file_overwrite=False)
    second = keep.save("same.txt", ContentFile(b"3"))
    assert second != "same.txt" and second.startswith("same_") and second.endswith(".txt")
    with storage.open("same.txt") as f:
        assert f.read() == b"2"


def test_auto_create_bucket_in_region_without_acl(s3_settings, s3_server):
    name = s3_settings.AWS_STORAGE_BUCKET_NAME + "-auto"
    storage = S3Boto3Storage(bucket_name=name, auto_create_bucket=True, region_name="eu-west-1")
    storage.save("x.txt", ContentFile(b"x"))
    client = s3_server.client("eu-west-1")
    assert client.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    grants = client.get_bucket_acl(Bucket=name)["Grants"]
    assert not any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)
    assert storage.bucket.name == name and str(storage.bucket) == name
