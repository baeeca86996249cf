"""s3multipart: parts in parallel, and never an open upload after a failure (real S3 server)."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest
from botocore import xform_name

from contrib_awsstorage.s3.multipart import upload_in_parts

PART = 5 * 1024 * 1024  # S3's minimum part size


class Calls:
    """``call(operation, **kwargs)`` on a boto3 client, recording concurrency;
    ``fail_part`` makes that part number fail once it is sent."""

    def __init__(self, client, bucket, fail_part=None, part_delay=0.0):
        self.client, self.bucket, self.fail_part, self.part_delay = (
            client,
            bucket,
            fail_part,
            part_delay,
        )
        self.lock, self.in_flight, self.most, self.seen = threading.Lock(), 0, 0, []

    def __call__(self, operation, **kwargs):
        with self.lock:
            self.seen.append((operation, kwargs.get("PartNumber")))
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            if operation == "UploadPart":
                time.sleep(self.part_delay)
                if kwargs["PartNumber"] == self.fail_part:
                    raise ConnectionResetError("injected: part lost")
            return getattr(self.client, xform_name(operation))(Bucket=self.bucket, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1


def body_of(size: int) -> bytes:
    return (hashlib.sha256(b"seed").digest() * (size // 32 + 1))[:size]


def open_uploads(client, bucket) -> list:
    return client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_parts_go_up_in_parallel_and_in_order(s3_client, bucket):
    body = body_of(3 * PART + 123)
    calls = Calls(s3_client, bucket, part_delay=0.2)

    upload_in_parts(calls, "big.bin", body, {"ContentType": "video/webm"}, PART, workers=4)

    assert s3_client.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == body
    assert s3_client.head_object(Bucket=bucket, Key="big.bin")["ContentType"] == "video/webm"
    assert calls.most >= 2  # at least two parts were on the wire together
    assert open_uploads(s3_client, bucket) == []


def test_one_worker_sends_parts_one_by_one(s3_client, bucket):
    calls = Calls(s3_client, bucket)
    upload_in_parts(calls, "seq.bin", body_of(2 * PART + 1), {}, PART, workers=1)
    assert calls.most == 1
    assert [n for op, n in calls.seen if op == "UploadPart"] == [1, 2, 3]


@pytest.mark.parametrize("workers", [1, 4])
def test_a_failed_part_aborts_the_upload_and_raises_its_error(s3_client, bucket, workers):
    calls = Calls(s3_client, bucket, fail_part=2)

    with pytest.raises(ConnectionResetError, match="part lost"):
        upload_in_parts(calls, "broken.bin", body_of(3 * PART), {}, PART, workers=workers)

    assert ("AbortMultipartUpload", None) in calls.seen
    assert ("CompleteMultipartUpload", None) not in calls.seen
    assert open_uploads(s3_client, bucket) == []
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket)  # nothing half-written
