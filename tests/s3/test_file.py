"""S3Boto3StorageFile: streaming reads, buffered and multipart writes, abort on error."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile

from contrib_awsstorage import aws_s3_cdn
from contrib_awsstorage.aws_s3_cdn import SOURCE_MD5_METADATA_KEY
from contrib_awsstorage.s3 import file as s3file
from contrib_awsstorage.s3.errors import S3StorageError
from contrib_awsstorage.s3.file import S3Boto3StorageFile

MIB = 1024 * 1024


def head(s3_client, bucket, key):
    return s3_client.head_object(Bucket=bucket, Key=key)


def body(s3_client, bucket, key):
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_historic_path_is_kept_for_imports_and_deconstruct(storage):
    assert aws_s3_cdn.S3Boto3StorageFile is s3file.S3Boto3StorageFile
    f = S3Boto3StorageFile("k.txt", "w", storage)
    path, args, kwargs = f.deconstruct()
    assert path == "contrib_awsstorage.aws_s3_cdn.S3Boto3StorageFile"
    assert args == ("k.txt", "w", storage) and kwargs == {}
    f.abort()


def test_open_returns_the_file_object_and_mode_is_checked(storage):
    storage.save("m.txt", ContentFile(b"m"))
    with storage.open("m.txt") as f:
        assert isinstance(f, S3Boto3StorageFile) and f.mode == "rb" and f.name == "m.txt"
        with pytest.raises(AttributeError, match="write mode"):
            f.write(b"x")
    with storage.open("n.txt", "w") as f:
        with pytest.raises(AttributeError, match="read mode"):
            f.readline()
        f.write("n")
        assert f.size == 1


def test_open_modes(storage):
    with pytest.raises(ValueError):
        storage.open("x.txt", "rw")
    with pytest.raises(ValueError):
        storage.open("x.txt", "a")
    f = storage.open("x.txt", "w")
    with pytest.raises(AttributeError):
        f.read()
    f.close()
    storage.save("y.txt", ContentFile(b"y"))
    with storage.open("y.txt") as f, pytest.raises(AttributeError):
        f.write(b"no")


def test_write_small_then_close_makes_one_object(storage, s3_client, bucket):
    with storage.open("w.txt", "w") as f:
        f.write("line one\n")
        f.write(b"line two\n")
    assert body(s3_client, bucket, "w.txt") == b"line one\nline two\n"
    response = head(s3_client, bucket, "w.txt")
    assert (
        response["Metadata"][SOURCE_MD5_METADATA_KEY]
        == hashlib.md5(b"line one\nline two\n").hexdigest()
    )


def test_close_without_writes_creates_empty_object_but_keeps_existing(storage, s3_client, bucket):
    storage.open("empty.txt", "w").close()
    assert body(s3_client, bucket, "empty.txt") == b""
    storage.save("keep.txt", ContentFile(b"keep"))
    storage.open("keep.txt", "w").close()
    assert body(s3_client, bucket, "keep.txt") == b"keep"


def test_write_three_buffers_is_multipart_and_round_trips(storage, s3_client, bucket):
    part = 5 * MIB  # S3's minimum part size
    chunk = bytes(range(256)) * (part // 256)
    data = chunk + chunk[::-1] + chunk[: part // 2] + b"tail"
    with storage.open("big.bin", "wb") as f:
        for start in range(0, len(data), MIB):
            f.write(data[start : start + MIB])
    response = head(s3_client, bucket, "big.bin")
    assert response["ContentLength"] == len(data)
    assert response["ETag"].strip('"').endswith("-3")  # AWS-style multipart ETag: 3 parts
    assert hashlib.md5(body(s3_client, bucket, "big.bin")).digest() == hashlib.md5(data).digest()
    with storage.open("big.bin") as f:
        assert f.read() == data
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_failed_multipart_write_is_aborted(storage, s3_client, bucket):
    """An exception inside ``with`` aborts: no object, no dangling upload."""
    with pytest.raises(RuntimeError):
        with storage.open("half.bin", "wb") as f:
            f.write(b"a" * (5 * MIB))  # first part is sent
            assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads")
            raise RuntimeError("boom")
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert not storage.exists("half.bin")


def test_failed_part_upload_aborts(storage, s3_client, bucket):
    f = storage.open("bad.bin", "wb")
    f.write(b"a" * (5 * MIB))
    # Removing the upload server-side makes the next part fail for real.
    upload = s3_client.list_multipart_uploads(Bucket=bucket)["Uploads"][0]
    s3_client.abort_multipart_upload(Bucket=bucket, Key="bad.bin", UploadId=upload["UploadId"])
    with pytest.raises(S3StorageError) as err:
        f.write(b"b" * (5 * MIB))
    assert "UploadPart" in str(err.value) and bucket in str(err.value)
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # carrying on after the failure must not store a fragment as the whole file
    with pytest.raises(ValueError, match="aborted"):
        f.write(b"c" * 10)
    f.close()
    assert not storage.exists("bad.bin")


MIXED = "one\r\ntwo\rthree\nfour\u2028still four\x0cand this\r\n\r\rlast é€".encode()


def python_open(tmp_path, data, mode):
    path = tmp_path / "local.txt"
    path.write_bytes(data)
    kwargs = {} if "b" in mode else {"encoding": "utf-8"}
    with open(path, mode, **kwargs) as handle:
        return handle.read(), _lines(open(path, mode, **kwargs))


def _lines(handle):
    with handle:
        return handle.readlines()


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_text_mode_translates_newlines_as_python_open_does(
    make_storage, s3_client, bucket, tmp_path, gzipped
):
    storage = make_storage(gzip=gzipped)
    storage.save("mixed.css", ContentFile(MIXED))
    assert (
        s3_client.head_object(Bucket=bucket, Key="mixed.css").get("ContentEncoding") == "gzip"
    ) is gzipped
    expected_text, expected_lines = python_open(tmp_path, MIXED, "r")
    assert expected_lines[:3] == ["one\n", "two\n", "three\n"]  # what open() gives, for the reader

    with storage.open("mixed.css", "r") as f:
        assert f.read() == expected_text
    with storage.open("mixed.css", "r") as f:
        assert f.readlines() == expected_lines
    with storage.open("mixed.css", "r") as f:
        assert list(f) == expected_lines
    with storage.open("mixed.css", "r") as f:
        lines = []
        while line := f.readline():
            lines.append(line)
        assert lines == expected_lines
        assert f.size == (
            len(MIXED)
            if gzipped
            else s3_client.head_object(Bucket=bucket, Key="mixed.css")["ContentLength"]
        )


def test_binary_mode_stays_byte_exact(storage, tmp_path):
    storage.save("mixed.bin", ContentFile(MIXED))
    expected_bytes, expected_lines = python_open(tmp_path, MIXED, "rb")
    with storage.open("mixed.bin", "rb") as f:
        assert f.read() == MIXED == expected_bytes
    with storage.open("mixed.bin", "rb") as f:
        assert b"".join(f.readlines()) == MIXED
    with storage.open("mixed.bin") as f:  # the default mode is binary
        assert f.read() == MIXED


def test_text_mode_reads_characters_across_chunks(storage):
    text = "é€ line\r\n" * 40000  # > 1 MiB download chunk, multi-byte characters cut at chunk edges
    storage.save("big.txt", ContentFile(text.encode()))
    with storage.open("big.txt", "r") as f:
        head = f.read(5)
        rest = f.read()
    assert head == "é€ li"
    assert head + rest == text.replace("\r\n", "\n")
