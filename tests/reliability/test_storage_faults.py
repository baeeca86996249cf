"""Storage writes under S3 faults: the object is complete and correct, or a
clear exception is raised; never a truncated object, never a dangling
multipart upload (unless the abort itself was faulted)."""

from __future__ import annotations

import hashlib
import random
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import ContentFile

from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage
from contrib_awsstorage.s3.errors import S3StorageError

MB = 1024 * 1024
PART = 5 * MB


def read_timeout_for(kind: str) -> float:
    """Only the client's read timeout ends a stall, so with one it must be short
    enough for the test to end; otherwise it must never expire on a busy
    machine: an abort whose answer the client stops waiting for may never
    reach S3, and leave the upload open that the test says is gone."""
    return 2.0 if kind == "stall" else 10.0


def storage_with(attempts: int = 1, read_timeout: float = 10.0, **options) -> S3Boto3Storage:
    """Our storage through the proxy (settings fixture) with short timeouts."""
    config = Config(
        connect_timeout=1,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": attempts},
    )
    return S3Boto3Storage(config=config, **options)


def open_uploads(s3_client, bucket) -> set[str]:
    return {
        u["UploadId"] for u in s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    }


def open_uploads_settled(s3_client, bucket, deadline: float = 20.0) -> set[str]:
    """The open uploads once the aborts we sent are through (S3 may answer an
    abort after the client's call returned). Waits for none to be left, or
    the deadline."""
    end = time.monotonic() + deadline
    while (found := open_uploads(s3_client, bucket)) and time.monotonic() < end:
        time.sleep(0.1)
    return found


def remote_bytes(s3_client, bucket, key):
    try:
        return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def assert_clear(exc: BaseException) -> None:
    """Our own exception type, naming the operation; no botocore type leaks."""
    assert isinstance(exc, S3StorageError), f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    assert not isinstance(exc, (ClientError, BotoCoreError))
    assert exc.operation and "Fix:" in str(exc)


def unavoidable_leftovers(fault_proxy) -> tuple[set[str], int]:
    """What faults may excuse as open uploads: the UploadIds whose abort was
    faulted, and how many CreateMultipartUpload answers were lost after S3
    created the upload (the client never learnt those ids)."""
    ids, lost_creates = set(), 0
    for entry in fault_proxy.stats()["fault_log"]:
        query = parse_qs(urlsplit(entry["path"]).query, keep_blank_values=True)
        if entry["method"] == "DELETE" and "uploadId" in query:
            ids.add(query["uploadId"][0])
        if entry["method"] == "POST" and "uploads" in query and entry["reached_upstream"]:
            lost_creates += 1
    return ids, lost_creates


def unavailable_leftovers_ok(fault_proxy, s3_client, bucket) -> bool:
    """Every open upload is one a fault made impossible to clean up."""
    aborted_ids, lost_creates = unavoidable_leftovers(fault_proxy)
    return len(open_uploads(s3_client, bucket) - aborted_ids) <= lost_creates


@pytest.mark.parametrize("kind", ["500", "503", "reset", "stall", "truncate"])
def test_save_retries_through_one_fault(proxied_settings, fault_proxy, s3_client, bucket, kind):
    storage = storage_with(attempts=3, read_timeout=read_timeout_for(kind))
    fault_proxy.set_faults(kind, nth=1, writes_only=True)
    data = random.Random(kind).randbytes(70_000)
    assert storage.save("one/fault.bin", ContentFile(data)) == "one/fault.bin"
    assert remote_bytes(s3_client, bucket, "one/fault.bin") == data
    assert fault_proxy.stats()["faults_total"] == 1


@pytest.mark.parametrize("kind", ["500", "503", "reset", "stall", "truncate"])
@pytest.mark.parametrize("size", [10_000, 2 * PART + 123], ids=["put", "multipart"])
def test_save_without_retries_raises_clearly_and_leaves_nothing(
    proxied_settings, fault_proxy, s3_client, bucket, kind, size
):
    storage = storage_with(attempts=1, read_timeout=read_timeout_for(kind))
    # Fault the last write: the PutObject, or the CompleteMultipartUpload.
    if size < PART:
        fault_proxy.set_faults(kind, nth=1, writes_only=True)
    else:
        fault_proxy.set_faults(kind, nth=1, methods=["POST"], match="uploadId=")
    data = random.Random(size).randbytes(size)
    with pytest.raises(Exception) as caught:
        storage.save("gone.bin", ContentFile(data))
    assert_clear(caught.value)
    if kind == "truncate":
        # The write reached S3 before the answer was cut: complete, or absent.
        assert remote_bytes(s3_client, bucket, "gone.bin") in (None, data)
    else:
        assert remote_bytes(s3_client, bucket, "gone.bin") is None
    assert open_uploads_settled(s3_client, bucket) == set()


@pytest.mark.parametrize("kind", ["500", "reset", "truncate"])
def test_write_reached_s3_but_answer_lost(proxied_settings, fault_proxy, s3_client, bucket, kind):
    """The ambiguous case: S3 did the write, we got an error. The object,
    if there, is the whole object; the caller was told."""
    # No stall here: a short read timeout would only let a busy machine time
    # the Complete out before it reaches S3 (then there is rightly no object).
    storage = storage_with(attempts=1, read_timeout=10)
    fault_proxy.set_faults(kind, nth=1, methods=["POST"], match="uploadId=", after_upstream=True)
    data = random.Random(3).randbytes(2 * PART + 5)
    with pytest.raises(Exception) as caught:
        storage.save("ambiguous.bin", ContentFile(data))
    assert_clear(caught.value)
    assert remote_bytes(s3_client, bucket, "ambiguous.bin") == data
    assert open_uploads_settled(s3_client, bucket) == set()


@pytest.mark.parametrize("part_fault", [1, 2, 3])
def test_streamed_write_fault_on_a_part_aborts(
    proxied_settings, fault_proxy, s3_client, bucket, part_fault
):
    storage = storage_with(attempts=1)
    fault_proxy.set_faults("503", nth=1, match=f"partNumber={part_fault}")
    chunk = random.Random(part_fault).randbytes(PART)
    handle = storage.open("stream.bin", "wb")
    with pytest.raises(Exception) as caught:
        for _ in range(3):
            handle.write(chunk)
        handle.write(b"tail")
        handle.close()
    assert_clear(caught.value)
    handle.close()  # closing again after the failure must not upload anything
    assert remote_bytes(s3_client, bucket, "stream.bin") is None
    assert open_uploads_settled(s3_client, bucket) == set()


def test_streamed_write_continued_after_a_failed_part_never_uploads_a_fragment(
    proxied_settings, fault_proxy, s3_client, bucket
):
    """A caller that catches the error and keeps writing must not end up
    with an object made of only the bytes after the failure."""
    storage = storage_with(attempts=1)
    fault_proxy.set_faults("500", nth=1, match="partNumber=1")
    handle = storage.open("fragment.bin", "wb")
    with pytest.raises(S3StorageError):
        handle.write(b"a" * PART)
    try:
        handle.write(b"b" * 1000)
        handle.close()
    except (S3StorageError, ValueError, OSError):
        pass
    assert remote_bytes(s3_client, bucket, "fragment.bin") is None, (
        "a fragment (the bytes written after a failed part) was uploaded as the whole file"
    )
    assert open_uploads_settled(s3_client, bucket) == set()


@pytest.mark.parametrize("kind", ["500", "reset", "stall"])
def test_streamed_close_fault_on_complete(proxied_settings, fault_proxy, s3_client, bucket, kind):
    storage = storage_with(attempts=1, read_timeout=read_timeout_for(kind))
    fault_proxy.set_faults(kind, nth=1, methods=["POST"], match="uploadId=")
    handle = storage.open("complete.bin", "wb")
    handle.write(b"x" * (PART + 10))
    with pytest.raises(Exception) as caught:
        handle.close()
    assert_clear(caught.value)
    assert remote_bytes(s3_client, bucket, "complete.bin") is None
    assert open_uploads_settled(s3_client, bucket) == set()


def test_read_of_truncated_download_raises_clearly(
    proxied_settings, fault_proxy, s3_client, bucket
):
    data = random.Random(9).randbytes(300_000)
    s3_client.put_object(Bucket=bucket, Key="read.bin", Body=data)
    storage = storage_with(attempts=1)
    fault_proxy.set_faults("truncate", nth=1, methods=["GET"])
    with pytest.raises(Exception) as caught:
        with storage.open("read.bin", "rb") as handle:
            handle.read()
    assert_clear(caught.value)


def test_many_saves_under_mixed_faults(proxied_settings, fault_proxy, s3_client, bucket):
    """24 saves (PutObject and multipart) with 25 % of all requests faulted
    in every way, before and after S3 saw them: each save either returns
    and the object is exact, or raises our exception and the object is
    absent or exact. Only a faulted abort may leave an upload open."""
    rng = random.Random(1234)
    storage = storage_with(attempts=2, read_timeout=0.4)  # many stalls: each costs this
    fault_proxy.set_faults(
        ["500", "503", "reset", "truncate", "stall"], rate=0.25, seed=99, stall_seconds=5
    )
    fault_proxy.add_fault(["500", "reset"], rate=0.1, seed=7, after_upstream=True)
    outcomes = {"ok": 0, "raised": 0}
    for i in range(24):
        size = rng.choice([0, 1, 5_000, 200_000, PART + rng.randrange(1, 4 * MB)])
        data = rng.randbytes(size)
        name = f"mixed/{i}.bin"
        try:
            storage.save(name, ContentFile(data))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            assert_clear(exc)
            outcomes["raised"] += 1
            got = remote_bytes(s3_client, bucket, name)
            assert got is None or hashlib.md5(got).digest() == hashlib.md5(data).digest(), name
        else:
            outcomes["ok"] += 1
            assert remote_bytes(s3_client, bucket, name) == data, name
    stats = fault_proxy.stats()
    assert stats["faults_total"] >= 6
    assert outcomes["ok"] >= 6 and outcomes["raised"] >= 1, outcomes
    assert unavailable_leftovers_ok(fault_proxy, s3_client, bucket)
