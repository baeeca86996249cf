"""s3/transfer.py: uploads through s3transfer against the real S3 wire server."""

from __future__ import annotations

import hashlib
import io

import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile

from contrib_awsstorage.s3.errors import S3ConfigurationError
from contrib_awsstorage.s3.transfer import MIN_PART_SIZE, expected_etag, upload
from tests.conftest import RequestCounter

PART = MIN_PART_SIZE


def body_of(size: int) -> bytes:
    return (hashlib.sha256(b"seed").digest() * (size // 32 + 1))[:size]


def open_uploads(client, bucket) -> list:
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def sent(counter) -> list[str]:
    """``METHOD query`` of every request, e.g. ``PUT partNumber=2&uploadId=...``."""
    return [f"{m} {url.partition('?')[2]}" for m, url in counter.requests]


def test_a_small_path_is_one_put_with_its_extra_args(s3_client, bucket, tmp_path):
    path = tmp_path / "app.css"
    path.write_bytes(b"body { color: red }")
    counter = RequestCounter()
    counter.attach(s3_client)
    extra = {"ContentType": "text/css; charset=utf-8", "Metadata": {"source-md5": "x"}}
    upload(s3_client, bucket, "css/app.css", path, extra)
    assert [m for m, _ in counter.requests] == ["PUT"]
    head = s3_client.head_object(Bucket=bucket, Key="css/app.css")
    assert head["ContentType"] == "text/css; charset=utf-8"
    assert head["Metadata"] == {"source-md5": "x"}
    assert head["ETag"].strip('"') == expected_etag(b"body { color: red }")


@pytest.mark.parametrize("source", ["path", "fileobj"])
def test_a_big_body_goes_up_in_parts_and_its_etag_is_expected(s3_client, bucket, tmp_path, source):
    data = body_of(2 * PART + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    counter = RequestCounter()
    counter.attach(s3_client)
    given = path if source == "path" else io.BytesIO(data)
    upload(s3_client, bucket, "big.bin", given, {"ContentType": "video/webm"}, workers=3)
    parts = [q for q in sent(counter) if q.startswith("PUT") and "partNumber=" in q]
    assert len(parts) == 3
    head = s3_client.head_object(Bucket=bucket, Key="big.bin")
    assert head["ETag"].strip('"') == expected_etag(data) and expected_etag(data).endswith("-3")
    assert head["ContentType"] == "video/webm" and head["ContentLength"] == len(data)
    got = s3_client.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert got == data


def test_a_failed_part_aborts_the_upload_and_raises_botocores_error(s3_client, bucket):
    """Part 2 is refused by S3 (its number is past S3's 10,000): the error
    comes back as botocore's ClientError and no upload stays open."""

    def spoil_part_two(params, **kwargs):
        if params.get("PartNumber") == 2:
            params["PartNumber"] = 10_001

    s3_client.meta.events.register("before-parameter-build.s3.UploadPart", spoil_part_two)
    with pytest.raises(ClientError) as err:
        upload(s3_client, bucket, "broken.bin", io.BytesIO(body_of(3 * PART)), workers=1)
    assert err.value.operation_name == "UploadPart"
    assert err.value.response["Error"]["Code"] == "InvalidArgument"
    assert open_uploads(s3_client, bucket) == []
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket)


def test_the_storage_names_a_bad_object_parameter(make_storage):
    storage = make_storage(object_parameters={"NoSuchArgument": "x"})
    with pytest.raises(S3ConfigurationError) as err:
        storage.save("a.txt", ContentFile(b"a"))
    assert "NoSuchArgument" in str(err.value)
    assert "AWS_S3_OBJECT_PARAMETERS" in err.value.fix
